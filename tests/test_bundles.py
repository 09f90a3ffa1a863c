"""Bundle SKUs (组合商品, issue 17): recipes, sellable units, reservations of components,
and allocation that never lets a component and its bundles promise more than exists."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hub.core import bundles, catalog
from hub.core.stock import picture as stock_picture
from hub.core.stock import plan as stock_plan
from hub.models import OrderStatus
from hub.simulator import Seed
from hub.simulator.lab import Lab
from hub.simulator.seed import SeedProduct, SeedSku
from hub.storage import tables as t
from hub.testing import FakeClock
from tests.conftest import Invoke, fake_host

pytestmark = pytest.mark.anyio

SHOPS = {"a": "fake", "b": "fake", "c": "fake_abs"}


def seed() -> Seed:
    return Seed(
        products=[
            SeedProduct(
                title="杯子",
                skus=[
                    SeedSku(code="CUP-500", price=12900, stock=0),
                    SeedSku(code="TEA-100", price=3900, stock=0),
                ],
            ),
            SeedProduct(title="礼盒", skus=[SeedSku(code="GIFT-BOX", price=29900, stock=0)]),
        ]
    )


def make_lab(url: str, clock: FakeClock, **settings: object) -> Lab:
    lab = Lab.create(url, shops=SHOPS, seed=seed(), clock=clock, host_factory=fake_host, settings=settings)
    lab.import_catalogue(on_hand=20, codes=["CUP-500", "TEA-100"])
    now = lab.clock.now()

    def write(s):  # type: ignore[no-untyped-def]
        box = catalog.add_sku(s, code="GIFT-BOX", title="礼盒", price=29900, now=now)
        bundles.set_recipe(s, box, [bundles.Component("CUP-500", 2), bundles.Component("TEA-100", 1)])
        catalog.set_on_hand(s, catalog.sku_by_code(s, "TEA-100"), 5, None, now)

    lab.app.db.run_sync(write)
    return lab


@pytest.fixture
def lab(hub_db_url: str, fake_clock: FakeClock) -> Iterator[Lab]:
    lab = make_lab(hub_db_url, fake_clock, partition_below=0)  # shared: the plain numbers
    yield lab
    lab.close()


def buy(lab: Lab, shop: str, code: str, qty: int = 1, *, paid: bool = True) -> str:
    lab.clock.advance(3)
    return lab.sandboxes[shop].state.order_code(code, qty, paid=paid).order_id


def picture(lab: Lab) -> dict[str, stock_picture.SkuInfo]:
    settings = lab.app.settings

    def read(s):  # type: ignore[no-untyped-def]
        p = stock_picture.load_picture(
            s,
            lab.clock.now(),
            safety_default=settings.safety_stock,
            partition_below=settings.partition_below,
            sales_window=timedelta(minutes=settings.sales_window_minutes),
        )
        return {x.code: x for x in p.skus.values()}

    return lab.app.db.run_sync(read)


def on_hand(lab: Lab, code: str) -> int:
    return lab.app.db.run_sync(
        lambda s: s.scalar(select(func.sum(t.StockOnHand.quantity)).join(t.Sku).where(t.Sku.code == code))
    )


async def test_a_bundle_sells_what_its_components_make_on_every_shop(lab: Lab) -> None:
    skus = picture(lab)
    box = skus["GIFT-BOX"]
    assert (box.sellable, box.counted, box.on_hand) == (5, True, {})  # min(20 // 2, 5 // 1)
    report = await lab.sync()
    assert report.exit_code == 0, report.to_dict()
    assert lab.shown("GIFT-BOX") == dict.fromkeys(SHOPS, 5)
    assert lab.shown("CUP-500") == dict.fromkeys(SHOPS, 20)
    lab.app.db.run_sync(
        lambda s: catalog.set_on_hand(s, catalog.sku_by_code(s, "TEA-100"), 40, None, lab.clock.now())
    )
    lab.clock.advance(5)
    await lab.sync()
    assert lab.shown("GIFT-BOX") == dict.fromkeys(SHOPS, 10)  # now the cups are short: 20 // 2


async def test_selling_a_bundle_reserves_its_components_shipping_consumes_cancelling_releases(
    lab: Lab,
) -> None:
    await lab.sync()
    shipped = buy(lab, "a", "GIFT-BOX", 2)
    cancelled = buy(lab, "b", "GIFT-BOX", 1)
    lab.clock.advance(5)
    await lab.sync()
    skus = picture(lab)
    assert (skus["CUP-500"].reserved, skus["TEA-100"].reserved) == (6, 3)
    assert lab.shown("CUP-500") == dict.fromkeys(SHOPS, 14)
    assert lab.shown("TEA-100") == dict.fromkeys(SHOPS, 2)
    assert lab.shown("GIFT-BOX") == dict.fromkeys(SHOPS, 2)
    lab.clock.advance(3)
    lab.sandboxes["a"].state.ship(shipped, "SF", "SF1")
    lab.sandboxes["b"].state.set_status(cancelled, OrderStatus.CANCELLED)
    lab.clock.advance(5)
    await lab.sync()
    assert (on_hand(lab, "CUP-500"), on_hand(lab, "TEA-100")) == (16, 3)  # 2 boxes left the shelves
    skus = picture(lab)
    assert (skus["CUP-500"].reserved, skus["TEA-100"].reserved) == (0, 0)
    assert lab.shown("CUP-500") == dict.fromkeys(SHOPS, 16)
    assert lab.shown("GIFT-BOX") == dict.fromkeys(SHOPS, 3)


async def test_a_component_sale_lowers_the_bundle_on_every_shop(lab: Lab) -> None:
    await lab.sync()
    buy(lab, "b", "TEA-100", 3)
    lab.clock.advance(5)
    await lab.sync()
    assert lab.shown("GIFT-BOX") == dict.fromkeys(SHOPS, 2)
    buy(lab, "c", "CUP-500", 17)
    lab.clock.advance(5)
    await lab.sync()
    assert lab.shown("GIFT-BOX") == dict.fromkeys(SHOPS, 1)  # 3 cups left: one box


async def test_a_bundle_first_seen_shipped_takes_its_components_off_the_count(lab: Lab) -> None:
    await lab.sync()
    order = buy(lab, "a", "GIFT-BOX", 1)
    lab.sandboxes["a"].state.ship(order, "SF", "SF2")
    lab.clock.advance(5)
    await lab.sync()
    assert (on_hand(lab, "CUP-500"), on_hand(lab, "TEA-100")) == (18, 4)


async def test_partitioned_component_and_its_bundle_never_promise_more_than_exists(
    hub_db_url: str, fake_clock: FakeClock
) -> None:
    lab = make_lab(hub_db_url, fake_clock)  # 20 cups and 5 teas on 3 shops: partitioned
    try:
        await lab.sync()
        lab.clock.advance(2)
        await lab.sync()
        skus = picture(lab)
        assert skus["CUP-500"].partitioned and skus["GIFT-BOX"].partitioned, skus["GIFT-BOX"].mode_reason
        assert "its component" in skus["GIFT-BOX"].mode_reason
        cups = sum(lab.shown("CUP-500").values()) + 2 * sum(lab.shown("GIFT-BOX").values())
        teas = sum(lab.shown("TEA-100").values()) + sum(lab.shown("GIFT-BOX").values())
        assert cups <= 20 and teas <= 5
        assert sum(lab.shown("GIFT-BOX").values()) > 0 and sum(lab.shown("CUP-500").values()) > 0
    finally:
        lab.close()


# --- the pure parts ---------------------------------------------------------------------------


def info(code: str, sid: int, on_hand: dict[str, int] | None = None, **kw: object) -> stock_picture.SkuInfo:
    return stock_picture.SkuInfo(sid, code, on_hand or {}, 0, 0, **kw)  # type: ignore[arg-type]


def listing(lid: int, shop: int, sku: int, model: int) -> stock_picture.ListingInfo:
    from hub.testing.clock import FakeClock as Clock

    return stock_picture.ListingInfo(lid, shop, sku, "i", f"s{lid}", None, model, Clock().now(), False, model)


def test_partitioned_targets_share_component_units_with_bundle_listings() -> None:
    cup = info("CUP", 1, on_hand={"main": 12}, sellable=12, partitioned=True, used_by={3: 2})
    tea = info("TEA", 2, on_hand={"main": 50}, sellable=50, used_by={3: 1})
    box = info("BOX", 3, sellable=6, partitioned=True, recipe={1: 2, 2: 1}, parts_counted=True)
    by_sku = {
        1: [listing(10 + s, s, 1, 0) for s in range(4)],
        2: [listing(20 + s, s, 2, 0) for s in range(4)],
        3: [listing(30 + s, s, 3, 0) for s in range(4)],
    }
    pic = stock_picture.Picture({1: cup, 2: tea, 3: box}, by_sku, {}, {}, {})
    wanted = stock_plan.targets(pic)
    cups = sum(wanted[x.id] for x in by_sku[1]) + 2 * sum(wanted[x.id] for x in by_sku[3])
    assert cups == 12  # every cup is on offer once, as a cup or in a box
    assert all(wanted[x.id] == 50 for x in by_sku[2])  # tea is plentiful: shared
    assert sum(wanted[x.id] for x in by_sku[3]) >= 2
    # raises are granted only from cups no listing holds
    pushes = stock_plan.plan(pic, shop_ids={0, 1, 2, 3})
    granted = stock_plan.grant_raises([p for p in pushes if not p.lowers], pic)
    given = {p.listing.sku_id: 0 for p in granted}
    for p in granted:
        given[p.listing.sku_id] += p.target
    assert given.get(1, 0) + 2 * given.get(3, 0) <= 12


def test_a_bundle_listing_holds_its_components_units_before_anything_is_raised() -> None:
    cup = info("CUP", 1, on_hand={"main": 10}, sellable=10, partitioned=True, used_by={3: 2})
    box = info("BOX", 3, sellable=5, partitioned=True, recipe={1: 2}, parts_counted=True)
    by_sku = {1: [listing(10, 0, 1, 0), listing(11, 1, 1, 0)], 3: [listing(30, 0, 3, 4)]}  # 4 boxes shown
    pic = stock_picture.Picture({1: cup, 3: box}, by_sku, {}, {}, {})
    pushes = [stock_plan.Push(by_sku[1][0], 10, True, 10), stock_plan.Push(by_sku[1][1], 10, True, 10)]
    granted = stock_plan.grant_raises(pushes, pic)
    assert sum(p.target for p in granted) == 2  # 10 cups - 2 × 4 in the boxes shown


# --- the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def catalogue(invoke: Invoke) -> Invoke:
    for code, price in (("CUP-500", "129"), ("TEA-100", "39"), ("GIFT-BOX", "299"), ("OTHER", "1")):
        assert invoke("skus", "add", code, "--price", price).exit_code == 0
    assert invoke("stock", "set", "CUP-500", "20").exit_code == 0
    assert invoke("stock", "set", "TEA-100", "5").exit_code == 0
    return invoke


def test_the_bundle_command_sets_and_replaces_the_recipe_audited(catalogue: Invoke) -> None:
    result = catalogue("skus", "bundle", "GIFT-BOX", "--component", "CUP-500:2", "-c", "TEA-100:1", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "sku": "GIFT-BOX",
        "components": {"CUP-500": 2, "TEA-100": 1},
        "replaced": None,
    }
    result = catalogue("skus", "bundle", "GIFT-BOX", "-c", "CUP-500:3")
    assert result.exit_code == 0 and "GIFT-BOX is a bundle of 3 × CUP-500" in result.output
    listed = {r["code"]: r["bundle_of"] for r in json.loads(catalogue("skus", "list", "--json").output)}
    assert listed["GIFT-BOX"] == {"CUP-500": 3} and listed["CUP-500"] == {}
    shown = json.loads(catalogue("stock", "show", "GIFT-BOX", "--json").output)[0]
    assert (shown["bundle_of"], shown["sellable"], shown["counted"]) == ({"CUP-500": 3}, 6, True)
    assert "bundle of 3×CUP-500" in catalogue("stock", "show", "GIFT-BOX").output
    audit = json.loads(catalogue("audit", "list", "--sku", "GIFT-BOX", "--json").output)
    changes = [(e["old"], e["new"]) for e in audit if e["action"] == "sku.bundle"]
    assert sorted(changes, key=str) == sorted(
        [(None, "CUP-500:2;TEA-100:1"), ("CUP-500:2;TEA-100:1", "CUP-500:3")], key=str
    )
    result = catalogue("skus", "unbundle", "GIFT-BOX")
    assert result.exit_code == 0
    shown = json.loads(catalogue("stock", "show", "GIFT-BOX", "--json").output)[0]
    assert (shown["bundle_of"], shown["counted"]) == ({}, False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["GIFT-BOX"], "give at least one component"),
        (["GIFT-BOX", "-c", "NOPE:1"], "unknown component SKU 'NOPE'"),
        (["GIFT-BOX", "-c", "GIFT-BOX:1"], "cannot be a component of itself"),
        (["GIFT-BOX", "-c", "CUP-500:0"], "at least 1"),
        (["GIFT-BOX", "-c", "CUP-500:1.5"], "whole number"),
        (["GIFT-BOX", "-c", "CUP-500:-1"], "whole number"),
        (["GIFT-BOX", "-c", "CUP-500"], "expected CODE:QUANTITY"),
        (["GIFT-BOX", "-c", "CUP-500:1", "-c", "CUP-500:2"], "named twice"),
        (["OTHER", "-c", "TEA-100:1"], "OTHER has 7 units on hand of its own"),
        (["OTHER", "-c", "BOX2:1"], "component BOX2 is itself a bundle; bundles of bundles are refused"),
        (
            ["TEA-100", "-c", "OTHER:1"],
            "TEA-100 is a component of bundle BOX2; bundles of bundles are refused",
        ),
        (["NOPE", "-c", "CUP-500:1"], "unknown SKU 'NOPE'"),
    ],
)
def test_bad_recipes_are_refused_with_one_line_and_change_nothing(
    catalogue: Invoke, args: list[str], message: str
) -> None:
    assert catalogue("skus", "add", "BOX2", "--price", "9").exit_code == 0
    assert catalogue("stock", "set", "OTHER", "7").exit_code == 0
    assert catalogue("stock", "set", "TEA-100", "0").exit_code == 0  # TEA-100 could be a bundle but for BOX2
    assert catalogue("skus", "bundle", "BOX2", "-c", "TEA-100:1").exit_code == 0
    assert catalogue("skus", "bundle", "GIFT-BOX", "-c", "CUP-500:2").exit_code == 0
    before = catalogue("skus", "list", "--json").output
    result = catalogue("skus", "bundle", *args)
    assert result.exit_code == 2, result.output
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1 and message in lines[0], result.output
    assert "Traceback" not in result.output
    assert catalogue("skus", "list", "--json").output == before


def test_a_bundle_takes_no_count_of_its_own(catalogue: Invoke) -> None:
    assert catalogue("skus", "bundle", "GIFT-BOX", "-c", "CUP-500:2").exit_code == 0
    result = catalogue("stock", "set", "GIFT-BOX", "3")
    assert result.exit_code == 2
    assert "GIFT-BOX is a bundle: it has no stock of its own; count its components (CUP-500)" in result.output
    result = catalogue("skus", "unbundle", "CUP-500")
    assert result.exit_code == 2 and "CUP-500 is not a bundle" in result.output


def test_a_count_at_zero_is_removed_when_a_sku_becomes_a_bundle(catalogue: Invoke) -> None:
    assert catalogue("stock", "set", "GIFT-BOX", "0").exit_code == 0
    assert catalogue("skus", "bundle", "GIFT-BOX", "-c", "TEA-100:1").exit_code == 0
    shown = json.loads(catalogue("stock", "show", "GIFT-BOX", "--json").output)[0]
    assert (shown["warehouses"], shown["sellable"]) == ({}, 5)


# --- the SKU file ----------------------------------------------------------------------------


def sku_file(tmp_path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "skus.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_the_sku_file_creates_skus_and_sets_recipes(catalogue: Invoke, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = sku_file(
        tmp_path,
        "sku,title,price,components\n"
        "MINI-BOX,小礼盒,99,CUP-500:1;SPOON:2\n"
        "SPOON,勺子,9.90,\n"
        "GIFT-BOX,,,CUP-500:2;TEA-100:1\n"
        "TEA-100,,39,\n",
    )
    dry = catalogue("skus", "import", path, "--json")
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output)["applied"] is False
    assert "MINI-BOX" not in catalogue("skus", "list").output
    result = catalogue("skus", "import", path, "--apply", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["created"], data["unchanged"]) == (["MINI-BOX", "SPOON"], 1)
    assert data["bundles"] == {"MINI-BOX": "CUP-500:1;SPOON:2", "GIFT-BOX": "CUP-500:2;TEA-100:1"}
    listed = {r["code"]: r for r in json.loads(catalogue("skus", "list", "--json").output)}
    assert listed["MINI-BOX"]["bundle_of"] == {"CUP-500": 1, "SPOON": 2}
    assert (listed["SPOON"]["price"], listed["MINI-BOX"]["title"]) == (990, "小礼盒")
    audit = json.loads(catalogue("audit", "list", "--sku", "GIFT-BOX", "--json").output)
    assert [e["source"] for e in audit if e["action"] == "sku.bundle"] == ["skus.csv:4"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "GIFT-BOX,,,CUP-500:x",
            "line 3, column components: component 'CUP-500:x': the quantity must be a whole",
        ),
        (
            "GIFT-BOX,,,CUP-500:0",
            "line 3, column components: component 'CUP-500:0': the quantity must be at least 1",
        ),
        ("GIFT-BOX,,,NOPE:1", "line 3, column components: bundle GIFT-BOX: unknown component SKU 'NOPE'"),
        (
            "GIFT-BOX,,,GIFT-BOX:1",
            "line 3, column components: bundle GIFT-BOX: a bundle cannot be a component",
        ),
        (
            "GIFT-BOX,,,BOX2:1",
            "line 3, column components: bundle GIFT-BOX: component BOX2 is itself a bundle",
        ),
        ("CUP-500,,,TEA-100:1", "line 3, column components: CUP-500 has 20 units on hand of its own"),
        ("NEW-1,,,CUP-500:1", "line 3, column price: NEW-1 is a new SKU: give its price"),
        ("NEW-1,,abc,", "line 3, column price:"),
        ("CUP-500,,1,", "line 3, column price: CUP-500 exists; change its price with `hub price import`"),
        (",,,CUP-500:1", "line 3, column sku: empty"),
    ],
)
def test_a_bad_row_in_the_sku_file_changes_nothing(
    catalogue: Invoke,
    tmp_path,
    row: str,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    assert catalogue("stock", "set", "TEA-100", "0").exit_code == 0
    assert catalogue("skus", "add", "BOX2", "--price", "9").exit_code == 0
    assert catalogue("skus", "bundle", "BOX2", "-c", "TEA-100:1").exit_code == 0
    before = catalogue("skus", "list", "--json").output
    path = sku_file(tmp_path, f"sku,title,price,components\nSPOON,勺子,9.90,\n{row}\n")
    result = catalogue("skus", "import", path, "--apply")
    assert result.exit_code == 2, result.output
    assert "skus.csv: 1 bad row(s); nothing changed" in result.output
    problems = [x.strip() for x in result.output.splitlines() if "line " in x]
    assert len(problems) == 1 and message in problems[0], result.output
    assert catalogue("skus", "list", "--json").output == before  # SPOON, on the good line 2, was not added


def test_a_stock_file_cannot_count_a_bundle(catalogue: Invoke, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert catalogue("skus", "bundle", "GIFT-BOX", "-c", "CUP-500:2").exit_code == 0
    path = tmp_path / "stock.csv"
    path.write_text("sku,quantity\nCUP-500,30\nGIFT-BOX,4\n", encoding="utf-8")
    result = catalogue("stock", "import", str(path), "--apply")
    assert result.exit_code == 2, result.output
    assert "GIFT-BOX is a bundle: it has no stock of its own" in result.output
    shown = {r["sku"]: r for r in json.loads(catalogue("stock", "show", "--json").output)}
    assert (shown["CUP-500"]["on_hand"], shown["GIFT-BOX"]["warehouses"]) == (20, {})
    path.write_text(
        "sku,quantity\nCUP-500,30\nGIFT-BOX,\n", encoding="utf-8"
    )  # as `hub export stock` writes it
    assert catalogue("stock", "import", str(path), "--apply").exit_code == 0


def test_a_shop_fed_by_some_warehouses_shows_the_bundles_their_components_make() -> None:
    cup = info("CUP", 1, on_hand={"sh": 9, "gz": 30}, sellable=39, used_by={3: 2})
    tea = info("TEA", 2, on_hand={"sh": 10, "gz": 1}, sellable=11, used_by={3: 1})
    box = info("BOX", 3, sellable=11, recipe={1: 2, 2: 1}, parts_counted=True)
    rule = t.AllocationRule(shop_id=0, sku_id=None, share=100, cap=None, floor=0, warehouses=["sh"])
    pic = stock_picture.Picture(
        {1: cup, 2: tea, 3: box}, {3: [listing(30, 0, 3, 0), listing(31, 1, 3, 0)]}, {(0, None): rule}, {}, {}
    )
    wanted = stock_plan.targets(pic)
    assert (wanted[30], wanted[31]) == (4, 11)  # Shanghai: 9 cups make 4 boxes; the other shop: all 11
