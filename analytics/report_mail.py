"""E-mail a written report to ``[reports] email_to`` through the SMTP settings of ``[reports] email_channel``.

The channel is an ``[[alerts.channels]]`` entry of type email, so the SMTP host, STARTTLS, credentials (env:/file:
references) and sender are configured once. The mail carries the PDF and the .xlsx as attachments and says in
its text what the figures rest on (参考値, 模擬データ, 集計中), so a reader of the mail alone is not misled.
"""

from __future__ import annotations

import logging
import mimetypes
import smtplib
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from core.inventory import AlertChannel, Inventory
from core.logs import kv
from core.mail import send_email
from core.secrets import REDACTOR, SecretResolver

log = logging.getLogger("wifiwatch.reports")
ATTACH = (".pdf", ".xlsx")
MAX_ATTACH_BYTES = 15 * 1024 * 1024  # common mail servers refuse messages above 20-25 MB


class MailError(Exception):
    """The report could not be mailed; the message names the channel and the reason, never a credential."""


def channel_for(inv: Inventory) -> AlertChannel | None:
    name = inv.reports.email_channel
    return next((c for c in inv.alerts.channels if c.name == name and c.type == "email"), None)


def mail_report(inv: Inventory, resolver: SecretResolver, subject: str, body: str, files: Sequence[Path]) -> int:
    """Send one mail to every ``email_to`` address; returns the number of recipients (0 if none configured)."""
    to = inv.reports.email_to
    ch = channel_for(inv)
    if not to or ch is None:
        return 0
    assert ch.smtp_host is not None and ch.sender is not None
    m = EmailMessage()
    m["Subject"] = subject
    m["From"] = ch.sender
    m["To"] = ", ".join(to)
    m["Date"] = formatdate(localtime=True)
    m["Message-ID"] = make_msgid(domain="wifiwatch")
    m["X-Wifiwatch-Kind"] = "monthly-report"
    m.set_content(REDACTOR(body), charset="utf-8")
    size = 0
    for f in files:
        if f.suffix not in ATTACH or not f.exists():
            continue
        data = f.read_bytes()
        size += len(data)
        if size > MAX_ATTACH_BYTES:
            log.warning("report attachment left out: the mail would be too large", extra=kv(file=f.name))
            continue
        kind = mimetypes.guess_type(f.name)[0] or "application/octet-stream"
        main, sub = kind.split("/", 1)
        m.add_attachment(data, maintype=main, subtype=sub, filename=f.name)
    try:
        send_email(ch, m, resolver)
    except smtplib.SMTPAuthenticationError:
        raise MailError(f"{ch.name}: SMTP authentication failed (check smtp_user/smtp_password)") from None
    except (OSError, smtplib.SMTPException) as e:
        raise MailError(f"{ch.name}: {type(e).__name__}: {REDACTOR(str(e))}") from None
    log.info("monthly report mailed", extra=kv(channel=ch.name, recipients=len(to), subject=subject))
    return len(to)
