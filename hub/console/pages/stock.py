"""Stock: search by 商家编码 or title, per SKU on hand / reserved / sellable / mode and, per
shop, shown vs target; set an on-hand count (audited, like `hub stock set`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from hub.console.auth import action, hub, signed_in
from hub.console.templating import flash, render
from hub.core import audit, catalog
from hub.core.stock.show import sku_rows
from hub.errors import HubError


async def page(request: Request) -> Response:
    await signed_in(request)
    app = hub(request)
    query = request.query_params.get("q", "").strip()
    rows = await app.db.run(lambda s: sku_rows(s, app.stock_picture(s), search=query or None))
    return render(request, "stock.html", rows=rows, q=query)


async def set_on_hand(request: Request) -> Response:
    user, form = await action(request)
    app = hub(request)
    sku = str(form.get("sku", "")).strip()
    warehouse = str(form.get("warehouse", "")).strip() or None
    back = RedirectResponse(f"/stock?q={sku}", status_code=303)
    try:
        quantity = int(str(form.get("quantity", "")).strip())
        if quantity < 0:
            raise ValueError
    except ValueError:
        flash(request, f"{sku}: the quantity must be a whole number of 0 or more", "error")
        return back
    now = app.clock.now()

    def write(s):  # type: ignore[no-untyped-def]
        row = catalog.sku_by_code(s, sku)
        old, new = catalog.set_on_hand(s, row, quantity, warehouse, now)
        audit.record(
            s,
            actor=user.name,
            action="stock.set",
            now=now,
            sku=sku,
            old=old,
            new=new,
            source=f"console ({warehouse or catalog.DEFAULT_WAREHOUSE})",
        )
        return old, new

    try:
        old, new = await app.db.run(write)
    except HubError as exc:
        flash(request, str(exc), "error")
        return back
    flash(request, f"{sku}: on hand {old} → {new}; the next sync pushes it")
    return back


routes = [Route("/stock", page), Route("/stock/set", set_on_hand, methods=["POST"])]
