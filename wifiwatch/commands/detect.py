"""``wifiwatch detect AP_ID``: which vendor profile an AP gets, every candidate considered, and why one won."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from wifiwatch.common import ConfigOpt, UserError, console, fail, load_inventory, resolver_for
from wifiwatch.labels import check_lang

_TEXT = {
    "ja": {"title": "ベンダー判定", "profile": "プロファイル", "verdict": "判定", "chosen": "選択",
           "configured": "設定値", "unreachable": "SNMP 応答なし", "none": "候補なし (generic: IF-MIB のみ)"},
    "en": {"title": "vendor detection", "profile": "profile", "verdict": "verdict", "chosen": "chosen",
           "configured": "configured", "unreachable": "no SNMP answer", "none": "no candidate (generic: IF-MIB only)"},
}


def detect_ap(config: Any, ap_id: str) -> dict[str, Any]:
    """Ask the AP for sysObjectID and sysDescr, probe the candidates' signatures, return the explanation."""
    from collector.snmp.client import SnmpClient, SnmpError, as_text
    from collector.snmp.detect import detect
    from collector.snmp.poller import SYS_DESCR, SYS_OBJECT_ID, TargetError, target_for
    from collector.snmp.profiles import load_profiles
    from collector.snmp.types import Var

    inv = load_inventory(config)
    found: list[tuple[Any, Any]] = [(s, a) for s, a in inv.aps() if a.id == ap_id]
    found += [(inv.site(c.site), c) for c in inv.controllers if c.id == ap_id]  # a controller is detected alike
    if not found:
        known = ", ".join(a.id for _, a in inv.aps()[:10]) + (", ..." if len(inv.aps()) > 10 else "")
        raise UserError(f"{ap_id}: no such AP in the inventory (known: {known})")
    site, ap = found[0]
    try:
        target = target_for(inv, site, ap, resolver_for(inv, config))
    except TargetError as e:
        raise UserError(str(e)) from None
    profiles = load_profiles()

    async def run() -> dict[str, Any]:
        client = SnmpClient(max_concurrency=4)
        try:
            system = await client.get(target, [SYS_OBJECT_ID, SYS_DESCR])
            oid_var: Var | None = system.get(SYS_OBJECT_ID)
            descr_var: Var | None = system.get(SYS_DESCR)
            sys_oid = oid_var.value if oid_var is not None and isinstance(oid_var.value, str) else None
            descr = as_text(descr_var.value) if descr_var is not None and not descr_var.missing else None
            det = await detect(client, target, profiles, sys_oid, descr)
        except SnmpError as e:
            return {"ap": ap_id, "configured": ap.vendor, "error": str(e)}
        finally:
            await client.close()
        return {
            "ap": ap_id, "configured": ap.vendor, "profile": det.profile, "reason": det.reason,
            "sys_object_id": det.sys_object_id, "sys_descr": det.sys_descr, "probed": det.probed,
            "candidates": [{"profile": c.profile, "prefix": c.prefix, "sys_descr_match": c.sys_descr_match,
                            "signature_found": list(c.found), "signature_missing": list(c.missing),
                            "unwanted_found": list(c.unwanted), "verdict": c.verdict} for c in det.candidates],
        }

    return asyncio.run(run())


def register(app: typer.Typer) -> None:
    @app.command("detect")
    def detect_cmd(
        ap_id: Annotated[str, typer.Argument(help="AP id from sites.toml")],
        config: ConfigOpt = None,
        fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
        lang: Annotated[str, typer.Option("--lang", help="ja or en")] = "ja",
    ) -> None:
        """Explain vendor = "auto" for one AP: candidate profiles, the evidence, and which one won."""
        check_lang(lang)
        if fmt not in ("table", "json"):
            raise typer.BadParameter("--format must be table or json")
        try:
            out = detect_ap(config, ap_id)
        except UserError as e:
            raise fail(str(e)) from None
        if fmt == "json":
            console.print_json(json.dumps(out, ensure_ascii=False))
            return
        t = _TEXT[lang]
        if "error" in out:
            raise fail(f"{ap_id}: {t['unreachable']}: {out['error']}")
        console.print(f"{ap_id}: sysObjectID {out['sys_object_id'] or '-'}; sysDescr {out['sys_descr'] or '-'!r}",
                      highlight=False, markup=False)
        table = Table(title=f"{ap_id}: {t['title']}")
        table.add_column(t["profile"], no_wrap=True)
        table.add_column(t["verdict"])
        for c in out["candidates"]:
            table.add_row(Text(c["profile"]), Text(c["verdict"]))  # Text: an AP's strings are never markup
        if not out["candidates"]:
            table.add_row("generic", t["none"])
        console.print(table)
        console.print(f"{t['chosen']}: {out['profile']} ({out['reason']}); {t['configured']}: vendor = "
                      f"\"{out['configured']}\"", highlight=False, markup=False)
