"""Rendering messages from the templates, and sending them: SMTP e-mail, generic JSON, Slack, Teams.

Every call has a timeout and verifies TLS by default; errors name the channel and the cause, never a
password or a webhook URL (Slack and Teams URLs are themselves secrets).
"""

from __future__ import annotations

import smtplib
import tomllib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from functools import cache
from pathlib import Path
from typing import Any

import httpx

from collector.alerts.escape import header_text, slack_text, teams_text
from core.inventory import AlertChannel
from core.mail import send_email
from core.secrets import REDACTOR, SecretResolver

TEMPLATES = Path(__file__).resolve().parent / "templates"
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


class DeliveryError(Exception):
    """A failed send; ``permanent`` ones (bad address, 4xx) are not worth retrying."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(REDACTOR(message))
        self.permanent = permanent


@cache
def templates(lang: str) -> dict[str, dict[str, str]]:
    return tomllib.loads((TEMPLATES / f"{lang}.toml").read_text(encoding="utf-8"))


class _Blank(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return "-"


@dataclass(frozen=True)
class Message:
    kind: str
    severity: str
    subject: str
    body: str
    data: dict[str, Any]


def render(kind: str, lang: str, ctx: dict[str, Any], severity: str) -> Message:
    t = templates(lang)[kind]
    values = _Blank({k: ("-" if v is None else v) for k, v in ctx.items()})
    subject = REDACTOR(t["subject"].format_map(values))
    body = REDACTOR(t["body"].format_map(values))
    return Message(kind, severity, subject, body, {k: v for k, v in ctx.items() if isinstance(v, str | int | float)})


def send(channel: AlertChannel, msg: Message, resolver: SecretResolver) -> None:
    """Deliver one message on one channel or raise DeliveryError."""
    try:
        if channel.type == "email":
            _email(channel, msg, resolver)
        else:
            _http(channel, msg, resolver)
    except DeliveryError:
        raise
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as e:
        raise DeliveryError(f"{channel.name}: address refused by the mail server: {e}", permanent=True) from None
    except smtplib.SMTPAuthenticationError:
        raise DeliveryError(f"{channel.name}: SMTP authentication failed (check smtp_user/smtp_password)",
                            permanent=True) from None
    except ValueError as e:  # a message that cannot be built will not build on the next try either
        raise DeliveryError(f"{channel.name}: cannot build the message: {e}", permanent=True) from None
    except (OSError, smtplib.SMTPException, httpx.HTTPError) as e:
        raise DeliveryError(f"{channel.name}: {type(e).__name__}: {e}") from None


def _email(ch: AlertChannel, msg: Message, resolver: SecretResolver) -> None:
    assert ch.smtp_host is not None and ch.sender is not None
    m = EmailMessage()
    m["Subject"] = header_text(msg.subject)
    m["From"] = ch.sender
    m["To"] = ", ".join(ch.to)
    m["Date"] = formatdate(localtime=True)
    m["Message-ID"] = make_msgid(domain="wifiwatch")
    m["X-Wifiwatch-Kind"] = msg.kind
    m.set_content(msg.body, charset="utf-8")
    send_email(ch, m, resolver)


def _url(ch: AlertChannel, resolver: SecretResolver) -> str:
    assert ch.url is not None
    if ch.url.startswith(("env:", "file:")):
        return resolver.resolve(ch.url).reveal()
    return ch.url


def payload(ch: AlertChannel, msg: Message) -> dict[str, Any]:
    if ch.type == "slack":
        return {"text": f"*{slack_text(msg.subject)}*\n{slack_text(msg.body)}"}
    if ch.type == "teams":
        color = {"critical": "C0392B", "warning": "E67E22"}.get(msg.severity, "27AE60")  # info, resolved: green
        return {"@type": "MessageCard", "@context": "https://schema.org/extensions",
                "summary": header_text(msg.subject), "themeColor": color, "title": teams_text(msg.subject),
                "text": teams_text(msg.body).replace("\n", "<br>")}
    return {"kind": msg.kind, "severity": msg.severity, "subject": msg.subject, "text": msg.body, **msg.data}


def _http(ch: AlertChannel, msg: Message, resolver: SecretResolver) -> None:
    r = httpx.post(_url(ch, resolver), json=payload(ch, msg), timeout=ch.timeout_s, verify=ch.verify_tls)
    if r.status_code >= 400:
        raise DeliveryError(f"{ch.name}: HTTP {r.status_code}: {r.text[:200]}",
                            permanent=400 <= r.status_code < 500 and r.status_code not in (408, 429))


def routed(ch: AlertChannel, severity: str, site_kind: str) -> bool:
    if SEVERITY_RANK[severity] < SEVERITY_RANK[ch.min_severity]:
        return False
    # host-level alerts (no site) go to every channel whose severity matches
    return not ch.site_kinds or not site_kind or site_kind in {k.value for k in ch.site_kinds}
