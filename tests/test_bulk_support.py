"""Helpers shared by the bulk-change tests (tests/test_bulk_*.py); no tests of its own."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.app import App
from hub.cli import cli
from hub.core import catalog
from hub.simulator.lab import Lab
from hub.storage import tables as t
from hub.testing import FakeClock
from tests.conftest import fake_host
from tests.test_engine import SHOPS, seed


def add_sku(
    app: App, code: str, price: int, on_hand: int | None = None, *, title: str = "", **kw: Any
) -> None:
    """A master SKU (price in fen), optionally counted in ``main``."""

    def write(s: Session) -> None:
        sku = catalog.add_sku(s, code=code, title=title, price=price, now=app.clock.now())
        for name, value in kw.items():
            setattr(sku, name, value)
        if on_hand is not None:
            catalog.set_on_hand(s, sku, on_hand, None, app.clock.now())

    app.db.run_sync(write)


def add_warehouse(app: App, code: str) -> None:
    app.db.run_sync(lambda s: catalog.warehouse(s, code, create=True))


def snapshot(app: App) -> dict[str, Any]:
    """Everything a bulk change may touch, to prove a run changed nothing."""

    def read(s: Session) -> dict[str, Any]:
        def rows(*columns: Any) -> list[tuple[Any, ...]]:
            return sorted(tuple(r) for r in s.execute(select(*columns)))

        return {
            "skus": rows(t.Sku.code, t.Sku.price, t.Sku.updated_at),
            "stock": rows(
                t.StockOnHand.sku_id,
                t.StockOnHand.warehouse_id,
                t.StockOnHand.quantity,
                t.StockOnHand.counted_at,
            ),
            "warehouses": rows(t.Warehouse.code),
            "shop_prices": rows(t.ShopPrice.sku_id, t.ShopPrice.shop_id, t.ShopPrice.price),
            "audit": rows(t.AuditEntry.id),
            "outbox": rows(t.OutboxEntry.id, t.OutboxEntry.state),
        }

    return app.db.run_sync(read)


def on_hand(app: App, code: str, warehouse: str = "main") -> int | None:
    def read(s: Session) -> int | None:
        return s.scalar(
            select(t.StockOnHand.quantity)
            .join(t.Sku, t.Sku.id == t.StockOnHand.sku_id)
            .join(t.Warehouse, t.Warehouse.id == t.StockOnHand.warehouse_id)
            .where(t.Sku.code == code, t.Warehouse.code == warehouse)
        )

    return app.db.run_sync(read)


def sku_price(app: App, code: str, shop: str | None = None) -> int | None:
    def read(s: Session) -> int | None:
        if shop is None:
            return s.scalar(select(t.Sku.price).where(t.Sku.code == code))
        return s.scalar(
            select(t.ShopPrice.price)
            .join(t.Sku, t.Sku.id == t.ShopPrice.sku_id)
            .join(t.Shop, t.Shop.id == t.ShopPrice.shop_id)
            .where(t.Sku.code == code, t.Shop.name == shop)
        )

    return app.db.run_sync(read)


def audit_rows(app: App) -> list[dict[str, Any]]:
    def read(s: Session) -> list[dict[str, Any]]:
        return [
            {
                "action": e.action,
                "sku": e.sku_code,
                "shop": e.shop,
                "old": e.old,
                "new": e.new,
                "source": e.source,
                "actor": e.actor,
                "at": e.at,
            }
            for e in s.scalars(select(t.AuditEntry).order_by(t.AuditEntry.id))
        ]

    return app.db.run_sync(read)


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(path: Path, rows: Sequence[Sequence[Any]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def problem_lines(stderr: str) -> dict[int, str]:
    """``line N: reason`` lines of an error message -> {N: reason}."""
    out = {}
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith("line "):
            number, _, reason = line[5:].partition(": ")
            out[int(number)] = reason
    return out


def hub(app: App, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj=app, catch_exceptions=False)


@pytest.fixture(name="lab")
def lab_fixture(hub_db_url: str, fake_clock: FakeClock) -> Iterator[Lab]:
    """Three fake shops (a, b: delta stock; c: absolute) listing CUP and LID, with the
    listings read and linked and 20 units of each on hand."""
    lab = Lab.create(
        hub_db_url,
        shops=SHOPS,
        seed=seed(),
        clock=fake_clock,
        host_factory=fake_host,
        settings={"partition_below": 0},  # shared: the bulk tests check its numbers
    )
    lab.import_catalogue(on_hand=20, codes=["CUP", "LID"])
    assert hub(lab.app, "sync").exit_code == 0
    fake_clock.advance(1)
    yield lab
    lab.close()
