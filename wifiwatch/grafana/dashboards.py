"""The Grafana dashboards, built from code so the three dashboards share one set of panel helpers.

The output is committed as JSON in ``dashboards/json/`` (file provisioning reads it, ``grafana push``
uploads it); ``wifiwatch grafana build`` rewrites it and a test checks the committed files are current.
Queries are InfluxQL that runs on InfluxDB 1.x, 2.x (v1 compatibility + DBRP) and 3.x: raw queries,
``$timeFilter`` / ``$__interval`` macros and regex matches on the ``$site`` / ``$ap`` variables. Booleans
cannot be averaged in InfluxQL, so availability is ``100 - mean(loss_pct)`` of the heartbeats.
"""

from __future__ import annotations

from typing import Any

from core.inventory import Inventory

DATASOURCE_UID = "wifiwatch-influxdb"
FOLDER_UID = "wifiwatch"
FOLDER_TITLE = "wifiwatch 公衆無線LAN"
GAZETTEER_PATH = "public/gazetteer/wifiwatch-aps.json"
DS: dict[str, str] = {"type": "influxdb", "uid": DATASOURCE_UID}

Json = dict[str, Any]

SITE = '"site" =~ /^$site$/'
AP = '"ap" =~ /^$ap$/'


def _target(query: str, ref: str = "A", fmt: str = "time_series", alias: str = "") -> Json:
    t: Json = {"refId": ref, "datasource": DS, "rawQuery": True, "query": query, "resultFormat": fmt}
    if alias:
        t["alias"] = alias
    return t


def _panel(pid: int, kind: str, title: str, grid: tuple[int, int, int, int], targets: list[Json],
           unit: str = "", description: str = "", **extra: Any) -> Json:
    x, y, w, h = grid
    p: Json = {
        "id": pid, "type": kind, "title": title, "datasource": DS, "targets": targets,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit} if unit else {}, "overrides": []},
        "options": {},
    }
    if description:
        p["description"] = description
    for k, v in extra.items():
        if k == "defaults":
            p["fieldConfig"]["defaults"].update(v)
        else:
            p[k] = v
    return p


def _stat(pid: int, title: str, grid: tuple[int, int, int, int], query: str, unit: str = "", no_value: str = "",
          steps: list[Json] | None = None, description: str = "", mappings: list[Json] | None = None) -> Json:
    defaults: Json = {"thresholds": {"mode": "absolute", "steps": steps or [{"color": "green", "value": None}]}}
    if no_value:
        defaults["noValue"] = no_value
    if mappings:
        defaults["mappings"] = mappings
    p = _panel(pid, "stat", title, grid, [_target(query)], unit, description, defaults=defaults)
    p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "background", "graphMode": "none", "textMode": "value"}
    return p


def _timeseries(pid: int, title: str, grid: tuple[int, int, int, int], targets: list[Json], unit: str = "",
                description: str = "", stack: bool = False) -> Json:
    custom: Json = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "spanNulls": False}
    if stack:
        custom.update({"stacking": {"mode": "normal", "group": "A"}, "fillOpacity": 40})
    p = _panel(pid, "timeseries", title, grid, targets, unit, description, defaults={"custom": custom})
    p["options"] = {"legend": {"displayMode": "table", "placement": "right", "calcs": ["mean", "max"]},
                    "tooltip": {"mode": "multi", "sort": "desc"}}
    return p


def _table(pid: int, title: str, grid: tuple[int, int, int, int], query: str, description: str = "") -> Json:
    p = _panel(pid, "table", title, grid, [_target(query, fmt="table")], description=description)
    p["options"] = {"showHeader": True}
    return p


def _variable(name: str, label: str, query: str, multi: bool) -> Json:
    return {
        "name": name, "label": label, "type": "query", "datasource": DS, "query": query,
        "definition": query, "refresh": 2, "sort": 1, "multi": multi, "includeAll": multi,
        "current": {}, "options": [], "hide": 0, "regex": "",
    }


SITE_VAR_QUERY = 'SHOW TAG VALUES FROM "ap_status" WITH KEY = "site"'
AP_VAR_QUERY = f'SHOW TAG VALUES FROM "ap_status" WITH KEY = "ap" WHERE {SITE}'


