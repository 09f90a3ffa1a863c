"""Orders: filter by shop, status, dates and SKU; export to XLSX; exceptions (lines that match
no SKU) and linking them; shipping with carrier and tracking through the outbox."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from hub.bulk.spreadsheet import OutColumn, write_sheet
from hub.console.auth import action, hub, signed_in
from hub.console.templating import flash, render
from hub.core import catalog, reports, shipping
from hub.core.orders import order_exceptions, search_orders
from hub.errors import HubError, InputError
from hub.models import OrderStatus
from hub.storage import tables as t
from hub.units import CN_TZ

FILTERS = ("shop", "status", "since", "until", "sku")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _filters(request: Request) -> tuple[dict[str, str], dict[str, Any], str | None]:
    """The form's values, the query's arguments, and an error for a bad date."""
    values = {k: request.query_params.get(k, "").strip() for k in FILTERS}
    args: dict[str, Any] = {k: values[k] or None for k in ("shop", "status", "sku")}
    if args["status"] and args["status"] not in {s.value for s in OrderStatus}:
        return values, args, f"unknown status {args['status']!r}"
    try:
        if values["since"]:
            args["since"] = reports.day_start(reports.parse_day(values["since"], "from"))
        if values["until"]:
            until = reports.parse_day(values["until"], "to")
            args["until"] = reports.day_start(until) + timedelta(days=1)
    except InputError as exc:
        return values, args, str(exc)
    return values, args, None


async def page(request: Request) -> Response:
    await signed_in(request)
    app = hub(request)
    values, args, error = _filters(request)

    def read(s):  # type: ignore[no-untyped-def]
        shops = list(s.scalars(select(t.Shop.name).order_by(t.Shop.name)))
        rows = [] if error else search_orders(s, **args, limit=200)
        return shops, rows, order_exceptions(s)

    shops, rows, exceptions = await app.db.run(read)
    return render(
        request,
        "orders.html",
        rows=rows,
        exceptions=exceptions,
        shops=shops,
        values=values,
        error=error,
        statuses=[s.value for s in OrderStatus],
        query=request.url.query,
    )


async def export(request: Request) -> Response:
    """The filtered list (up to 10 000 orders) as an XLSX file, one row per order line."""
    await signed_in(request)
    app = hub(request)
    _, args, error = _filters(request)
    if error:
        raise HTTPException(400, error)
    rows = await app.db.run(lambda s: search_orders(s, **args, limit=10_000))
    columns = [
        OutColumn("shop"),
        OutColumn("order"),
        OutColumn("status"),
        OutColumn("created", width=18),
        OutColumn("total (yuan)", text=False, number_format="0.00"),
        OutColumn("商家编码"),
        OutColumn("quantity", text=False, number_format="0"),
    ]
    lines = (
        [
            r["shop"],
            r["order_id"],
            r["status"],
            r["created_at"].astimezone(CN_TZ).strftime("%Y-%m-%d %H:%M"),
            r["total"] / 100,
            ln["sku"],
            ln["quantity"],
        ]
        for r in rows
        for ln in r["lines"]
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "orders.xlsx"
        write_sheet(path, columns, lines, sheet_title="orders")
        body = path.read_bytes()
    disposition = {"content-disposition": 'attachment; filename="orders.xlsx"'}
    return Response(body, media_type=XLSX, headers=disposition)


async def ship(request: Request) -> Response:
    user, form = await action(request)
    app = hub(request)
    order_id = str(form.get("order_id", "")).strip()
    shop = str(form.get("shop", "")).strip() or None
    carrier = str(form.get("carrier", ""))
    tracking = str(form.get("tracking", ""))
    back = RedirectResponse(f"/orders?{form.get('query') or ''}", status_code=303)
    try:
        shop_row, entry_id = await app.db.run(
            lambda s: shipping.queue_shipment(
                s,
                order_id=order_id,
                carrier=carrier,
                tracking=tracking,
                shop=shop,
                lines=(),
                actor=user.name,
                now=app.clock.now(),
                source="console",
            )
        )
        state, problem = await shipping.send_shipments(app.runtime(), shop_row, entry_id)
    except HubError as exc:
        flash(request, str(exc), "error")
        return back
    if state == "done":
        flash(request, f"shipped {order_id} with {carrier.strip()} {tracking.strip()}")
    else:
        flash(
            request,
            f"shipment of {order_id} is recorded but {state}: {problem} (outbox #{entry_id})",
            "error",
        )
    return back


async def link(request: Request) -> Response:
    """Link an exception's listing to a SKU by hand (like `hub listings map`)."""
    user, form = await action(request)
    app = hub(request)
    shop, platform_sku_id = str(form.get("shop", "")), str(form.get("platform_sku_id", ""))
    sku = str(form.get("sku", "")).strip()
    back = RedirectResponse("/orders#exceptions", status_code=303)
    if not sku:
        flash(request, f"{platform_sku_id}: enter the 商家编码 to link it to", "error")
        return back

    def write(s):  # type: ignore[no-untyped-def]
        catalog.link_listing(
            s,
            shop=shop,
            platform_sku_id=platform_sku_id,
            sku_code=sku,
            actor=user.name,
            source="console",
            now=app.clock.now(),
        )

    try:
        await app.db.run(write)
    except HubError as exc:
        flash(request, str(exc), "error")
        return back
    flash(request, f"{shop} {platform_sku_id} linked to {sku}")
    return back


routes = [
    Route("/orders", page),
    Route("/orders.xlsx", export),
    Route("/orders/ship", ship, methods=["POST"]),
    Route("/orders/link", link, methods=["POST"]),
]
