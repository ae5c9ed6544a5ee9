"""Names are data: text from the inventory or an import, made safe for every place a map puts it.

Folium pastes popup and tooltip HTML into JavaScript template literals (``$(`...`)``), and DivIcon HTML
into JSON. ``html.escape`` makes text safe for HTML but leaves ``${`` (runs code in a template literal),
backticks (end the literal: the whole map goes blank) and backslashes alone. Writing those three as
HTML character references makes them inert in the JavaScript that carries the markup, and the browser
still shows the same characters once the markup is parsed as HTML.
"""

from __future__ import annotations

import html
import re

_JS_TEMPLATE = str.maketrans({"`": "&#96;", "$": "&#36;", "\\": "&#92;", "{": "&#123;", "}": "&#125;"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def html_text(value: object) -> str:
    """``value`` as HTML text (content or a quoted attribute), inert inside JS template literals and strings.

    Line breaks and other control characters become one space: a name is one line on a map.
    """
    return html.escape(_CONTROL.sub(" ", str(value)), quote=True).translate(_JS_TEMPLATE)
