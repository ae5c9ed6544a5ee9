"""``wifiwatch web`` (the console alone, on an existing store) and ``wifiwatch users`` (console accounts)."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from wifiwatch.common import ConfigOpt, UserError, console, load_inventory, resolver_for

users_app = typer.Typer(help="Console accounts: add, passwd, remove, list, sessions (passwords from a prompt or stdin)",
                        no_args_is_help=True)

StdinOpt = Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin (scripts)")]


def read_password(from_stdin: bool) -> str:
    """From stdin (first line) or an interactive prompt typed twice; never from the command line."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise UserError("--password-stdin: nothing on stdin")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UserError("no terminal to prompt for the password: pipe it with --password-stdin")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise UserError("the two passwords differ")
    return first


def _users(config: Path | None):  # type: ignore[no-untyped-def]
    from console.users import UserStore

    inv = load_inventory(config)
    return UserStore(Path(inv.store.path))


def web_health(ctx: Any) -> dict[str, object]:
    """``/healthz`` of the console alone: failing while the store holds no live data (no daemon writes it, or it
    stopped), by the same rule every page uses to turn grey (core.state)."""
    from core.state import monitor_label

    m = ctx.monitor()
    body: dict[str, object] = {"ok": m["state"] == "live", "mode": "web", "monitor": m["state"],
                               "data_age_s": None if m["age_s"] is None else round(m["age_s"], 1)}
    if m["state"] != "live":
        body["failing"] = {"data": monitor_label(m["state"], "en")}
    return body


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")

    @app.command("web")
    def web(
        config: ConfigOpt = None,
        bind: Annotated[str | None, typer.Option("--bind", help="Address (default: [http] bind)")] = None,
        port: Annotated[int | None, typer.Option("--port", help="Port (default: [http] port)")] = None,
    ) -> None:
        """Serve the web console alone on an existing store (a reporting machine; no polling)."""
        import asyncio

        import uvicorn

        from collector.http import Slots, bind_socket, server_config
        from console.app import create_app
        from console.context import open_context
        from core.config import config_path
        from core.inventory import HttpSettings

        inv = load_inventory(config)
        if not Path(inv.store.path).exists():
            raise UserError(f"no store at {inv.store.path} ([store] path): run the daemon first, or copy its file")
        http = inv.http
        if bind is not None or port is not None:
            try:
                http = HttpSettings(bind=bind or http.bind, port=http.port if port is None else port, token=http.token)
            except ValueError as e:
                raise UserError(f"--bind/--port: {e}") from None
        resolver = resolver_for(inv, config)
        token = resolver.resolve(http.token).reveal() if http.token else None
        try:
            sock = bind_socket(http.bind, http.port)
        except OSError as e:
            raise UserError(f"cannot listen on {http.bind}:{http.port}: {e.strerror}") from None
        ctx = open_context(inv, resolver, token=token, config_path=config_path(config))
        ctx.health = lambda: web_health(ctx)
        host = f"[{http.bind}]" if ":" in http.bind else http.bind
        console.print(f"console: http://{host}:{sock.getsockname()[1]}/  (Ctrl-C stops)", highlight=False)
        if not ctx.users.all():
            console.print("no console user yet: add one with `wifiwatch users add NAME --role admin`",
                          highlight=False)
        server = uvicorn.Server(server_config(  # the daemon's limits and deadlines
            create_app(ctx), slots=Slots(exempt=tuple(inv.console.trusted_proxies))))
        asyncio.run(server.serve(sockets=[sock]))

    @users_app.command("add")
    def add(
        name: str,
        role: Annotated[str, typer.Option("--role", help="viewer, operator, planner or admin")] = "viewer",
        lang: Annotated[str, typer.Option("--lang", help="ja or en")] = "ja",
        config: ConfigOpt = None,
        password_stdin: StdinOpt = False,
    ) -> None:
        """Add a console user."""
        from console.users import UserError as BadUser

        store = _users(config)
        try:
            store.add(name, read_password(password_stdin), role, lang)
            store.audit("cli", "user-add", name, f"role {role}")
        except BadUser as e:
            raise UserError(str(e)) from None
        finally:
            store.close()
        console.print(f"added {name} ({role})", highlight=False)

    @users_app.command("passwd")
    def passwd(name: str, config: ConfigOpt = None, password_stdin: StdinOpt = False) -> None:
        """Set a user's password."""
        from console.users import UserError as BadUser

        store = _users(config)
        try:
            store.set_password(name, read_password(password_stdin))
            store.audit("cli", "user-passwd", name)
        except BadUser as e:
            raise UserError(str(e)) from None
        finally:
            store.close()
        console.print(f"password of {name} changed", highlight=False)

    @users_app.command("remove")
    def remove(name: str, config: ConfigOpt = None) -> None:
        """Remove a user (their sessions end at once, also in a running daemon)."""
        from console.users import UserError as BadUser

        store = _users(config)
        try:
            store.remove(name)
            store.audit("cli", "user-remove", name)
        except BadUser as e:
            raise UserError(str(e)) from None
        finally:
            store.close()
        console.print(f"removed {name}", highlight=False)

    @users_app.command("sessions")
    def sessions(
        name: str,
        revoke: Annotated[bool, typer.Option("--revoke", help="End every session of this user now")] = False,
        config: ConfigOpt = None,
    ) -> None:
        """A user's open console sessions (created, last seen, address, expiry; never the token); --revoke ends them."""
        from rich.table import Table

        from collector.alerts.engine import fmt_time
        from console.users import UserError as BadUser

        store = _users(config)
        try:
            if store.get(name) is None:
                raise UserError(f"no user {name!r}")
            if revoke:
                n = store.revoke_sessions(name)
                store.audit("cli", "session-revoke", name, f"{n} sessions")
                console.print(f"ended {n} sessions of {name}", highlight=False)
                return
            table = Table(title=f"console sessions of {name}")
            for col in ("session", "created (JST)", "last seen (JST)", "address", "expires (JST)"):
                table.add_column(col)
            for s in store.sessions(name):
                table.add_row(s.ref, fmt_time(s.created), fmt_time(s.last_seen), s.address or "-", fmt_time(s.expires))
            console.print(table)
        except BadUser as e:
            raise UserError(str(e)) from None
        finally:
            store.close()

    @users_app.command("list")
    def list_users(config: ConfigOpt = None) -> None:
        """List users and roles."""
        from rich.table import Table

        from collector.alerts.engine import fmt_time

        store = _users(config)
        try:
            table = Table(title="console users")
            for col in ("name", "role", "lang", "created (JST)"):
                table.add_column(col)
            for u in store.all():
                table.add_row(u.name, u.role, u.lang, fmt_time(u.created))
            console.print(table)
        finally:
            store.close()
