"""The console's words, Japanese first; a user may switch to English (kept per user)."""

from __future__ import annotations

import re
from collections.abc import Callable

from core import state as st

# key -> (ja, en)
WORDS: dict[str, tuple[str, str]] = {
    "app": ("公衆無線LAN 監視コンソール", "Public Wi-Fi console"),
    "login": ("ログイン", "Log in"),
    "logout": ("ログアウト", "Log out"),
    "user": ("ユーザー名", "User name"),
    "password": ("パスワード", "Password"),
    "login_failed": ("ユーザー名またはパスワードが違います。", "Wrong user name or password."),
    "too_many": ("ログインの試行が多すぎます。しばらく待ってから再度お試しください。",
                 "Too many login attempts; wait a minute and try again."),
    # refusals of hostile or mistaken requests (issue 26)
    "too_large": ("送信された内容が大きすぎます (上限 {limit})。", "What was sent is too large (limit {limit})."),
    "bad_request": ("リクエストの形式が正しくありません。", "The request is malformed."),
    "method_not_allowed": ("この操作はこのページでは使えません。", "This method is not allowed here."),
    "login_busy": ("ログインが混み合っています。しばらくしてから再度お試しください。",
                   "Logins are busy; try again in a moment."),
    "login_backoff": ("このユーザー名でのログイン失敗が続いたため、しばらく待ってから再度お試しください。",
                      "Too many failed logins for this user name; wait a little and try again."),
    "status": ("状況", "Status"),
    "incidents": ("障害", "Incidents"),
    "maintenance": ("保守", "Maintenance"),
    "reports": ("報告", "Reports"),
    "planning": ("整備計画", "Planning"),
    "visitor_analytics": ("利用分析", "Visitors"),
    "map": ("地図", "Map"),
    "admin": ("管理", "Admin"),
    "site": ("施設", "Site"),
    "ap": ("アクセスポイント", "Access point"),
    "state": ("状態", "State"),
    "clients": ("接続数", "Clients"),
    "since": ("この状態になった時刻", "Since"),
    "open_incidents": ("未解決の障害", "Open incidents"),
    "updated": ("更新", "Updated"),
    "uplink": ("上位回線", "Uplink"),
    "none": ("なし", "none"),
    "language": ("English", "日本語"),
    "role": ("権限", "Role"),
    "forbidden": ("この操作の権限がありません。", "You are not allowed to do this."),
    "summary": ("概要", "Summary"),
    "devices": ("台", "devices"),
    "auto_refresh": ("自動更新", "Auto refresh"),
    "rx": ("受信", "received"),
    "tx": ("送信", "sent"),
    "availability": ("稼働率", "Availability"),
    "chart_clients": ("接続数", "Clients"),
    "chart_availability": ("稼働率", "Availability"),
    "chart_traffic": ("通信量", "Traffic"),
    "chart_rtt": ("応答時間 (RTT)", "Round-trip time"),
    "chart_radio": ("周波数帯別の接続数", "Clients per band"),
    "chart_radio_util": ("無線の使用率 (チャネル使用率)", "Radio utilisation"),
    "range_from": ("開始日", "From"),
    "range_to": ("終了日", "To"),
    "range_show": ("表示", "Show"),
    "range_custom": ("指定期間", "Custom"),
    "chart_help": ("グラフにマウスを重ねると値が出ます。横にドラッグすると拡大、ダブルクリックで元に戻ります。",
                   "Hover a chart for its values; drag across it to zoom, double-click to zoom out."),
    "chart_ssid": ("SSID 別の接続数", "Clients per SSID"),
    "top_clients": ("接続数の多いアクセスポイント", "Top APs by clients"),
    "top_traffic": ("通信量の多いアクセスポイント", "Top APs by traffic"),
    "top_clients_unit": ("期間の平均とピーク (同時接続数、台)", "Mean and peak over the range (concurrent clients)"),
    "top_traffic_unit": ("期間の平均とピーク (送受信の合計、Mbit/s)",
                         "Mean and peak over the range (sent + received, Mbit/s)"),
    "mean": ("平均", "Mean"),
    "peak": ("ピーク", "Peak"),
    "range_24h": ("24時間", "24 h"),
    "range_7d": ("7日", "7 days"),
    "range_30d": ("30日", "30 days"),
    "range_13m": ("13か月", "13 months"),
    "based_on": ("集計元", "from"),
    "samples": ("件の測定値", "stored samples"),
    "incident_timeline": ("障害の記録", "Incident timeline"),
    "maintenance_windows": ("保守期間", "Maintenance windows"),
    "kind": ("種類", "Kind"),
    "start": ("開始", "Start"),
    "end": ("終了", "End"),
    "cause": ("原因", "Cause"),
    "ongoing": ("継続中", "ongoing"),
    "suppressed": ("通知抑止", "not notified"),
    "kind_down": ("停止", "down"),
    "kind_site_down": ("施設停止 (上位回線)", "site down (uplink)"),
    "kind_degraded": ("品質低下", "degraded"),
    "kind_flapping": ("不安定 (断続)", "flapping"),
    "kind_monitoring_lost": ("監視不能", "monitoring lost"),
    "kind_member_lost": ("収集サーバー停止 (グループ)", "collector lost (group)"),
    "not_found": ("見つかりません。", "Not found."),
    "filter_all": ("すべて", "all"),
    "filter_open": ("未解決", "open"),
    "filter_closed": ("解決済み", "closed"),
    "days": ("期間 (日)", "Days"),
    "apply": ("絞り込む", "Filter"),
    "notified": ("通知", "Notified"),
    "acknowledged": ("確認 (応答)", "Acknowledged"),
    "acknowledge": ("確認した", "Acknowledge"),
    "ack_note": ("メモ (対応内容など)", "Note (what you are doing)"),
    "not_acknowledged": ("未確認", "not acknowledged"),
    "yes": ("済", "yes"),
    "msg_acked": ("確認を記録しました。この障害の再通知とエスカレーションは止まります。",
                  "Acknowledged: no more reminders or escalation for this incident."),
    "msg_ack_refused": ("確認できませんでした (解決済みか、既に確認済みです)。",
                        "Not acknowledged (already closed or already acknowledged)."),
    "msg_rota_added": ("当番表に追加しました。", "Added to the rota."),
    "msg_rota_bad": ("当番表に追加できません", "Not added to the rota"),
    "rota": ("当番表", "On-duty rota"),
    "rota_help": ("当番表のある通知先は、その時間帯・施設の通知だけを受け取ります。"
                  "当番表のない通知先はすべて受け取ります。",
                  "A channel with shifts gets a site's alerts only during them; a channel without shifts gets all."),
    "escalation_rule": ("{0:g}分以内に誰も確認しない停止は「{1}」にも通知します。",
                        "An outage nobody acknowledges within {0:g} min also goes to '{1}'."),
    "rota_empty": ("当番表はありません (全通知先が常時受信)。", "No shifts: every channel gets every alert."),
    "channel": ("通知先", "Channel"),
    "weekdays": ("曜日", "Weekdays"),
    "hours": ("時間帯", "Hours"),
    "person": ("担当者", "Person"),
    "from": ("から", "From"),
    "to": ("まで", "To"),
    "add": ("追加", "Add"),
    "remove": ("削除", "Remove"),
    "save": ("保存", "Save"),
    "edit": ("編集", "Edit"),
    "cancel": ("取り消す", "Cancel"),
    "end_now": ("今すぐ終了", "End now"),
    "target": ("対象", "Target"),
    "when": ("日時", "When"),
    "reason": ("理由", "Reason"),
    "every": ("毎週", "every"),
    "from_config": ("設定ファイル", "config file"),
    "maint_help": ("保守期間中の障害は通知しません (記録は残ります)。設定ファイルの期間はここでは変更できません。",
                   "Alerts are not sent during a window (incidents are still recorded). Config file windows are "
                   "changed in the file."),
    "maint_active": ("保守中", "active"),
    "maint_planned": ("予定", "planned"),
    "maint_over": ("終了", "over"),
    "maint_new": ("保守期間を追加", "Add a maintenance window"),
    "msg_maint_added": ("保守期間を追加しました。", "Window added."),
    "msg_maint_saved": ("保守期間を保存しました。", "Window saved."),
    "msg_maint_ended": ("保守期間を終了しました。", "Window ended."),
    "msg_maint_bad": ("保守期間を保存できません", "Window not saved"),
    "maint_err_no_target": ("対象の施設またはアクセスポイントを選んでください", "choose the site or access point"),
    "maint_err_city_unconfirmed": ("市内全域の通知を止めるには、確認欄にチェックを入れてください",
                                   "tick the confirmation to silence the whole city"),
    "maint_err_target": ("その施設・アクセスポイントは登録されていません", "no such site or access point"),
    "maint_err_start": ("開始日時が読めません", "the start is not a date and time"),
    "maint_err_end": ("終了日時が読めません", "the end is not a date and time"),
    "maint_err_order": ("終了日時は開始日時より後にしてください", "the end must come after the start"),
    "maint_err_reason": ("理由は1行で入力してください", "the reason must be one line"),
    "wd_mon": ("月曜", "Monday"),
    "wd_tue": ("火曜", "Tuesday"),
    "wd_wed": ("水曜", "Wednesday"),
    "wd_thu": ("木曜", "Thursday"),
    "wd_fri": ("金曜", "Friday"),
    "wd_sat": ("土曜", "Saturday"),
    "wd_sun": ("日曜", "Sunday"),
    "alert_settings": ("通知設定", "Alert settings"),
    "alerts_help": (
        "通知先・しきい値は設定ファイル (sites.toml) に保存され、保存と同時に監視デーモンが読み"
        "直します。秘密情報 (URL、SMTP の認証) は値ではなく参照 (env:変数名 / file:"
        "キー) で指定します。",
        "Channels and thresholds are saved in the configuration file (sites.toml) and the daemon re"
        "loads it at once. Secrets (URLs, SMTP credentials) are given as references (env:NAME / fil"
        "e:KEY), never as values."),
    "alerts_thresholds": ("しきい値", "Thresholds"),
    "alerts_channels": ("通知先", "Channels"),
    "alerts_escalation": ("エスカレーション", "Escalation"),
    "minutes": ("分", "min"),
    "name": ("名前", "Name"),
    "host": ("ホスト", "host"),
    "port": ("ポート", "port"),
    "channel_type": ("種類", "Type"),
    "channel_to": ("宛先", "Recipients"),
    "channel_secret": ("秘密情報の参照", "Secret references"),
    "channel_route": ("通知する重要度", "Severity"),
    "channel_new": ("通知先を追加", "Add a channel"),
    "channel_min_severity": ("通知する最低の重要度", "Lowest severity sent"),
    "channel_url": ("Webhook URL の参照", "Webhook URL reference"),
    "channel_smtp_user": ("SMTP ユーザーの参照", "SMTP user reference"),
    "channel_smtp_password": ("SMTP パスワードの参照", "SMTP password reference"),
    "channel_sender": ("送信元アドレス", "Sender"),
    "channel_verify_tls": ("TLS 証明書を検証する", "Verify TLS certificates"),
    "channel_secret_help": (
        "参照は env:変数名 (デーモンの環境変数) か file:キー (秘密情報ファイルのキー) です"
        "。値そのものは入力しないでください。秘密情報の欄を空のまま保存すると、いまの参照を残します。",
        "A reference is env:NAME (the daemon's environment) or file:KEY (a key of the secrets file)"
        ". Never type the value itself. Leaving a secret field empty keeps its current reference."),
    "alerts_readonly_help": (
        "この画面は設定ファイルを持たないため、表示のみです。",
        "This console has no configuration file to write: read only."),
    "chtype_email": ("メール", "e-mail"),
    "chtype_webhook": ("Webhook", "webhook"),
    "chtype_slack": ("Slack", "Slack"),
    "chtype_teams": ("Teams", "Teams"),
    "sev_info": ("情報", "info"),
    "sev_warning": ("警告", "warning"),
    "sev_critical": ("重大", "critical"),
    "send_test": ("テスト送信", "Send a test"),
    "rota_edit": ("当番表を編集 (障害ページ)", "Edit the rota (Incidents page)"),
    "msg_alerts_saved": ("保存しました。監視デーモンが設定を読み直しました。",
                         "Saved; the daemon reloaded its configuration."),
    "msg_alerts_saved_file": ("設定ファイルに保存しました。監視デーモンには再読み込み (SIGHUP) で反映されます。",
                              "Saved to the file; the daemon applies it when reloaded (SIGHUP)."),
    "msg_alerts_bad": ("保存できません", "Not saved"),
    "msg_alerts_readonly": ("設定ファイルがないため保存できません", "No configuration file to save to"),
    "msg_alerts_test_ok": ("テストメッセージを送信しました", "Test message sent"),
    "msg_alerts_test_failed": ("テストメッセージを送信できませんでした", "Test message not delivered"),
    "th_down_after": ("停止と判定するまでの連続失敗回数", "Failed heartbeats before down"),
    "th_up_after": ("復旧と判定するまでの連続成功回数", "Good heartbeats before up"),
    "th_flap_changes": ("不安定と判定する状態変化の回数", "State changes that make a flap"),
    "th_flap_window_min": ("不安定の判定期間 (分)", "Flap window (min)"),
    "th_reminder_h": ("再通知の間隔 (時間)", "Reminder interval (h)"),
    "th_degraded_loss_pct": ("品質低下とするパケット損失 (%)", "Degraded at packet loss (%)"),
    "th_degraded_rtt_ms": ("品質低下とする応答時間 (ミリ秒)", "Degraded at round trip (ms)"),
    "th_saturation_minutes": ("混雑と判定する継続時間 (分)", "Saturated after (min)"),
    "csv_download": ("CSV でダウンロード", "Download CSV"),
    "bulk_ack_note": ("選んだ障害をまとめて確認 (メモ)", "Acknowledge the selected incidents (note)"),
    "bulk_ack": ("まとめて確認", "Acknowledge selected"),
    "bulk_ack_help": ("一覧の左のチェック欄で選んでください。", "Tick them in the list's first column."),
    "select": ("選択", "Select"),
    "duration": ("継続時間", "Duration"),
    "incident": ("障害", "Incident"),
    "recovered": ("復旧", "Recovered"),
    "timeline": ("経過", "Timeline"),
    "ev_down": ("停止を検知", "Down detected"),
    "ev_message": ("通知", "Message"),
    "ev_reminder": ("再通知", "Reminder"),
    "ev_escalated": ("エスカレーション", "Escalated"),
    "ev_ack": ("確認", "Acknowledged"),
    "ev_comment": ("コメント", "Comment"),
    "ev_recovered": ("復旧", "Recovered"),
    "msg_status_sent": ("送信済み", "sent"),
    "msg_status_pending": ("送信待ち", "pending"),
    "msg_status_failed": ("送信失敗 (再送中)", "failed (retrying)"),
    "comment": ("コメント", "Comment"),
    "add_comment": ("コメントを追加", "Add comment"),
    "messages_sent": ("送った通知", "Messages sent"),
    "subject": ("件名", "Subject"),
    "queued": ("作成", "Queued"),
    "sent": ("送信", "Sent"),
    "attempts": ("試行", "Attempts"),
    "msg_commented": ("コメントを追加しました。", "Comment added."),
    "msg_comment_refused": ("コメントを追加できません (空か、件数の上限です)。",
        "Comment not added (empty, or the limit is reached)."),
    "msg_acked_many": ("選んだ障害を確認しました (件数)", "Acknowledged (count)"),
    "search": ("検索", "Search"),
    "filter_sort": ("検索・絞り込み・並べ替え", "Search, filter and sort"),
    "filter_active": ("条件あり", "filtered"),
    "search_help": ("名前・ID・施設", "name, id, site"),
    "vendor": ("機種", "Vendor"),
    "sort": ("並べ替え", "Sort"),
    "sort_site": ("施設順", "By site"),
    "sort_name": ("名前", "Name"),
    "sort_state": ("状態 (悪い順)", "State (worst first)"),
    "sort_clients": ("接続数", "Clients"),
    "sort_since": ("状態の開始時刻", "Since"),
    "sort_avail7": ("稼働率 7日", "Availability 7 d"),
    "sort_avail30": ("稼働率 30日", "Availability 30 d"),
    "sort_desc": ("降順", "Descending"),
    "problems_only": ("問題のあるものだけ", "Problems only"),
    "clear_filters": ("条件をクリア", "Clear filters"),
    "shown_count": ("{} 件が該当", "{} match"),
    "shown_first": ("(先頭の {} 件を表示。すべては CSV で)", "(the first {} shown; the CSV has all)"),
    "avail_7d": ("7日 %", "7 d %"),
    "avail_30d": ("30日 %", "30 d %"),
    "avail_note": (
        "7日・30日の稼働率は ping 応答の割合です (毎時の集計、保守時間を含む)。公式の稼"
        "働率は月次報告をご覧ください。",
        "7- and 30-day availability is the share of heartbeats answered (hourly rollups, maintenanc"
        "e included); the monthly report's is the official figure."),
    "maint_choose": ("— 対象を選ぶ —", "— choose —"),
    "maint_city": ("市内全域 (全アクセスポイント)", "whole city (every access point)"),
    "maint_city_confirm": ("市内全域の通知を止めることを確認しました", "I mean to silence the whole city"),
    "maint_city_help": ("市内全域を選ぶと、期間中はすべての停止通知が止まります。",
                        "The whole city silences every outage alert for the window."),
    "opendata": ("オープンデータ", "Open data"),
    "opendata_sites": ("公衆無線LANアクセスポイント一覧", "Public Wi-Fi access point list"),
    "opendata_usage": ("月別利用状況", "Monthly usage"),
    "opendata_visitors": ("時間別の認証回数・利用端末数", "Logins and devices per hour"),
    "month": ("月 (YYYY-MM)", "Month (YYYY-MM)"),
    "report_archive": ("月報・年報", "Monthly and fiscal-year reports"),
    "report_dir": ("保存先", "Folder"),
    "file": ("ファイル", "File"),
    "format": ("形式", "Format"),
    "size": ("サイズ (バイト)", "Size (bytes)"),
    "written": ("作成日時", "Written"),
    "no_reports": ("まだ報告はありません (デーモンが毎月1日に前月分を作成します)。",
                   "No reports yet (the daemon writes last month's on the 1st)."),
    "plan_help": ("候補地を予算内で選びます。シナリオの数値の変更は設定ファイル (在庫) を変更しません。",
                  "Picks candidate sites within the budget. Figures edited in a scenario never change the inventory."),
    "scenario": ("シナリオ", "Scenario"),
    "compare": ("比較する", "compare"),
    "budget_yen": ("予算 (円)", "Budget (yen)"),
    "rounds": ("年度 (カンマ区切り)", "Rounds (fiscal years)"),
    "budget_per_round": ("年度ごとの予算 (円)", "Budget per round (yen)"),
    "count": ("年度ごとの最大箇所数", "Max sites per round"),
    "edit_candidates": ("候補地の数値を編集・強制・除外", "Edit, force or exclude candidates"),
    "candidate": ("候補地", "Candidate"),
    "visitors": ("年間来訪者", "Visitors a year"),
    "cost": ("費用 (円)", "Cost (yen)"),
    "force": ("必ず選ぶ", "Force"),
    "exclude": ("除外", "Exclude"),
    "run_scenario": ("計算する", "Run"),
    "export": ("書き出す", "Export"),
    "default_scenario": ("既定の予算", "default budget"),
    "plan_covered": ("新たにカバーする来訪者", "Newly covered visitors"),
    "per_year": ("人/年", "a year"),
    "budget_used": ("使用予算", "Budget used"),
    "yen": ("円", "yen"),
    "optimal": ("最適解 (証明済み)", "proven optimal"),
    "rank": ("順位", "Rank"),
    "selected": ("選定", "Picked"),
    "funded": ("整備", "fund"),
    "newly_covered": ("新規カバー (人/年)", "Newly covered / yr"),
    "plan_notes": ("計画の内訳と注意 (wifiwatch rank と同じ)", "The plan in words (as wifiwatch rank says it)"),
    "a_minus_b": ("シナリオ A − B の差", "Scenario A − B"),
    "diff_help": ("候補地ごとの計画への寄与 (選定地点の新規カバー、選定外は 0) と、その差 (A − B) です。行の差の合計が"
                  "全体の差になります。色付きの行は選定または年度が変わった候補地です。",
                  "What each site adds to each plan (a pick's newly covered visitors, 0 when not picked) and A − B; "
                  "the rows add up to the totals' difference. Shaded rows: picked in one only, or in another round."),
    "contribution": ("計画への寄与 (人/年)", "adds to the plan / yr"),
    "diff_total": ("合計", "Total"),
    "picks_count": ("選定箇所数", "Sites picked"),
    "not_picked": ("選定外", "not picked"),
    "export_ab": ("A・B と差を書き出す", "Export A, B and the difference"),
    "map_ab": ("地図 (シナリオ A・B)", "Map (scenarios A and B)"),
    "users": ("ユーザー", "Users"),
    "lang": ("言語", "Language"),
    "roles_help": ("閲覧者: 閲覧のみ / 運用担当: 障害の確認・保守 / 計画担当: 整備計画 / 管理者: すべてとユーザー管理",
                   "viewer: look / operator: acknowledge, maintenance / planner: scenarios / admin: all and users"),
    "audit_log": ("操作記録", "Audit log"),
    "action": ("操作", "Action"),
    "detail": ("内容", "Detail"),
    "msg_user_added": ("ユーザーを追加しました。", "User added."),
    "msg_user_saved": ("保存しました。", "Saved."),
    "msg_user_removed": ("ユーザーを削除しました。", "User removed."),
    "msg_sessions_ended": ("ログイン中のセッションを終了しました。", "Sessions ended."),
    "sessions": ("ログイン中", "Sessions"),
    "end_sessions": ("ログアウトさせる", "End them"),
    "msg_user_bad": ("変更できません", "Not changed"),
    "internal_error": ("内部エラーが発生しました (詳細はログに記録しました)。", "Internal error (logged)."),
    "no_data": ("この期間のデータはありません。", "No data in this period."),
    # roles (console.users.ROLES), shown instead of the stored code
    "role_viewer": ("閲覧者", "viewer"),
    "role_operator": ("運用担当", "operator"),
    "role_planner": ("計画担当", "planner"),
    "role_admin": ("管理者", "admin"),
    "lang_ja": ("日本語", "Japanese"),
    "lang_en": ("英語", "English"),
    # a refused guard (console.auth.logged_in): what the role may not do
    "forbidden_detail": ("「{role}」の権限では「{need}」はできません。", "Role {role} may not {need}."),
    "can_users": ("ユーザー・通知設定の管理", "users"),
    "can_ack": ("障害の確認・当番表の変更", "ack"),
    "can_maintenance": ("保守期間の変更", "maintenance"),
    "can_plan": ("整備計画の計算", "plan"),
    # rota form errors (console/pages/incidents.py add_shift)
    "rota_err_channel": ("その通知先はありません", "no alert channel {0!r}"),
    "rota_err_site": ("その施設は登録されていません", "no site {0!r}"),
    "rota_err_weekdays": ("曜日を選んでください", "choose the weekdays"),
    "rota_err_time": ("時刻は 08:30 のように 時:分 で入力してください", "times are HH:MM, e.g. 08:30"),
    "rota_err_same": ("開始と終了が同じ時刻です", "start and end are the same time"),
    "wd_short_mon": ("月", "Mon"), "wd_short_tue": ("火", "Tue"), "wd_short_wed": ("水", "Wed"),
    "wd_short_thu": ("木", "Thu"), "wd_short_fri": ("金", "Fri"), "wd_short_sat": ("土", "Sat"),
    "wd_short_sun": ("日", "Sun"),
    # 管理's audit log: the action codes console.users.audit stores
    "audit_ack": ("障害の確認", "ack"),
    "audit_comment": ("障害へのコメント", "comment"),
    "audit_rota-add": ("当番の追加", "rota-add"),
    "audit_rota-remove": ("当番の削除", "rota-remove"),
    "audit_maintenance-add": ("保守期間の追加", "maintenance-add"),
    "audit_maintenance-edit": ("保守期間の変更", "maintenance-edit"),
    "audit_maintenance-end": ("保守期間の終了", "maintenance-end"),
    "audit_maintenance-cancel": ("保守期間の取り消し", "maintenance-cancel"),
    "audit_plan-scenario": ("整備計画の計算", "plan-scenario"),
    "audit_opendata-export": ("オープンデータの書き出し", "opendata-export"),
    "audit_user-add": ("ユーザーの追加", "user-add"),
    "audit_user-role": ("権限の変更", "user-role"),
    "audit_user-passwd": ("パスワードの変更", "user-passwd"),
    "audit_user-remove": ("ユーザーの削除", "user-remove"),
    "audit_session-revoke": ("セッションの終了", "session-revoke"),
    "audit_login": ("ログイン", "login"),
    "audit_login-failed": ("ログイン失敗", "login-failed"),
    "audit_login-sso": ("ログイン (シングルサインオン)", "login-sso"),
    "audit_logout": ("ログアウト", "logout"),
    "audit_alert-thresholds": ("しきい値の変更", "alert-thresholds"),
    "audit_channel-add": ("通知先の追加", "channel-add"),
    "audit_channel-edit": ("通知先の変更", "channel-edit"),
    "audit_channel-remove": ("通知先の削除", "channel-remove"),
    "audit_alert-test": ("テスト送信", "alert-test"),
    "audit_incident": ("障害", "incident"),
    "audit_shift": ("当番", "shift"),
    "audit_sent": ("送信済み", "sent"),
    "audit_failed": ("送信失敗", "failed"),
    "audit_from": ("接続元", "from"),
    "audit_header": ("ヘッダー", "header"),
    "audit_sessions": ("件のセッション", "sessions"),
    "msgkind_down": ("停止", "down"),
    "msgkind_up": ("復旧", "up"),
    "msgkind_reminder": ("再通知", "reminder"),
    "msgkind_escalation": ("エスカレーション", "escalation"),
    "msgkind_test": ("テスト", "test"),
    "msgkind_degraded": ("品質低下", "degraded"),
    "msgkind_flapping": ("不安定", "flapping"),
    "msgkind_site_down": ("施設停止", "site down"),
    # console/users.py UserError, as 管理 shows it
    "user_err_name": ("ユーザー名は英数字と . _ @ - で 1〜64 文字 (先頭は英数字) にしてください",
                      "user name: 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"),
    "user_err_role": ("権限を一覧から選んでください", "choose a role from the list"),
    "user_err_short": ("パスワードは {0} 文字以上にしてください", "password: at least {0} characters"),
    "user_err_long": ("パスワードは {0} 文字以下にしてください", "password: at most {0} characters"),
    "user_err_lang": ("言語は日本語か英語を選んでください", "lang must be ja or en"),
    "user_err_exists": ("ユーザー「{0}」は既にあります", "user {0!r} already exists"),
    "user_err_unknown": ("ユーザー「{0}」はありません", "no user {0!r}"),
    "user_err_last_admin": ("最後の管理者は削除・変更できません (先に別の管理者を追加してください)",
                            "the last admin cannot be removed or demoted (add another admin first)"),
    "clients_from_sessions": ("(セッション)", "(sessions)"),
    "clients_from_sessions_help": ("この AP の接続数は、利用者のセッション (RADIUS・syslog) から数えています。",
                                   "This AP's client count comes from its open visitor sessions (RADIUS, syslog)."),
}


