"""整備計画 in Debian's chromium against a real daemon (issue 27 point 7): the same notes and warnings as
`wifiwatch rank` for the same plan (unstable picks, simulated data), both scenarios on the map and in the
export, and the A − B difference table.

Screenshots go to a temporary folder, or to $WIFIWATCH_SHOTS_DIR when set (docs/console/ is refreshed that way).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures_console import ROOT, ConsoleRun

pytestmark = pytest.mark.timeout(240)


def _shot(page: Any, tmp: Path, name: str) -> Path:
    folder = Path(os.environ.get("WIFIWATCH_SHOTS_DIR") or tmp)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    return path


@pytest.fixture(scope="module")
def seeded(console_run: ConsoleRun) -> ConsoleRun:
    """Two days of the demo's simulated history in the daemon's store, as `wifiwatch demo` leaves it, so the
    planner's observed demand rests on simulated data and both the CLI and the console must say so."""
    from analytics.synthetic import synthetic_history
    from core.store.sqlite_store import SqliteStore

    inv = console_run.inventory
    end = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5)
    store = SqliteStore(Path(inv.store.path), inv.store)
    try:
        store.write(list(synthetic_history(inv, end - dt.timedelta(days=2), end, seed=7)))
    finally:
        store.close()
    return console_run


def _rank_notes(run: ConsoleRun, *args: str) -> list[str]:
    """The summary lines `wifiwatch rank` prints for the same store, joined back from the terminal's wrapping."""
    env = {**os.environ, "COLUMNS": "400"}
    out = subprocess.run([sys.executable, "-m", "wifiwatch.cli", "rank", "--config", str(run.config_path), *args],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    lines: list[str] = []
    for line in out.stderr.splitlines():
        if line.startswith("  ") and lines:
            lines[-1] += line.strip()
        elif line.strip():
            lines.append(line)
    return lines


def _observed_note(line: str) -> bool:
    return "観測需要" in line  # its hours move with the daemon's live polls between two reads


def test_planning_shows_the_cli_notes_both_scenarios_on_the_map_and_in_the_export(
        seeded: ConsoleRun, page: Any, tmp_path: Path) -> None:
    run = seeded
    run.login(page, "planner")
    page.goto(run.url + "/planning")
    notes = page.locator('section.result[data-scenario="a"] ul.notes li')
    shown = [" ".join(t.split()) for t in notes.all_inner_texts()]
    cli = [" ".join(t.split()) for t in _rank_notes(run)]
    assert [n for n in shown if not _observed_note(n)] == [n for n in cli if not _observed_note(n)]
    sim = page.locator('section.result[data-scenario="a"] li[data-kind="warning"]', has_text="模擬データ")
    assert sim.count() == 1 and any("模擬データ" in n for n in cli)
    assert page.locator('section.result[data-scenario="a"] li[data-kind="unstable"]').count() >= 1
    assert any(n.startswith("不安定な選定") for n in cli)
    _shot(page, tmp_path, "planning.png")

    # A and B side by side: B excludes A's first pick and funds more
    page.fill("input[name=a_budget]", "4000000")
    page.check("input[name=compare]")
    page.fill("input[name=b_budget]", "6000000")
    page.locator('fieldset[data-scenario="b"] details summary').click()
    page.check("input[name=b_exclude__kashima-jingu]")
    page.click("button[name=run]")
    page.wait_for_selector("#diff")
    a = page.locator('section.result[data-scenario="a"]')
    b = page.locator('section.result[data-scenario="b"]')
    assert b.locator('li[data-kind="warning"]', has_text="模擬データ").count() == 1  # B says it too
    a_picks = a.locator('tr[data-selected="yes"]').evaluate_all("rs => rs.map(r => r.dataset.candidate)")
    b_picks = b.locator('tr[data-selected="yes"]').evaluate_all("rs => rs.map(r => r.dataset.candidate)")
    assert "kashima-jingu" in a_picks and "kashima-jingu" not in b_picks

    def covered(section: Any) -> int:
        return int(section.locator("p.summary-line strong").inner_text().replace(",", ""))

    diff = page.locator("#diff")
    total = diff.locator('tr[data-total="covered"] td.num').all_inner_texts()
    want = [covered(a), covered(b), covered(a) - covered(b)]
    assert [int(v.replace(",", "").replace("+", "")) for v in total] == want
    gains: dict[int, dict[str, int]] = {}
    for section, picks in ((a, a_picks), (b, b_picks)):
        gains[len(gains)] = {cid: int(section.locator(f'tr[data-candidate="{cid}"] td.num').first.inner_text()
                                      .replace(",", "")) for cid in picks}
    sums = [0, 0, 0]
    for row in diff.locator("tbody tr").all():
        cid = row.get_attribute("data-candidate") or ""
        vals = [int(v.replace(",", "").replace("+", "")) for v in row.locator("td.num").all_inner_texts()]
        assert vals == [gains[0].get(cid, 0), gains[1].get(cid, 0), gains[0].get(cid, 0) - gains[1].get(cid, 0)]
        sums = [x + y for x, y in zip(sums, vals, strict=True)]
        if (cid in a_picks) != (cid in b_picks):
            assert row.get_attribute("data-changed") == "yes", cid
    assert sums == [covered(a), covered(b), covered(a) - covered(b)]  # the rows add up to the totals
    assert diff.locator('tr[data-changed="yes"][data-candidate="kashima-jingu"]').count() == 1
    _shot(page, tmp_path, "planning-ab.png")

    # both scenarios on the map: A's markers and B's rings, each layer named
    src = page.locator("iframe.mapframe").get_attribute("src") or ""
    assert "a_budget=4000000" in src and "b_budget=6000000" in src and "compare=1" in src
    frame = page.frame_locator("iframe.mapframe")
    frame.locator(".ww-cand-b").first.wait_for(timeout=20000)
    assert sorted(frame.locator(".ww-cand-b").evaluate_all("es => es.map(e => e.dataset.candidate)")) \
        == sorted(b_picks)
    assert frame.locator(".ww-cand.ww-funded").count() == len(a_picks)
    layers = frame.locator(".leaflet-control-layers").inner_text()
    assert "整備候補地（シナリオA）" in layers and "シナリオBの選定" in layers
    frame.locator(".ww-cand.ww-funded").first.wait_for()
    shot = Path(os.environ.get("WIFIWATCH_SHOTS_DIR") or tmp_path) / "planning-map-ab.png"
    page.locator("iframe.mapframe").screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    _shot(page, tmp_path, "planning-ab.png")  # the whole page again, map drawn

    # the export holds both scenarios and the difference
    with page.expect_download() as dl:
        page.click("button[value=csv_ab]")
    rows = list(csv.DictReader(io.StringIO(dl.value.path().read_text(encoding="utf-8-sig"))))
    by = {r["id"]: r for r in rows}
    assert {r["id"] for r in rows} == {c.id for c in run.inventory.candidates} | {"total"}
    assert by["kashima-jingu"]["a_selected"] == "True" and by["kashima-jingu"]["b_selected"] == "False"
    assert int(by["total"]["a_minus_b_newly_covered_visitors"]) == covered(a) - covered(b)
    with page.expect_download() as dl:
        page.click("button[value=json_ab]")
    data = json.loads(dl.value.path().read_text(encoding="utf-8"))
    assert data["a"]["summary"]["covered"] == covered(a) and data["b"]["summary"]["covered"] == covered(b)
    assert data["a_minus_b"]["covered_a_minus_b"] == covered(a) - covered(b)
    assert any("模擬データ" in w for w in data["b"]["summary"]["warnings"])

    # on a phone: one column, the tables scroll inside their panels, the page itself never sideways
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert page.locator("#diff").is_visible()
    _shot(page, tmp_path, "planning-phone.png")
    assert not page.console_errors


def test_viewer_cannot_run_scenarios_on_the_map(seeded: ConsoleRun) -> None:
    """The map's scenario B needs the planner role like A (the check covers every scenario field)."""
    r = seeded.client("viewer").get("/map/view", params={"b_budget": "1000000", "compare": "1"})
    assert r.status_code == 403


def test_observed_demand_is_read_once_then_refreshed_in_the_background(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The 30-day read is what made 整備計画 take a second: one read per console, then the kept figures are served
    while a background thread reads newer ones; another console never gets this one's figures."""
    from analytics.synthetic import synthetic_history
    from console import scenario
    from console.context import open_context
    from core.config import load_config
    from core.inventory import StoreSettings
    from core.store.sqlite_store import SqliteStore
    from tests.fixtures_console import wait_for

    inv = load_config(str(ROOT / "config" / "sites.toml"))
    inv = inv.model_copy(update={"store": StoreSettings(path=str(tmp_path / "s.sqlite3"), min_free_mb=0)})
    end = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5)

    def seed(days_back: int) -> None:
        store = SqliteStore(Path(inv.store.path), inv.store)
        try:
            start = end - dt.timedelta(days=days_back)
            store.write(list(synthetic_history(inv, start, start + dt.timedelta(hours=12), seed=days_back)))
        finally:
            store.close()

    seed(1)
    ctx = open_context(inv, None)
    first = scenario.observed(ctx)
    assert scenario.observed(ctx) is first and first.coverage.observed_h > 0
    seed(3)  # twelve more hours of history, older
    monkeypatch.setattr(scenario, "OBSERVED_TTL_S", 0.0)
    assert scenario.observed(ctx) is first  # stale: served at once, read again behind it
    assert wait_for(lambda: scenario.observed(ctx) is not first, 30)
    assert scenario.observed(ctx).coverage.observed_h > first.coverage.observed_h
    other = open_context(inv, None)
    try:
        assert scenario.observed(other) is not scenario.observed(ctx)
    finally:
        other.close()
        ctx.close()


def test_scenario_errors_are_in_japanese(seeded: ConsoleRun) -> None:
    """The form's mistakes come back in the page's language with the form's field names (issue 27: 「--rounds
    needs --budget-per-round…」 was shown as is)."""
    c = seeded.client("planner")
    tok = c.csrf  # type: ignore[attr-defined]
    cases = {"年度を指定したときは、年度ごとの予算も入力してください": {"a_rounds": "2029,2031"},
             "予算: 「abc」は整数ではありません": {"a_budget": "abc"},
             "鹿島神宮: 「必ず選ぶ」と「除外」の両方が選ばれています": {"a_force__kashima-jingu": "1",
                                                                    "a_exclude__kashima-jingu": "1"},
             "必ず選ぶ候補地の費用": {"a_budget": "1000", "a_force__kashima-jingu": "1"}}
    for want, form in cases.items():
        r = c.post("/planning/run", data={"_csrf_token": tok, "run": "1", **form})
        assert r.status_code == 200
        err = r.text.split('class="error" role="alert">', 1)[1].split("</p>", 1)[0]
        assert want in err, err
        assert "--" not in err
