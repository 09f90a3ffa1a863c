"""``hub orders``: the order book of every shop, exceptions, shipment write-back."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.orm import Session

from hub.app import App
from hub.cli.app import run_async
from hub.cli.output import emit, fen, info, json_option, print_table
from hub.core import shipping
from hub.core.orders import list_orders, order_exceptions
from hub.core.shops import get_shop
from hub.models import OrderStatus
from hub.storage import tables as t


@click.group("orders")
def group() -> None:
    """Orders from every shop, and shipment write-back."""


@group.command("list")
@click.option("--shop", help="Only this shop.")
@click.option("--status", type=click.Choice([s.value for s in OrderStatus]), help="Only this status.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@json_option
@click.pass_obj
def list_(app: App, shop: str | None, status: str | None, limit: int, as_json: bool) -> None:
    """List orders, newest first."""

    def read(s: Session) -> list[dict[str, Any]]:
        return list_orders(s, shop_id=get_shop(s, shop).id if shop else None, status=status, limit=limit)

    rows = app.db.run_sync(read)
    emit(
        as_json,
        rows,
        lambda: print_table(
            ["shop", "order", "status", "created", "total", "lines"],
            [
                (
                    r["shop"],
                    r["order_id"],
                    r["status"],
                    r["created_at"],
                    fen(r["total"]),
                    ", ".join(
                        f"{ln['master_code'] or ln['platform_sku_id']}×{ln['quantity']}" for ln in r["lines"]
                    ),
                )
                for r in rows
            ],
            empty="no orders",
        ),
    )


@group.command("exceptions")
@json_option
@click.pass_obj
def exceptions(app: App, as_json: bool) -> None:
    """Order lines whose SKU matches nothing (their units reserve no stock).

    Fix them with `hub listings map` or by adding the SKU; exit code 1 while any remain."""

    rows = app.db.run_sync(order_exceptions)
    emit(
        as_json,
        rows,
        lambda: print_table(
            ["shop", "order", "status", "platform SKU", "商家编码", "qty", "problem"],
            [
                (
                    r["shop"],
                    r["order_id"],
                    r["status"],
                    r["platform_sku_id"],
                    r["master_code"],
                    r["quantity"],
                    r["reason"],
                )
                for r in rows
            ],
            empty="no exceptions",
        ),
    )
    if rows:
        raise click.exceptions.Exit(1)


@group.command("ship")
@click.argument("order_id")
@click.option("--carrier", required=True, help="Carrier code as the platform knows it (e.g. SF, YTO).")
@click.option("--tracking", required=True, help="Tracking (waybill) number.")
@click.option("--shop", help="The shop, if the order id is not unique across shops.")
@click.option("--line", "lines", multiple=True, help="Ship only these order lines (repeatable).")
@click.option("--queue-only", is_flag=True, help="Record it; the next `hub sync` sends it.")
@click.pass_obj
def ship(
    app: App,
    order_id: str,
    carrier: str,
    tracking: str,
    shop: str | None,
    lines: tuple[str, ...],
    queue_only: bool,
) -> int:
    """Write a shipment of ORDER_ID back to its platform (through the outbox).

    Repeating the same command is harmless: the same shipment is recorded once."""

    def write(s: Session) -> tuple[t.Shop, int]:
        return shipping.queue_shipment(
            s,
            order_id=order_id,
            carrier=carrier,
            tracking=tracking,
            shop=shop,
            lines=lines,
            actor=app.actor,
            now=app.clock.now(),
            source="hub orders ship",
        )

    shop_row, entry_id = app.db.run_sync(write)
    if queue_only:
        info(f"shipment of {order_id} queued (outbox #{entry_id})")
        return 0
    state, error = run_async(lambda: shipping.send_shipments(app.runtime(), shop_row, entry_id))
    if state == "done":
        info(f"shipped {order_id} with {carrier} {tracking}")
        return 0
    info(f"shipment of {order_id} is {state}: {error} (see `hub outbox list`)")
    return 1