def translator(lang: str) -> Callable[[str], str]:
    i = 1 if lang == "en" else 0

    def t(key: str) -> str:
        pair = WORDS.get(key)
        return pair[i] if pair else key

    return t


STATE_KEYS = {"up": "up", "degraded": "degraded", "down": "down", "maintenance": "maint", "unknown": "unknown",
              "stale": "stale"}
# the state words are core.state's (one place for every view), capitalised for English headings
WORDS.update({key: (st.LABELS[state][0], st.LABELS[state][1].capitalize()) for state, key in STATE_KEYS.items()})
WORDS.update({
    "data_at": ("データ取得", "Data taken"),
    "monitor_live": (st.MONITOR_LABELS["live"][0], st.MONITOR_LABELS["live"][1].capitalize()),
    "monitor_stale": (st.MONITOR_LABELS["stale"][0], st.MONITOR_LABELS["stale"][1].capitalize()),
    "monitor_no_data": (st.MONITOR_LABELS["no_data"][0], st.MONITOR_LABELS["no_data"][1].capitalize()),
    "offline": ("監視コンソールに接続できません: 表示は最終更新時点のものです", "Cannot reach the console: this is the "
                "last view it sent"),
    "uplinks": ("上位回線", "Uplinks"),
    "last_heartbeat": ("最終確認", "Last heartbeat"),
    "history_outage": ("記録から検出", "found in stored history"),
    "history_outages": ("記録から検出した停止", "Outages found in stored history"),
    "history_outages_help": ("保存された死活監視データにある停止のうち、障害として記録されていないものです "
                             "(報告の停止回数・稼働率に含まれます。通知はされていません)。",
                             "Outages in the stored heartbeat data that no incident records (the reports count and "
                             "time them; nobody was notified)."),
    "duration_min": ("継続 (分)", "Minutes"),
    "compact_help": ("AP の数が多いため、稼働中でない AP のある施設と、その AP だけを表示しています。"
                     "施設名から全 AP を表示できます。",
                     "A large fleet: only the sites with an AP that is not up, and those APs, are listed. "
                     "A site's name opens all of its APs."),
    "quiet_sites": ("すべて稼働中の施設", "Sites with every AP up"),
    "loading": ("グラフと障害の記録を読み込み中…", "Loading the charts and the timeline…"),
    "simulated": ("模擬データ", "simulated data"),
})


