"""Japanese for config problems: pydantic's error types, and the messages of the inventory's own validators.

check-config speaks Japanese by default. pydantic's messages are English, so each error type gets a
Japanese sentence from its context; a validator's English message is matched against known patterns.
Anything not listed keeps its English text rather than losing it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any


def _n(v: Any) -> Any:
    """0.0 reads as 0: bounds are floats in pydantic's context."""
    return f"{v:g}" if isinstance(v, float) else v


_TYPES: dict[str, Callable[[dict[str, Any]], str]] = {
    "missing": lambda c: "必須の項目がありません",
    "extra_forbidden": lambda c: "この項目名はありません (綴りを確認してください)",
    "int_parsing": lambda c: "整数を指定してください",
    "int_type": lambda c: "整数を指定してください",
    "int_from_float": lambda c: "整数を指定してください (小数は使えません)",
    "float_parsing": lambda c: "数値を指定してください",
    "float_type": lambda c: "数値を指定してください",
    "bool_parsing": lambda c: "true か false を指定してください",
    "bool_type": lambda c: "true か false を指定してください",
    "string_type": lambda c: "文字列 (\"...\") を指定してください",
    "list_type": lambda c: "配列 ([...]) を指定してください",
    "tuple_type": lambda c: "配列 ([...]) を指定してください",
    "dict_type": lambda c: "テーブル ([...] の節) を指定してください",
    "model_type": lambda c: "テーブル ([...] の節) を指定してください",
    "model_attributes_type": lambda c: "テーブル ([...] の節) を指定してください",
    "greater_than": lambda c: f"{_n(c.get('gt'))} より大きい値にしてください",
    "greater_than_equal": lambda c: f"{_n(c.get('ge'))} 以上にしてください",
    "less_than": lambda c: f"{_n(c.get('lt'))} より小さい値にしてください",
    "less_than_equal": lambda c: f"{_n(c.get('le'))} 以下にしてください",
    "literal_error": lambda c: f"次のいずれかを指定してください: {c.get('expected')}",
    "enum": lambda c: f"次のいずれかを指定してください: {c.get('expected')}",
    "string_pattern_mismatch": lambda c: "使えない文字があります (英小文字・数字・'-'・'_' で指定してください)",
    "string_too_short": lambda c: f"{c.get('min_length')} 文字以上にしてください",
    "string_too_long": lambda c: f"{c.get('max_length')} 文字以下にしてください",
    "too_short": lambda c: f"{c.get('min_length')} 個以上指定してください",
    "too_long": lambda c: f"{c.get('max_length')} 個以下にしてください",
    "datetime_parsing": lambda c: "日時は 2026-12-01T02:00:00 の形で指定してください",
    "datetime_from_date_parsing": lambda c: "日時は 2026-12-01T02:00:00 の形で指定してください",
    "datetime_type": lambda c: "日時は 2026-12-01T02:00:00 の形で指定してください",
    "time_parsing": lambda c: "時刻は 02:00 の形で指定してください",
    "time_type": lambda c: "時刻は 02:00 の形で指定してください",
    "finite_number": lambda c: "有限の数値を指定してください",
    "recursion_loop": lambda c: "入れ子が深すぎます",
}

