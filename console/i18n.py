"""The console's words, Japanese first; a user may switch to English (kept per user)."""

from __future__ import annotations

from collections.abc import Callable

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
    "status": ("状況", "Status"),
    "incidents": ("障害", "Incidents"),
    "maintenance": ("保守", "Maintenance"),
    "reports": ("報告", "Reports"),
    "planning": ("整備計画", "Planning"),
    "map": ("地図", "Map"),
    "admin": ("管理", "Admin"),
    "site": ("施設", "Site"),
    "ap": ("アクセスポイント", "Access point"),
    "state": ("状態", "State"),
    "clients": ("接続数", "Clients"),
    "since": ("この状態になった時刻", "Since"),
    "open_incidents": ("未解決の障害", "Open incidents"),
    "updated": ("更新", "Updated"),
    "up": ("稼働", "Up"),
    "degraded": ("品質低下", "Degraded"),
    "down": ("停止", "Down"),
    "maint": ("保守中", "Maintenance"),
    "unknown": ("不明", "Unknown"),
    "uplink": ("上位回線", "Uplink"),
    "none": ("なし", "none"),
    "language": ("English", "日本語"),
    "role": ("権限", "Role"),
    "forbidden": ("この操作の権限がありません。", "You are not allowed to do this."),
    "summary": ("概要", "Summary"),
    "devices": ("台", "devices"),
    "auto_refresh": ("自動更新", "Auto refresh"),
}


def translator(lang: str) -> Callable[[str], str]:
    i = 1 if lang == "en" else 0

    def t(key: str) -> str:
        pair = WORDS.get(key)
        return pair[i] if pair else key

    return t


STATE_KEYS = {"up": "up", "degraded": "degraded", "down": "down", "maintenance": "maint", "unknown": "unknown"}
