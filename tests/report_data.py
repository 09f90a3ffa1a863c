"""A small, hand-computed order book for the report and console tests.

Shops ``a`` and ``b`` are on the ``fake`` channel, ``c`` on ``fake_abs``. The fake clock
starts at 2026-11-11 00:00 UTC (08:00 in Shanghai). Days below are Shanghai days.

| order | shop | created (UTC)   | CN day | status            | total | paid → shipped |
|-------|------|-----------------|--------|-------------------|-------|----------------|
| O8    | a    | 11-09 20:00     | 11-10  | shipped           |  1.00 | 6 h            |
| O7    | b    | 11-10 02:00     | 11-10  | shipped           |  3.00 | 10 h           |
| O4    | c    | 11-10 10:00     | 11-10  | shipped           | 50.00 | 2 h            |
| O1    | a    | 11-10 15:30     | 11-10  | shipped (2 units) | 10.00 | 1 h            |
| O5    | a    | 11-10 20:00     | 11-11  | pending_payment   |  7.77 | (not counted)  |
| O2    | a    | 11-10 16:10     | 11-11  | awaiting_shipment | 25.50 | -              |
| O3    | b    | 11-10 17:00     | 11-11  | refunded          |  9.90 | -              |
| O6    | c    | 11-10 18:00     | 11-11  | cancelled         | 99.00 | (not counted)  |

Every order has one line of SKU S1 (O1: 2 units). Stock: S1 10 on hand, S2 0, S3 2 with a
safety stock of 5.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hub.app import App
from hub.core import catalog
from hub.core.orders import store_orders
from hub.models import Order, OrderLine, OrderStatus
from hub.storage import tables as t

SECRET = "app-secret-never-shown"


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def _order(oid: str, created: datetime, status: OrderStatus, total: int, qty: int = 1) -> Order:
    paid = None if status in (OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED) else created
    return Order(
        platform_order_id=oid,
        status=status,
        platform_status=status.value.upper(),
        created_at=created,
        modified_at=created,
        paid_at=paid,
        total=total,
        lines=(
            OrderLine(
                line_id=f"{oid}-1",
                platform_item_id="i1",
                platform_sku_id=f"p-{oid}",
                master_code="S1",
                title="Tea",
                quantity=qty,
                unit_price=total // qty,
            ),
        ),
    )


def _shipped(order: Order, hours: float) -> Order:
    return order.model_copy(
        update={
            "status": OrderStatus.SHIPPED,
            "platform_status": "SHIPPED",
            "modified_at": order.modified_at + timedelta(hours=hours),
        }
    )


def seed(app: App) -> None:
    """Store the shops, SKUs, stock and orders above through the hub's own core functions."""
    now = app.clock.now()

    def write(s):  # type: ignore[no-untyped-def]
        shops = {}
        for name, platform in (("a", "fake"), ("b", "fake"), ("c", "fake_abs")):
            shop = t.Shop(
                name=name, platform=platform, app_key="k", app_secret=SECRET, options={}, created_at=now
            )
            s.add(shop)
            s.flush()
            shops[name] = shop.id
        stock = (("S1", "Green tea 250g", 10), ("S2", "Oolong tin", 0), ("S3", "白茶 gift box", 2))
        for code, title, qty in stock:
            sku = catalog.add_sku(s, code=code, title=title, price=1990, now=now)
            catalog.set_on_hand(s, sku, qty, None, now, create_warehouse=True)
            if code == "S3":
                sku.safety_stock = 5
        new = {
            "a": [
                _order("O8", _at(9, 20), OrderStatus.AWAITING_SHIPMENT, 100),
                _order("O1", _at(10, 15, 30), OrderStatus.AWAITING_SHIPMENT, 1000, qty=2),
                _order("O5", _at(10, 20), OrderStatus.PENDING_PAYMENT, 777),
                _order("O2", _at(10, 16, 10), OrderStatus.AWAITING_SHIPMENT, 2550),
            ],
            "b": [
                _order("O7", _at(10, 2), OrderStatus.AWAITING_SHIPMENT, 300),
                _order("O3", _at(10, 17), OrderStatus.REFUNDED, 990),
            ],
            "c": [
                _order("O4", _at(10, 10), OrderStatus.AWAITING_SHIPMENT, 5000),
                _order("O6", _at(10, 18), OrderStatus.CANCELLED, 9900),
            ],
        }
        for shop, orders in new.items():
            store_orders(s, shops[shop], orders, now)
        by_id = {o.platform_order_id: o for orders in new.values() for o in orders}
        shipped = {"a": [("O8", 6), ("O1", 1)], "b": [("O7", 10)], "c": [("O4", 2)]}
        for shop, pairs in shipped.items():
            store_orders(s, shops[shop], [_shipped(by_id[oid], hours) for oid, hours in pairs], now)

    app.db.run_sync(write)


def add_returns(app: App) -> None:
    """A return of 1 unit of O1 (shop a) opened on 11-10 (CN), and a refused one of O4 (shop
    c) that does not count: return rate of S1 1 in 6 units on fake, 0 in 1 on fake_abs."""
    from sqlalchemy import select

    from hub.core.aftersales import store_after_sales
    from hub.models import AfterSale, AfterSaleLine, AfterSaleStatus, AfterSaleType

    def case(case_id: str, order_id: str, status: AfterSaleStatus) -> AfterSale:
        return AfterSale(
            platform_case_id=case_id,
            platform_order_id=order_id,
            type=AfterSaleType.RETURN_REFUND,
            status=status,
            platform_status=status.value,
            created_at=_at(10, 16),
            modified_at=_at(10, 16),
            refund_amount=500,
            lines=(
                AfterSaleLine(
                    platform_sku_id=f"p-{order_id}", master_code="S1", line_id=f"{order_id}-1", quantity=1
                ),
            ),
        )

    def write(session: Any) -> None:
        shops = dict(session.execute(select(t.Shop.name, t.Shop.id)).all())
        store_after_sales(session, shops["a"], [case("R1", "O1", AfterSaleStatus.RETURNING)], app.clock.now())
        store_after_sales(session, shops["c"], [case("R2", "O4", AfterSaleStatus.REJECTED)], app.clock.now())

    app.db.run_sync(write)
