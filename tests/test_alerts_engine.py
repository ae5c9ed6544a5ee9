"""The alert engine end to end with real receivers: SMTP (aiosmtpd) and HTTP webhooks on loopback."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from collector.alerts.engine import AlertEngine
from collector.alerts.notify import DeliveryError
from collector.alerts.state import Heartbeat
from core.config import parse_config
from core.secrets import SecretResolver
from tests.fixtures_alerts import Hook, Smtp, free_port

BASE = """
[snmp]
version = "2c"
community = "env:X"

[alerts]
down_after = 3
up_after = 2
reminder_h = 4
map_url = "https://example.invalid/map.html"

[[alerts.channels]]
name = "mail"
type = "email"
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
starttls = false
sender = "wifiwatch@example.lg.jp"
to = ["duty@example.lg.jp"]

[[alerts.channels]]
name = "hook"
type = "webhook"
url = "env:WW_TEST_HOOK"

[[alerts.channels]]
name = "teams-en"
type = "teams"
lang = "en"
url = "env:WW_TEST_HOOK_TEAMS"
{extra}
[[sites]]
id = "omachi"
name_ja = "大町通り"
name_en = "Omachi-dori"
kind = "tourist_spot"
lat = 35.968
lon = 140.6287
[sites.uplink]
id = "router"
host = "127.0.0.1"
[[sites.aps]]
id = "ap1"
name_ja = "大町通り 1"
host = "127.0.0.2"
[[sites.aps]]
id = "ap2"
host = "127.0.0.3"

[[sites]]
id = "center"
name_ja = "中央公民館"
name_en = "Community Center"
kind = "public_facility"
lat = 35.9655
lon = 140.6335
[[sites.aps]]
id = "ap3"
host = "127.0.0.4"
"""

UP, DOWN = Heartbeat(True, 1.0, 0.0), Heartbeat(False, None, 100.0)
ALL = ("router", "ap1", "ap2", "ap3")


@pytest.fixture(autouse=True)
def _hook_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Webhook URLs are secrets, so the config names env variables; they point at the test receiver."""
    if "webhook" in request.fixturenames:
        url = request.getfixturevalue("webhook").url
        monkeypatch.setenv("WW_TEST_HOOK", url)
        monkeypatch.setenv("WW_TEST_HOOK_TEAMS", f"{url}/teams")


def engine(tmp_path: Path, smtp_port: int, hook: str, extra: str = "") -> AlertEngine:
    inv = parse_config(BASE.format(smtp_port=smtp_port, hook=hook, extra=extra), "t.toml")
    return AlertEngine(inv, tmp_path / "alerts.sqlite3", SecretResolver())


def beat(e: AlertEngine, t: float, down: tuple[str, ...] = ()) -> list:  # type: ignore[type-arg]
    pts = e.observe(t, {d: (DOWN if d in down else UP) for d in ALL})
    e.deliver_due(t)
    return pts


def test_down_then_up_sends_one_message_each_per_channel(tmp_path: Path, smtp_server: Smtp, webhook: Hook) -> None:
    e = engine(tmp_path, smtp_server.port, webhook.url)
    t = 1000.0
    for i in range(3):
        beat(e, t + i * 10)
    for i in range(3, 20):  # ap1 down from t=1030 until the first good heartbeat at t=1200: 170 s
        beat(e, t + i * 10, down=("ap1",))
    for i in range(20, 25):
        beat(e, t + i * 10)
    assert smtp_server.box.subjects() == ["【停止】大町通り 大町通り 1", "【復旧】大町通り 大町通り 1"]
    body = smtp_server.box.messages[1].get_content()
    assert "停止時間 2分50秒" in body and "https://example.invalid/map.html" in body
    hooks = [r for r in webhook.received if r["path"] == "/hook"]
    assert [h["json"]["kind"] for h in hooks] == ["down", "up"]
    assert hooks[1]["json"]["duration_s"] == 170.0
    teams = [r["json"] for r in webhook.received if r["path"] == "/hook/teams"]
    assert [m["title"] for m in teams] == ["[DOWN] Omachi-dori ap1", "[RECOVERED] Omachi-dori ap1"]
    assert "outage 2 min 50 s" in teams[1]["text"]
    incidents = e.store.incidents()
    assert len(incidents) == 1 and incidents[0].duration_s == 170.0 and incidents[0].notified


