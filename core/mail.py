"""Sending one prepared e-mail through an e-mail channel's SMTP settings (alerts and mailed reports share it).

One SMTP session: connect with the channel's timeout, STARTTLS (verifying the certificate unless
``verify_tls = false``), log in with credentials resolved from env:/file: references, send. Errors are left to
the caller, which knows how to word and redact them (an alert is retried, a report mail is reported).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from core.inventory import AlertChannel
from core.secrets import SecretResolver


def tls_context(verify: bool) -> ssl.SSLContext:
    """The default context; without verification only when the channel says so (a test or a self-signed relay)."""
    ctx = ssl.create_default_context()
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def send_email(ch: AlertChannel, message: EmailMessage, resolver: SecretResolver) -> None:
    """Send ``message`` through ``ch`` (type email); raises OSError or smtplib.SMTPException on failure."""
    assert ch.smtp_host is not None
    with smtplib.SMTP(ch.smtp_host, ch.smtp_port, timeout=ch.timeout_s) as smtp:
        if ch.starttls:
            smtp.starttls(context=tls_context(ch.verify_tls))
        if ch.smtp_user and ch.smtp_password:
            smtp.login(resolver.resolve(ch.smtp_user).reveal(), resolver.resolve(ch.smtp_password).reveal())
        smtp.send_message(message)
