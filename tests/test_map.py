"""The coverage map in a real browser with the network cut, as on a closed city network (LGWAN).

The background comes from a tile archive the test makes itself (solid magenta tiles, so the screenshot's
pixels show whether Leaflet drew them); hostile names must stay text; the map explains itself.
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from core.config import parse_config
from maps.coverage_map import ApMapStatus, CandidateMarker, PlanInfo, write_map
from maps.tiles import inventory_bands, tiles_covering, write_archive

ROOT = Path(__file__).resolve().parent.parent
MAGENTA = (255, 0, 255)


def inventory() -> Any:
    return parse_config((ROOT / "config" / "sites.toml").read_text(encoding="utf-8"), "sites.toml")


def renamed(inv: Any, site: str, ap: str, cand: str) -> Any:
    """The inventory with the first site, its second AP and the Kashima Jingu candidate renamed, bypassing
    validation: check-config refuses line breaks in names, but a map must survive any name that reaches it
    (an older store, an import, a future field)."""
    s0 = inv.sites[0]
    aps = [a.model_copy(update={"name_ja": ap}) if k == 1 else a for k, a in enumerate(s0.aps)]
    sites = [s0.model_copy(update={"name_ja": site, "aps": aps}), *inv.sites[1:]]
    cands = [c.model_copy(update={"name_ja": cand}) if c.id == "kashima-jingu" else c for c in inv.candidates]
    return inv.model_copy(update={"sites": sites, "candidates": cands})


def solid_png(rgb: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (256, 256), rgb).save(buf, "PNG")
    return buf.getvalue()


def make_archive(path: Path, inv: Any, rgb: tuple[int, int, int] = MAGENTA) -> Path:
    bands = inventory_bands(inv, 12, 16, detail_from=15, margin_m=300, overview_margin_m=3000)
    png = solid_png(rgb)
    write_archive(path, ((z, x, y, png) for z, x, y in tiles_covering(bands)), bands,
                  {"name": "test tiles", "attribution": "test tiles", "source": "test", "format": "png"})
    return path


def share(png: bytes, rgb: tuple[int, int, int]) -> float:
    """Fraction of the screenshot's pixels within a few levels of ``rgb``."""
    px = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=int)
    return float((np.abs(px - np.array(rgb)).max(axis=2) < 8).mean())


def watch(page: Any) -> list[str]:
    """Console errors and dialogs the page produces (besides page errors the fixture records)."""
    seen: list[str] = []
    page.on("console", lambda m: seen.append(f"console {m.type}: {m.text}") if m.type == "error" else None)

    def dialog(d: Any) -> None:
        seen.append(f"dialog {d.type}: {d.message}")
        d.dismiss()

    page.on("dialog", dialog)
    return seen


def visible_labels(page: Any) -> list[str]:
    """The labels the map shows, after checking that no two of them overlap."""
    boxes = page.evaluate("""Array.from(document.querySelectorAll('.ww-label'))
        .filter(e => getComputedStyle(e).visibility === 'visible')
        .map(e => { const r = e.getBoundingClientRect();
                    return [r.left, r.top, r.right, r.bottom, e.textContent]; })""")
    assert not any(a[0] < b[2] and a[2] > b[0] and a[1] < b[3] and a[3] > b[1]
                   for i, a in enumerate(boxes) for b in boxes[i + 1:]), boxes
    return [b[4] for b in boxes]


def open_map(page: Any, html: Path) -> None:
    page.goto(html.as_uri())
    page.wait_for_function("document.querySelectorAll('.ww-ap').length > 0 && "
                           "document.querySelectorAll('.leaflet-tile-loaded').length > 0 && "
                           "!document.querySelector('.leaflet-tile:not(.leaflet-tile-loaded)')", timeout=15000)
    page.wait_for_timeout(400)  # the last tiles fade in


CANDS = [CandidateMarker("kashima-jingu", 1, True, 2029, 120000.0, "大町通りの3APから約130m離れ", 60000, 500000, 8.33),
         CandidateMarker("kashima-jingu-station", 2, False, None, 90000.0, "駅前", 45000, 500000, 11.11)]
PLAN = PlanInfo(round_budgets=((2029, 1_000_000), (2031, 1_000_000)), budget_used_yen=500_000)


