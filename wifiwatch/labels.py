"""Column headers and fixed words of the CLI's tables, Japanese by default and English on request.

One table per key so a header is translated once; :func:`label` falls back to the key itself (never
an error) so a new column shows up even before it is translated.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.state import LABELS as _STATE_LABELS

LANGS = ("ja", "en")

_JA = {
    # devices and status
    "site": "拠点", "ap": "AP", "device": "機器", "role": "種別", "state": "状態", "since": "状態の開始 (JST)",
    "last_heartbeat": "最終確認 (JST)", "last_seen": "最終応答 (JST)", "clients": "接続数", "rtt_ms": "応答時間 ms",
    "vendor": "メーカー", "reachable": "疎通", "snmp_ok": "SNMP", "rx_bps": "受信 bps", "tx_bps": "送信 bps",
    "stale": "情報が古い", "address": "アドレス", "recording": "応答データ", "pid": "PID", "dead": "異常終了",
    # incidents
    "id": "ID", "kind": "種類", "start": "開始 (JST)", "end": "終了 (JST)", "duration": "継続時間",
    "notified": "通知", "suppressed_by": "抑止理由", "severity": "重要度", "cause": "原因",
    # maintenance
    "target": "対象", "when": "期間", "reason": "理由", "source": "登録元",
    # store
    "store": "保存先", "raw_rows": "生データ行数", "rollup_rows": "時間集計行数", "size": "サイズ",
    "free_disk": "空きディスク", "oldest": "最古のデータ", "newest": "最新のデータ",
    "backlog": "InfluxDB 未転送", "last_forwarded": "最終転送", "dead_letters": "転送拒否 (dead letter)",
    "last_error": "直近のエラー", "influxdb": "InfluxDB", "when_created": "日時", "rows": "行範囲",
    "points": "点数", "status": "HTTP ステータス", "server_message": "サーバーのメッセージ",
    # values
    "suspect": "応答なし (確認中)",
    "recovering": "復旧中", "site_down": "拠点停止", "site_up": "拠点復旧", "monitoring_lost": "監視断",
    "member_lost": "収集サーバー停止",
    "monitoring_restored": "監視復旧", "flapping": "不安定", "yes": "済", "no": "未", "open": "継続中",
    "uplink": "上位回線", "config": "設定ファイル", "added": "追加", "every": "毎週",
    "critical": "重大", "warning": "警告", "info": "情報", "resolved": "解消",
    # report tables (analytics.tables rows)
    "site_name_ja": "拠点名", "site_name_en": "拠点名 (英)", "ap_name_ja": "AP 名", "ap_name_en": "AP 名 (英)",
    "availability_pct": "稼働率 %", "up_h": "稼働 h", "down_h": "停止 h", "unknown_h": "データなし h",
    "maintenance_h": "保守 h", "outages": "停止回数", "mttr_min": "平均復旧 分", "longest_outage_min": "最長停止 分",
    "maintenance_windows": "保守時間帯", "observed_h": "観測 h", "period_h": "期間 h", "coverage_pct": "観測率 %",
    "provisional": "参考値", "in_progress": "集計途中", "simulated": "模擬データ", "level": "単位", "name": "名称",
    "peak_clients": "最大接続数", "mean_clients": "平均接続数", "client_hours": "延べ接続時間 h", "rx_gb": "受信 GB",
    "tx_gb": "送信 GB", "client_hours_prev": "前期 延べ接続時間 h", "coverage_prev_pct": "前期 観測率 %",
    "change_pct": "前期比 %", "change_prev_note": "前期比の注記", "client_hours_yoy": "前年同月 延べ接続時間 h",
    "coverage_yoy_pct": "前年同月 観測率 %", "change_yoy_pct": "前年同月比 %", "change_yoy_note": "前年同月比の注記",
    "capacity": "収容上限", "hours_over": "上限超過 h",
    # titles
    "title_status": "現在の状態", "title_poll": "ポーリング結果", "title_incidents": "障害履歴",
    "title_incidents_open": "継続中の障害", "title_maintenance": "保守時間帯", "title_dead_letters": "転送拒否データ",
}
_EN = {
    "ap": "AP", "rtt_ms": "RTT ms", "snmp_ok": "SNMP", "rx_bps": "rx bps", "tx_bps": "tx bps",
    "last_heartbeat": "last heartbeat (JST)", "last_seen": "last seen (JST)", "since": "since (JST)",
    "start": "start (JST)", "end": "end (JST)", "suppressed_by": "suppressed by", "raw_rows": "raw rows",
    "rollup_rows": "hourly rollup rows", "free_disk": "free disk", "backlog": "forwarding backlog",
    "last_forwarded": "last forwarded", "dead_letters": "dead letters", "last_error": "last error",
    "influxdb": "InfluxDB", "when_created": "when", "server_message": "server message", "site_down": "site down",
    "site_up": "site up", "monitoring_lost": "monitoring lost",
    "member_lost": "collector lost", "monitoring_restored": "monitoring restored",
    "title_status": "current status", "title_poll": "poll", "title_incidents": "incidents",
    "title_incidents_open": "open incidents", "title_maintenance": "maintenance windows",
    "title_dead_letters": "dead letters", "id": "id", "config": "config", "added": "added", "every": "every",
}


# state words are core.state's: one place for every view
_JA.update({str(s): ja for s, (ja, _) in _STATE_LABELS.items()})
_EN.update({str(s): en for s, (_, en) in _STATE_LABELS.items()})


def label(key: str, lang: str = "ja") -> str:
    """The header or word for ``key``; English falls back to the key with underscores as spaces."""
    if lang == "ja":
        return _JA.get(key, key)
    return _EN.get(key, key.replace("_", " "))


def labels(keys: Iterable[str], lang: str = "ja") -> list[str]:
    return [label(k, lang) for k in keys]


def check_lang(lang: str) -> str:
    from wifiwatch.common import UserError

    if lang not in LANGS:
        raise UserError(f"--lang: '{lang}' is not one of ja, en")
    return lang
