"""管理 (admin only): console users and roles, and the audit log of every change made through the console."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from console.auth import logged_in, user_of
from console.i18n import audit_text, translator
from console.render import page
from console.users import ROLES, UserError

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


_USER_ERRORS = [(re.compile(p), key) for p, key in (
    (r"^user name: ", "user_err_name"), (r"^role must be", "user_err_role"),
    (r"^password: at least (\d+)", "user_err_short"), (r"^password: at most (\d+)", "user_err_long"),
    (r"^lang must", "user_err_lang"), (r"^user '(.*)' already exists", "user_err_exists"),
    (r"^no user '(.*)'$", "user_err_unknown"), (r"^the last admin", "user_err_last_admin"))]


def _why(request: Request[Any, Any, Any], e: UserError) -> str:
    """console.users' refusal (English, as the CLI prints it) in the admin's language."""
    lang = user_of(request).lang
    if lang == "ja":
        for pattern, key in _USER_ERRORS:
            m = pattern.match(str(e))
            if m:
                return translator(lang)(key).format(*m.groups())
    return str(e)


def _back(msg: str, detail: str = "") -> Redirect:
    return Redirect(f"/admin?msg={msg}" + (f"&detail={quote(detail[:200])}" if detail else ""), status_code=303)


@get("/admin", guards=[logged_in], opt={"can": "users"}, sync_to_thread=True)
def admin_page(request: Request[Any, Any, Any], msg: str = "", detail: str = "") -> Template:
    users = request.app.state.console.users
    return page(request, "admin.html", users=users.all(), roles=ROLES, audit=users.audit_log(300), msg=msg,
                detail=detail, sessions=users.session_counts(), audit_text=audit_text)


@post("/admin/users", guards=[logged_in], opt={"can": "users"}, sync_to_thread=True)
def add_user(request: Request[Any, Any, Any], data: Form) -> Redirect:
    users = request.app.state.console.users
    name = data.get("name", "").strip()
    try:
        users.add(name, data.get("password", ""), data.get("role", "viewer"), data.get("lang", "ja"))
    except UserError as e:
        return _back("user_bad", _why(request, e))
    users.audit(user_of(request).name, "user-add", name, f"role {data.get('role')}")
    return _back("user_added")


@post("/admin/users/{name:str}/role", guards=[logged_in], opt={"can": "users"}, sync_to_thread=True)
def set_role(request: Request[Any, Any, Any], name: str, data: Form) -> Redirect:
    users = request.app.state.console.users
    try:
        users.set_role(name, data.get("role", ""))
    except UserError as e:
        return _back("user_bad", _why(request, e))
    users.audit(user_of(request).name, "user-role", name, data.get("role", ""))
    return _back("user_saved")


@post("/admin/users/{name:str}/password", guards=[logged_in], opt={"can": "users"}, sync_to_thread=True)
def set_password(request: Request[Any, Any, Any], name: str, data: Form) -> Redirect:
    users = request.app.state.console.users
    try:
        users.set_password(name, data.get("password", ""))
    except UserError as e:
        return _back("user_bad", _why(request, e))
    users.audit(user_of(request).name, "user-passwd", name)
    return _back("user_saved")


@post("/admin/users/{name:str}/remove", guards=[logged_in], opt={"can": "users"}, sync_to_thread=True)
def remove_user(request: Request[Any, Any, Any], name: str) -> Redirect:
    users = request.app.state.console.users
    try:
        users.remove(name)
    except UserError as e:
        return _back("user_bad", _why(request, e))
    users.audit(user_of(request).name, "user-remove", name)
    return _back("user_removed")


@post("/admin/users/{name:str}/sessions/revoke", guards=[logged_in], opt={"can": "users"}, sync_to_thread=True)
def revoke_sessions(request: Request[Any, Any, Any], name: str) -> Redirect:
    """End every session of ``name`` now (as `wifiwatch users sessions NAME --revoke`)."""
    users = request.app.state.console.users
    try:
        n = users.revoke_sessions(name)
    except UserError as e:
        return _back("user_bad", _why(request, e))
    users.audit(user_of(request).name, "session-revoke", name, f"{n} sessions")
    return _back("sessions_ended")


handlers = [admin_page, add_user, set_role, set_password, remove_user, revoke_sessions]
