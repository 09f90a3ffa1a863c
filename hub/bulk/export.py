"""Current stock counts and prices, written in exactly the format the imports read.

Exporting and importing the file unchanged is a no-op (the dry run shows 0 changes): the
stock file has one row per SKU and warehouse (a SKU counted nowhere gets one row in ``main``
with an empty quantity: 0 would be a count, and the import leaves an empty cell uncounted);
the price file has one row per SKU with its price for every shop, followed by a row with
``shop`` for each shop-specific price. A ``title`` column helps people find their
way; the import ignores it.

SKUs are read a page at a time, each page in its own short transaction, so exporting a
million SKUs neither holds the database nor the whole catalogue in memory.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from hub.bulk.spreadsheet import OutColumn, write_sheet
from hub.core.catalog import DEFAULT_WAREHOUSE
from hub.storage import tables as t
from hub.storage.db import Database
from hub.units import fen_to_yuan

PAGE = 5000

HEADERS = {
    "en": {
        "sku": "sku",
        "title": "title",
        "warehouse": "warehouse",
        "quantity": "quantity",
        "shop": "shop",
        "price": "price",
    },
    "zh": {
        "sku": "商家编码",
        "title": "名称",
        "warehouse": "仓库",
        "quantity": "库存",
        "shop": "店铺",
        "price": "价格",
    },
}

Progress = Callable[[int], None]
"""progress(rows written so far)."""


def _pages(db: Database) -> Iterator[list[tuple[int, str, str, int]]]:
    """SKUs (id, code, title, price) in code order, a page per transaction."""
    last = None
    while True:

        def read(s: Session, after: str | None = last) -> list[tuple[int, str, str, int]]:
            query = select(t.Sku.id, t.Sku.code, t.Sku.title, t.Sku.price).order_by(t.Sku.code).limit(PAGE)
            if after is not None:
                query = query.where(t.Sku.code > after)
            return [tuple(r) for r in s.execute(query)]  # type: ignore[misc]

        page = db.run_sync(read)
        if not page:
            return
        yield page
        last = page[-1][1]


def _by_sku(db: Database, query: Select[Any]) -> dict[int, list[tuple[str, int]]]:
    """``query``'s (sku id, name, value) rows grouped by SKU id, in the query's order."""

    def read(s: Session) -> dict[int, list[tuple[str, int]]]:
        grouped: dict[int, list[tuple[str, int]]] = {}
        for sku_id, name, value in s.execute(query):
            grouped.setdefault(sku_id, []).append((name, value))
        return grouped

    return db.run_sync(read)


def stock_rows(db: Database) -> Iterator[tuple[str, str, str, int | None]]:
    """(sku, title, warehouse, quantity) for every SKU and warehouse it is counted in
    (quantity None: a SKU counted nowhere)."""
    for page in _pages(db):
        counted = _by_sku(
            db,
            select(t.StockOnHand.sku_id, t.Warehouse.code, t.StockOnHand.quantity)
            .join(t.Warehouse, t.Warehouse.id == t.StockOnHand.warehouse_id)
            .where(t.StockOnHand.sku_id.in_([p[0] for p in page]))
            .order_by(t.Warehouse.code),
        )
        for sku_id, code, title, _price in page:
            for warehouse, quantity in counted.get(sku_id) or [(DEFAULT_WAREHOUSE, None)]:
                yield code, title, warehouse, quantity


def price_rows(db: Database) -> Iterator[tuple[str, str, str, int]]:
    """(sku, title, shop or '', fen): the price for every shop, then shop-specific ones."""
    for page in _pages(db):
        own = _by_sku(
            db,
            select(t.ShopPrice.sku_id, t.Shop.name, t.ShopPrice.price)
            .join(t.Shop, t.Shop.id == t.ShopPrice.shop_id)
            .where(t.ShopPrice.sku_id.in_([p[0] for p in page]))
            .order_by(t.Shop.name),
        )
        for sku_id, code, title, price in page:
            yield code, title, "", price
            for shop, shop_price in own.get(sku_id, []):
                yield code, title, shop, shop_price


def _counted(rows: Iterator[Any], progress: Progress | None) -> Iterator[Any]:
    for n, row in enumerate(rows, start=1):
        yield row
        if progress is not None and n % PAGE == 0:
            progress(n)


def export_stock(
    db: Database,
    path: str | os.PathLike[str],
    *,
    encoding: str = "utf-8-sig",
    headers: str = "en",
    progress: Progress | None = None,
) -> int:
    """Write the on-hand counts to ``path`` (.csv or .xlsx); returns the number of rows."""
    names = HEADERS[headers]
    columns = [
        OutColumn(names["sku"], width=20),
        OutColumn(names["title"], width=30),
        OutColumn(names["warehouse"]),
        OutColumn(names["quantity"], text=False, number_format="0"),
    ]
    rows = ((code, title, wh, qty) for code, title, wh, qty in stock_rows(db))
    return write_sheet(path, columns, _counted(rows, progress), encoding=encoding, sheet_title="stock")


def export_prices(
    db: Database,
    path: str | os.PathLike[str],
    *,
    encoding: str = "utf-8-sig",
    headers: str = "en",
    progress: Progress | None = None,
) -> int:
    """Write the regular prices (yuan) to ``path`` (.csv or .xlsx); returns the number of rows."""
    names = HEADERS[headers]
    xlsx = str(path).lower().endswith((".xlsx", ".xlsm"))
    columns = [
        OutColumn(names["sku"], width=20),
        OutColumn(names["title"], width=30),
        OutColumn(names["shop"]),
        # XLSX: a number people can calculate with, shown with two decimals; CSV: "59.90".
        OutColumn(names["price"], text=False, number_format="0.00")
        if xlsx
        else OutColumn(names["price"], text=False),
    ]

    def money(fen: int) -> Any:
        return Decimal(fen) / 100 if xlsx else fen_to_yuan(fen)

    rows = ((code, title, shop, money(price)) for code, title, shop, price in price_rows(db))
    return write_sheet(path, columns, _counted(rows, progress), encoding=encoding, sheet_title="prices")
