"""利用分析 in Debian's chromium: the console served on a loopback socket over a store of visitor sessions; the page
shows the month's figures as analytics.visitors counts them, hides small cells as <10, and works with no script
errors; a screenshot goes to a temporary folder, or to $WIFIWATCH_SHOTS_DIR (docs/console/ is refreshed that way)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from analytics.visitors.cube import day_start
from analytics.visitors.load import read_cube
from analytics.visitors.rows import figure_rows, flow_rows
from core.config import parse_config
from core.paths import known_vendors
from core.secrets import SecretResolver
from core.visitors.model import VisitorSession
from core.visitors.store import VisitorStore

ROOT = Path(__file__).resolve().parent.parent
NOV, DEC = dt.date(2026, 11, 1), dt.date(2026, 12, 1)
PASSWORD = "visitors-console-password-0123"


def _sessions() -> list[VisitorSession]:
    """A month at the sample's two sites: a busy street (omachi, three APs) and a quiet community centre
    (chuo-kominkan, a few devices a day: hidden), with walks from the street to the centre on Saturdays."""
    rnd = random.Random(24)
    out = []
    for day in range(30):
        d = NOV + dt.timedelta(days=day)
        t0 = day_start(d)
        busy = 40 + 30 * (d.weekday() >= 5)
        for p in range(busy):
            start = t0 + rnd.uniform(9, 20) * 3600
            dev = hashlib.sha256(f"{day}:{p}".encode()).hexdigest()
            dev30 = hashlib.sha256(f"30:{p}".encode()).hexdigest()
            lang = rnd.choice(["ja", "ja", "ja", "en", "zh-TW", "ko", None])
            out.append(VisitorSession(rnd.choice(["omachi-1", "omachi-2", "omachi-3"]), "omachi", dev, dev30, start,
                                      start + rnd.expovariate(1 / 1200), "sim", lang, rnd.random() < 0.7))
            if d.weekday() == 5 and p < 15:  # Saturday walk to the community centre
                s2 = start + 7200
                out.append(VisitorSession("kominkan-1", "chuo-kominkan", dev, dev30, s2, s2 + 900, "sim", lang))
        for p in range(rnd.randrange(1, 5)):
            start = t0 + rnd.uniform(9, 17) * 3600
            out.append(VisitorSession("kominkan-1", "chuo-kominkan", hashlib.sha256(f"k{day}:{p}".encode()).hexdigest(),
                                      None, start, start + 600, "sim"))
    return out


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    from collector.http import StatusServer
    from console.app import create_app
    from console.context import open_context

    tmp = tmp_path_factory.mktemp("visitors-console")
    text = (ROOT / "config" / "sites.toml").read_text(encoding="utf-8").replace(
        'path = "var/wifiwatch.sqlite3"', f'path = "{tmp / "w.sqlite3"}"')
    inv = parse_config(text, "sites.toml", known_vendors())
    st = VisitorStore(inv.store.path)
    st.add_many((s, None) for s in _sessions())
    st.close()
    ctx = open_context(inv, SecretResolver())
    ctx.users.add("viewer", PASSWORD, "viewer")
    srv = StatusServer("127.0.0.1", 0, lambda: {"ok": True}, app=create_app(ctx))
    srv.start()
    try:
        yield f"http://127.0.0.1:{srv.port}", inv
    finally:
        srv.stop()
        ctx.close()


def _login(page: Any, url: str) -> None:
    page.goto(url + "/login")
    page.fill("input[name=user]", "viewer")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")


def test_visitors_page_in_chromium(served: tuple[str, Any], page: Any, tmp_path: Path) -> None:
    url, inv = served
    assert httpx.get(url + "/visitors", timeout=10).status_code in (302, 303)  # login first
    cube = read_cube(inv, NOV, DEC)
    (city,) = figure_rows(cube, NOV, DEC, "month", "city")
    sites = {r["site"]: r for r in figure_rows(cube, NOV, DEC, "month", "site")}
    _login(page, url)
    page.click("nav >> text=利用分析")
    page.wait_for_url(re.compile(r".*/visitors$"))
    page.goto(url + "/visitors?month=2026-11")
    assert page.locator("h1").inner_text() == "利用分析"
    summary = page.locator("#visitor-summary")
    assert summary.locator('[data-figure="unique_devices"]').inner_text() == f"{city['unique_devices']:,}"
    assert summary.locator('[data-figure="sessions"]').inner_text() == f"{city['sessions']:,}"
    omachi = page.locator('#visitor-sites tr[data-site="omachi"]').inner_text()
    assert f"{sites['omachi']['unique_devices']:,}" in omachi
    assert "<10" in page.locator("#visitor-sites").inner_text() or all(
        r["unique_devices"] is not None for r in sites.values())
    flows = {(f["from"], f["to"]): f["devices"] for f in flow_rows(cube, "ja", [0])}
    assert flows[("omachi", "chuo-kominkan")] == 4 * 15  # four Saturdays, 15 walkers each
    assert "60" in page.locator('#visitor-flows tr[data-flow="omachi>chuo-kominkan"]').inner_text()
    assert page.locator("svg.heatmap rect[data-cell]").count() == 7 * 24
    assert page.locator('svg.flowmap line[data-flow="omachi>chuo-kominkan"]').count() == 1
    assert "秘匿" in page.locator("#k-note").inner_text()
    assert page.console_errors == []
    # a test never writes into the repository: docs/console/ is refreshed with WIFIWATCH_SHOTS_DIR=docs/console
    out = Path(os.environ.get("WIFIWATCH_SHOTS_DIR") or tmp_path) / "visitors.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out), full_page=True)
    # one site: its APs; the community centre's days are mostly hidden, never shown under 10
    page.goto(url + "/visitors?month=2026-11&site=omachi")
    aps = {r["ap"]: r for r in figure_rows(cube, NOV, DEC, "month", "ap")}
    assert page.locator("#visitor-aps tr[data-ap]").count() == 3
    assert f"{aps['omachi-2']['unique_devices']:,}" in page.locator('#visitor-aps tr[data-ap="omachi-2"]').inner_text()
    page.goto(url + "/visitors?month=2026-11&site=chuo-kominkan")
    for cell in page.locator("#visitor-sites td.num").all_inner_texts():
        digits = cell.replace(",", "").replace("%", "")
        assert not (digits.isdigit() and 0 < int(digits) < 10), cell
    page.goto(url + "/visitors?month=2026-10")
    assert page.locator("#no-visitors").count() == 1
    page.click("header form[action='/lang'] button")  # the user's language: English
    page.goto(url + "/visitors?month=2026-11")
    assert page.locator("h1").inner_text() == "Visitors" and "Flows between sites" in page.content()
    assert page.console_errors == []