_VALUES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"must be a secret reference"), lambda m: "秘密情報は 'env:変数名' か 'file:キー' で参照してください"
     " (設定ファイルに直接書けません)"),
    (re.compile(r"^(lat|lon) (\S+) is outside Japan \((.*)\)$"),
     lambda m: f"{m[1]} {m[2]} は日本の範囲外です ({m[3]})"),
    (re.compile(r"^SNMP v2c needs 'community'"), lambda m: "SNMP v2c には community (env:... の参照) が必要です"),
    (re.compile(r"^SNMP v3 needs 'user'"), lambda m: "SNMP v3 には user が必要です"),
    (re.compile(r"^SNMP v3 with authentication needs 'auth_key'"), lambda m: "SNMP v3 の認証には auth_key が必要です"),
    (re.compile(r"^SNMP v3 with privacy needs 'priv_key'"), lambda m: "SNMP v3 の暗号化には priv_key が必要です"),
    (re.compile(r"^SNMP v3 privacy requires authentication"),
     lambda m: "SNMP v3 の暗号化には認証が必要です (authPriv)"),
    (re.compile(r"^host must be"), lambda m: "host は空白を含まない IP アドレスかホスト名にしてください"),
    (re.compile(r"^email channel needs"), lambda m: "メールの通知先には smtp_host、sender、to が必要です"),
    (re.compile(r"^(\w+) channel needs url$"), lambda m: f"{m[1]} の通知先には url が必要です"),
    (re.compile(r"^a webhook URL is a secret"),
     lambda m: "Webhook の URL は秘密情報です (知っている人は誰でも市として投稿できます)。env:変数名 か file:キー で"
               "参照として指定してください"),
    (re.compile(r"^escalate_channel '(.*)' is not one of the alert channels"),
     lambda m: f"escalate_channel の '{m[1]}' は通知先にありません"),
    (re.compile(r"^escalation needs both"),
     lambda m: "エスカレーションには escalate_after_min と escalate_channel の両方が必要です"),
    (re.compile(r"^the file is too large to edit here"), lambda m: "ファイルが大きすぎるため、ここでは編集できません"),
    (re.compile(r"^a channel needs a name"), lambda m: "通知先には名前が必要です"),
    (re.compile(r"^no channel '(.*)'$"), lambda m: f"通知先 '{m[1]}' はありません"),
    (re.compile(r"^'(.*)' is not a whole number$"), lambda m: f"'{m[1]}' は整数ではありません"),
    (re.compile(r"^'(.*)' is not a number$"), lambda m: f"'{m[1]}' は数値ではありません"),
    (re.compile(r"^'(.*)' is not an http:// or https:// URL"),
     lambda m: f"'{m[1]}' は http:// か https:// の URL ではありません (通知のリンクは受け手の端末で開ける必要があり、"
               "file:// はサーバー上にしかありません)"),
    (re.compile(r"^give either start and end, or weekday"),
     lambda m: "start と end、または weekday と start_time と end_time のどちらかを指定してください"),
    (re.compile(r"^a one-off window needs start < end"), lambda m: "end は start より後にしてください"),
    (re.compile(r"^a weekly window needs"), lambda m: "毎週の時間帯には weekday、start_time、end_time が必要です"),
    (re.compile(r"^binding the HTTP endpoint off loopback requires 'token'"),
     lambda m: "HTTP をループバック以外で待ち受けるには token が必要です"),
    (re.compile(r"^shard must be"), lambda m: "shard は 'i/n' (0 <= i < n、例 '0/2') の形にしてください"),
    (re.compile(r"^cluster.redis must not carry a password"),
     lambda m: "cluster.redis の URL にパスワードを書かないでください: password = \"env:変数名\" か \"file:キー\" で"
               "参照として指定してください"),
    (re.compile(r"^cluster.redis '(.*)' is not redis://HOST:PORT/DB"),
     lambda m: f"cluster.redis の '{m[1]}' は redis://ホスト:ポート/DB番号 の形ではありません"),
    (re.compile(r"^cluster.name '(.*)' must be"),
     lambda m: f"cluster.name の '{m[1]}' は英数字と '.'、'_'、'-' の 1〜63 文字にしてください"),
    (re.compile(r"^cluster.shard and cluster.redis exclude each other"),
     lambda m: "cluster.shard と cluster.redis は同時に使えません: redis ではグループが AP を割り当てるので shard を"
               "削除してください"),
    (re.compile(r"^'(.*)' is not (\d+) ASCII digits$"), lambda m: f"'{m[1]}' は {m[2]} 桁の数字ではありません"),
    (re.compile(r"^check digit of '(.*)' should be (\d)"), lambda m: f"'{m[1]}' の検査数字は {m[2]} のはずです"),
    (re.compile(r"^'(.*)' is not a prefecture code"), lambda m: f"'{m[1]}' は都道府県コード (01〜47) ではありません"),
    (re.compile(r"^unknown field"), lambda m: "この項目名はありません (綴りを確認してください)"),
    (re.compile(r"^required field is missing"), lambda m: "必須の項目がありません"),
    (re.compile(r"^no SNMP settings"),
     lambda m: "SNMP の設定がありません: [snmp] を全体・拠点・AP のいずれかに書いてください"),
    (re.compile(r"^'(.*)' is not a valid IPv4 address"),
     lambda m: f"'{m[1]}' は正しい IPv4 アドレスではありません (0〜255 の数 4 つ)"),
    (re.compile(r"^'(.*)' is not a valid IPv6 address"), lambda m: f"'{m[1]}' は正しい IPv6 アドレスではありません"),
    (re.compile(r"^'(.*)' is not a valid host name"),
     lambda m: f"'{m[1]}' は正しいホスト名ではありません (英数字と '-' を '.' で区切ったもの)"),
    (re.compile(r"^(\w+) (\S+) s is shorter than timeout_s x \(retries \+ 1\) = (\S+) s"),
     lambda m: f"{m[1]} {m[2]} 秒が timeout_s x (retries + 1) = {m[3]} 秒より短いです: "
               "応答の遅い機器があると周期が重なり、取りこぼします"),
    (re.compile(r"^duplicate maintenance id"), lambda m: "保守時間帯の ID が重複しています"),
    (re.compile(r"^no site or AP with id '(.*)'"), lambda m: f"ID '{m[1]}' の拠点や AP はありません"),
    (re.compile(r"^duplicate channel name"), lambda m: "通知先の名前が重複しています"),
    (re.compile(r"^malformed TOML: (.*)$"), lambda m: f"TOML の書き方に誤りがあります: {m[1]}"),
    (re.compile(r"^nested too deeply"), lambda m: "入れ子が深すぎて読めません"),
    (re.compile(r"^file not found"), lambda m: "ファイルがありません"),
    (re.compile(r"^not UTF-8 text"), lambda m: "UTF-8 のテキストではありません"),
    (re.compile(r"^cannot read: (.*)$"), lambda m: f"読めません: {m[1]}"),
    # [visitors] and visitor_ids (issue 24)
    (re.compile(r"^'(.*)' is not HOST:PORT"),
     lambda m: f"'{m[1]}' は ホスト:ポート の形ではありません (例 \"0.0.0.0:1813\"、\"[::]:1813\")"),
    (re.compile(r"^radius_bind needs radius_secret"),
     lambda m: "radius_bind には radius_secret (env:変数名 か file:キー) が必要です: アカウンティング要求は共有秘密で"
               "認証します"),
    (re.compile(r"^visitor_ids: (.*) must be a MAC address or a NAS-Identifier"),
     lambda m: f"visitor_ids の {m[1]} は MAC アドレスか NAS-Identifier (1〜253 文字、1 行) にしてください"),
    (re.compile(r"^(\S+): visitor_ids '(.*)' is already given to (\S+)"),
     lambda m: f"{m[1]}: visitor_ids の '{m[2]}' は既に {m[3]} に指定されています (送信元は 1 台の AP を指す必要が"
               "あります)"),
]


def pydantic_ja(error_type: str, ctx: dict[str, Any] | None, english: str) -> str:
    """Japanese for one pydantic error; a validator's own message is looked up by :func:`message_ja`."""
    make = _TYPES.get(error_type)
    if make is not None:
        return make(ctx or {})
    return message_ja(english)


def message_ja(english: str) -> str:
    for pattern, ja in _VALUES:
        m = pattern.search(english)
        if m:
            return ja(m)
    return english
