"""What alerts say: causes in the reader's language, recoveries marked resolved (not critical) yet routed where
their outage went, links on the configured base URL (never a file:// path)."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.alerts.wording import cause_text
from core.config import ConfigError, parse_config
from tests.fixtures_alerts import Hook, Smtp
from tests.test_alerts_engine import BASE, _hook_env, beat, engine  # noqa: F401 - _hook_env: the webhook env


def _outage(tmp_path: Path, smtp: Smtp, hook: Hook) -> list:  # type: ignore[type-arg]
    e = engine(tmp_path, smtp.port, hook.url)
    points = []
    for i in range(3):
        points += beat(e, 1000 + i * 10)
    for i in range(3, 8):
        points += beat(e, 1000 + i * 10, down=("ap1",))
    for i in range(8, 12):
        points += beat(e, 1000 + i * 10)
    return points


def test_recovery_is_resolved_not_critical_and_reaches_the_same_channels(tmp_path: Path, smtp_server: Smtp,
                                                                        webhook: Hook) -> None:
    points = _outage(tmp_path, smtp_server, webhook)
    hooks = [r["json"] for r in webhook.received if r["path"] == "/hook"]
    assert [(h["kind"], h["severity"]) for h in hooks] == [("down", "critical"), ("up", "resolved")]
    teams = [r["json"] for r in webhook.received if r["path"] == "/hook/teams"]
    assert [t["themeColor"] for t in teams] == ["C0392B", "27AE60"]  # red, then green
    assert len(smtp_server.box.messages) == 2  # min_severity warning still gets the recovery
    events = {p.tags["kind"]: p.fields["severity"] for p in points if p.measurement == "ap_event"}
    assert events["down"] == "critical" and events["up"] == "resolved"


def test_cause_is_in_the_channels_language(tmp_path: Path, smtp_server: Smtp, webhook: Hook) -> None:
    _outage(tmp_path, smtp_server, webhook)
    mail = smtp_server.box.messages[0].get_content()
    assert "原因: ハートビート (ping/SNMP) に応答がありません" in mail and "no heartbeat reply" not in mail
    down = next(r["json"] for r in webhook.received if r["path"] == "/hook")
    assert down["cause"] == "ハートビート (ping/SNMP) に応答がありません"
    teams = next(r["json"] for r in webhook.received if r["path"] == "/hook/teams")
    assert "Cause: no heartbeat reply" in teams["text"]


@pytest.mark.parametrize(("cause", "ja"), [
    ("3 changes in 15 min", "15 分間に 3 回の停止・復旧"),
    ("clients 80 > capacity 60", "接続数 80 が収容上限 60 を超えています"),
    ("high loss or RTT", "パケット損失または応答時間が閾値を超えています"),
    ("every target failed at once", "すべての監視対象が同時に応答しなくなりました"),
    ("something new", "something new"),
])
def test_every_cause_the_state_machine_states_is_translated(cause: str, ja: str) -> None:
    assert cause_text(cause, "ja") == ja and cause_text(cause, "en") == cause


def test_links_use_the_base_url(tmp_path: Path, smtp_server: Smtp, webhook: Hook) -> None:
    text = BASE.replace('map_url = "https://example.invalid/map.html"', 'base_url = "https://ww.example.lg.jp/c"')
    e = engine(tmp_path, smtp_server.port, webhook.url)
    e.reload(parse_config(text.format(smtp_port=smtp_server.port, hook=webhook.url, extra=""), "t.toml"))
    for i in range(3):
        beat(e, 1000 + i * 10)
    for i in range(3, 8):
        beat(e, 1000 + i * 10, down=("ap1",))
    assert "地図: https://ww.example.lg.jp/c/map" in smtp_server.box.messages[0].get_content()


@pytest.mark.parametrize("url", ["file:///var/lib/wifiwatch/map.html", "/var/lib/map.html", "javascript:alert(1)"])
def test_a_link_no_reader_can_open_is_a_config_error(url: str) -> None:
    text = BASE.replace("https://example.invalid/map.html", url).format(smtp_port=25, extra="")
    with pytest.raises(ConfigError, match=r"t.toml:\d+: alerts.map_url: .* is not an http:// or https:// URL"):
        parse_config(text, "t.toml")
