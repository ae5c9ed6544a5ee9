"""``wifiwatch sim``: the simulated fleet on loopback (start, stop, down/up one device, status)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from core.secrets import SecretError
from wifiwatch.common import ConfigOpt, UserError, console, load_inventory, resolver_for

StateOpt = Annotated[Path, typer.Option("--state-dir", help="Where the fleet keeps its agents' state")]


def _fleet(config: Path | None, state_dir: Path):  # type: ignore[no-untyped-def]
    from wifiwatch.sim.fleet import Fleet

    inv = load_inventory(config)
    return Fleet(inv, resolver_for(inv, config), state_dir)


def register(app: typer.Typer) -> None:
    sim = typer.Typer(help="Simulated AP fleet on loopback (real SNMP agents)", no_args_is_help=True)
    app.add_typer(sim, name="sim")

    @sim.command("start")
    def start(config: ConfigOpt = None, state_dir: StateOpt = Path("var/sim")) -> None:
        """Start one SNMP agent per AP and uplink; they keep running until `sim stop`."""
        from wifiwatch.sim.fleet import SimError

        try:
            _fleet(config, state_dir).start()
        except (SimError, SecretError) as e:
            raise UserError(str(e)) from None
        _print_status(config, state_dir)

    @sim.command("stop")
    def stop(config: ConfigOpt = None, state_dir: StateOpt = Path("var/sim")) -> None:
        """Stop every agent and remove the simulator's firewall entries."""
        _fleet(config, state_dir).stop()
        console.print("simulated fleet stopped")

    @sim.command("down")
    def down(ap: str, config: ConfigOpt = None, state_dir: StateOpt = Path("var/sim")) -> None:
        """Unplug one device: ICMP and SNMP go silent (SNMP only without nftables)."""
        from wifiwatch.sim.fleet import SimError

        try:
            how = _fleet(config, state_dir).down(ap)
        except SimError as e:
            raise UserError(str(e)) from None
        console.print(f"{ap}: down ({'ICMP and SNMP dropped' if how == 'nft' else 'agent paused; ICMP still answers'})")

    @sim.command("up")
    def up(ap: str, config: ConfigOpt = None, state_dir: StateOpt = Path("var/sim")) -> None:
        """Plug a device back in."""
        from wifiwatch.sim.fleet import SimError

        try:
            _fleet(config, state_dir).up(ap)
        except SimError as e:
            raise UserError(str(e)) from None
        console.print(f"{ap}: up")

    @sim.command("status")
    def status(config: ConfigOpt = None, state_dir: StateOpt = Path("var/sim"),
               lang: Annotated[str, typer.Option("--lang", help="ja or en")] = "ja") -> None:
        """List the simulated devices, their addresses, recordings and state."""
        _print_status(config, state_dir, lang)


def _print_status(config: Path | None, state_dir: Path, lang: str = "ja") -> None:
    from wifiwatch.labels import check_lang, label, labels

    check_lang(lang)
    rows = _fleet(config, state_dir).status()
    title = "模擬機器群 (シミュレーター)" if lang == "ja" else "simulated fleet"
    if not rows:
        console.print(f"{title}: " + ("起動していません (not running)" if lang == "ja" else "not running"))
        return
    table = Table(title=title)
    for col in labels(("device", "site", "role", "address", "recording", "pid", "state"), lang):
        table.add_column(col, no_wrap=True)
    for r in rows:
        state = "down" if r["down"] else ("up" if r["alive"] else "dead")
        table.add_row(str(r["id"]), str(r["site"]), label(str(r["role"]), lang), f"{r['host']}:{r['port']}",
                      str(r["recording"]), str(r["pid"]), label(state, lang))
    console.print(table)
