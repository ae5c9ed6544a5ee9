"""Login, logout and the per-user language switch."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.concurrency import sync_to_thread
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from console.auth import LoginRefused, current_user, log_in, logged_in, user_of, verify_login
from console.render import page

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


def safe_next(target: str | None) -> str:
    """Only a path on this site: never an absolute or protocol-relative URL (open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@get("/login", sync_to_thread=False)
def login_form(request: Request[Any, Any, Any], next: str | None = None) -> Template | Redirect:  # noqa: A002
    if current_user(request) is not None:
        return Redirect(safe_next(next), status_code=303)
    return page(request, "login.html", next=safe_next(next), error=None)


@post("/login")
async def login(request: Request[Any, Any, Any], data: Form) -> Template | Redirect:
    """Async, so that a login waiting for the password-hashing slot (console.auth.HashGate) holds no worker
    thread; the store's work runs in one."""
    ctx = request.app.state.console
    name, password = data.get("user", "").strip(), data.get("password", "")
    try:
        user = await verify_login(request, name, password) if name and password else None
    except LoginRefused as e:  # hashing busy, or this name backing off: not tried, no hashing spent
        return page(request, "login.html", status_code=e.status, next=safe_next(data.get("next")), error=e.key)
    if user is None:
        peer = request.client.host if request.client else "-"
        await sync_to_thread(ctx.users.audit, name[:64] or "-", "login-failed", detail=f"from {peer}")
        return page(request, "login.html", status_code=401, next=safe_next(data.get("next")), error="login_failed")
    await sync_to_thread(log_in, request, user)
    await sync_to_thread(ctx.users.audit, user.name, "login")
    return Redirect(safe_next(data.get("next")), status_code=303)


@post("/logout", guards=[logged_in], sync_to_thread=True)
def logout(request: Request[Any, Any, Any]) -> Redirect:
    request.app.state.console.users.audit(user_of(request).name, "logout")
    request.clear_session()
    return Redirect("/login", status_code=303)


@post("/lang", guards=[logged_in], sync_to_thread=True)
def switch_language(request: Request[Any, Any, Any], data: Form) -> Redirect:
    user = user_of(request)
    request.app.state.console.users.set_lang(user.name, "en" if user.lang == "ja" else "ja")
    return Redirect(safe_next(data.get("back")), status_code=303)


handlers = [login_form, login, logout, switch_language]