def test_offline_map_shows_tiles_labels_metric_scale_and_plan(offline_page: Any, tmp_path: Path) -> None:
    inv = inventory()
    statuses = {"omachi-1": ApMapStatus("omachi-1", "up", "2026-11-24 10:00:00", 12, 99.9),
                "omachi-2": ApMapStatus("omachi-2", "down", "2026-11-24 09:00:00", None, 97.5)}
    out = write_map(tmp_path / "map.html", inv, statuses, [(35.968, 140.6287, 1.0)], CANDS, "ja",
                    tile_file=make_archive(tmp_path / "bg.pmtiles", inv), plan=PLAN)
    html = out.read_text(encoding="utf-8")
    assert html.count('src="http') == 0 and "cdn.jsdelivr" not in html and "code.jquery" not in html
    assert (tmp_path / "map_tiles" / "12").is_dir()
    seen = watch(offline_page)
    open_map(offline_page, out)
    assert offline_page.blocked == [] and offline_page.console_errors == [] and seen == []
    assert share(offline_page.screenshot(), MAGENTA) > 0.3  # the background is drawn, from the archive
    # Every site and candidate is labelled on the map.
    labels = offline_page.locator(".ww-label").all_text_contents()
    for name in ("大町通り", "鹿嶋市中央公民館", "鹿島神宮", "鹿島神宮駅"):
        assert name in labels
    # ... and the labels shown never print over each other: the rest wait for a closer zoom.
    assert 1 <= len(visible_labels(offline_page)) < len(labels)
    offline_page.evaluate("window[Object.keys(window).find(k => k.startsWith('map_'))]"
                          ".setView([35.9668, 140.6300], 16, {animate: false})")
    offline_page.wait_for_timeout(300)
    shown = visible_labels(offline_page)
    assert {"大町通り", "鹿嶋市中央公民館", "鹿島神宮", "鹿島神宮駅"} <= set(shown)
    assert offline_page.locator(".ww-ap").count() == 4 and offline_page.locator(".ww-down").count() == 1
    # The scale is metric and the legend (a Leaflet control) does not cover it.
    scale = offline_page.locator(".leaflet-control-scale-line").all_text_contents()
    assert len(scale) == 1 and scale[0].endswith(("m", "km")) and "ft" not in scale[0]
    s = offline_page.locator(".leaflet-control-scale").bounding_box()
    g = offline_page.locator("#ww-legend").bounding_box()
    assert s["x"] + s["width"] <= g["x"] or g["y"] + g["height"] <= s["y"] or s["y"] + s["height"] <= g["y"]
    legend = offline_page.locator("#ww-legend").inner_text()
    for words in ("稼働", "停止", "カバー範囲", "利用量", "整備対象", "対象外", "予算 1,000,000 円/回", "2029, 2031"):
        assert words in legend
    assert offline_page.locator(".ww-funded").count() == 1 and offline_page.locator(".ww-unfunded").count() == 1
    # A funded candidate's popup, in Japanese with units, names its plan and round.
    offline_page.locator(".ww-funded").click()
    popup = offline_page.locator(".leaflet-popup-content").inner_text()
    for words in ("優先順位 1: 鹿島神宮", "2029年度に整備（予算 1,000,000 円の回）", "60,000 人/年", "500,000 円",
                  "8.3 円/人", "予算 1,000,000 円/回"):
        assert words in popup, popup


HOSTILE = "${alert(1)}`x`</script><img src=x onerror=alert(2)>\"q'\nline2\\"


def test_hostile_names_are_shown_as_text_and_never_run(offline_page: Any, tmp_path: Path) -> None:
    inv = renamed(inventory(), HOSTILE + "site", HOSTILE + "ap", HOSTILE + "cand")
    cands = [CandidateMarker("kashima-jingu", 1, True, None, 1.0, HOSTILE + "why", 10, 20, 2.0)]
    out = write_map(tmp_path / "map.html", inv, {"omachi-2": ApMapStatus("omachi-2", "up", HOSTILE, 1, 1.0, HOSTILE)},
                    (), cands, "ja", tile_file=make_archive(tmp_path / "bg.pmtiles", inv), plan=PlanInfo(1000))
    seen = watch(offline_page)
    open_map(offline_page, out)
    offline_page.locator(".ww-funded").click()
    offline_page.wait_for_timeout(200)
    assert seen == [] and offline_page.console_errors == [] and offline_page.blocked == []
    assert offline_page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0  # no markup got in
    assert offline_page.locator(".ww-ap").count() == 4  # the map still draws every marker
    shown = HOSTILE.replace("\n", " ")
    assert shown + "site" in offline_page.locator(".ww-site-label").all_text_contents()
    assert shown + "cand" in offline_page.locator(".ww-cand-label").all_text_contents()
    assert shown + "why" in offline_page.locator(".leaflet-popup-content").inner_text()
    offline_page.locator(".ww-ap-omachi-2").dispatch_event("click")  # markers overlap at this zoom
    assert shown + "ap" in offline_page.locator(".leaflet-popup-content").last.inner_text()


def test_map_without_archive_has_no_background_and_says_how_to_get_one(tmp_path: Path) -> None:
    out = write_map(tmp_path / "m.html", inventory(), {}, tile_file=tmp_path / "absent.pmtiles")
    html = out.read_text(encoding="utf-8")
    assert "L.tileLayer" not in html and "wifiwatch tiles fetch" in html and 'src="http' not in html


