"""Secrets only by reference, and masked on every way out: each kind of secret through each log path,
credentials in URLs refused by check-config, and an InfluxDB password kept out of meta.last_error and
``store status`` even when a URL carrying it reaches the forwarder."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.config import ConfigError, parse_config
from core.inventory import StoreSettings
from core.logs import kv, setup_logging
from core.schema import Point
from core.secrets import SecretResolver
from core.store import SqliteStore
from core.store.forwarder import Forwarder
from core.store.influx_v1 import InfluxV1Sink
from core.store.influx_v2 import InfluxV2Sink
from tests.fixtures_influx import free_port
from wifiwatch.cli import app

# Each kind of secret the inventory references, with a value that is easy to search for. One holds a quote
# and a backslash, which JSON quoting would turn into something a plain search of the line misses.
KINDS = {
    "snmp_community": "c0mmunity-kind-1",
    "snmp_auth_key": "auth-key-kind-2",
    "snmp_priv_key": 'priv"key\\kind-3',
    "influx_token": "influx-token-kind-4",
    "influx_password": "influx-pass-kind-5",
    "smtp_password": "smtp-pass-kind-6",
    "webhook_url": "https://hooks.slack.example/services/T000/B000/webhook-kind-7",
    "http_token": "http-token-kind-8",
}
URL_PASSWORD = "url-pass-kind-9"  # never registered: only its place in a URL gives it away


class Holder:
    """An object whose str() is the secret: extras may carry anything, not only strings."""

    def __init__(self, value: str):
        self.value = value

    def __str__(self) -> str:
        return f"Holder({self.value})"


def _paths(log: logging.Logger, value: str) -> None:
    log.error("message argument: %s", value)
    log.error(f"message literal: {value}")
    log.error("extra string", extra=kv(detail=value))
    log.error("extra nested", extra=kv(detail={"list": [1, {"deep": value}]}, **{value[:3] + "key": 1}))
    log.error("extra object", extra=kv(detail=Holder(value)))
    try:
        raise RuntimeError(f"failed while using {value}")
    except RuntimeError:
        log.exception("traceback")
    try:
        try:
            raise OSError(value)
        except OSError as inner:
            raise ValueError("outer") from inner
    except ValueError:
        log.error("chained traceback", exc_info=True)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_secret_kind_is_masked_on_each_log_path(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    value = KINDS[kind]
    monkeypatch.setenv(f"WW_TEST_{kind.upper()}", value)
    SecretResolver().resolve(f"env:WW_TEST_{kind.upper()}")
    buf = io.StringIO()
    setup_logging("info", stream=buf)
    _paths(logging.getLogger("t.redaction"), value)
    out = buf.getvalue()
    assert out.count("\n") == 7, out
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    assert value not in out and escaped not in out, out
    assert out.count("***") >= 7


def test_credentials_inside_any_logged_url_are_masked() -> None:
    buf = io.StringIO()
    setup_logging("info", stream=buf)
    log = logging.getLogger("t.redaction")
    url = f"http://admin:{URL_PASSWORD}@127.0.0.1:8086"
    _paths(log, url)
    log.error("auth header", extra=kv(headers={"Authorization": f"Token {URL_PASSWORD}"}))
    out = buf.getvalue()
    assert URL_PASSWORD not in out and "admin:" not in out and "http://***@127.0.0.1:8086" in out


CHECK = """
[snmp]
version = "2c"
community = "env:WW_C"
{extra}
"""


@pytest.mark.parametrize(("extra", "where", "hidden"), [
    (f'[influxdb]\nurl = "http://admin:{URL_PASSWORD}@127.0.0.1:8086"', "influxdb.url", URL_PASSWORD),
    (f'[influxdb]\nurl = "http://127.0.0.1:8086/?u=admin&p={URL_PASSWORD}"', "influxdb.url", URL_PASSWORD),
    ('[[alerts.channels]]\nname = "s"\ntype = "slack"\nurl = "https://hooks.slack.example/services/T/B/inline-x"',
     "alerts.channels[0].url", "inline-x"),
    ('[[alerts.channels]]\nname = "h"\ntype = "webhook"\nurl = "http://127.0.0.1:9/hook?token=inline-y"',
     "alerts.channels[0].url", "inline-y"),
])
def test_check_config_refuses_inline_credentials_without_repeating_them(
        extra: str, where: str, hidden: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(CHECK.format(extra=extra), "c.toml")
    assert f": {where}: " in str(e.value) and hidden not in str(e.value)
    cfg = tmp_path / "c.toml"
    cfg.write_text(CHECK.format(extra=extra), encoding="utf-8")
    r = CliRunner().invoke(app, ["check-config", "-c", str(cfg)])
    assert r.exit_code == 2 and where in r.output and hidden not in r.output and "Traceback" not in r.output


def test_references_still_pass() -> None:
    inv = parse_config(CHECK.format(extra='[influxdb]\nurl = "https://influx.example.lg.jp:8086"\n'
                                          'username = "env:U"\npassword = "file:influx_password"\n'
                                          '[[alerts.channels]]\nname = "s"\ntype = "slack"\nurl = "env:SLACK"'))
    assert inv.influxdb is not None and inv.alerts.channels[0].url == "env:SLACK"


@pytest.mark.parametrize("sink_class", [InfluxV1Sink, InfluxV2Sink])
def test_a_password_in_the_sink_url_stays_out_of_log_meta_and_status(
        sink_class: type, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defence in depth behind check-config: even a URL that carries a password (built in code, an old
    config) must not put it into the daemon log, the store's meta.last_error or ``store status``."""
    monkeypatch.chdir(tmp_path)
    buf = io.StringIO()
    setup_logging("info", stream=buf)
    store = SqliteStore(tmp_path / "s.sqlite3", StoreSettings(min_free_mb=0))
    store.write([Point("ap_ping", {"ap": "a"}, {"rtt_ms": 1.0}, 1_760_000_000 * 10**9)])
    sink = sink_class(f"http://admin:{URL_PASSWORD}@127.0.0.1:{free_port()}", "db", timeout_s=2)
    r = Forwarder(store, sink).forward_once()
    sink.close()
    assert r.error is not None and store.backlog() == 1
    last_error = store.stats()["last_error"]
    store.close()
    assert last_error and URL_PASSWORD not in last_error and "***@127.0.0.1" in last_error
    log = buf.getvalue()
    assert "forwarding to InfluxDB paused" in log and URL_PASSWORD not in log
    cfg = tmp_path / "c.toml"
    cfg.write_text('[store]\npath = "s.sqlite3"\nmin_free_mb = 0\n', encoding="utf-8")
    res = CliRunner().invoke(app, ["store", "status", "--json", "-c", str(cfg)])
    assert res.exit_code == 0 and '"last_error"' in res.output
    assert URL_PASSWORD not in res.output and "***@127.0.0.1" in res.output
    res = CliRunner().invoke(app, ["store", "status", "--lang", "en", "-c", str(cfg)], terminal_width=400)
    assert res.exit_code == 0 and "last error" in res.output and URL_PASSWORD not in res.output