def test_uplink_down_is_one_site_message(tmp_path: Path, smtp_server: Smtp, webhook: Hook) -> None:
    e = engine(tmp_path, smtp_server.port, webhook.url)
    beat(e, 0)
    for i in range(1, 8):
        beat(e, i * 10, down=("router", "ap1", "ap2"))
    for i in range(8, 12):
        beat(e, i * 10)
    assert smtp_server.box.subjects() == ["【拠点停止】大町通り (上位回線 router)", "【拠点復旧】大町通り"]
    suppressed = [i for i in e.store.incidents() if i.kind == "down"]
    assert {i.device for i in suppressed} == {"ap1", "ap2"}
    assert all(i.suppressed_by == "uplink:router" and not i.notified for i in suppressed)


def test_losing_every_target_is_one_host_network_alert(tmp_path: Path, smtp_server: Smtp, webhook: Hook) -> None:
    e = engine(tmp_path, smtp_server.port, webhook.url)
    beat(e, 0)
    for i in range(1, 8):
        beat(e, i * 10, down=ALL)
    for i in range(8, 12):
        beat(e, i * 10)
    assert smtp_server.box.subjects() == ["【監視断】監視サーバーからすべての機器に到達できません",
                                          "【監視復旧】監視サーバーのネットワークが復旧しました"]


def test_restart_mid_outage_sends_no_duplicate_and_still_recovers(tmp_path: Path, smtp_server: Smtp,
                                                                 webhook: Hook) -> None:
    e = engine(tmp_path, smtp_server.port, webhook.url)
    beat(e, 0)
    for i in range(1, 6):
        beat(e, i * 10, down=("ap3",))
    e.close()
    e2 = engine(tmp_path, smtp_server.port, webhook.url)  # the daemon restarted
    for i in range(6, 10):
        beat(e2, i * 10, down=("ap3",))
    for i in range(10, 13):
        beat(e2, i * 10)
    assert smtp_server.box.subjects() == ["【停止】中央公民館 ap3", "【復旧】中央公民館 ap3"]


def test_maintenance_silences_but_records(tmp_path: Path, smtp_server: Smtp, webhook: Hook) -> None:
    extra = ('\n[[maintenance]]\nid = "swap"\ntarget = "center"\nstart = 1970-01-01T00:00:00Z\n'
             'end = 1970-01-01T01:00:00Z\n')
    e = engine(tmp_path, smtp_server.port, webhook.url, extra)
    beat(e, 0)
    for i in range(1, 6):
        beat(e, i * 10, down=("ap3",))
    for i in range(6, 9):
        beat(e, i * 10)
    assert smtp_server.box.messages == [] and webhook.received == []
    (inc,) = e.store.incidents()
    assert inc.suppressed_by == "maintenance:swap" and inc.end is not None


def test_reminder_while_still_down(tmp_path: Path, smtp_server: Smtp, webhook: Hook) -> None:
    e = engine(tmp_path, smtp_server.port, webhook.url)
    beat(e, 0)
    for i in range(1, 5):
        beat(e, i * 10, down=("ap2",))
    beat(e, 4 * 3600 + 100, down=("ap2",))
    beat(e, 4 * 3600 + 110, down=("ap2",))
    subjects = smtp_server.box.subjects()
    assert subjects[0] == "【停止】大町通り ap2" and subjects[1].startswith("【継続中】大町通り ap2 停止 4時間")
    assert len(subjects) == 2


