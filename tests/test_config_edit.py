"""core.config_edit: the console's edits of the inventory file keep it valid, commented and secret-free."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.config import load_config
from core.config_edit import EditError, remove_channel, set_thresholds, upsert_channel
from core.paths import known_vendors

SAMPLE = Path(__file__).resolve().parents[1] / "config" / "sites.toml"


@pytest.fixture()
def cfg(tmp_path: Path) -> Path:
    p = tmp_path / "sites.toml"
    shutil.copy(SAMPLE, p)
    p.chmod(0o640)
    return p


def test_thresholds_are_set_and_comments_kept(cfg: Path) -> None:
    changed = set_thresholds(cfg, {"down_after": "5", "reminder_h": "2.5", "bogus": "1", "up_after": ""})
    assert changed == {"down_after": (3, 5), "reminder_h": (4, 2.5)}
    text = cfg.read_text(encoding="utf-8")
    assert "down_after = 5     # failed heartbeats before DOWN" in text  # the comment stays with its line
    inv = load_config(cfg, known_vendors())
    assert inv.alerts.down_after == 5 and inv.alerts.reminder_h == 2.5 and inv.alerts.up_after == 2
    assert (cfg.stat().st_mode & 0o777) == 0o640
    assert cfg.with_name("sites.toml.bak").read_text(encoding="utf-8") == SAMPLE.read_text(encoding="utf-8")


@pytest.mark.parametrize("values, field", [
    ({"down_after": "0"}, "alerts.down_after"),  # below the model's bound
    ({"down_after": "three"}, "alerts.down_after"),
    ({"degraded_loss_pct": "150"}, "alerts.degraded_loss_pct"),
])
def test_a_refused_threshold_leaves_the_file_as_it_was(cfg: Path, values: dict[str, str], field: str) -> None:
    before = cfg.read_bytes()
    with pytest.raises(EditError) as e:
        set_thresholds(cfg, values)
    assert any(p.field.startswith(field) for p in e.value.problems), e.value.problems
    assert cfg.read_bytes() == before


def test_channels_take_secrets_by_reference_only(cfg: Path) -> None:
    before = cfg.read_bytes()
    with pytest.raises(EditError) as e:
        upsert_channel(cfg, {"name": "chat", "type": "slack", "url": "https://hooks.slack.example/T0/B0/xyz"})
    assert "xyz" not in str(e.value) and "参照" in e.value.problems[0].text("ja")  # the secret is not echoed
    assert cfg.read_bytes() == before
    assert upsert_channel(cfg, {"name": "chat", "type": "slack", "url": "env:SLACK_URL", "verify_tls": "1"})
    # an edit that leaves the secret field empty keeps the reference it had
    assert not upsert_channel(cfg, {"name": "chat", "type": "slack", "url": "", "lang": "en", "verify_tls": "1"})
    inv = load_config(cfg, known_vendors())
    (ch,) = inv.alerts.channels
    assert (ch.name, str(ch.url), ch.lang, ch.verify_tls) == ("chat", "env:SLACK_URL", "en", True)
    remove_channel(cfg, "chat")
    assert load_config(cfg, known_vendors()).alerts.channels == []
    with pytest.raises(EditError):
        remove_channel(cfg, "chat")


def test_a_channel_named_by_escalation_cannot_be_removed(cfg: Path) -> None:
    upsert_channel(cfg, {"name": "duty", "type": "webhook", "url": "env:DUTY", "verify_tls": "1"})
    text = cfg.read_text(encoding="utf-8").replace("reminder_h = 4", 'reminder_h = 4\nescalate_after_min = 10\n'
                                                                    'escalate_channel = "duty"')
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(EditError) as e:
        remove_channel(cfg, "duty")
    assert "escalate_channel" in str(e.value)
    assert "通知先にありません" in e.value.problems[0].text("ja")
