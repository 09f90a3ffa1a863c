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
from hub.storage import migrate
from hub.storage import tables as t
from hub.storage.db import Database
from hub.testing import FakeClock
from hub.testing.postgres import PostgresForTests


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


def test_a_warehouse_created_by_another_process_meanwhile_is_kept(
    hub_db: Database, impatient: Database
) -> None:
    """Another process creates warehouse "east" between our read and our insert: on
    PostgreSQL (INSERT … ON CONFLICT DO NOTHING) we keep its row; on SQLite it cannot
    happen, as the other writer is refused while our transaction holds the write lock."""
    interloper: list[str] = []

    def other_process(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO warehouses") and not interloper:
            interloper.append("tried")
            with impatient.transaction() as other:
                other.add(t.Warehouse(code="east", name="theirs"))
            interloper.append("committed")

    event.listen(hub_db.engine, "before_cursor_execute", other_process)
    if hub_db.is_sqlite:
        with pytest.raises(StorageError, match="locked"), hub_db.transaction() as s:
            catalog.warehouse(s, "east", create=True)
        return
    with hub_db.transaction() as s:
        row = catalog.warehouse(s, "east", create=True)
        assert (row.code, row.name) == ("east", "theirs")
    assert interloper == ["tried", "committed"]


# --- the test databases themselves (hub.testing.postgres) --------------------------------------


def _skus(url: str) -> list[tuple[int, str]]:
    db = Database(url)
    try:
        return db.run_sync(lambda s: [tuple(row) for row in s.execute(select(t.Sku.id, t.Sku.code))])
    finally:
        db.dispose()


def _add_sku(url: str, code: str) -> None:
    db = Database(url)
    try:
        db.run_sync(lambda s: catalog.add_sku(s, code=code, title=code, price=1, now=FakeClock().now()))
    finally:
        db.dispose()


@pytest.mark.postgres
def test_a_released_postgres_database_comes_back_empty(hub_postgres: PostgresForTests) -> None:
    url = hub_postgres.migrated_database()
    _add_sku(url, "CUP")
    _add_sku(url, "LID")
    db = Database(url)
    forgotten = db.engine.connect()
    forgotten.execute(select(t.Sku.id))  # a transaction left open: it would block TRUNCATE
    hub_postgres.release(url)
    forgotten.invalidate()
    db.dispose()
    again = hub_postgres.migrated_database()
    try:
        assert again == url  # reused, not created again
        assert _skus(again) == []
        _add_sku(again, "CUP")
        assert _skus(again) == [(1, "CUP")]  # identities restart too
    finally:
        hub_postgres.release(again)


@pytest.mark.postgres
@pytest.mark.parametrize("change", ["downgrade", "extra table"])
def test_a_postgres_database_whose_schema_changed_is_dropped(
    hub_postgres: PostgresForTests, change: str
) -> None:
    url = hub_postgres.migrated_database()
    db = Database(url)
    if change == "downgrade":
        migrate.downgrade(db, "base")
    else:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE scratch (id int)")
    db.dispose()
    hub_postgres.release(url)
    fresh = hub_postgres.migrated_database()
    try:
        assert fresh != url
        checked = Database(fresh)
        assert migrate.current_revision(checked) == migrate.head_revision(checked)
        checked.dispose()
        assert not hub_postgres.exists(url)
    finally:
        hub_postgres.release(fresh)
