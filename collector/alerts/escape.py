"""Escaping alert text for the place it lands: an e-mail header, Slack mrkdwn, a Teams card.

Names come from the inventory, open-data imports and APs: hostile text. Slack reads ``<!channel>`` as a
ping to everyone and ``<https://evil|click>`` as a disguised link, so ``&``, ``<`` and ``>`` become the
entities Slack documents. Teams renders a MessageCard's text as Markdown with some HTML, so HTML is escaped
and a Markdown link's ``](`` gets a backslash. An e-mail header must not hold a line break
(Python refuses to build one, which used to look like a crashed delivery retried for ever).
"""

from __future__ import annotations

import html
import re

from core.escape import one_line

# A Markdown link needs an unescaped "](" (or "][" for a reference link); a backslash before the "]" breaks
# it. Backslashes are doubled first so a name cannot cancel that escape. Brackets alone ("[DOWN]") stay.
_TEAMS_LINK = re.compile(r"\\|\](?=[(\[])")


def slack_text(text: str) -> str:
    """Text for a Slack ``text`` field: no mentions, links or channel pings can be formed from it."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def teams_text(text: str) -> str:
    """Text for a Teams card's ``title``/``text``: HTML escaped, Markdown links broken."""
    return _TEAMS_LINK.sub(lambda m: "\\" + m[0], html.escape(text, quote=True))


def header_text(text: str) -> str:
    """An e-mail header value on one line (the e-mail library folds long ones itself)."""
    return one_line(text)
