"""The incremental stock picture plans exactly what a full one plans (issue 20, item 7)."""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hub.core.stock.picture import Picture, load_picture
from hub.core.stock.picture_cache import PictureCache
from hub.core.stock.plan import Push, grant_raises, plan
from hub.core.stock.push import claims
from hub.storage import migrate
from hub.storage import tables as t
from hub.storage.db import Database

WINDOW = timedelta(minutes=30)
SHOPS = [1, 2, 3, 4]
ABSOLUTE = frozenset({4})


@pytest.fixture
def wall(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """The clock that stamps listing changes, moved by hand (no sleeping)."""
    now = [datetime(2026, 12, 1, tzinfo=UTC)]
    monkeypatch.setattr(t, "change_clock", lambda: now[0])
    return now


def make_db(path: Path) -> Database:
    db = Database(f"sqlite:///{path / 'hub.db'}")
    migrate.upgrade(db)
    return db


def populate(s: Session, rng: random.Random, now: datetime, skus: int = 30) -> None:
    for shop in SHOPS:
        s.add(t.Shop(id=shop, name=f"s{shop}", platform="fake", app_key="k", app_secret="x", created_at=now))
    s.add(t.Warehouse(id=1, code="main"))
    s.add(t.Warehouse(id=2, code="east"))
    s.flush()
    for i in range(1, skus + 1):
        s.add(t.Sku(id=i, code=f"C{i}", price=100, created_at=now, updated_at=now))
    s.flush()
    for i in range(1, skus + 1):
        if i % 7:  # every 7th SKU is never counted
            quantity = rng.randint(0, 60)
            s.add(t.StockOnHand(sku_id=i, warehouse_id=1, quantity=quantity, counted_at=now, updated_at=now))
    listing = 0
    for i in range(1, skus + 1):
        for shop in rng.sample(SHOPS, rng.randint(1, 4)):
            for _ in range(2 if rng.random() < 0.05 else 1):  # a few duplicates
                listing += 1
                s.add(new_listing(listing, shop, i, rng.randint(0, 60), now))
    for shop in SHOPS:
        s.add(t.SyncCursor(shop_id=shop, stream="new_orders", position=now, updated_at=now))
    s.add(t.AllocationRule(shop_id=2, sku_id=None, share=50))


def new_listing(listing_id: int, shop: int, sku: int | None, quantity: int, now: datetime) -> t.Listing:
    return t.Listing(
        id=listing_id,
        shop_id=shop,
        platform_item_id=f"I{listing_id}",
        platform_sku_id=f"P{listing_id}",
        master_code=None,
        sku_id=sku,
        price=100,
        status="onsale",
        platform_quantity=quantity,
        quantity_as_of=now,
        last_seen_at=now,
    )


def mutate(s: Session, rng: random.Random, now: datetime) -> None:
    """A few random changes of the kinds a cycle sees."""
    skus = list(s.scalars(select(t.Sku.id)))
    listings = list(s.scalars(select(t.Listing)))
    for _ in range(rng.randint(0, 6)):
        kind = rng.randrange(12)
        listing = rng.choice(listings)
        sku = rng.choice(skus)
        if kind == 0:  # a count set
            row = s.scalar(select(t.StockOnHand).where(t.StockOnHand.sku_id == sku))
            if row is None:
                s.add(t.StockOnHand(sku_id=sku, warehouse_id=2, quantity=5, counted_at=now, updated_at=now))
            else:
                row.quantity = rng.randint(0, 60)
        elif kind == 1:  # a read
            listing.platform_quantity, listing.quantity_as_of = rng.randint(0, 60), now
            listing.needs_read = False
        elif kind == 2:  # a write in doubt
            listing.needs_read = True
        elif kind == 3:  # relinked, unlinked, removed, relisted
            choice = rng.randrange(4)
            if choice == 0:
                listing.sku_id = sku
            elif choice == 1:
                listing.sku_id = None
            elif choice == 2:
                listing.status = "removed"
            else:
                listing.status, listing.sku_id = "onsale", listing.sku_id or sku
        elif kind == 4:  # a new listing
            last = s.scalar(select(func.max(t.Listing.id))) or 0
            s.add(new_listing(last + 1, rng.choice(SHOPS), sku, rng.randint(0, 9), now))
            s.flush()
        elif kind in (5, 6, 7):  # a sale on a linked listing
            if listing.sku_id is None:
                continue
            created = now - timedelta(seconds=rng.randint(0, 1500))
            order = t.Order(
                shop_id=listing.shop_id,
                platform_order_id=f"O{rng.getrandbits(40)}",
                status="awaiting_shipment",
                platform_status="paid",
                created_at_platform=created,
                modified_at_platform=created,
                total=100,
                stored_at=now,
                updated_at=now,
            )
            line = t.OrderLine(
                line_id="1",
                platform_item_id=listing.platform_item_id,
                platform_sku_id=listing.platform_sku_id,
                sku_id=listing.sku_id,
                quantity=rng.randint(1, 3),
                unit_price=100,
            )
            order.lines.append(line)
            s.add(order)
            s.flush()
            s.add(
                t.Reservation(
                    order_line_id=line.id,
                    sku_id=listing.sku_id,
                    quantity=line.quantity,
                    state="held",
                    created_at=now,
                    updated_at=now,
                )
            )
        elif kind == 8:  # a cancellation
            order = s.scalar(select(t.Order).where(t.Order.status == "awaiting_shipment").limit(1))
            if order is not None:
                order.status, order.modified_at_platform, order.updated_at = "cancelled", now, now
                s.execute(
                    update(t.Reservation)
                    .where(t.Reservation.order_line_id.in_([x.id for x in order.lines]))
                    .values(state="released", updated_at=now)
                )
        elif kind == 9:  # settings of a SKU
            row = s.get(t.Sku, sku)
            assert row is not None
            row.partitioned = rng.random() < 0.3
            row.partition_below = rng.choice([None, None, 5, 40])
            row.safety_stock = rng.choice([None, 0, 2])
        elif kind == 11:  # a stock cycle recorded: the measured propagation delay moves
            started = now - timedelta(seconds=rng.randint(30, 900))
            s.add(
                t.SyncRun(
                    shop_id=1,
                    stream="stock",
                    started_at=started,
                    finished_at=started + timedelta(seconds=rng.randint(1, 600)),
                    status="ok",
                )
            )
        else:  # an order window read
            s.execute(
                update(t.SyncCursor)
                .where(t.SyncCursor.shop_id == rng.choice(SHOPS))
                .values(position=now + timedelta(seconds=1))
            )


def apply(s: Session, pushes: list[Push], rng: random.Random, now: datetime) -> None:
    """Most planned writes land (acknowledged with the quantity); some never happen."""
    for push in pushes:
        if rng.random() < 0.8:
            s.execute(
                update(t.Listing)
                .where(t.Listing.id == push.listing.id)
                .values(platform_quantity=push.target, quantity_as_of=now, pushed_quantity=push.target)
            )


def snapshot(picture: Picture) -> dict[str, Any]:
    return {
        "skus": {
            i: (x.inputs, x.sellable, x.partitioned, x.mode_reason, x.counted)
            for i, x in picture.skus.items()
        },
        "listings": sorted(
            (x.id, x.shop_id, x.sku_id, x.platform_sku_id, x.model, x.as_of, x.needs_read, x.stored)
            for x in picture.listings
        ),
        "order": {i: [x.id for x in xs] for i, xs in picture.by_sku.items() if xs},
        "sold": picture.sold_recently,
        "cursors": picture.cursors,
    }


def writes(pushes: list[Push]) -> list[tuple[int, int, bool, int]]:
    return sorted((p.listing.id, p.target, p.partitioned, p.sellable) for p in pushes)


@pytest.mark.parametrize(
    "tick",
    [timedelta(minutes=2), timedelta(seconds=5), timedelta(0)],
    ids=["beyond-the-margin", "within-the-margin", "a-clock-that-does-not-move"],
)
def test_incremental_picture_plans_what_a_full_one_plans(
    tmp_path: Path, wall: list[datetime], tick: timedelta
) -> None:
    """Whatever the wall clock does between loads (rows changed long ago, within the
    change margin and so looked at again, or stamped in the very tick a load began)."""
    rng = random.Random(20)
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    db = make_db(tmp_path)
    db.run_sync(lambda s: populate(s, rng, now))
    cache = PictureCache(
        full_pass=timedelta(days=1), safety_default=1, partition_below=None, sales_window=WINDOW
    )
    planned_anything = 0
    for _ in range(60):

        def cycle(s: Session, now: datetime = now) -> list[Push]:
            claimed = claims(s)
            fresh = cache.load(s, now)
            full = load_picture(s, now, safety_default=1, partition_below=None, sales_window=WINDOW)
            assert snapshot(fresh) == snapshot(full)
            assert sorted(x.id for x in fresh.needing_read()) == sorted(x.id for x in full.needing_read())
            pushes = plan(fresh, shop_ids=set(SHOPS), absolute_shops=ABSOLUTE)
            expected = plan(full, shop_ids=set(SHOPS), absolute_shops=ABSOLUTE)
            assert writes(pushes) == writes(expected)
            granted = grant_raises([p for p in pushes if not p.lowers], fresh, claimed)
            assert writes(granted) == writes(
                grant_raises([p for p in expected if not p.lowers], full, claimed)
            )
            cache.planned(fresh)
            return [p for p in pushes if p.lowers] + granted

        pushes = db.run_sync(cycle)
        planned_anything += bool(pushes)
        db.run_sync(lambda s, pushes=pushes, now=now: apply(s, pushes, rng, now))
        db.run_sync(lambda s, now=now: mutate(s, rng, now))
        now += rng.choice([timedelta(seconds=5), timedelta(minutes=3), timedelta(minutes=11)])
        wall[0] += tick
    assert cache.full_loads == 1 and cache.incremental_loads == 59
    assert planned_anything > 10  # the random changes did make work


def test_a_quiet_cycle_plans_no_sku(tmp_path: Path, wall: list[datetime]) -> None:
    rng = random.Random(3)
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    db = make_db(tmp_path)
    db.run_sync(lambda s: populate(s, rng, now))
    cache = PictureCache(
        full_pass=timedelta(hours=1), safety_default=0, partition_below=None, sales_window=WINDOW
    )

    def cycle(s: Session) -> tuple[set[int] | None, list[Push]]:
        picture = cache.load(s, now)
        pushes = plan(picture, shop_ids=set(SHOPS))
        cache.planned(picture)
        return picture.dirty, pushes

    dirty, pushes = db.run_sync(cycle)
    assert dirty is None and pushes  # cold: everything, and the listings are off their targets
    db.run_sync(lambda s: apply(s, pushes, random.Random(0), now))  # ~80% land
    # Orders are read past those writes: partitioned raises may go ahead (see stock._fresh).
    db.run_sync(lambda s: s.execute(update(t.SyncCursor).values(position=now + timedelta(seconds=1))))
    wall[0] += timedelta(minutes=2)
    dirty, retried = db.run_sync(cycle)
    assert dirty and {p.listing.sku_id for p in retried} <= dirty
    for _ in range(5):  # the rest lands too: nothing left to do, nothing to look at
        db.run_sync(lambda s, retried=retried: apply(s, retried, random.Random(1), now))
        wall[0] += timedelta(minutes=2)
        dirty, retried = db.run_sync(cycle)
    wall[0] += timedelta(minutes=2)
    dirty, pushes = db.run_sync(cycle)
    assert dirty == set() and pushes == []
    # A count changes: only that SKU is looked at.
    one = update(t.StockOnHand).where(t.StockOnHand.sku_id == 1).values(quantity=3)
    db.run_sync(lambda s: s.execute(one))
    wall[0] += timedelta(minutes=2)
    dirty, pushes = db.run_sync(cycle)
    assert dirty == {1} and {p.listing.sku_id for p in pushes} == {1}


def test_rows_changed_within_the_margin_are_reread_once(tmp_path: Path, wall: list[datetime]) -> None:
    """A busy minute of writes is not read again at every load: a row within the change
    margin is re-read only when its change mark is not the one the picture holds."""
    rng = random.Random(7)
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    db = make_db(tmp_path)
    db.run_sync(lambda s: populate(s, rng, now))
    total = db.run_sync(lambda s: s.scalar(select(func.count(t.Listing.id))))
    cache = PictureCache(
        full_pass=timedelta(hours=1), safety_default=0, partition_below=None, sales_window=WINDOW
    )
    load = lambda: db.run_sync(lambda s: cache.load(s, now))  # noqa: E731
    load()  # full
    wall[0] += timedelta(seconds=5)
    load()  # every row is within the margin and the full load kept no marks: all re-read
    assert cache.rows_reread == total
    wall[0] += timedelta(seconds=5)
    db.run_sync(lambda s: s.execute(update(t.Listing).where(t.Listing.id == 3).values(platform_quantity=1)))
    wall[0] += timedelta(seconds=5)
    picture = load()
    assert cache.rows_reread == total + 1  # the one row written since
    assert next(x for x in picture.listings if x.id == 3).stored == 1
    # Written in the very tick the next load begins (a clock that has not moved): that row
    # is read again by the load after, even though its mark may look the same.
    db.run_sync(lambda s: s.execute(update(t.Listing).where(t.Listing.id == 4).values(platform_quantity=2)))
    load()
    db.run_sync(lambda s: s.execute(update(t.Listing).where(t.Listing.id == 4).values(platform_quantity=3)))
    picture = load()
    assert next(x for x in picture.listings if x.id == 4).stored == 3


def test_full_pass_when_due_and_when_a_rule_changes(tmp_path: Path, wall: list[datetime]) -> None:
    rng = random.Random(5)
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    db = make_db(tmp_path)
    db.run_sync(lambda s: populate(s, rng, now))
    cache = PictureCache(
        full_pass=timedelta(minutes=30), safety_default=0, partition_below=None, sales_window=WINDOW
    )
    load = lambda: db.run_sync(lambda s: cache.load(s, now))  # noqa: E731
    load()
    now += timedelta(minutes=10)
    load()
    assert (cache.full_loads, cache.incremental_loads) == (1, 1)
    now += timedelta(minutes=25)  # 35 minutes since the full pass
    assert load().dirty is None and cache.full_loads == 2
    db.run_sync(lambda s: s.add(t.AllocationRule(shop_id=1, sku_id=None, share=10)))
    assert load().dirty is None and cache.full_loads == 3
    db.run_sync(lambda s: s.execute(update(t.Listing).values(sku_id=None)))
    wall[0] += timedelta(minutes=5)
    assert list(load().listings) == []
    never = PictureCache(full_pass=timedelta(0), safety_default=0, partition_below=None, sales_window=WINDOW)
    db.run_sync(lambda s: never.load(s, now))
    db.run_sync(lambda s: never.load(s, now))
    assert never.full_loads == 2  # HUB_STOCK_FULL_PASS_MINUTES=0: every load is full


def test_the_benchmark_runs_at_a_small_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The stock-cycle benchmark's smoke test (figures are never asserted)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    try:
        import stock_cycle
    finally:
        sys.path.pop(0)
    stock_cycle.main(["--skus", "300", "--shops", "3", "--changes", "10", "--dir", str(tmp_path)])
    import json

    result = json.loads(capsys.readouterr().out)
    assert result["full_cycle"]["pushes"] == 0 and result["no_change_cycle"]["pushes"] == 0
    assert result["small_change_cycle"]["pushes"] == 30  # 10 SKUs × 3 shops lowered by one
    assert set(result["targets"]) == {"peak_rss_mb", "no_change_share"}


def test_a_longer_propagation_delay_changes_the_mode_of_a_selling_sku(
    tmp_path: Path, wall: list[datetime]
) -> None:
    """Nothing about the SKU changes, but the measured delay does: 60 sold in the last hour
    is 10 expected sales in a 600 s delay, and 15 sellable < 20 partitions it."""
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    db = make_db(tmp_path)

    def setup(s: Session) -> None:
        s.add(t.Shop(id=1, name="s1", platform="fake", app_key="k", app_secret="x", created_at=now))
        s.add(t.Warehouse(id=1, code="main"))
        s.add(t.Sku(id=1, code="C1", price=100, created_at=now, updated_at=now))
        s.flush()
        s.add(t.StockOnHand(sku_id=1, warehouse_id=1, quantity=15, counted_at=now, updated_at=now))
        s.add(new_listing(1, 1, 1, 15, now))
        sold_at = now - timedelta(minutes=59)
        order = t.Order(
            shop_id=1,
            platform_order_id="O1",
            status="completed",
            platform_status="done",
            created_at_platform=sold_at,
            modified_at_platform=sold_at,
            total=100,
            stored_at=sold_at,
            updated_at=sold_at,
        )
        order.lines.append(
            t.OrderLine(
                line_id="1", platform_item_id="I1", platform_sku_id="P1", sku_id=1, quantity=60, unit_price=1
            )
        )
        s.add(order)

    db.run_sync(setup)
    wall[0] += timedelta(minutes=2)  # the listing's change is older than the first load's margin
    cache = PictureCache(
        full_pass=timedelta(hours=1), safety_default=0, partition_below=None, sales_window=WINDOW * 2
    )
    assert not db.run_sync(lambda s: cache.load(s, now)).skus[1].partitioned
    for minutes in (20, 15):  # two cycles 5 minutes apart, 5 minutes each: a 600 s delay
        started = now - timedelta(minutes=minutes)
        finished = started + timedelta(minutes=5)
        runs = t.SyncRun(stream="stock", started_at=started, finished_at=finished, status="ok")
        db.run_sync(lambda s, runs=runs: s.add(runs))
    wall[0] += timedelta(minutes=2)
    picture = db.run_sync(lambda s: cache.load(s, now))
    assert cache.incremental_loads == 1
    assert picture.skus[1].mode_reason.startswith("partitioned: 15 sellable < 20")
    assert picture.dirty == {1}


@pytest.mark.anyio
async def test_a_sync_engine_keeps_its_picture_across_cycles(tmp_path: Path, fake_clock: Any) -> None:
    """`hub sync --watch`: the first cycle reads everything, later ones only what changed,
    and a new count still reaches every shop."""
    from hub.simulator.lab import Lab
    from tests.conftest import fake_host
    from tests.test_engine import SHARED, SHOPS, seed

    lab = Lab.create(
        f"sqlite:///{tmp_path / 'hub.db'}",
        shops=SHOPS,
        seed=seed(),
        clock=fake_clock,
        host_factory=fake_host,
        settings=SHARED,
    )
    try:
        lab.import_catalogue(on_hand=20, codes=["CUP", "LID"])
        await lab.sync()
        assert lab.shown("CUP") == {"a": 20, "b": 20, "c": 20}
        pictures = lab.engine().stock.pictures
        assert pictures.full_loads == 1 and pictures.incremental_loads >= 1  # observe full, the rest not
        cup = select(t.Sku.id).where(t.Sku.code == "CUP").scalar_subquery()
        lab.app.database().run_sync(
            lambda s: s.execute(update(t.StockOnHand).where(t.StockOnHand.sku_id == cup).values(quantity=12))
        )
        fake_clock.advance(60)
        report = await lab.sync()
        assert lab.shown("CUP") == {"a": 12, "b": 12, "c": 12}
        assert sum(r.pushed for r in report.results if r.stream == "stock") == 3
        assert pictures.full_loads == 1
    finally:
        lab.close()
