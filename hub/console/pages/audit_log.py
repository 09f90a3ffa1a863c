"""The audit log, filtered by SKU, shop, actor, action and since when."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.console.auth import hub, signed_in
from hub.console.templating import render
from hub.core import audit, reports
from hub.errors import InputError


async def page(request: Request) -> Response:
    await signed_in(request)
    app = hub(request)
    q = {k: request.query_params.get(k, "").strip() for k in ("sku", "shop", "actor", "action", "since")}
    error = None
    since = None
    if q["since"]:
        try:
            since = reports.day_start(reports.parse_day(q["since"], "since"))
        except InputError as exc:
            error = str(exc)
    rows = await app.db.run(
        lambda s: audit.entries(
            s,
            sku=q["sku"] or None,
            shop=q["shop"] or None,
            actor=q["actor"] or None,
            action=q["action"] or None,
            since=since,
            limit=500,
        )
    )
    return render(request, "audit.html", rows=rows, q=q, error=error)


routes = [Route("/audit", page)]
