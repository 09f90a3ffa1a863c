"""Promotions: a timeline, and create / cancel with the validation of `hub promo`."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from hub.console.auth import action, hub, signed_in
from hub.console.templating import flash, render
from hub.core import audit
from hub.core import promotions as promo_mod
from hub.errors import HubError
from hub.models import PromotionKind
from hub.storage import tables as t

FIELDS = (
    "name",
    "kind",
    "percent_off",
    "flash_price",
    "spend_threshold",
    "spend_discount",
    "skus",
    "shops",
    "start",
    "end",
)


def _timeline(rows: list[t.Promotion]) -> tuple[list[dict], str, str]:
    """Each promotion with its bar's offset and width (percent of the span shown)."""
    if not rows:
        return [], "", ""
    first = min(p.starts_at for p in rows)
    last = max(p.ends_at for p in rows)
    span = max((last - first).total_seconds(), timedelta(hours=1).total_seconds())
    items = [
        {
            "row": p,
            "left": round((p.starts_at - first).total_seconds() / span * 100, 2),
            "width": max(0.5, round((p.ends_at - p.starts_at).total_seconds() / span * 100, 2)),
        }
        for p in rows
    ]
    return items, first, last


def _all(s):  # type: ignore[no-untyped-def]
    return list(s.scalars(select(t.Promotion).order_by(t.Promotion.starts_at)))


async def page(request: Request) -> Response:
    await signed_in(request)
    app = hub(request)
    rows = await app.db.run(_all)
    items, first, last = _timeline(rows)
    return render(
        request,
        "promotions.html",
        items=items,
        first=first,
        last=last,
        kinds=[k.value for k in PromotionKind],
        values={},
    )


async def create(request: Request) -> Response:
    user, form = await action(request)
    app = hub(request)
    values = {k: str(form.get(k, "")).strip() for k in FIELDS}
    now = app.clock.now()

    def write(s):  # type: ignore[no-untyped-def]
        row = promo_mod.create(s, app.host, promo_mod.from_input(dict(values), "form"), now)
        audit.record(s, actor=user.name, action="promo.create", now=now, new=row.name, source="console")
        return row.id

    try:
        promotion_id = await app.db.run(write)
    except HubError as exc:
        rows = await app.db.run(_all)
        items, first, last = _timeline(rows)
        return render(
            request,
            "promotions.html",
            400,
            items=items,
            first=first,
            last=last,
            kinds=[k.value for k in PromotionKind],
            values=values,
            error=str(exc),
        )
    flash(request, f"created promotion #{promotion_id}; the next sync starts it on time")
    return RedirectResponse("/promotions", status_code=303)


async def cancel(request: Request) -> Response:
    user, _ = await action(request)
    app = hub(request)
    promotion_id = int(request.path_params["promotion_id"])
    now = app.clock.now()

    def write(s):  # type: ignore[no-untyped-def]
        row = promo_mod.cancel(s, promotion_id, now)
        audit.record(s, actor=user.name, action="promo.cancel", now=now, old=row.name, source="console")

    try:
        await app.db.run(write)
    except HubError as exc:
        flash(request, str(exc), "error")
    else:
        flash(request, f"promotion #{promotion_id} cancelled; the next sync reverts the shops")
    return RedirectResponse("/promotions", status_code=303)


routes = [
    Route("/promotions", page),
    Route("/promotions/create", create, methods=["POST"]),
    Route("/promotions/{promotion_id:int}/cancel", cancel, methods=["POST"]),
]
