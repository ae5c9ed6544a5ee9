"""The web console in Debian's chromium against a real daemon on the simulated fleet (one per module)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx

from tests.fixtures_console import HOSTILE_AP, HOSTILE_SITE, ConsoleRun, wait_for


def test_contract_redirect_login_form_and_machine_endpoints(console_run: ConsoleRun) -> None:
    r = httpx.get(console_run.url + "/", timeout=10)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    r = httpx.get(console_run.url + "/login", timeout=10)
    assert r.status_code == 200 and "ログイン" in r.text and 'type="password"' in r.text
    assert httpx.get(console_run.url + "/healthz", timeout=10).json()["devices"] == 5
    assert "wifiwatch_poll_cycle_seconds" in httpx.get(console_run.url + "/metrics", timeout=10).text


def test_login_shows_the_fleet_up(console_run: ConsoleRun, page: Any) -> None:
    console_run.login(page, "viewer")
    assert page.locator("h1").inner_text() == "状況"
    for _, ap in console_run.inventory.aps():
        row = page.locator(f'tr[data-device="{ap.id}"]')
        row.wait_for()
    page.wait_for_selector('tr[data-device="omachi-1"][data-state="up"]', timeout=15000)
    assert "稼働" in page.locator('tr[data-device="omachi-1"]').inner_text()
    assert not page.console_errors


def test_ap_taken_down_turns_stopped_then_back(console_run: ConsoleRun, page: Any) -> None:
    console_run.login(page, "viewer")
    page.wait_for_selector('tr[data-device="omachi-3"][data-state="up"]', timeout=15000)
    console_run.fleet.down("omachi-3")
    try:
        # confirmed after down_after (3) misses, re-probed at half-heartbeat: ~2 s; the page polls each 0.5 hb
        page.wait_for_selector('tr[data-device="omachi-3"][data-state="down"]', timeout=12000)
        assert "停止" in page.locator('tr[data-device="omachi-3"]').inner_text()
    finally:
        console_run.fleet.up("omachi-3")
    page.wait_for_selector('tr[data-device="omachi-3"][data-state="up"]', timeout=12000)


def test_hostile_names_are_text(console_run: ConsoleRun, page: Any) -> None:
    console_run.login(page, "viewer")
    text = page.locator("#fleet").inner_text()
    assert HOSTILE_SITE in text and HOSTILE_AP in text
    assert page.evaluate("window.__xss") is None
    page.wait_for_timeout(1500)  # one refresh of the block: swapped HTML is escaped too
    assert HOSTILE_AP in page.locator("#fleet").inner_text() and page.evaluate("window.__xss") is None


def test_pages_work_on_a_closed_network(console_run: ConsoleRun, offline_page: Any) -> None:
    """No CDN: with everything but loopback cut, every page and the map (scripts and all) load from the server."""
    run = console_run
    run.login(offline_page, "admin")
    for path in ("/", "/sites/omachi?range=7d", "/aps/omachi-1?range=30d", "/incidents", "/maintenance", "/reports",
                 "/planning", "/admin"):
        offline_page.goto(run.url + path)
        assert offline_page.locator("h1").count() == 1, path
    offline_page.goto(run.url + "/map")
    frame = offline_page.frame_locator("iframe.mapframe")
    frame.locator(".leaflet-container").wait_for(timeout=15000)
    assert frame.locator(".leaflet-marker-icon, .leaflet-interactive").count() > 0
    assert offline_page.blocked == [] and offline_page.console_errors == []


def test_session_rotated_at_login(console_run: ConsoleRun, page: Any) -> None:
    page.goto(console_run.url + "/login")
    page.context.add_cookies([{"name": "wifiwatch_session", "value": "f" * 64, "url": console_run.url}])
    console_run.login(page, "viewer")
    after = {c["name"]: c["value"] for c in page.context.cookies()}
    assert after["wifiwatch_session"] not in ("f" * 64, "null") and len(after["wifiwatch_session"]) == 64


def test_csrf_missing_token_is_rejected(console_run: ConsoleRun) -> None:
    c = console_run.client("viewer")
    assert c.get("/").status_code == 200
    r = c.post("/lang", data={"back": "/"})
    assert r.status_code == 403
    c.headers["x-csrftoken"] = "0" * 64
    assert c.post("/lang", data={"back": "/"}).status_code == 403
    assert c.get("/").status_code == 200  # still logged in; nothing changed


def _incident_row(page: Any, run: ConsoleRun, device: str, timeout_s: float = 15) -> Any:
    """Reload 障害 until an open incident of ``device`` is listed; returns its row."""
    sel = f'tr[data-device="{device}"][data-open="yes"]'

    def listed() -> bool:
        page.goto(run.url + "/incidents?state=open")
        return page.locator(sel).count() > 0

    assert wait_for(listed, timeout_s, 0.5), f"no open incident for {device}"
    return page.locator(sel).first


def test_acknowledged_outage_gets_no_second_notification(console_run: ConsoleRun, page: Any) -> None:
    """Two APs go down; the operator acknowledges one. The other is escalated (and reminded) as configured;
    the acknowledged one gets its DOWN message only, then its recovery."""
    run = console_run
    run.login(page, "operator")
    run.fleet.down("omachi-1")
    run.fleet.down("kominkan-1")
    try:
        row = _incident_row(page, run, "omachi-1")
        iid = int(row.get_attribute("data-incident"))
        row.locator("input[name=note]").fill("現地に向かっています <b>急行</b>")
        row.locator("button[type=submit]").click()
        page.wait_for_url("**/incidents?msg=acked*")
        acked = page.locator(f'tr[data-incident="{iid}"] td.ack').inner_text()
        assert "operator" in acked and "現地に向かっています <b>急行</b>" in acked
        # the control: the unacknowledged outage is escalated after escalate_after_min (12 s)
        assert wait_for(lambda: any(m["kind"] == "escalation" for m in run.messages("kominkan-1")), 25, 0.5), \
            run.messages("kominkan-1")
        page.wait_for_timeout(1500)
        kinds = [(m["kind"], m["incident_id"]) for m in run.messages("omachi-1")]
        assert kinds == [("down", iid)], kinds
    finally:
        run.fleet.up("omachi-1")
        run.fleet.up("kominkan-1")
    assert wait_for(lambda: [m["kind"] for m in run.messages("omachi-1")] == ["down", "up"], 15, 0.5), \
        run.messages("omachi-1")


def test_viewer_cannot_acknowledge_or_plan(console_run: ConsoleRun, page: Any) -> None:
    run = console_run
    run.login(page, "viewer")
    page.goto(run.url + "/incidents")
    assert page.locator("form.ackform").count() == 0
    c = run.client("viewer")
    with c.stream("GET", "/incidents") as r:
        assert r.status_code == 200
    r = c.post("/incidents/1/ack", data={"note": "x", "_csrf_token": c.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 403
    r = c.post("/planning/run", data={"a_budget": "1000000", "_csrf_token": c.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 403
    r = c.post("/maintenance/add", data={"target": "*", "start": "2030-01-01T00:00", "end": "2030-01-01T01:00",
                                         "_csrf_token": c.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 403
    audit = run.client("admin").get("/admin").text
    assert "plan-scenario" not in audit and "maintenance-add" not in audit


def test_maintenance_window_added_shown_and_ended(console_run: ConsoleRun, page: Any) -> None:
    run = console_run
    run.login(page, "operator")
    page.goto(run.url + "/maintenance")
    page.select_option("#maint-form select[name=target]", "omachi-2")
    page.fill("#maint-form input[name=reason]", "ケーブル交換")
    page.click("#maint-form button[type=submit]")
    page.wait_for_url("**/maintenance?msg=maint_added*")
    row = page.locator('tr[data-state="active"]:has(td[data-target="omachi-2"])')
    assert "ケーブル交換" in row.inner_text() and "大町通り" in row.inner_text()  # the AP's name, not its id
    wid = row.get_attribute("data-window")
    page.goto(run.url + "/")
    page.wait_for_selector('tr[data-device="omachi-2"][data-state="maintenance"]', timeout=5000)
    assert "保守中" in page.locator('tr[data-device="omachi-2"]').inner_text()
    page.goto(run.url + "/maintenance")
    page.locator(f'tr[data-window="{wid}"] button.end').click()
    page.wait_for_url("**/maintenance?msg=maint_ended*")
    assert page.locator(f'tr[data-window="{wid}"]').get_attribute("data-state") == "over"
    page.goto(run.url + "/")
    page.wait_for_selector('tr[data-device="omachi-2"][data-state="up"]', timeout=5000)
    audit = run.client("admin").get("/admin").text
    assert "maintenance-add" in audit and "maintenance-end" in audit


def test_maintenance_has_no_default_target_and_the_whole_city_needs_confirming(console_run: ConsoleRun,
                                                                              page: Any) -> None:
    run = console_run
    run.login(page, "operator")
    page.goto(run.url + "/maintenance")
    select = page.locator("#maint-form select[name=target]")
    assert select.input_value() == ""  # nothing is silenced by one click on 追加
    groups = page.locator("#maint-form select[name=target] optgroup").evaluate_all("gs => gs.map(g => g.label)")
    assert "大町通り" in groups
    c = run.client("operator")
    form = {"start": "2030-01-01T00:00", "end": "2030-01-01T01:00", "_csrf_token": c.csrf}  # type: ignore[attr-defined]
    r = c.post("/maintenance/add", data={**form, "target": ""}, follow_redirects=True)
    assert "対象の施設またはアクセスポイントを選んでください" in r.text
    r = c.post("/maintenance/add", data={**form, "target": "*"}, follow_redirects=True)
    assert "確認欄にチェック" in r.text and 'data-target="*"' not in r.text
    r = c.post("/maintenance/add", data={**form, "target": "omachi-1", "end": "2029-12-31T00:00"},
               follow_redirects=True)
    assert "終了日時は開始日時より後にしてください" in r.text
    r = c.post("/maintenance/add", data={**form, "target": "*", "confirm_city": "1"}, follow_redirects=True)
    assert r.status_code == 200 and "保守期間を追加しました" in r.text
    page.goto(run.url + "/maintenance")
    row = page.locator('tr:has(td[data-target="*"])')
    assert "市内全域" in row.inner_text()
    row.locator("button.end").click()  # planned for 2030: cancelled
    page.wait_for_url("**/maintenance?msg=maint_ended*")
    assert page.locator('tr:has(td[data-target="*"])').count() == 0


def test_alert_settings_in_the_console_edit_the_file_test_a_channel_and_never_show_a_secret(
        console_run: ConsoleRun, page: Any) -> None:
    run = console_run
    assert run.client("viewer").get("/admin/alerts").status_code == 403
    run.login(page, "admin")
    page.goto(run.url + "/admin")
    page.click("#alert-settings-link")
    page.wait_for_url("**/admin/alerts")
    html = page.content()
    assert "env:WIFIWATCH_TEST_CONSOLE_HOOK" in html and run.hook.url not in html  # the reference, never the value
    assert "停止と判定するまでの連続失敗回数" in html
    before = len(run.hook.bodies)
    page.locator('tr[data-channel="duty-phone"] button.test').click()
    page.wait_for_url("**/admin/alerts?msg=alerts_test_ok*")
    assert wait_for(lambda: any(isinstance(b, dict) and b.get("kind") == "test" for b in run.hook.bodies[before:]), 10)
    assert "テストメッセージを送信しました" in page.locator("#alerts-msg").inner_text()

    original = run.config_path.read_text(encoding="utf-8")
    page.fill('#thresholds-form input[name="saturation_minutes"]', "20")
    page.click("#thresholds-form button[type=submit]")
    page.wait_for_url("**/admin/alerts?msg=alerts_saved*")
    edited = run.config_path.read_text(encoding="utf-8")
    assert "saturation_minutes = 20" in edited and "duty-phone" in edited
    assert wait_for(lambda: "configuration reloaded" in run.log.read_text(errors="replace"), 10)

    c = run.client("admin")
    form = {"name": "extra", "type": "webhook", "lang": "ja", "min_severity": "critical", "verify_tls": "1",
            "_csrf_token": c.csrf}  # type: ignore[attr-defined]
    r = c.post("/admin/alerts/channels", data={**form, "url": "https://hooks.example.invalid/T0/secret-token"},
               follow_redirects=True)
    assert "保存できません" in r.text and "参照として指定してください" in r.text
    assert "secret-token" not in r.text and "extra" not in run.config_path.read_text(encoding="utf-8")
    r = c.post("/admin/alerts/channels", data={**form, "url": "env:EXTRA_HOOK"}, follow_redirects=True)
    assert 'data-channel="extra"' in r.text
    r = c.post("/admin/alerts/channels/extra/remove", data={"_csrf_token": c.csrf},  # type: ignore[attr-defined]
               follow_redirects=True)
    assert 'data-channel="extra"' not in r.text
    audit = c.get("/admin").text
    assert all(a in audit for a in ("alert-test", "alert-thresholds", "channel-add", "channel-remove"))
    run.config_path.write_text(original, encoding="utf-8")


def test_site_charts_hover_zoom_range_availability_and_top_aps(console_run: ConsoleRun, page: Any) -> None:
    run = console_run
    assert wait_for(lambda: "omachi-1" in run.client("viewer").get("/sites/omachi").text, 10)
    run.login(page, "viewer")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(run.url + "/sites/omachi")
    overall = page.locator('figure[data-metric="availability"] .overall')
    assert wait_for(lambda: overall.count() == 1, 5), "no availability % on the site page"
    assert 0 <= float(overall.get_attribute("data-overall") or "-1") <= 100
    assert "%" in overall.inner_text()
    assert page.locator('[data-top="clients"] tr[data-ap]').count() >= 1  # the busiest APs, by name
    assert page.locator('figure[data-metric="ssid"]').count() == 1  # SSIDs apart from the radios' bands
    fig = page.locator('figure[data-metric="clients"]')
    page.wait_for_selector('figure[data-metric="clients"][data-interactive="true"]', timeout=5000)
    box = fig.locator(".u-over").bounding_box()
    assert box is not None
    full = fig.get_attribute("data-x-range")
    data = json.loads(fig.get_attribute("data-chart") or "{}")
    t, v = data["t"], data["lines"][0]["v"]
    last = max(i for i, x in enumerate(v) if x is not None)  # the daemon started minutes ago: hover its data
    at = min(box["x"] + box["width"] * (t[last] - t[0]) / (t[-1] - t[0]), box["x"] + box["width"] - 0.5)
    page.mouse.move(at, box["y"] + box["height"] / 2)
    values = fig.locator(".u-legend .u-value").all_inner_texts()
    assert any(re.search(r"\d", v) for v in values[1:]), values  # hover shows the values at that time
    page.mouse.down()
    page.mouse.move(at - box["width"] * 0.1, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    assert wait_for(lambda: fig.get_attribute("data-x-range") != full, 3), "dragging did not zoom"
    a, b = (int(x) for x in (fig.get_attribute("data-x-range") or "0-0").split("-"))
    a0, b0 = (int(x) for x in (full or "0-0").split("-"))
    assert b - a < (b0 - a0) / 3
    # a date range of its own: yesterday and today, JST
    page.fill('#range-form input[name="from"]', time.strftime("%Y-%m-%d", time.gmtime(time.time() + 9 * 3600 - 86400)))
    page.fill('#range-form input[name="to"]', time.strftime("%Y-%m-%d", time.gmtime(time.time() + 9 * 3600)))
    page.click("#range-form button")
    page.wait_for_url("**/sites/omachi?from=*")
    assert page.locator('figure[data-metric="clients"] svg.chart, figure[data-metric="clients"] .uplot').count() == 1
    ticks = page.locator('figure[data-metric="clients"]').get_attribute("data-chart")
    assert ticks and '"step":900' in ticks  # two days in 15-minute buckets (5-minute ones would be 576 points)


def test_incidents_durations_detail_timeline_bulk_ack_comments_and_csv(console_run: ConsoleRun, page: Any) -> None:
    run = console_run
    run.login(page, "operator")
    run.fleet.down("omachi-2")
    run.fleet.down("omachi-3")
    try:
        rows = [_incident_row(page, run, dev) for dev in ("omachi-2", "omachi-3")]
        ids = [r.get_attribute("data-incident") for r in rows]
        text = rows[0].inner_text()
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", text), text  # times to the second
        assert re.search(r"\d+秒", text), text  # and how long it has lasted
        for iid in ids:
            page.check(f'tr[data-incident="{iid}"] input[name="ids"]')
        page.fill('#bulk-ack input[name="note"]', "停電 (一括)")
        page.click("#bulk-ack button[type=submit]")
        page.wait_for_url("**/incidents?msg=acked_many*")
        for iid in ids:
            assert page.locator(f'tr[data-incident="{iid}"]').get_attribute("data-acked") == "yes"
        viewer = run.client("viewer")
        r = viewer.get("/incidents.csv", params={"state": "open"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        lines = r.content.decode("utf-8-sig").splitlines()
        assert lines[0].startswith("id,site,site_name,device")
        csv_rows = {ln.split(",")[0]: ln for ln in lines[1:]}
        assert set(ids) <= set(csv_rows) and "停電 (一括)" in csv_rows[ids[0]] and ",operator," in csv_rows[ids[0]]
        page.goto(run.url + f"/incidents/{ids[0]}")
        kinds = page.locator("#timeline li").evaluate_all("els => els.map(e => e.dataset.event)")
        assert kinds[0] == "down" and "ack" in kinds and "message" in kinds, kinds
        page.fill('#comment-form textarea[name="text"]', "ケーブルを交換しました")
        page.click("#comment-form button[type=submit]")
        page.wait_for_url(f"**/incidents/{ids[0]}?msg=commented*")
        assert "ケーブルを交換しました" in page.locator('#timeline li[data-event="comment"]').inner_text()
        assert page.locator('#messages tr[data-status="sent"]').count() >= 1
        assert viewer.post(f"/incidents/{ids[0]}/comment", data={"text": "x", "_csrf_token": viewer.csrf}  # type: ignore[attr-defined]
                           ).status_code == 403
        assert viewer.get("/incidents/99999999").status_code == 404
    finally:
        run.fleet.up("omachi-2")
        run.fleet.up("omachi-3")
    assert wait_for(lambda: 'data-event="recovered"' in run.client("viewer").get(f"/incidents/{ids[0]}").text, 20)


def test_status_search_filters_sort_in_the_url_ack_marks_and_csv(console_run: ConsoleRun, page: Any) -> None:
    run = console_run
    run.login(page, "operator")
    page.goto(run.url + "/")
    page.click("#status-filter-box summary")  # folded until used: the fleet comes first on a phone
    page.fill('#status-filters input[name="q"]', "神宮")  # part of two AP names, in Japanese
    page.click("#status-filters button[type=submit]")
    page.wait_for_url("**/?q=*")
    shown = page.locator("#fleet tr[data-device]").evaluate_all("rs => rs.map(r => r.dataset.device)")
    assert sorted(shown) == ["omachi-1", "omachi-3"], shown
    assert page.locator("th", has_text="7日 %").count() >= 1 and page.locator("td[data-avail30]").count() == 2
    page.select_option('#status-filters select[name="sort"]', "name")
    page.click("#status-filters button[type=submit]")
    page.wait_for_url("**sort=name*")
    assert page.locator("#status-flat").count() == 1
    assert "q=" in (page.locator("#fleet").get_attribute("data-refresh") or "")  # the refresh keeps the view
    page.goto(run.url + "/?problems=1")
    assert page.locator("#fleet tr[data-device]").count() == 0 or all(
        s != "up" for s in page.locator("#fleet tr[data-device]").evaluate_all("rs => rs.map(r => r.dataset.state)"))
    run.fleet.down("kominkan-1")
    try:
        row = _incident_row(page, run, "kominkan-1")
        iid = row.get_attribute("data-incident")
        c = run.client("operator")
        assert c.post(f"/incidents/{iid}/ack", data={"note": "対応中", "_csrf_token": c.csrf}  # type: ignore[attr-defined]
                      ).status_code == 303
        page.goto(run.url + "/?site=chuo-kominkan")
        assert page.locator(f'#fleet .ack-mark[data-acked="{iid}"]').count() == 1  # acknowledged, at a glance
        viewer = run.client("viewer")
        r = viewer.get("/status.csv", params={"site": "chuo-kominkan"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        lines = r.content.decode("utf-8-sig").splitlines()
        assert lines[0].startswith("site,site_name,device,name,role,state")
        assert {ln.split(",")[2] for ln in lines[1:]} >= {"kominkan-1"} and iid in lines[-1] + lines[1]
    finally:
        run.fleet.up("kominkan-1")


def test_planning_scenarios_side_by_side_leave_the_inventory_alone(console_run: ConsoleRun, page: Any) -> None:
    run = console_run
    before = run.config_path.read_bytes()
    run.login(page, "planner")
    page.goto(run.url + "/planning")
    assert page.locator('section.result[data-scenario="a"] tr[data-selected="yes"]').count() >= 1
    page.fill("input[name=a_budget]", "1500000")
    page.check("input[name=compare]")
    page.fill("input[name=b_budget]", "5000000")
    page.locator('fieldset[data-scenario="b"] details summary').click()
    page.check("input[name=b_exclude__kashima-jingu]")
    page.fill("input[name=b_annual_visitors__city-hall]", "2000000")
    page.click("button[name=run]")
    page.wait_for_selector('section.result[data-scenario="b"]')
    a = page.locator('section.result[data-scenario="a"]')
    b = page.locator('section.result[data-scenario="b"]')
    assert a.locator('tr[data-selected="yes"]').count() >= 1
    assert b.locator('tr[data-candidate="kashima-jingu"]').get_attribute("data-selected") == "no"
    assert b.locator('tr[data-candidate="city-hall"]').get_attribute("data-selected") == "yes"
    assert "2,000,000" not in a.inner_text()
    with page.expect_download() as dl:
        page.click("button[value=csv_a]")
    assert "kashima" in dl.value.path().read_text(encoding="utf-8-sig")
    assert run.config_path.read_bytes() == before


def test_rota_shift_added_shown_and_removed(console_run: ConsoleRun) -> None:
    c = console_run.client("operator")
    tok = c.csrf  # type: ignore[attr-defined]
    r = c.post("/rota", data={"channel": "duty-phone", "target": "omachi", "weekdays": "sat,sun", "start": "22:00",
                              "end": "06:00", "person": "夜間当番 <i>佐藤</i>", "_csrf_token": tok})
    assert r.status_code == 303 and "rota_added" in r.headers["location"]
    page = c.get("/incidents").text
    assert "夜間当番 &lt;i&gt;佐藤&lt;/i&gt;" in page and "22:00 - 06:00" in page
    sid = re.search(r'data-shift="(\d+)"', page)
    assert sid
    bad = c.post("/rota", data={"channel": "nobody", "target": "*", "start": "08:00", "end": "09:00",
                                "_csrf_token": tok})
    assert "rota_bad" in bad.headers["location"]
    viewer = console_run.client("viewer")
    assert viewer.post(f"/rota/{sid[1]}/remove", data={"_csrf_token": viewer.csrf}).status_code == 403  # type: ignore[attr-defined]
    assert c.post(f"/rota/{sid[1]}/remove", data={"_csrf_token": tok}).status_code == 303
    assert 'data-shift="' not in c.get("/incidents").text


def test_wrong_password_and_rate_limit(console_run: ConsoleRun) -> None:
    """Last in the module: it uses up the login limit."""
    c = httpx.Client(base_url=console_run.url, timeout=10)
    codes = []
    for _ in range(45):
        tok = re.search(r'name="_csrf_token" value="([^"]+)"', c.get("/login").text)
        assert tok
        pw = "wrong-password!" if not codes else ""  # one real verify; empty ones count as attempts too, fast
        codes.append(c.post("/login", data={"user": "viewer", "password": pw, "_csrf_token": tok[1]}).status_code)
        if codes[-1] == 429:
            break
    assert codes[0] == 401 and 429 in codes, codes
