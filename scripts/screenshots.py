"""Screenshots of every console page, desktop (1280 px) and phone (390 px), into docs/console/ (issue 27.11).

Runs what the demo runs (wifiwatch/commands/demo.py): the simulated Kashima fleet on loopback, 30 days of
labelled simulated history and visitor sessions, the real daemon as its own process; then takes omachi-2 down
(its incident acknowledged with a note) and kominkan-1 down (left open), and photographs each page with
Playwright on Debian's chromium (never a downloaded browser). The PNGs keep stable names so docs link to them.

    .venv/bin/python scripts/screenshots.py [--out docs/console] [--only status,incidents]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DESKTOP: Any = {"width": 1280, "height": 900}
PHONE: Any = {"width": 390, "height": 844}
MAX_HEIGHT = 2400  # a full page is cut here: the top of a long page is what a reader looks at


def pages(iid: int) -> list[tuple[str, str]]:
    """(file name, path) of every page, in the order of the nav."""
    return [("status", "/"), ("incidents", "/incidents"), ("incident", f"/incidents/{iid}"),
            ("maintenance", "/maintenance"), ("site", "/sites/omachi"), ("ap", "/aps/omachi-2"),
            ("reports", "/reports"), ("visitors", "/visitors"), ("planning", "/planning"), ("map", "/map"),
            ("admin", "/admin"), ("alert-settings", "/admin/alerts"), ("login", "/login")]


def _wait(check: Any, timeout: float) -> Any:
    end = time.time() + timeout
    while time.time() < end:
        got = check()
        if got:
            return got
        time.sleep(0.5)
    return None


def _client(url: str, user: str, password: str) -> httpx.Client:
    c = httpx.Client(base_url=url, timeout=30)
    tok = re.search(r'name="_csrf_token" value="([^"]+)"', c.get("/login").text)
    assert tok, "no login form"
    r = c.post("/login", data={"user": user, "password": password, "_csrf_token": tok[1]})
    assert r.status_code == 303, r.text[:300]
    tok = re.search(r'name="_csrf_token" value="([^"]+)"', c.get("/").text)
    assert tok
    c.headers["x-csrftoken"] = tok[1]
    return c


def _open_incident(c: httpx.Client, device: str) -> int | None:
    html = c.get("/incidents?state=open").text
    for row in re.findall(r"<tr[^>]*data-device=\"" + re.escape(device) + r"\"[^>]*>.*?</tr>", html, re.S):
        m = re.search(r'href="/incidents/(\d+)"', row)
        if m and 'data-open="yes"' in row:
            return int(m[1])
    return None


def shoot(url: str, user: str, password: str, iid: int, out: Path, only: set[str],
          keep_down: Any = lambda: None, english: dict[str, list[str]] | None = None,
          allowed: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """Every page on desktop and on a phone, one after the other (so both show the same moment); returns the
    pages that scroll sideways on the phone (a table or control wider than the screen). ``english`` gets the
    ASCII words each page shows (tests/test_console_japanese.py's check, here on the demo's full data)."""
    from playwright.sync_api import sync_playwright

    from tests.test_console_japanese import english_words

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    wide = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                          "--lang=ja-JP"],
                                    env={**os.environ, "LANG": "ja_JP.UTF-8", "LANGUAGE": "ja"})  # date inputs
        views = {}
        for suffix, viewport in (("", DESKTOP), ("-phone", PHONE)):
            ctx = browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo", viewport=viewport,
                                      is_mobile=bool(suffix), has_touch=bool(suffix))
            page = ctx.new_page()
            page.goto(url + "/login")
            page.fill("input[name=user]", user)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_url(url + "/")
            views[suffix] = (ctx, page, viewport)
        for name, path in pages(iid):
            if only and name not in only:
                continue
            keep_down()
            for suffix, (ctx, page, viewport) in views.items():
                if name == "login":
                    ctx.clear_cookies()
                page.goto(url + path, wait_until="networkidle")
                page.wait_for_timeout(2500 if name == "map" else 600)  # the map frame, the charts draw
                height = min(MAX_HEIGHT, page.evaluate("document.documentElement.scrollHeight"))
                if page.evaluate("document.documentElement.scrollWidth") > viewport["width"] + 1:
                    wide.append(name + suffix)
                if not suffix and english is not None:
                    english[name] = english_words(page.inner_text("body"), allowed)
                target = out / f"{name}{suffix}.png"
                page.screenshot(path=str(target), clip={"x": 0, "y": 0, "width": viewport["width"],
                                                        "height": max(viewport["height"], height)},
                                full_page=True)
                _shrink(target)
                print(f"  {target} {target.stat().st_size // 1024} KB", flush=True)
        for ctx, _, _ in views.values():
            ctx.close()
        browser.close()
    return wide


def _shrink(path: Path) -> None:
    """A 256-colour palette (Pillow, already a dependency): a console page has few colours, so the PNG gets
    about three times smaller and still reads the same."""
    from PIL import Image

    with Image.open(path) as im:
        small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "console")
    ap.add_argument("--only", default="", help="comma-separated page names (default: every page)")
    ap.add_argument("--history-days", type=int, default=30)
    args = ap.parse_args()

    from core.config import parse_config
    from core.paths import known_vendors
    from core.secrets import SecretResolver
    from tests.fixtures_sim import readdress
    from tests.test_console_japanese import ALLOWED, WORD
    from wifiwatch.commands.demo import SECRET_ENV, _demo_login, _free_tcp_port, _seed_history, demo_config_text
    from wifiwatch.sim import visitors as sim_visitors
    from wifiwatch.sim.fleet import Fleet
    from wifiwatch.sim.process import stop_process
    from wifiwatch.sim.webhook import WebhookReceiver

    for env in SECRET_ENV:
        os.environ.setdefault(env, secrets.token_hex(12))
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wifiwatch-shots-") as tmpdir:
        tmp = Path(tmpdir)
        receiver = WebhookReceiver()
        port = _free_tcp_port()
        cfg = tmp / "demo-config.toml"
        # fresh loopback addresses and ports (as the tests' fleets get), so a demo running beside it never clashes
        base = readdress((ROOT / "config" / "sites.toml").read_text(encoding="utf-8"), tmp)
        cfg.write_text(demo_config_text(base, tmp,
                                        receiver.url, 2.0, 10.0, port), encoding="utf-8")
        cfg.write_text(sim_visitors.demo_visitor_config(cfg.read_text(encoding="utf-8")), encoding="utf-8")
        inv = parse_config(cfg.read_text(encoding="utf-8"), str(cfg), known_vendors())
        _seed_history(inv, args.history_days)
        sim_visitors.seed_sessions(inv, args.history_days)
        user, password = _demo_login(tmp / "wifiwatch.sqlite3")
        fleet = Fleet(inv, SecretResolver(inv.secrets_file, base_dir=tmp), tmp / "sim")
        fleet.start(timeout_s=180)  # snmpsim starts slowly on a loaded machine
        log = tmp / "daemon.log"
        daemon = subprocess.Popen([sys.executable, "-m", "wifiwatch.cli", "--log-level", "info", "run", "--config",
                                   str(cfg), "--map-out", str(tmp / "map.html")], cwd=ROOT,
                                  stdout=log.open("wb"), stderr=subprocess.STDOUT, env=os.environ.copy())
        live = sim_visitors.LiveVisitors(inv).start()
        url = f"http://127.0.0.1:{port}"
        try:
            assert _wait(lambda: _up(url), 60), log.read_text(errors="replace")[-2000:]
            c = _client(url, user, password)
            fleet.down("omachi-2")
            fleet.down("kominkan-1")
            iid = _wait(lambda: _open_incident(c, "omachi-2"), 60)
            assert iid, "no incident for omachi-2: " + log.read_text(errors="replace")[-2000:]
            _wait(lambda: _open_incident(c, "kominkan-1"), 30)
            c.post(f"/incidents/{iid}/ack", data={"note": "現地の電源を確認中 (鈴木)"})
            c.post(f"/incidents/{iid}/comment", data={"text": "施設の方に連絡済み"})
            c.post("/rota", data={"channel": inv.alerts.channels[0].name, "target": "*", "day_mon": "mon",
                                  "day_tue": "tue", "day_wed": "wed", "day_thu": "thu", "day_fri": "fri",
                                  "start": "08:30", "end": "17:15", "person": "鈴木"})
            time.sleep(3)  # one more refresh of 状況
            def keep_down() -> None:  # the unplugged set is the machine's: make sure ours stay unplugged
                fleet.down("omachi-2")
                fleet.down("kominkan-1")

            english: dict[str, list[str]] = {}
            raw = [*known_vendors(), *(v for s in inv.sites for v in (s.id, s.name_ja, s.name_en))]
            raw += [v or "" for s in inv.sites for a in s.aps for v in (a.id, a.name_ja, a.name_en)]
            raw += [s.uplink.id for s in inv.sites if s.uplink is not None]
            names = {w.lower() for v in raw for w in WORD.findall(v)}
            wide = shoot(url, user, password, iid, args.out, {s for s in args.only.split(",") if s}, keep_down,
                         english, ALLOWED | names | {user})
            print("pages wider than a phone: " + (", ".join(wide) or "none"))
            print("English words on the demo's pages: " + (str({k: v for k, v in english.items() if v}) or "none"))
        finally:
            live.stop()
            stop_process(daemon, 10)
            fleet.stop()
            receiver.close()
    return 0


def _up(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=2).status_code in (200, 503)
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    raise SystemExit(main())