def _annotation(where: str) -> Json:
    """Alert state changes (down, up, degraded, ...) from ap_event as annotations on every time series."""
    query = (f'SELECT "state", "previous", "severity", "duration_s", "ap", "kind" FROM "ap_event" '
             f"WHERE $timeFilter AND {where}")
    cols = {"textColumn": "state", "tagsColumn": "ap,kind,severity", "titleColumn": "ap"}
    return {
        "name": "障害・復旧 / Outages", "datasource": DS, "enable": True, "iconColor": "red",
        "query": query, **cols, "target": {"refId": "Anno", "rawQuery": True, "query": query, **cols},
    }


# Every wifiwatch dashboard links to the others, keeping the time range and the $site / $ap selection.
LINKS = [{"type": "dashboards", "tags": ["wifiwatch"], "asDropdown": False, "includeVars": True,
          "keepTime": True, "title": "wifiwatch"}]


def _dashboard(uid: str, title: str, panels: list[Json], variables: list[Json], annotation_where: str) -> Json:
    return {
        "uid": uid, "title": title, "tags": ["wifiwatch"], "timezone": "browser", "editable": True,
        "schemaVersion": 39, "version": 1, "refresh": "1m", "graphTooltip": 1,
        "time": {"from": "now-24h", "to": "now"},
        "templating": {"list": variables},
        "annotations": {"list": [_annotation(annotation_where)]},
        "links": LINKS,
        "panels": panels,
    }



UP_DOWN = ('SELECT count("up") FROM (SELECT last("reachable") AS "up" FROM "ap_ping" '
           f"WHERE $timeFilter AND \"role\" = 'ap' AND {SITE} GROUP BY \"ap\") WHERE \"up\" = {{}}")
RED: list[Json] = [{"color": "green", "value": None}, {"color": "red", "value": 1}]
AVAILABILITY: list[Json] = [{"color": "red", "value": None}, {"color": "orange", "value": 95},
                            {"color": "green", "value": 99}]


def fleet_overview() -> Json:
    p = [
        _stat(1, "稼働中 AP / APs up", (0, 0, 4, 4), UP_DOWN.format("true"), no_value="0",
              description="Last heartbeat in the range answered. 範囲内の最後の死活確認に応答したAP数"),
        _stat(2, "停止中 AP / APs down", (4, 0, 4, 4), UP_DOWN.format("false"), no_value="0", steps=RED,
              description="Last heartbeat in the range failed. 範囲内の最後の死活確認に応答しなかったAP数"),
        _stat(3, "稼働率 / Availability", (8, 0, 4, 4),
              f"SELECT 100 - mean(\"loss_pct\") FROM \"ap_ping\" WHERE $timeFilter AND \"role\" = 'ap' AND {SITE}",
              unit="percent",
              steps=AVAILABILITY,
              description="Share of heartbeats answered in the range; the monthly report also sets maintenance "
                          "windows aside. 死活確認の応答率（月次レポートは保守時間を除外）"),
        _stat(4, "接続者数 / Clients now", (12, 0, 4, 4),
              'SELECT sum("clients") FROM (SELECT last("clients") AS "clients" FROM "ap_status" '
              f"WHERE $timeFilter AND \"role\" = 'ap' AND {SITE} GROUP BY \"ap\")",
              description="Sum over APs of each AP's last client count. 各APの最新接続数の合計"),
        _table(5, "現在の停止 / Current outages", (16, 0, 8, 8),
               'SELECT "up", "site", "ap", "role" FROM (SELECT last("reachable") AS "up" FROM "ap_ping" '
               f'WHERE $timeFilter AND {SITE} GROUP BY "site", "ap", "role") WHERE "up" = false',
               description="Devices whose last heartbeat in the range failed. 最後の死活確認に応答しない機器"),
        _timeseries(6, "サイト別接続者数 / Clients by site", (0, 4, 16, 8), [_target(
            'SELECT sum("clients") FROM (SELECT mean("clients") AS "clients" FROM "ap_status" '
            f'WHERE $timeFilter AND {SITE} GROUP BY time($__interval), "site", "ap") '
            'WHERE $timeFilter GROUP BY time($__interval), "site" fill(none)', alias="$tag_site")], stack=True),
        _panel(7, "geomap", "AP の状態 / AP map", (0, 12, 16, 12), [_target(
            'SELECT last("loss_pct") AS "loss_pct", last("rtt_ms") AS "rtt_ms", last("reachable") AS "up" '
            f'FROM "ap_ping" WHERE $timeFilter AND {SITE} GROUP BY "site", "ap"', fmt="table")],
            description="Markers placed by AP id from the gazetteer " + GAZETTEER_PATH + " (wifiwatch grafana "
                        "gazetteer); red = last heartbeat lost. 地図の位置は在庫ファイルから生成",
            defaults={"thresholds": {"mode": "absolute", "steps": [{"color": "green", "value": None},
                                                                    {"color": "red", "value": 50}]},
                      "color": {"mode": "thresholds"}}),
        _timeseries(8, "サイト別稼働率 / Availability by site", (16, 8, 8, 16), [_target(
            f"SELECT 100 - mean(\"loss_pct\") FROM \"ap_ping\" WHERE $timeFilter AND \"role\" = 'ap' AND {SITE} "
            'GROUP BY time($__interval), "site" fill(none)', alias="$tag_site")], unit="percent"),
    ]
    p[6]["options"] = {
        "view": {"id": "fit", "lat": 35.97, "lon": 140.63, "zoom": 14},
        "controls": {"showZoom": True, "mouseWheelZoom": True},
        "basemap": {"type": "osm-standard", "name": "OpenStreetMap"},
        "tooltip": {"mode": "details"},
        "layers": [{
            "type": "markers", "name": "APs", "tooltip": True,
            "location": {"mode": "lookup", "lookup": "ap", "gazetteer": GAZETTEER_PATH},
            "config": {"showLegend": True, "style": {
                "color": {"field": "loss_pct", "fixed": "green"}, "size": {"fixed": 8},
                "text": {"field": "ap", "mode": "field"}, "textConfig": {"offsetY": -14}}},
        }],
    }
    variables = [_variable("site", "サイト / Site", SITE_VAR_QUERY, multi=True)]
    return _dashboard("wifiwatch-fleet", "公衆無線LAN 全体 / Fleet overview", p, variables, SITE)


