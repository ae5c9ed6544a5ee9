"""check-config's warnings about [visitors] and the APs' visitor settings (the config is valid; these are
settings that would silently do nothing, or a weak shared secret)."""

from __future__ import annotations

from core.inventory import Inventory
from core.secrets import SecretError, SecretResolver

MIN_SECRET = 16  # common guidance for RADIUS shared secrets: at least 16 random characters


def visitor_warnings(inv: Inventory, resolver: SecretResolver, ja: bool = True) -> list[str]:
    from collector.visitors.snmp_tables import load_tables

    out: list[str] = []
    v = inv.visitors
    with_ids = [ap.id for _s, ap in inv.aps() if ap.visitor_ids]
    if with_ids and not v.enabled and not any(ap.visitor_snmp for _s, ap in inv.aps()):
        unused = ("visitor_ids は [visitors] に radius_bind か syslog_bind があるときだけ使われます" if ja else
                  "visitor_ids are used only when [visitors] has radius_bind or syslog_bind")
        out.append(f"{with_ids[0]}: {unused}")
    if v.enabled and not with_ids:
        unknown = ("どの AP にも visitor_ids がないため、届いたメッセージはすべて「不明な AP」になります" if ja else
                   "no AP has visitor_ids, so every message received counts as an unknown AP")
        out.append(f"[visitors]: {unknown}")
    if v.radius_secret:
        try:
            secret = resolver.resolve(v.radius_secret).reveal()
        except SecretError as e:
            out.append(f"[visitors] radius_secret: {e} ({'起動時に必要です' if ja else 'needed at start'})")
        else:
            if len(secret) < MIN_SECRET:
                out.append("[visitors] radius_secret: " + (
                    f"共有秘密が {MIN_SECRET} 文字未満です。長いランダムな値にしてください" if ja else
                    f"the shared secret is shorter than {MIN_SECRET} characters; use a long random one"))
    tables = load_tables()
    controllers = {c.id: c for c in inv.controllers}
    for _s, ap in inv.aps():
        if not ap.visitor_snmp:
            continue
        via = controllers.get(ap.controller) if ap.controller else None
        if ap.vendor not in tables and (via is None or via.vendor not in tables):
            out.append(f"{ap.id}: " + (
                f"visitor_snmp = true ですが、この機種 ({ap.vendor}) の SNMP に端末一覧の表がありません"
                "(RADIUS アカウンティングか syslog を使ってください)" if ja else
                f"visitor_snmp = true but its profile ({ap.vendor}) has no client table over SNMP (use RADIUS "
                "accounting or syslog)"))
        elif not ap.visitor_ids and (via is not None or tables[ap.vendor].ap_column):
            out.append(f"{ap.id}: " + ("visitor_snmp の端末表は AP を MAC で示します: visitor_ids に AP の MAC を"
                                       "書いてください" if ja else
                                       "the client table names APs by MAC: put this AP's MAC in visitor_ids"))
    return out