def test_unreachable_smtp_is_retried_then_dead_lettered(tmp_path: Path, webhook: Hook,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    e = engine(tmp_path, free_port(), webhook.url)  # nothing listens on the SMTP port
    beat(e, 0)
    for i in range(1, 5):
        beat(e, i * 10, down=("ap1",))
    with caplog.at_level(logging.WARNING):
        t = 100.0
        for _ in range(10):
            t += 700
            e.deliver_due(t)
    dead = e.store.dead_letters()
    assert [d[1] for d in dead] == ["mail"] and "ConnectionRefusedError" in dead[0][3]
    assert any("dead-lettered" in r.getMessage() for r in caplog.records)
    assert len([r for r in webhook.received if r["path"] == "/hook"]) == 1  # other channels unaffected


def test_starttls_and_auth(tmp_path: Path, smtp_tls_server: Smtp, webhook: Hook,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_USER", "duty")
    monkeypatch.setenv("SMTP_PASSWORD", "smtp-pass-123")
    text = BASE.format(smtp_port=smtp_tls_server.port, hook=webhook.url, extra="").replace(
        "starttls = false", 'starttls = true\nverify_tls = false\ntimeout_s = 2\nsmtp_user = "env:SMTP_USER"\n'
        'smtp_password = "env:SMTP_PASSWORD"')
    e = AlertEngine(parse_config(text, "t.toml"), tmp_path / "a.sqlite3", SecretResolver())
    e.send_test("mail")
    assert smtp_tls_server.box.subjects() == ["【テスト】wifiwatch 通知テスト (mail)"]
    monkeypatch.setenv("SMTP_PASSWORD", "wrong-password")
    with pytest.raises(DeliveryError) as ei:  # aiosmtpd stalls a failed login; either way a clear error
        e.send_test("mail")
    assert "wrong-password" not in str(ei.value) and str(ei.value).startswith("mail: ")


def test_verify_tls_is_on_by_default(tmp_path: Path, smtp_tls_server: Smtp, webhook: Hook,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    text = BASE.format(smtp_port=smtp_tls_server.port, hook=webhook.url, extra="").replace(
        "starttls = false", "starttls = true")
    e = AlertEngine(parse_config(text, "t.toml"), tmp_path / "a.sqlite3", SecretResolver())
    with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        e.send_test("mail")


def test_cli_alerts_test_and_maintenance(tmp_path: Path, smtp_server: Smtp, webhook: Hook) -> None:
    import os
    import subprocess
    import sys

    cfg = tmp_path / "sites.toml"
    cfg.write_text(BASE.format(smtp_port=smtp_server.port, hook=webhook.url, extra="")
                   + f'\n[store]\npath = "{tmp_path / "store.sqlite3"}"\n')
    root = Path(__file__).resolve().parent.parent

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "wifiwatch.cli", *args, "--config", str(cfg)],
                              capture_output=True, text=True, cwd=root, timeout=60, env=dict(os.environ))

    r = cli("alerts", "test", "--channel", "hook")
    assert r.returncode == 0, r.stderr
    assert webhook.received[-1]["json"]["subject"] == "【テスト】wifiwatch 通知テスト (hook)"
    r = cli("maintenance", "add", "--target", "center", "--start", "2026-12-01T02:00", "--end", "2026-12-01T04:00",
            "--reason", "機器交換")
    assert r.returncode == 0, r.stderr
    listed = cli("maintenance", "list").stdout
    assert "center" in listed and "機器交換" in listed
    bad = cli("maintenance", "add", "--target", "center", "--start", "tomorrow", "--end", "2026-12-01T04:00")
    assert bad.returncode == 2 and "--start: 'tomorrow' is not a date such as 2026-11-01" in bad.stderr
    e = AlertEngine(parse_config(cfg.read_text(), str(cfg)), tmp_path / "store.sqlite3", SecretResolver())
    assert [w.id for w in e.windows()][-1].startswith("adhoc-") and e.windows()[-1].target == "center"