_WEEKDAY_LIST = re.compile(r"\b((?:mon|tue|wed|thu|fri|sat|sun)(?:,(?:mon|tue|wed|thu|fri|sat|sun))*)\b")
_THRESHOLD_CHANGE = re.compile(r"\b([a-z_]+) (\S+) -> (\S+)")


def audit_text(action: str, target: str, detail: str, lang: str) -> tuple[str, str, str]:
    """管理's audit row in the reader's language: (action, target, detail). The log stores codes and English
    fragments (``ack``, ``incident 5``, ``role viewer``, ``mon,tue``); a Japanese reader gets their words, with
    whatever free text the user typed left as typed. Unknown codes are shown as stored, never dropped."""
    t = translator(lang)
    label = t("audit_" + action)
    if lang != "ja":
        return action, target, detail
    label = action if label == "audit_" + action else label
    kind, _, rest = target.partition(" ")
    if kind in ("incident", "shift") and rest.isdigit():
        target = f"{t('audit_' + kind)} {rest}"
    elif target == "alerts":
        target = t("alerts_thresholds")
    elif target == "map":
        target = t("map")
    if action == "user-role" and detail in ROLE_CODES:
        detail = t("role_" + detail)
    elif action == "user-add" and detail.startswith("role ") and detail[5:] in ROLE_CODES:
        detail = f"{t('role')} {t('role_' + detail[5:])}"
    elif action == "alert-test" and detail in ("sent", "failed"):
        detail = t("audit_" + detail)
    elif action == "session-revoke" and detail.endswith(" sessions"):
        detail = detail[: -len(" sessions")] + t("audit_sessions")
    elif action in ("login-failed", "login-sso"):
        detail = detail.replace("header ", t("audit_header") + " ").replace("from ", t("audit_from") + " ")
    elif action == "rota-add":
        detail = _WEEKDAY_LIST.sub(lambda m: "・".join(t("wd_short_" + d) for d in m[1].split(",")), detail)
    elif action == "alert-thresholds":
        detail = _THRESHOLD_CHANGE.sub(lambda m: f"{t('th_' + m[1])} {m[2]} → {m[3]}", detail)
    elif action in ("channel-add", "channel-edit"):
        detail = "、".join(_channel_field(k.strip(), t) for k in detail.split(",") if k.strip())
    return label, target, detail


def _channel_field(key: str, t: Callable[[str], str]) -> str:
    for word in ("channel_" + key, key, key.removeprefix("smtp_")):
        got = t(word)
        if got != word:
            return ("SMTP " + got) if key in ("smtp_host", "smtp_port") else got
    return key


ROLE_CODES = ("viewer", "operator", "planner", "admin")
