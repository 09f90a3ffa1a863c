"""Where SQLite and PostgreSQL behave differently on purpose, and what stays the same."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from hub.core import catalog
from hub.core.orders import _Consumer
from hub.errors import StorageError
from hub.storage import tables as t
from hub.storage.db import Database
from hub.testing import FakeClock


@pytest.fixture
def stocked(hub_db: Database, fake_clock: FakeClock) -> dict[str, int]:
    """CUP and LID, 20 units each in the default warehouse; code -> SKU id."""

    def add(s: Session) -> dict[str, int]:
        ids = {}
        for code in ("CUP", "LID"):
            sku = catalog.add_sku(s, code=code, title=code, price=100, now=fake_clock.now())
            catalog.set_on_hand(s, sku, 20, None, fake_clock.now())
            ids[code] = sku.id
        return ids

    return hub_db.run_sync(add)


@pytest.fixture
def impatient(hub_db: Database) -> Iterator[Database]:
    """A second handle on the same database that gives up at once where it would wait for
    a lock (SQLite: the database's write lock; PostgreSQL: a row lock)."""
    other = Database(hub_db.url)

    @event.listens_for(other.engine, "connect")
    def _no_waiting(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA busy_timeout = 0" if other.is_sqlite else "SET lock_timeout = '20ms'")
        cursor.close()
        dbapi_conn.commit()

    yield other
    other.dispose()


def on_hand(db: Database, sku_id: int) -> int:
    query = select(t.StockOnHand.quantity).where(t.StockOnHand.sku_id == sku_id)
    return db.run_sync(lambda s: s.scalar(query))


def test_shipped_units_lock_the_counts_they_change(
    hub_db: Database, impatient: Database, stocked: dict[str, int], fake_clock: FakeClock
) -> None:
    """While one transaction takes shipped units off CUP's count, a second writer waits: on
    SQLite for the whole database (one writer at a time), on PostgreSQL only for CUP's rows
    (read FOR UPDATE: unlocked, both would read 20 and one decrement would be lost), so
    LID's count changes side by side."""

    def ship(code: str, units: int) -> None:
        with impatient.transaction() as second:
            _Consumer(second, fake_clock.now()).units(stocked[code], units)

    with hub_db.transaction() as first:
        _Consumer(first, fake_clock.now()).units(stocked["CUP"], 2)
        with pytest.raises(StorageError, match=r"locked|lock timeout"):
            ship("CUP", 3)
        if hub_db.is_sqlite:
            with pytest.raises(StorageError, match="locked"):
                ship("LID", 3)
        else:
            ship("LID", 3)
    assert on_hand(hub_db, stocked["CUP"]) == 18
    assert on_hand(hub_db, stocked["LID"]) == (20 if hub_db.is_sqlite else 17)
