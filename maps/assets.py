"""Vendored scripts and styles for every map page: no page the project writes loads anything from a CDN.

Folium writes ``<script src="https://cdn...">`` links. ``local_map`` keeps only the ones a wifiwatch map
uses; ``localize`` swaps each for the vendored copy in ``maps/assets`` (inlined into the page, or linked
under a URL prefix the web console serves, see ``asset_path``) and refuses anything else: a new folium
feature that needs another library fails loudly here instead of reaching for the internet from a closed
city network.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import folium

ASSETS_DIR = Path(__file__).resolve().parent / "assets"

# folium 0.20's URL -> vendored file (maps/assets/README.md says where each comes from and its licence).
VENDORED = {
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js": "leaflet.js",
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css": "leaflet.css",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery.min.js",
    "https://cdn.jsdelivr.net/gh/python-visualization/folium@main/folium/templates/leaflet_heat.min.js":
        "leaflet_heat.min.js",
}
# What a wifiwatch map needs of folium's defaults: Leaflet, and jQuery (folium builds popups with $()).
# Bootstrap, Font Awesome and awesome-markers, which folium links on every map, style widgets and icon
# fonts these maps never draw; local_map() leaves them out rather than vendoring 1 MB of fonts.
MAP_JS = [("leaflet", "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"),
          ("jquery", "https://code.jquery.com/jquery-3.7.1.min.js")]
MAP_CSS = [("leaflet_css", "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css")]
# Where folium links a script or a stylesheet: every such tag, whatever its URL.
_TAG = re.compile(r'<script src="(?P<js>[^"]*)"></script>|<link rel="stylesheet" href="(?P<css>[^"]*)"\s*/?>')


class UnvendoredAsset(RuntimeError):
    """The page links a script or style that is not vendored; vendor it in maps/assets (with its licence)."""


def local_map(**kwargs: Any) -> folium.Map:
    """A folium Map that links only the vendored libraries a wifiwatch map uses."""
    m = folium.Map(**kwargs)
    m.default_js = list(MAP_JS)
    m.default_css = list(MAP_CSS)
    return m


def asset_path(name: str) -> Path:
    """The vendored file the web console serves for ``name`` (one of ``asset_names()``)."""
    if name not in asset_names():
        raise KeyError(name)
    return ASSETS_DIR / name


def asset_names() -> list[str]:
    return sorted(set(VENDORED.values()))


def _inline(name: str, css: bool) -> str:
    text = (ASSETS_DIR / name).read_text(encoding="utf-8")
    if "</" + ("style" if css else "script") in text.lower():
        raise UnvendoredAsset(f"{name} cannot be inlined: it contains a closing tag")
    return f"<style>/* {name} */\n{text}</style>" if css else f"<script>/* {name} */\n{text}</script>"


def localize(html: str, base_url: str | None = None) -> str:
    """The page with every linked script and stylesheet vendored: inlined, or linked at ``base_url`` + file.

    Raises UnvendoredAsset for a link that is not vendored (a map not made with local_map() links
    folium's unused defaults too, and is refused the same way).
    """
    out: list[str] = []
    pos = 0
    for m in _TAG.finditer(html):
        url = m.group("js") or m.group("css") or ""
        css = m.group("css") is not None
        out.append(html[pos:m.start()])
        pos = m.end()
        if url in VENDORED:
            name = VENDORED[url]
            if base_url is None:
                out.append(_inline(name, css))
            elif css:
                out.append(f'<link rel="stylesheet" href="{base_url}{name}"/>')
            else:
                out.append(f'<script src="{base_url}{name}"></script>')
        else:
            raise UnvendoredAsset(f"the map links {url!r}, which is not vendored in {ASSETS_DIR}")
    out.append(html[pos:])
    return "".join(out)