def site_detail() -> Json:
    where = f"$timeFilter AND {SITE} AND {AP}"
    p = [
        _timeseries(1, "AP 別接続者数 / Clients per AP", (0, 0, 12, 8), [_target(
            f"SELECT mean(\"clients\") FROM \"ap_status\" WHERE {where} AND \"role\" = 'ap' "
            'GROUP BY time($__interval), "ap" fill(none)', alias="$tag_ap")], stack=True),
        _timeseries(2, "帯域別接続者数 / Clients per radio", (12, 0, 12, 8), [_target(
            f'SELECT mean("clients") FROM "ap_clients" WHERE {where} '
            'GROUP BY time($__interval), "ap", "radio" fill(none)', alias="$tag_ap $tag_radio")]),
        _timeseries(3, "通信量 / Traffic", (0, 8, 24, 8), [_target(
            f'SELECT mean("rx_bps") AS "rx", mean("tx_bps") AS "tx" FROM "ap_traffic" WHERE {where} '
            'GROUP BY time($__interval), "ap" fill(none)', alias="$tag_ap $col")], unit="bps"),
        _timeseries(4, "応答時間 / RTT", (0, 16, 12, 8), [_target(
            f'SELECT mean("rtt_ms") FROM "ap_ping" WHERE {where} GROUP BY time($__interval), "ap" fill(none)',
            alias="$tag_ap")], unit="ms"),
        _timeseries(5, "パケット損失 / Loss", (12, 16, 12, 8), [_target(
            f'SELECT mean("loss_pct") FROM "ap_ping" WHERE {where} GROUP BY time($__interval), "ap" fill(none)',
            alias="$tag_ap")], unit="percent"),
        _table(6, "AP 別稼働率 / Availability per AP", (0, 24, 24, 8),
               f'SELECT 100 - mean("loss_pct") AS "availability_pct", mean("rtt_ms") AS "rtt_ms" FROM "ap_ping" '
               f'WHERE {where} GROUP BY "ap"'),
    ]
    variables = [_variable("site", "サイト / Site", SITE_VAR_QUERY, multi=True),
                 _variable("ap", "AP", AP_VAR_QUERY, multi=True)]
    return _dashboard("wifiwatch-site", "公衆無線LAN サイト詳細 / Site detail", p, variables, f"{SITE} AND {AP}")


