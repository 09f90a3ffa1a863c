"""Where SQLite and PostgreSQL behave differently on purpose, and what stays the same."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from hub.core import catalog
from hub.core.orders import _Consumer, store_orders
from hub.errors import StorageError
from hub.models import Order, OrderLine, OrderStatus
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


def _order(status: OrderStatus, minute: int) -> Order:
    placed = datetime(2026, 11, 11, 0, 0, tzinfo=UTC)
    line = OrderLine(
        line_id="L1",
        platform_item_id="I1",
        platform_sku_id="P-CUP",
        master_code="CUP",
        quantity=2,
        unit_price=100,
    )
    return Order(
        platform_order_id="O-1",
        status=status,
        platform_status=status.value,
        created_at=placed,
        modified_at=placed + timedelta(minutes=minute),
        total=200,
        lines=(line,),
    )


def test_an_order_another_process_stores_meanwhile_is_updated_not_refused(
    hub_db: Database, impatient: Database, stocked: dict[str, int], fake_clock: FakeClock
) -> None:
    """A push stores order O-1 (paid) between a sync's read of the stored orders and its
    insert of O-1 (shipped since). On PostgreSQL the sync's insert skips it (ON CONFLICT DO
    NOTHING) and applies its newer version as an update: one order, one reservation, the
    shipped units off the count once. (Without that the unique key refused the whole batch.)
    On SQLite it cannot happen: the other writer is refused while our transaction writes."""
    now = fake_clock.now()
    shop_id = hub_db.run_sync(lambda s: _shop(s, now))
    interloper: list[str] = []

    def other_process(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO orders") and not interloper:
            interloper.append("tried")
            with impatient.transaction() as other:
                store_orders(other, shop_id, [_order(OrderStatus.AWAITING_SHIPMENT, 1)], now)
            interloper.append("committed")

    event.listen(hub_db.engine, "before_cursor_execute", other_process)
    shipped = _order(OrderStatus.SHIPPED, 5)
    if hub_db.is_sqlite:
        with pytest.raises(StorageError, match="locked"), hub_db.transaction() as s:
            store_orders(s, shop_id, [shipped], now)
        return
    with hub_db.transaction() as s:
        changes = store_orders(s, shop_id, [shipped], now)
    assert interloper == ["tried", "committed"]
    assert [(c.order.status, c.previous) for c in changes] == [
        (OrderStatus.SHIPPED, OrderStatus.AWAITING_SHIPMENT)
    ]
    reservations = hub_db.run_sync(
        lambda s: s.execute(select(t.Reservation.sku_id, t.Reservation.state)).all()
    )
    assert reservations == [(stocked["CUP"], "consumed")]
    assert on_hand(hub_db, stocked["CUP"]) == 18


def test_an_order_being_stored_is_locked_until_commit(
    hub_db: Database, impatient: Database, stocked: dict[str, int], fake_clock: FakeClock
) -> None:
    """While one transaction stores an order (here a version it already has, so it writes
    nothing), a second one storing the same order waits for it: on PostgreSQL the order's
    row is read FOR UPDATE, else both would apply their change to the row as each read it."""
    now = fake_clock.now()
    shop_id = hub_db.run_sync(lambda s: _shop(s, now))
    paid = _order(OrderStatus.AWAITING_SHIPMENT, 1)
    hub_db.run_sync(lambda s: store_orders(s, shop_id, [paid], now))
    with hub_db.transaction() as first:
        assert store_orders(first, shop_id, [paid], now) == []
        with pytest.raises(StorageError, match=r"locked|lock timeout"), impatient.transaction() as second:
            store_orders(second, shop_id, [_order(OrderStatus.SHIPPED, 5)], now)
    assert on_hand(hub_db, stocked["CUP"]) == 20


def test_orders_are_stored_where_sqlite_has_no_returning(
    hub_db: Database, stocked: dict[str, int], fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite before 3.35 cannot say which rows an insert added (no RETURNING): there the
    new orders are looked up after the insert, as its one writer cannot have raced us."""
    if not hub_db.is_sqlite:
        pytest.skip("PostgreSQL always has RETURNING")
    for flag in ("insert_returning", "insert_executemany_returning"):  # as the dialect sets them there
        monkeypatch.setattr(hub_db.engine.dialect, flag, False)

    def old_sqlite(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "RETURNING" in statement:
            raise sqlite3.OperationalError('near "RETURNING": syntax error')

    event.listen(hub_db.engine, "before_cursor_execute", old_sqlite)
    now = fake_clock.now()
    shop_id = hub_db.run_sync(lambda s: _shop(s, now))
    changes = hub_db.run_sync(lambda s: store_orders(s, shop_id, [_order(OrderStatus.SHIPPED, 5)], now))
    assert [(c.order.platform_order_id, c.previous) for c in changes] == [("O-1", None)]
    reservations = hub_db.run_sync(
        lambda s: s.execute(select(t.Reservation.sku_id, t.Reservation.state)).all()
    )
    assert reservations == [(stocked["CUP"], "consumed")]


def _shop(s: Session, now: datetime) -> int:
    shop = t.Shop(name="tmall", platform="taobao", app_key="k", app_secret="s", options={}, created_at=now)
    s.add(shop)
    s.flush()
    return shop.id


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
