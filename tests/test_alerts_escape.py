"""Hostile names in alerts: delivered, and escaped for where they land (e-mail header, Slack, Teams).

Real receivers on loopback (aiosmtpd, an HTTP webhook); the message is rendered from the real templates.
"""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.alerts.escape import header_text, slack_text, teams_text
from collector.alerts.notify import render, send
from core.inventory import AlertChannel
from core.secrets import SecretResolver
from tests.fixtures_alerts import Hook, Smtp, smtp_server, webhook  # noqa: F401 - fixtures

HOSTILE = "大町 <!channel> <https://evil.example|click> & <b>bold</b> [click](https://evil.example)\nBcc: x@evil"


def _msg(name: str = HOSTILE):
    ctx = {"site_name": name, "device_name": "ap1", "device_id": "ap1", "since": "-", "duration": "-"}
    return render("down", "en", ctx, "critical")


def test_line_break_in_a_name_is_delivered_by_mail_on_one_header_line(smtp_server: Smtp) -> None:  # noqa: F811
    """Before: EmailMessage raised ValueError on the subject, the engine retried it every 60 s for ever."""
    ch = AlertChannel(name="mail", type="email", smtp_host="127.0.0.1", smtp_port=smtp_server.port,
                      starttls=False, sender="wifiwatch@example.lg.jp", to=["duty@example.lg.jp"])
    send(ch, _msg(), SecretResolver())
    [got] = smtp_server.box.messages
    subject = str(got["Subject"])
    assert "\n" not in subject and "\r" not in subject
    assert subject.startswith("[DOWN] 大町 <!channel>") and subject.endswith("Bcc: x@evil ap1")
    assert got["Bcc"] is None  # the line break did not become a header


def test_slack_payload_cannot_ping_or_disguise_links(webhook: Hook, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setenv("WW_TEST_SLACK_URL", webhook.url)
    ch = AlertChannel(name="slack", type="slack", url="env:WW_TEST_SLACK_URL")
    send(ch, _msg(), SecretResolver())
    text = webhook.received[-1]["json"]["text"]
    assert "<!channel>" not in text and "<https://" not in text and "<" not in text and ">" not in text
    assert "&lt;!channel&gt;" in text and "&lt;https://evil.example|click&gt;" in text and "&amp;" in text


def test_teams_card_gets_no_raw_html_or_links(webhook: Hook, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setenv("WW_TEST_TEAMS_URL", webhook.url)
    ch = AlertChannel(name="teams", type="teams", url="env:WW_TEST_TEAMS_URL")
    send(ch, _msg(), SecretResolver())
    card = webhook.received[-1]["json"]
    for field in ("title", "text"):
        assert "<b>" not in card[field] and "&lt;b&gt;" in card[field]
        assert "[click](" not in card[field] and r"[click\](" in card[field]
    assert re.sub(r"<br>", "", card["text"]).count("<") == 0  # the only tags are the line breaks we add
    assert "\n" not in card["summary"]


@given(st.text())
def test_slack_escape_is_reversible_and_leaves_no_angle_brackets(s: str) -> None:
    out = slack_text(s)
    assert "<" not in out and ">" not in out
    assert out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == s


@given(st.text())
def test_teams_escape_is_reversible_and_leaves_no_tags_or_links(s: str) -> None:
    out = teams_text(s)
    assert "<" not in out and ">" not in out
    assert not re.search(r"\]\(|\]\[", out.replace("\\\\", "").replace("\\]", ""))
    assert html.unescape(re.sub(r"\\(.)", r"\1", out)) == s


@given(st.text())
def test_header_text_is_one_line(s: str) -> None:
    out = header_text(s)
    assert out == out.strip() and not any(c in out for c in "\r\n\v\f\x85\u2028\u2029")


def test_generic_webhook_gets_the_name_exactly_as_json(webhook: Hook, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """A generic webhook receives JSON: the encoding is the escaping, and the text arrives unchanged."""
    monkeypatch.setenv("WW_TEST_HOOK_URL", webhook.url)
    send(AlertChannel(name="hook", type="webhook", url="env:WW_TEST_HOOK_URL"), _msg(), SecretResolver())
    got = webhook.received[-1]["json"]
    assert got["site_name"] == HOSTILE and HOSTILE in got["text"]