def run_cli(capsys: Any, monkeypatch: Any, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``wifiwatch ARGS`` run in this process (a fresh interpreter costs seconds)."""
    from wifiwatch.cli import main

    monkeypatch.setattr(sys, "argv", ["wifiwatch", *args])
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_map_plan_options_and_bad_input(tmp_path: Path, capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = str(ROOT / "config" / "sites.toml")
    code, _, err = run_cli(capsys, monkeypatch, "map", "--config", cfg, "--out", "m.html", "--budget-per-round",
                           "3000000", "--rounds", "2029,2031")
    assert code == 0, err
    html = (tmp_path / "m.html").read_text(encoding="utf-8")
    assert "予算 3,000,000 円/回、整備年度 2029, 2031" in html and "年度に整備（予算 3,000,000 円の回）" in html
    assert html.count('src="http') == 0
    code, _, err = run_cli(capsys, monkeypatch, "map", "--config", cfg, "--out", "r.html", "--rounds", "2029,2031",
                           "--round-budgets", "1000000,4000000", "--lang", "en", "--tiles", "osm")
    assert code == 0, err
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "rounds and budgets 2029: 1,000,000 yen, 2031: 4,000,000 yen" in html and "Candidate sites" in html
    assert "tile.openstreetmap.org" in html and html.count('src="http') == 0
    online = tmp_path / "online.toml"  # online tiles only when the inventory (or --tiles) names them
    online.write_text((ROOT / "config" / "sites.toml").read_text(encoding="utf-8") + '\n[map]\ntiles = "gsi"\n',
                      encoding="utf-8")
    code, _, err = run_cli(capsys, monkeypatch, "map", "--config", str(online), "--out", "g.html")
    assert code == 0, err
    assert "cyberjapandata.gsi.go.jp" in (tmp_path / "g.html").read_text(encoding="utf-8")
    online.write_text(online.read_text(encoding="utf-8").replace('tiles = "gsi"', 'tiles = "ftp://x"'), "utf-8")
    code, _, err = run_cli(capsys, monkeypatch, "map", "--config", str(online), "--out", "g.html")
    assert code == 2 and "map.tiles" in err and "Traceback" not in err, err
    code, _, err = run_cli(capsys, monkeypatch, "rank", "--config", cfg, "--budget", "2000000", "--map", "k.html",
                           "--format", "json", "--no-sensitivity")
    assert code == 0, err  # rank --map draws the same map, for rank's every option
    assert "予算 2,000,000 円" in (tmp_path / "k.html").read_text(encoding="utf-8")
    for bad, word in ((["--tiles", "ftp://x"], "--tiles"), (["--rounds", "2029"], "--budget-per-round"),
                      (["--budget", "-5"], "--budget"), (["--rounds", "20x9", "--budget-per-round", "1"], "--rounds"),
                      (["--tiles", "cache", "--tile-file", "nope.pmtiles"], "nope.pmtiles")):
        code, _, err = run_cli(capsys, monkeypatch, "map", "--config", cfg, "--out", "x.html", *bad)
        assert code == 2 and word in err and "Traceback" not in err, err


def test_demo_map_shows_its_stand_in_background_offline(offline_page: Any, tmp_path: Path) -> None:
    """The demo has no internet for GSI tiles: its map draws the labelled stand-in, found beside the store."""
    from maps.demo_background import write_demo_background
    from maps.tiles import Band, default_tile_file
    from wifiwatch.views import write_current_map

    inv = inventory().model_copy(update={"store": inventory().store.model_copy(
        update={"path": str(tmp_path / "store" / "wifiwatch.sqlite3")})})
    write_demo_background(default_tile_file(inv), [Band(12, 13, (140.50, 35.90, 140.76, 36.10))])
    out = write_current_map(inv, tmp_path / "map.html", "ja")
    assert out.read_text(encoding="utf-8").count('src="http') == 0
    seen = watch(offline_page)
    open_map(offline_page, out)
    assert seen == [] and offline_page.console_errors == [] and offline_page.blocked == []
    assert share(offline_page.screenshot(), (238, 236, 228)) > 0.3  # the stand-in's paper colour
    assert "実際の地図ではありません" in offline_page.locator("#ww-legend").inner_text()
    assert "デモ用簡易背景" in offline_page.locator(".leaflet-control-attribution").inner_text()
    assert "鹿嶋市中央公民館" in offline_page.locator(".ww-site-label").all_text_contents()
    assert offline_page.locator(".leaflet-control-scale-line").inner_text().endswith(("m", "km"))
    assert offline_page.locator(".ww-funded").count() >= 1 and re.search(r"予算 [\d,]+ 円", \
        offline_page.locator("#ww-legend").inner_text())


def test_served_map_links_vendored_assets_and_tiles_from_the_archive(offline_page: Any, tmp_path: Path) -> None:
    """What the web console does: the page, its scripts and its tiles from a loopback server, nothing else."""
    import http.server
    import threading
    from urllib.parse import urlsplit

    from maps.assets import asset_path
    from maps.coverage_map import cache_background, map_html
    from maps.tiles import TileCache

    inv = inventory()
    cache = TileCache(make_archive(tmp_path / "bg.pmtiles", inv))
    page = map_html(inv, {}, (), CANDS, "ja", cache_background(cache, "/tiles/{z}/{x}/{y}.png"), PLAN,
                    asset_url="/assets/").encode()
    assert '<script src="/assets/leaflet.js"></script>' in page.decode() and b'src="http' not in page

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            path = urlsplit(self.path).path
            body: bytes | None = None
            kind = "text/html; charset=utf-8"
            if path == "/map":
                body = page
            elif path.startswith("/assets/"):
                try:
                    body = asset_path(path.removeprefix("/assets/")).read_bytes()
                    kind = "text/css" if path.endswith(".css") else "text/javascript"
                except KeyError:
                    body = None
            elif path.startswith("/tiles/"):
                z, x, y = (int(v) for v in path.removeprefix("/tiles/").removesuffix(".png").split("/"))
                body, kind = cache.get(z, x, y), cache.media_type
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        seen = watch(offline_page)
        offline_page.goto(f"http://127.0.0.1:{srv.server_address[1]}/map")
        offline_page.wait_for_function("document.querySelectorAll('.ww-ap').length > 0 && "
                                       "document.querySelectorAll('.leaflet-tile-loaded').length > 0", timeout=15000)
        offline_page.wait_for_timeout(300)
        assert seen == [] and offline_page.console_errors == [] and offline_page.blocked == []
        assert share(offline_page.screenshot(), MAGENTA) > 0.3
    finally:
        srv.shutdown()
        srv.server_close()
        cache.close()


def test_map_on_a_phone_keeps_zoom_in_reach_ap_dots_on_top_and_heat_apart_from_states(offline_page: Any,
                                                                                      tmp_path: Path) -> None:
    from core import state as st
    from maps.coverage_map import AP_PANE, HEAT_GRADIENT

    inv = inventory()
    heat = [(inv.sites[0].lat, inv.sites[0].lon, 1.0), (inv.sites[1].lat, inv.sites[1].lon, 0.4)]
    statuses = {"omachi-1": ApMapStatus("omachi-1", "down"), "omachi-2": ApMapStatus("omachi-2", "up")}
    html = write_map(tmp_path / "map.html", inv, statuses, heat, CANDS, "ja", tile_file=make_archive(
        tmp_path / "t.pmtiles", inv), plan=PLAN, data_note="データ取得 2026-12-07 09:00 (12 秒前)")
    page = offline_page
    page.set_viewport_size({"width": 390, "height": 700})
    errors = watch(page)
    open_map(page, html)
    assert not page.evaluate("document.querySelector('#ww-legend details').open")  # folded on a phone
    assert not page.evaluate("document.querySelector('.leaflet-control-layers')"
                             ".classList.contains('leaflet-control-layers-expanded')")
    for sel in (".leaflet-control-zoom-in", ".leaflet-control-zoom-out"):  # nothing covers the zoom buttons
        hit = page.evaluate(f"""(() => {{ const b = document.querySelector('{sel}').getBoundingClientRect();
            const e = document.elementFromPoint(b.left + b.width / 2, b.top + b.height / 2);
            return e && e.closest('{sel}') !== null; }})()""")
        assert hit, sel
    z = page.evaluate(f"[+getComputedStyle(document.querySelector('.leaflet-{AP_PANE}-pane')).zIndex, "
                      "+getComputedStyle(document.querySelector('.leaflet-marker-pane')).zIndex]")
    assert z[0] > z[1], z  # AP dots above the candidate markers
    assert page.locator(f".leaflet-{AP_PANE}-pane .ww-ap").count() == len(statuses) + 2
    assert "データ取得" in page.locator(".ww-data-at").inner_text()  # the map says when its data was taken
    page.click(".leaflet-control-zoom-in")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.reload()
    open_map(page, html)
    assert page.evaluate("document.querySelector('#ww-legend details').open")  # open on a desktop
    assert not errors, errors
    state_rgb = [tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in st.COLORS.values()]
    for color in HEAT_GRADIENT.values():
        rgb = tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))
        assert min(sum(abs(a - b) for a, b in zip(rgb, s, strict=True)) for s in state_rgb) > 90, color