def ap_detail() -> Json:
    where = f"$timeFilter AND {AP}"
    p = [
        _stat(1, "状態 / State", (0, 0, 4, 4), f'SELECT last("loss_pct") FROM "ap_ping" WHERE {where}', steps=RED,
              mappings=[{"type": "range", "options": {"from": 0, "to": 49.9, "result": {"text": "UP 稼働"}}},
                        {"type": "range", "options": {"from": 50, "to": 100, "result": {"text": "DOWN 停止"}}}]),
        _stat(2, "接続者数 / Clients", (4, 0, 4, 4), f'SELECT last("clients") FROM "ap_status" WHERE {where}'),
        _stat(3, "稼働時間 / Uptime", (8, 0, 4, 4), f'SELECT last("uptime_s") FROM "ap_status" WHERE {where}',
              unit="s", description="sysUpTime; a drop means the AP rebooted. 再起動で0に戻る"),
        _stat(4, "稼働率 / Availability", (12, 0, 4, 4),
              f'SELECT 100 - mean("loss_pct") FROM "ap_ping" WHERE {where}', unit="percent"),
        _table(5, "最後のエラー / Last poll error", (16, 0, 8, 4),
               f'SELECT last("error") AS "error" FROM "ap_status" WHERE {where}'),
        # Radios and SSIDs count the same clients twice: stacked in separate panels, never together.
        _timeseries(6, "帯域別接続者数 / Clients per radio", (0, 4, 12, 8), [_target(
            f'SELECT mean("clients") FROM "ap_clients" WHERE {where} AND "radio" !~ /^ssid:/ '
            'GROUP BY time($__interval), "radio" fill(none)', alias="$tag_radio")], stack=True),
        _timeseries(7, "インターフェース別通信量 / Traffic per interface", (12, 4, 12, 8), [_target(
            f'SELECT mean("rx_bps") AS "rx", mean("tx_bps") AS "tx" FROM "ap_traffic" WHERE {where} '
            'GROUP BY time($__interval), "interface" fill(none)', alias="$tag_interface $col")], unit="bps"),
        _timeseries(8, "応答時間と損失 / RTT and loss", (0, 12, 12, 8), [
            _target(f'SELECT mean("rtt_ms") AS "rtt_ms" FROM "ap_ping" WHERE {where} '
                    "GROUP BY time($__interval) fill(none)", "A"),
            _target(f'SELECT mean("loss_pct") AS "loss_pct" FROM "ap_ping" WHERE {where} '
                    "GROUP BY time($__interval) fill(none)", "B")], unit="ms"),
        _timeseries(9, "SNMP 応答時間 / Poll time", (12, 12, 12, 8), [_target(
            f'SELECT mean("poll_ms") FROM "ap_status" WHERE {where} GROUP BY time($__interval) fill(none)')],
            unit="ms"),
        _table(10, "障害履歴 / Incidents", (0, 20, 24, 8),
               'SELECT "state", "previous", "severity", "duration_s", "incident_id", "kind" FROM "ap_event" '
               f"WHERE {where}"),
        # Radio health (ap_radio, where the vendor's MIB has it: docs/schema.md) and per-SSID clients.
        _timeseries(11, "SSID別接続者数 / Clients per SSID", (0, 28, 12, 8), [_target(
            f'SELECT mean("clients") FROM "ap_clients" WHERE {where} AND "radio" =~ /^ssid:/ '
            'GROUP BY time($__interval), "radio" fill(none)', alias="$tag_radio")], stack=True),
        _timeseries(12, "チャネル使用率 / Channel utilisation", (12, 28, 12, 8), [_target(
            f'SELECT mean("utilization_pct") FROM "ap_radio" WHERE {where} '
            'GROUP BY time($__interval), "radio" fill(none)', alias="$tag_radio")], unit="percent"),
        _timeseries(13, "チャネル / Channel", (0, 36, 8, 8), [_target(
            f'SELECT last("channel") FROM "ap_radio" WHERE {where} GROUP BY time($__interval), "radio" fill(none)',
            alias="$tag_radio")]),
        _timeseries(14, "ノイズフロア / Noise floor", (8, 36, 8, 8), [_target(
            f'SELECT mean("noise_dbm") FROM "ap_radio" WHERE {where} '
            'GROUP BY time($__interval), "radio" fill(none)', alias="$tag_radio")], unit="dBm"),
        _timeseries(15, "送信出力 / Tx power", (16, 36, 8, 8), [_target(
            f'SELECT mean("tx_power_dbm") FROM "ap_radio" WHERE {where} '
            'GROUP BY time($__interval), "radio" fill(none)', alias="$tag_radio")], unit="dBm"),
    ]
    p[7]["fieldConfig"]["overrides"] = [{"matcher": {"id": "byName", "options": "loss_pct"},
                                         "properties": [{"id": "unit", "value": "percent"},
                                                        {"id": "custom.axisPlacement", "value": "right"}]}]
    variables = [_variable("site", "サイト / Site", SITE_VAR_QUERY, multi=False),
                 _variable("ap", "AP", AP_VAR_QUERY, multi=False)]
    return _dashboard("wifiwatch-ap", "公衆無線LAN AP 詳細 / AP detail", p, variables, AP)


