"""``hub returns receive``: returned goods (退货) arriving back at a warehouse."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.orm import Session

from hub.app import App
from hub.cli.output import emit, info, json_option
from hub.core import aftersales


@click.group("returns")
def group() -> None:
    """Returned goods (退货) arriving back at a warehouse."""


@group.command("receive")
@click.argument("case")
@click.option("--sku", help="Only this SKU's line of the case (商家编码).")
@click.option(
    "--qty", "quantity", type=click.IntRange(min=1), help="Units received (default: all still expected)."
)
@click.option("--warehouse", "-w", help="Warehouse the goods go back into (default: main).")
@click.option("--damaged", is_flag=True, help="The units are damaged: recorded, never sellable.")
@click.option("--shop", help="The shop, if the case id is not unique across shops.")
@json_option
@click.pass_obj
def receive(
    app: App,
    case: str,
    sku: str | None,
    quantity: int | None,
    warehouse: str | None,
    damaged: bool,
    shop: str | None,
    as_json: bool,
) -> None:
    """Record the returned goods of after-sale CASE arriving: sellable units raise on-hand
    (the next `hub sync` raises every channel); --damaged units are only recorded.

    \b
    Receipts add up to the case's quantity and no further: running the command again
    after everything arrived changes nothing, and more units than the case still expects
    are refused whole (exit 2). Audited (`hub audit list`)."""

    def write(s: Session) -> dict[str, Any]:
        return aftersales.receive_return(
            s,
            case_id=case,
            shop=shop,
            sku=sku,
            quantity=quantity,
            warehouse=warehouse,
            damaged=damaged,
            actor=app.actor,
            now=app.clock.now(),
        )

    result = app.db.run_sync(write)

    def text() -> None:
        if not result["received"]:
            info(f"case {case}: nothing more expected; already received")
            return
        got = ", ".join(f"{x['sku']}×{x['quantity']}" for x in result["received"])
        where = "recorded as damaged (not sellable)" if damaged else f"back in {result['warehouse']}"
        info(f"case {case}: {got} {where}; {result['expected_after']} more expected")

    emit(as_json, result, text)
