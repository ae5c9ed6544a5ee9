"""Upload the dashboards to a running Grafana with grafana-client: folder once, dashboards with overwrite.

Idempotent: the folder is looked up by its fixed uid and created only when missing; dashboards have fixed
uids and are posted with ``overwrite`` so a second push updates them in place. Every failure becomes one
:class:`UserError` line naming the URL (credentials stripped) and what to fix; the token is a
:class:`Secret`, so it is masked even if a server echoes it back.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from core.secrets import Secret
from wifiwatch.common import UserError
from wifiwatch.grafana.dashboards import DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID

_MSG = {
    "no_url": ("環境変数 GRAFANA_URL が未設定です（例: http://127.0.0.1:3000）",
               "GRAFANA_URL is not set (e.g. http://127.0.0.1:3000)"),
    "bad_url": ("GRAFANA_URL={url}: http:// か https:// で始まる URL を指定してください",
                "GRAFANA_URL={url}: must be an http:// or https:// URL"),
    "no_token": ("環境変数 GRAFANA_TOKEN が未設定です（Grafana のサービスアカウントトークン、Editor 権限以上）",
                 "GRAFANA_TOKEN is not set (a Grafana service account token with at least Editor role)"),
    "401": ("{url}: Grafana がトークンを拒否しました (HTTP 401)。GRAFANA_TOKEN を確認してください",
            "{url}: Grafana rejected the token (HTTP 401); check GRAFANA_TOKEN"),
    "403": ("{url}: トークンの権限が不足しています (HTTP 403)。フォルダとダッシュボードの編集権限が必要です",
            "{url}: the token lacks permission (HTTP 403); it needs to create folders and dashboards"),
    "http": ("{url}: Grafana がエラーを返しました (HTTP {status}): {detail}",
             "{url}: Grafana answered with an error (HTTP {status}): {detail}"),
    "conn": ("{url}: Grafana に接続できません: {detail}", "{url}: cannot reach Grafana: {detail}"),
    "no_dash": ("{dir}: ダッシュボードの JSON がありません", "{dir}: no dashboard JSON files"),
    "bad_json": ("{file}:{line}: JSON として読めません: {detail}", "{file}:{line}: not valid JSON: {detail}"),
    "no_uid": ("{file}: dashboard.uid がありません（冪等に更新するには固定の uid が必要です）",
               "{file}: no dashboard uid (a fixed uid is what makes updates idempotent)"),
}


def msg(key: str, lang: str, **kw: Any) -> str:
    ja, en = _MSG[key]
    return (en if lang == "en" else ja).format(**kw)


@dataclass(frozen=True)
class Target:
    url: str
    token: Secret

    @property
    def shown(self) -> str:
        return shown_url(self.url)


def shown_url(url: str) -> str:
    """The URL without user:password, query or fragment, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.netloc.rpartition(":")[2] if ":" in parts.netloc.rpartition("@")[2] else ""
    return urlunsplit((parts.scheme, f"{host}:{port}" if port else host, parts.path, "", ""))


@dataclass
class PushResult:
    folder_created: bool
    dashboards: list[str] = field(default_factory=list)  # uids, in push order


def target_from_env(env: Mapping[str, str], lang: str = "ja") -> Target:
    url = env.get("GRAFANA_URL", "").strip()
    if not url:
        raise UserError(msg("no_url", lang))
    try:
        ok = urlsplit(url).scheme in ("http", "https") and bool(urlsplit(url).hostname) and (
            urlsplit(url).port or True)
    except ValueError:  # a port that is not a number
        ok = False
    if not ok:
        raise UserError(msg("bad_url", lang, url=shown_url(url)))
    token = env.get("GRAFANA_TOKEN", "").strip()
    if not token:
        raise UserError(msg("no_token", lang))
    return Target(url.rstrip("/"), Secret(token, "env:GRAFANA_TOKEN"))


def load_dashboards(directory: Path, lang: str = "ja") -> dict[str, dict[str, Any]]:
    """File name -> dashboard model; a broken file is reported with its name and line."""
    files = sorted(directory.glob("*.json"))
    if not files:
        raise UserError(msg("no_dash", lang, dir=directory))
    out: dict[str, dict[str, Any]] = {}
    for p in files:
        try:
            model = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise UserError(msg("bad_json", lang, file=p, line=e.lineno, detail=e.msg)) from None
        if not isinstance(model, dict) or not model.get("uid"):
            raise UserError(msg("no_uid", lang, file=p))
        out[p.name] = model
    return out


def with_datasource(model: dict[str, Any], uid: str) -> dict[str, Any]:
    """A copy whose InfluxDB datasource references point at ``uid`` (an existing Grafana's own datasource)."""
    if uid == DATASOURCE_UID:
        return model

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("type") == "influxdb" and node.get("uid") == DATASOURCE_UID:
                return {**node, "uid": uid}
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out: dict[str, Any] = walk(copy.deepcopy(model))
    return out


def _api(target: Target, timeout_s: float) -> Any:
    from grafana_client import GrafanaApi

    parts = urlsplit(target.url)
    prefix = parts.path.strip("/")
    # from_url() drops the slash between a sub-path and "api"; build the client ourselves.
    return GrafanaApi(auth=target.token.reveal(), host=parts.hostname, port=parts.port, protocol=parts.scheme,
                      url_path_prefix=f"{prefix}/" if prefix else "", timeout=timeout_s)


def push(target: Target, dashboards: Mapping[str, dict[str, Any]], lang: str = "ja",
         datasource_uid: str = DATASOURCE_UID, folder_uid: str = FOLDER_UID, folder_title: str = FOLDER_TITLE,
         timeout_s: float = 10.0) -> PushResult:
    import niquests
    from grafana_client.client import GrafanaClientError, GrafanaException, GrafanaUnauthorizedError

    api = _api(target, timeout_s)
    try:
        try:
            api.folder.get_folder(folder_uid)
            created = False
        except GrafanaClientError as e:
            if e.status_code != 404:
                raise
            api.folder.create_folder(folder_title, uid=folder_uid)
            created = True
        result = PushResult(created)
        for model in dashboards.values():
            body = with_datasource(model, datasource_uid)
            body = {**body, "id": None}  # Grafana matches on uid; a stale numeric id would be refused
            api.dashboard.update_dashboard({"dashboard": body, "folderUid": folder_uid, "overwrite": True,
                                            "message": "wifiwatch grafana push"})
            result.dashboards.append(str(body["uid"]))
        return result
    except GrafanaUnauthorizedError:
        raise UserError(msg("401", lang, url=target.shown)) from None
    except GrafanaException as e:
        if e.status_code == 403:
            raise UserError(msg("403", lang, url=target.shown)) from None
        if not e.status_code:  # transport failure wrapped by grafana-client
            raise UserError(msg("conn", lang, url=target.shown, detail=_reason(e.message))) from None
        raise UserError(msg("http", lang, url=target.shown, status=e.status_code,
                            detail=_one_line(e.message))) from None
    except niquests.exceptions.RequestException as e:
        raise UserError(msg("conn", lang, url=target.shown, detail=_reason(str(e)))) from None


def _reason(text: str) -> str:
    """The OS-level cause ("Connection refused") out of urllib3's nested retry message, when there is one."""
    m = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if m:
        return m.group(1).strip()
    m = re.search(r"Caused by (\w+)", text)
    return m.group(1) if m else _one_line(text)


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
