"""The 利用分析 (visitors) Grafana dashboard: reads the ``visitors`` measurement (analytics.visitors.points), which
holds only cells that may be shown: a suppressed cell is a gap, never a number under k."""

from __future__ import annotations

from wifiwatch.grafana.dashboards import SITE, Json, _dashboard, _stat, _table, _target, _timeseries, _variable

WHERE = f"$timeFilter AND \"level\" = 'site' AND {SITE}"
VAR_QUERY = 'SHOW TAG VALUES FROM "visitors" WITH KEY = "site" WHERE "level" = \'site\''
NOTE = ("Cells of fewer than [visitors] k_min devices are not written (a gap, never a small number). Unique devices "
        "per day are exact; over several days they are person-days. 秘匿したセルは表示されません。")


def visitors_dashboard() -> Json:
    p = [
        _stat(1, "利用端末数 (昨日まで・延べ) / Device-days", (0, 0, 6, 4),
              "SELECT sum(\"unique_devices\") FROM \"visitors\" WHERE $timeFilter AND \"grain\" = 'day' AND "
              "\"level\" = 'city'", description=NOTE),
        _stat(2, "接続回数 / Sessions", (6, 0, 6, 4),
              "SELECT sum(\"sessions\") FROM \"visitors\" WHERE $timeFilter AND \"grain\" = 'day' AND "
              "\"level\" = 'city'", description=NOTE),
        _stat(3, "滞在時間の中央値 (分) / Median dwell (min)", (12, 0, 6, 4),
              "SELECT mean(\"median_dwell_min\") FROM \"visitors\" WHERE $timeFilter AND \"grain\" = 'day' AND "
              "\"level\" = 'city'", description="Mean of the daily medians over the range."),
        _timeseries(4, "拠点別 利用端末数 (日) / Unique devices per site and day", (0, 4, 24, 8), [_target(
            f"SELECT last(\"unique_devices\") FROM \"visitors\" WHERE {WHERE} AND \"grain\" = 'day' "
            'GROUP BY time(1d, -9h), "site" fill(none)', alias="$tag_site")], description=NOTE),
        _timeseries(5, "拠点別 接続回数 (時間) / Sessions per site and hour", (0, 12, 24, 8), [_target(
            f"SELECT last(\"sessions\") FROM \"visitors\" WHERE {WHERE} AND \"grain\" = 'hour' "
            'GROUP BY time(1h), "site" fill(none)', alias="$tag_site")], stack=True, description=NOTE),
        _table(6, "拠点別 (範囲の合計) / Per site over the range", (0, 20, 24, 8),
               f"SELECT sum(\"unique_devices\") AS \"device_days\", sum(\"sessions\") AS \"sessions\", "
               f"mean(\"median_dwell_min\") AS \"median_dwell_min\" FROM \"visitors\" WHERE {WHERE} "
               "AND \"grain\" = 'day' GROUP BY \"site\"", description=NOTE),
    ]
    variables = [_variable("site", "サイト / Site", VAR_QUERY, multi=True)]
    return _dashboard("wifiwatch-visitors", "公衆無線LAN 利用分析 / Visitors", p, variables, SITE)
