"""``hub aftersales``: after-sale cases (售后) read from every shop (``hub returns receive``
records returned goods arriving: :mod:`hub.cli.returns`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
from sqlalchemy.orm import Session

from hub.app import App
from hub.cli.output import emit, fen, info, json_option, print_table
from hub.core import aftersales
from hub.core.shops import get_shop
from hub.errors import InputError
from hub.models import AfterSaleStatus, AfterSaleType
from hub.units import CN_TZ


@click.group("aftersales")
def group() -> None:
    """After-sale cases (售后: refunds, returns, exchanges) read from every shop by `hub sync`."""


def _since(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"invalid --since {text!r}: use e.g. 2026-11-11 or 2026-11-11T08:00") from None
    return when.replace(tzinfo=CN_TZ) if when.tzinfo is None else when


def _lines(case: dict[str, Any]) -> str:
    return ", ".join(f"{x['sku'] or x['platform_sku_id']}×{x['quantity']}" for x in case["lines"])


def _done(case: dict[str, Any]) -> str:
    """What the hub did with the units: released, received (damaged)."""
    released = sum(x["released"] for x in case["lines"])
    received = sum(x["received"] for x in case["lines"])
    damaged = sum(x["damaged"] for x in case["lines"])
    parts = [f"released {released}"] if released else []
    if received:
        parts.append(f"received {received}" + (f" ({damaged} damaged)" if damaged else ""))
    return ", ".join(parts) or "-"


@group.command("list")
@click.option("--shop", help="Only this shop.")
@click.option("--status", type=click.Choice([s.value for s in AfterSaleStatus]), help="Only this status.")
@click.option("--type", "type_", type=click.Choice([s.value for s in AfterSaleType]), help="Only this type.")
@click.option(
    "--since", help="Only cases opened at or after this time (ISO; Asia/Shanghai unless an offset is given)."
)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@json_option
@click.pass_obj
def list_(
    app: App,
    shop: str | None,
    status: str | None,
    type_: str | None,
    since: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List after-sale cases, newest first, with what the hub did to stock: units
    released (a refund before shipment) and received back (a return)."""
    when = _since(since)

    def read(s: Session) -> list[dict[str, Any]]:
        if shop:
            get_shop(s, shop)  # an unknown shop is a typo, not "no cases"
        return aftersales.search_after_sales(
            s, shop=shop, status=status, type_=type_, since=when, limit=limit
        )

    rows = app.db.run_sync(read)
    emit(
        as_json,
        rows,
        lambda: print_table(
            ["shop", "case", "order", "type", "status", "opened", "refund", "lines", "stock"],
            [
                (
                    r["shop"],
                    r["case"],
                    r["order_id"],
                    r["type"],
                    r["status"],
                    r["created_at"],
                    fen(r["refund_amount"]),
                    _lines(r),
                    _done(r),
                )
                for r in rows
            ],
            empty="no after-sale cases",
        ),
    )


@group.command("show")
@click.argument("case")
@click.option("--shop", help="The shop, if the case id is not unique across shops.")
@json_option
@click.pass_obj
def show(app: App, case: str, shop: str | None, as_json: bool) -> None:
    """One after-sale CASE (the platform's case id) with its lines."""
    row = app.db.run_sync(lambda s: aftersales.show_case(s, case, shop))

    def table() -> None:
        info(
            f"{row['shop']} case {row['case']} (order {row['order_id']}): {row['type']}, {row['status']} "
            f"({row['platform_status']}), refund {fen(row['refund_amount'])}, opened {row['created_at']}"
        )
        print_table(
            ["sku", "platform SKU", "qty", "released", "received", "damaged"],
            [
                (x["sku"], x["platform_sku_id"], x["quantity"], x["released"], x["received"], x["damaged"])
                for x in row["lines"]
            ],
        )

    emit(as_json, row, table)
