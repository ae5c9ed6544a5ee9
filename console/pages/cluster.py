"""収集グループ: the members of a collector group ([cluster] redis) with their APs and lease ages, read only.

Read from Redis on each request (a few keys); the page exists only when ``[cluster] redis`` is set.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.response import Template

from console.auth import logged_in, user_of
from console.render import page

W = {"ja": {"title": "収集グループ", "member": "メンバー", "aps": "AP数", "age": "リース経過 (秒)",
            "state": "状態", "live": "稼働中", "expired": "期限切れ",
            "note": "各収集サーバーは {lease:g} 秒のリースを Redis で更新し、稼働中のメンバーで AP を分担します "
                    "(ランデブーハッシュ)。期限切れのメンバーの AP は他のメンバーが引き継ぎます。",
            "error": "Redis に接続できません。各メンバーは最後の割り当てで監視を続けています。"},
     "en": {"title": "Collector group", "member": "Member", "aps": "APs", "age": "Lease age (s)", "state": "State",
            "live": "live", "expired": "expired",
            "note": "Each collector renews a {lease:g} s lease in Redis and the live members share the APs "
                    "(rendezvous hashing); the APs of an expired member are taken over by the others.",
            "error": "Redis is unreachable: {e}. Each member keeps polling its last assignment (fail static)."}}


@get("/cluster", guards=[logged_in], sync_to_thread=True)
def cluster_page(request: Request[Any, Any, Any]) -> Template:
    import redis

    from collector.cluster.membership import group_document

    ctx = request.app.state.console
    inv = ctx.inventory()
    if inv.cluster.redis is None:
        raise NotFoundException()
    lang = "en" if user_of(request).lang == "en" else "ja"
    w = W[lang]
    doc: dict[str, Any] | None = None
    error = None
    try:
        c = inv.cluster
        password = ctx.resolver.resolve(c.password).reveal() if c.password and ctx.resolver else None
        doc = group_document(c, password)
    except (redis.RedisError, OSError) as e:
        error = w["error"].format(e=type(e).__name__)
    return page(request, "cluster.html", w=w, doc=doc, error=error, lease=inv.cluster.lease_s)


handlers = [cluster_page]