# -- 利用分析 (issue 24): the visitors measurement holds only cells that may be shown (analytics.visitors.points)
VISITORS_WHERE = f"$timeFilter AND \"level\" = 'site' AND {SITE}"
VISITORS_VAR_QUERY = 'SHOW TAG VALUES FROM "visitors" WITH KEY = "site" WHERE "level" = \'site\''
VISITORS_NOTE = ("Cells of fewer than [visitors] k_min devices are not written (a gap, never a small number). "
                 "Unique devices per day are exact; over several days they are person-days. "
                 "秘匿したセルは表示されません。")


def visitors_dashboard() -> Json:
    p = [
        _stat(1, "利用端末数 (昨日まで・延べ) / Device-days", (0, 0, 6, 4),
              "SELECT sum(\"unique_devices\") FROM \"visitors\" WHERE $timeFilter AND \"grain\" = 'day' AND "
              "\"level\" = 'city'", description=VISITORS_NOTE),
        _stat(2, "接続回数 / Sessions", (6, 0, 6, 4),
              "SELECT sum(\"sessions\") FROM \"visitors\" WHERE $timeFilter AND \"grain\" = 'day' AND "
              "\"level\" = 'city'", description=VISITORS_NOTE),
        _stat(3, "滞在時間の中央値 (分) / Median dwell (min)", (12, 0, 6, 4),
              "SELECT mean(\"median_dwell_min\") FROM \"visitors\" WHERE $timeFilter AND \"grain\" = 'day' AND "
              "\"level\" = 'city'", description="Mean of the daily medians over the range."),
        _timeseries(4, "拠点別 利用端末数 (日) / Unique devices per site and day", (0, 4, 24, 8), [_target(
            f"SELECT last(\"unique_devices\") FROM \"visitors\" WHERE {VISITORS_WHERE} AND \"grain\" = 'day' "
            'GROUP BY time(1d, -9h), "site" fill(none)', alias="$tag_site")], description=VISITORS_NOTE),
        _timeseries(5, "拠点別 接続回数 (時間) / Sessions per site and hour", (0, 12, 24, 8), [_target(
            f"SELECT last(\"sessions\") FROM \"visitors\" WHERE {VISITORS_WHERE} AND \"grain\" = 'hour' "
            'GROUP BY time(1h), "site" fill(none)', alias="$tag_site")], stack=True, description=VISITORS_NOTE),
        _table(6, "拠点別 (範囲の合計) / Per site over the range", (0, 20, 24, 8),
               f"SELECT sum(\"unique_devices\") AS \"device_days\", sum(\"sessions\") AS \"sessions\", "
               f"mean(\"median_dwell_min\") AS \"median_dwell_min\" FROM \"visitors\" WHERE {VISITORS_WHERE} "
               "AND \"grain\" = 'day' GROUP BY \"site\"", description=VISITORS_NOTE),
    ]
    variables = [_variable("site", "サイト / Site", VISITORS_VAR_QUERY, multi=True)]
    return _dashboard("wifiwatch-visitors", "公衆無線LAN 利用分析 / Visitors", p, variables, SITE)


def build_all() -> dict[str, Json]:
    """File name -> dashboard model, in the order they are listed in Grafana."""
    return {"fleet-overview.json": fleet_overview(), "site-detail.json": site_detail(), "ap-detail.json": ap_detail(),
            "visitors.json": visitors_dashboard()}


def gazetteer(inv: Inventory) -> list[Json]:
    """AP and uplink locations in Grafana's worldmap gazetteer format, looked up by the ``ap`` column.

    The measurements carry no coordinates (tags stay low-cardinality ids), so the Geomap panel joins them
    here; a device without its own coordinates is placed at its site.
    """
    out: list[Json] = []
    for site in inv.sites:
        devices: list[tuple[str, str, float | None, float | None]] = [
            (ap.id, ap.name_ja or ap.id, ap.lat, ap.lon) for ap in site.aps]
        if site.uplink is not None:
            devices.insert(0, (site.uplink.id, f"{site.name_ja} uplink", None, None))
        for key, name, lat, lon in devices:
            out.append({"key": key, "name": name, "latitude": site.lat if lat is None else lat,
                        "longitude": site.lon if lon is None else lon})
    return out
