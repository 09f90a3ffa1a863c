"""After-sales (售后): cases read like orders, and what they do to stock."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from hub.cli import cli
from hub.core import aftersales
from hub.core.orders import store_orders
from hub.models import AfterSale, AfterSaleLine, AfterSaleStatus, AfterSaleType, Order, OrderLine, OrderStatus
from hub.simulator import Seed
from hub.simulator.lab import Lab
from hub.simulator.seed import SeedProduct, SeedSku
from hub.storage import tables as t
from hub.testing import FakeClock
from tests.conftest import fake_host

pytestmark = pytest.mark.anyio

SHOPS = {"a": "fake", "b": "fake"}
SETTINGS = {"partition_below": 0, "aftersales_interval_minutes": 0}


@pytest.fixture
def lab(hub_db_url: str, fake_clock: FakeClock) -> Lab:
    seed = Seed(products=[SeedProduct(title="杯子", skus=[SeedSku(code="CUP", price=1000, stock=0)])])
    lab = Lab.create(
        hub_db_url, shops=SHOPS, seed=seed, clock=fake_clock, host_factory=fake_host, settings=SETTINGS
    )
    lab.import_catalogue(on_hand=20, codes=["CUP"])
    yield lab
    lab.close()


def buy(lab: Lab, shop: str, qty: int) -> str:
    lab.clock.advance(3)
    return lab.sandboxes[shop].state.order_code("CUP", qty).order_id


def open_case(lab: Lab, shop: str, order_id: str, kind: AfterSaleType, qty: int | None = None) -> str:
    lab.clock.advance(3)
    return lab.sandboxes[shop].state.after_sales.open(order_id, kind, quantity=qty).case_id


async def sync(lab: Lab) -> None:
    lab.clock.advance(5)
    report = await lab.sync()
    assert report.exit_code == 0, report.to_dict()


def on_hand(lab: Lab) -> int:
    return lab.app.db.run_sync(lambda s: s.scalar(select(func.sum(t.StockOnHand.quantity))))


def held(lab: Lab) -> int:
    return lab.app.db.run_sync(
        lambda s: s.scalar(
            select(func.coalesce(func.sum(t.Reservation.quantity), 0)).where(t.Reservation.state == "held")
        )
    )


def hub(lab: Lab, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj=lab.app, catch_exceptions=False)


# --- refunds before shipment -------------------------------------------------------------------


async def test_a_refund_before_shipment_releases_once_when_order_and_case_both_arrive(lab: Lab) -> None:
    await sync(lab)
    order = buy(lab, "a", 3)
    await sync(lab)
    assert held(lab) == 3 and lab.shown("CUP") == {"a": 17, "b": 17}
    case = open_case(lab, "a", order, AfterSaleType.REFUND_ONLY)  # the order turns refunded too
    await sync(lab)
    await sync(lab)  # read again: nothing moves twice
    assert held(lab) == 0
    assert on_hand(lab) == 20
    assert lab.shown("CUP") == {"a": 20, "b": 20}
    rows = hub(lab, "aftersales", "list", "--json")
    assert [(r["case"], r["type"], r["status"]) for r in json.loads(rows.output)] == [
        (case, "refund_only", "refunded")
    ]


async def test_a_partial_refund_before_shipment_releases_only_its_units(lab: Lab) -> None:
    await sync(lab)
    order = buy(lab, "a", 3)
    await sync(lab)
    open_case(lab, "a", order, AfterSaleType.REFUND_ONLY, qty=1)  # the order stays awaiting shipment
    await sync(lab)
    await sync(lab)
    assert held(lab) == 2
    assert lab.shown("CUP") == {"a": 18, "b": 18}
    lab.sandboxes["a"].state.ship(order, "SF", "SF1")
    await sync(lab)
    assert on_hand(lab) == 18  # two shipped, the refunded one never left
    assert held(lab) == 0


@pytest.mark.parametrize("qty", [3, 1], ids=["whole order", "part of a line"])
async def test_units_a_refund_gives_back_on_the_platform_are_not_added_again(lab: Lab, qty: int) -> None:
    """The platform puts refunded unshipped units back on sale itself. When the hub learns
    of the refund from its case while the order is still open (its new status not read
    yet, or other units of it still to ship), the model of the listing counts that
    give-back: a delta write of the released units on top of it would show them twice."""
    await sync(lab)
    order = buy(lab, "a", 3)
    await sync(lab)
    assert lab.shown("CUP") == {"a": 17, "b": 17}
    open_case(lab, "a", order, AfterSaleType.REFUND_ONLY, qty=qty)
    lab.clock.advance(5)
    for stream in ("aftersales", "stock"):  # the case, before the order is read again
        assert (await lab.sync(streams=[stream])).exit_code == 0
    assert held(lab) == 3 - qty
    assert lab.shown("CUP") == {"a": 17 + qty, "b": 17 + qty}
    await sync(lab)
    assert lab.shown("CUP") == {"a": 17 + qty, "b": 17 + qty}


async def test_the_sandbox_gives_each_refunded_unit_back_once(lab: Lab) -> None:
    """A part of a line refunded before shipment goes back on sale, and closing the order
    later gives back only the rest; sold units count neither (the demo's oversold figure
    is read from them)."""
    await sync(lab)
    state = lab.sandboxes["a"].state
    before = state.quantity_of("CUP")
    order = buy(lab, "a", 3)
    open_case(lab, "a", order, AfterSaleType.REFUND_ONLY, qty=1)
    assert (state.quantity_of("CUP"), state.units_sold("CUP")) == (before - 2, 2)
    state.set_status(order, OrderStatus.REFUNDED)
    assert (state.quantity_of("CUP"), state.units_sold("CUP")) == (before, 0)


def test_a_refund_read_before_its_order_releases_once_the_order_is_stored(app) -> None:
    now = app.clock.now()
    shop_id = app.db.run_sync(lambda s: _fake_shop(s, now))
    order = Order(
        platform_order_id="o1",
        status=OrderStatus.AWAITING_SHIPMENT,
        platform_status="paid",
        created_at=now,
        modified_at=now,
        total=3000,
        lines=(
            OrderLine(
                line_id="l1",
                platform_item_id="i",
                platform_sku_id="s1",
                master_code="CUP",
                quantity=3,
                unit_price=1000,
            ),
        ),
    )
    refund = _case("c1", AfterSaleStatus.REFUNDED, now, qty=3)
    app.db.run_sync(lambda s: aftersales.store_after_sales(s, shop_id, [refund], now))
    app.db.run_sync(lambda s: store_orders(s, shop_id, [order], now))
    assert app.db.run_sync(lambda s: aftersales.settle_unlinked(s, shop_id, now)) == 1
    assert app.db.run_sync(lambda s: aftersales.settle_unlinked(s, shop_id, now)) == 0
    states = app.db.run_sync(lambda s: s.execute(select(t.Reservation.state, t.Reservation.quantity)).all())
    assert states == [("released", 3)]
    # the order read again, still "paid" on the platform: the units stay released
    later = order.model_copy(update={"modified_at": now + timedelta(seconds=5)})
    app.db.run_sync(lambda s: store_orders(s, shop_id, [later], now))
    assert app.db.run_sync(lambda s: s.scalar(select(t.Reservation.state))) == "released"


def _fake_shop(s, now) -> int:
    shop = t.Shop(name="x", platform="fake", app_key="k", app_secret="s", options={}, created_at=now)
    sku = t.Sku(code="CUP", title="", price=1000, created_at=now, updated_at=now)
    s.add_all([shop, sku])
    s.flush()
    return shop.id


def _case(
    case_id: str, status: AfterSaleStatus, at, *, qty: int = 1, kind=AfterSaleType.REFUND_ONLY
) -> AfterSale:
    return AfterSale(
        platform_case_id=case_id,
        platform_order_id="o1",
        type=kind,
        status=status,
        platform_status=status.value,
        created_at=at,
        modified_at=at,
        refund_amount=1000 * qty,
        lines=(
            AfterSaleLine(
                platform_item_id="i", platform_sku_id="s1", master_code="CUP", line_id="l1", quantity=qty
            ),
        ),
    )


def test_cases_are_idempotent_and_an_older_version_never_overwrites_a_newer(app) -> None:
    now = app.clock.now()
    shop_id = app.db.run_sync(lambda s: _fake_shop(s, now))
    newer = _case("c1", AfterSaleStatus.REJECTED, now + timedelta(minutes=1))
    older = _case("c1", AfterSaleStatus.REQUESTED, now)
    for batch in ([older], [newer], [newer], [older]):
        app.db.run_sync(lambda s, b=batch: aftersales.store_after_sales(s, shop_id, b, now))
    rows = app.db.run_sync(lambda s: s.execute(select(t.AfterSale.status)).scalars().all())
    assert rows == ["rejected"]
    assert app.db.run_sync(lambda s: s.scalar(select(func.count()).select_from(t.AfterSaleLine))) == 1
    # one batch holding both versions keeps the newer, whatever the order
    app.db.run_sync(lambda s: aftersales.store_after_sales(s, shop_id, [newer, older], now))
    assert app.db.run_sync(lambda s: s.scalar(select(t.AfterSale.status))) == "rejected"


# --- returns after shipment --------------------------------------------------------------------


async def shipped_order(lab: Lab, qty: int = 2) -> str:
    await sync(lab)
    order = buy(lab, "a", qty)
    lab.sandboxes["a"].state.ship(order, "SF", "SF1")
    await sync(lab)
    assert on_hand(lab) == 20 - qty
    return order


async def test_a_return_restocks_only_when_the_platform_says_it_arrived(lab: Lab) -> None:
    order = await shipped_order(lab)
    open_case(lab, "a", order, AfterSaleType.RETURN_REFUND)
    await sync(lab)
    assert on_hand(lab) == 18  # on its way back: not yet
    assert lab.shown("CUP") == {"a": 18, "b": 18}
    lab.clock.advance(31 * 60)  # the sandbox marks it received after 30 minutes
    await sync(lab)
    assert on_hand(lab) == 20
    assert lab.shown("CUP") == {"a": 20, "b": 20}  # every channel, through the stock cycle
    lab.clock.advance(10 * 60)  # then refunded: nothing is added twice
    await sync(lab)
    assert on_hand(lab) == 20
    case = json.loads(hub(lab, "aftersales", "list", "--json", "--type", "return_refund").output)[0]
    assert case["status"] == "refunded" and case["lines"][0]["received"] == 2


async def test_returns_receive_partial_damaged_then_platform_receipt_adds_nothing_more(lab: Lab) -> None:
    order = await shipped_order(lab, 3)
    case = open_case(lab, "a", order, AfterSaleType.RETURN_REFUND)
    await sync(lab)
    first = hub(lab, "returns", "receive", case, "--sku", "CUP", "--qty", "1")
    assert first.exit_code == 0, first.output
    assert on_hand(lab) == 18
    damaged = hub(lab, "returns", "receive", case, "--qty", "1", "--damaged", "--json")
    assert json.loads(damaged.output)["expected_after"] == 1
    assert on_hand(lab) == 18  # damaged units are not sellable
    lab.clock.advance(31 * 60)  # the platform now says it all arrived: only the last unit is new
    await sync(lab)
    assert on_hand(lab) == 19
    again = hub(lab, "returns", "receive", case)
    assert again.exit_code == 0 and "already received" in again.output
    assert on_hand(lab) == 19
    shown = json.loads(hub(lab, "aftersales", "show", case, "--json").output)
    assert (shown["lines"][0]["received"], shown["lines"][0]["damaged"]) == (3, 1)
    audit = lab.app.db.run_sync(
        lambda s: s.execute(select(t.AuditEntry.action, t.AuditEntry.new).order_by(t.AuditEntry.id)).all()
    )
    assert audit == [("returns.receive", "1"), ("returns.receive", "2")]


async def test_receiving_twice_adds_once(lab: Lab) -> None:
    order = await shipped_order(lab)
    case = open_case(lab, "a", order, AfterSaleType.RETURN_REFUND)
    await sync(lab)
    for _ in range(2):
        assert hub(lab, "returns", "receive", case, "--warehouse", "main").exit_code == 0
    assert on_hand(lab) == 20


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["NOPE"], "unknown after-sale case 'NOPE'"),
        (["{case}", "--sku", "LID"], "has no line of SKU 'LID'"),
        (["{case}", "--qty", "3"], "expects 2 more units; 3 is more than that"),
        (["{case}", "--warehouse", "nowhere"], "unknown warehouse 'nowhere'"),
        (["{case}", "--qty", "0"], "0 is not in the range x>=1"),
        (["{case}", "--shop", "b"], "unknown after-sale case"),
    ],
)
async def test_returns_receive_errors_exit_2_and_change_nothing(
    lab: Lab, args: list[str], message: str
) -> None:
    order = await shipped_order(lab)
    case = open_case(lab, "a", order, AfterSaleType.RETURN_REFUND)
    await sync(lab)
    result = CliRunner().invoke(
        cli, ["returns", "receive", *[a.format(case=case) for a in args]], obj=lab.app
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert on_hand(lab) == 18
    received = lab.app.db.run_sync(lambda s: s.scalar(select(func.sum(t.AfterSaleLine.received))))
    assert received == 0


async def test_a_refund_only_case_has_nothing_to_receive(lab: Lab) -> None:
    order = await shipped_order(lab)
    case = open_case(lab, "a", order, AfterSaleType.REFUND_ONLY)
    await sync(lab)
    result = CliRunner().invoke(cli, ["returns", "receive", case], obj=lab.app)
    assert result.exit_code == 2 and "refund without a return" in result.output
    lab.clock.advance(10 * 60)
    await sync(lab)  # refunded after shipment: the goods stay with the buyer
    assert on_hand(lab) == 18 and held(lab) == 0


async def test_an_exchange_is_restocked_only_by_a_person(lab: Lab) -> None:
    order = await shipped_order(lab)
    case = open_case(lab, "a", order, AfterSaleType.EXCHANGE)
    lab.clock.advance(31 * 60)
    await sync(lab)
    assert on_hand(lab) == 18  # the replacement left as the return came in
    assert hub(lab, "returns", "receive", case).exit_code == 0
    assert on_hand(lab) == 20


# --- listing ------------------------------------------------------------------------------------


async def test_aftersales_list_filters_and_show_errors(lab: Lab) -> None:
    first = await shipped_order(lab)
    open_case(lab, "a", first, AfterSaleType.RETURN_REFUND)
    second = buy(lab, "b", 1)
    refund = open_case(lab, "b", second, AfterSaleType.REFUND_ONLY)
    await sync(lab)
    rows = json.loads(hub(lab, "aftersales", "list", "--shop", "b", "--json").output)
    assert [r["case"] for r in rows] == [refund]
    rows = json.loads(hub(lab, "aftersales", "list", "--status", "returning", "--json").output)
    assert [r["shop"] for r in rows] == ["a"]
    table = CliRunner().invoke(cli, ["aftersales", "list"], obj=lab.app, terminal_width=200)
    assert table.exit_code == 0 and refund in table.output
    for args, message in (
        (["aftersales", "list", "--shop", "zz"], "unknown shop"),
        (["aftersales", "list", "--since", "yesterday"], "invalid --since"),
        (["aftersales", "show", "NOPE"], "unknown after-sale case"),
        (["aftersales", "list", "--status", "bogus"], "Invalid value for '--status'"),
    ):
        result = CliRunner().invoke(cli, args, obj=lab.app)
        assert result.exit_code == 2 and message in result.output, (args, result.output)


async def test_a_platform_without_after_sales_is_skipped_not_failed(lab: Lab, monkeypatch) -> None:
    from hub.client import ShopClient
    from hub.testing.fake import FakeClient

    monkeypatch.setattr(FakeClient, "iter_after_sales", ShopClient.iter_after_sales)
    lab.clock.advance(5)
    report = await lab.sync(streams=["aftersales"])
    assert report.exit_code == 0
    assert all("does not support after-sale reads" in (r.skipped or "") for r in report.results)


# --- simulated buyers --------------------------------------------------------------------------


async def test_simulated_buyers_open_refunds_and_returns_and_the_hub_follows(lab: Lab) -> None:
    import random

    from hub.simulator import Buyers

    await sync(lab)
    buyers = Buyers({"a": lab.sandboxes["a"]}, rng=random.Random(3), after_sale_rate=0.5)
    unshipped = buy(lab, "a", 2)
    shipped = buy(lab, "a", 1)
    lab.sandboxes["a"].state.ship(shipped, "SF", "SF1")
    await sync(lab)
    await buyers.run(["CUP"], seconds=20, rate=1)
    cases = lab.sandboxes["a"].state.after_sales.cases.values()
    kinds = {c.order_id: c.kind for c in cases}
    assert sum(buyers.after_sales.values()) == len(kinds) >= 1
    assert kinds[unshipped] is AfterSaleType.REFUND_ONLY and kinds[shipped] is AfterSaleType.RETURN_REFUND
    lab.clock.advance(3600)  # every return has arrived
    await sync(lab)
    stored = json.loads(hub(lab, "aftersales", "list", "--json").output)
    assert {r["case"] for r in stored} == {c.case_id for c in cases}
    orders = lab.sandboxes["a"].state.orders.values()
    shipped_units = sum(x.quantity for o in orders for x in o.lines if x.shipped)
    open_units = sum(
        x.quantity for o in orders if o.status.holds_stock for x in o.lines if not (x.shipped or x.refunded)
    )
    back = sum(c.quantity for c in cases if c.kind is AfterSaleType.RETURN_REFUND)
    assert on_hand(lab) == 20 - shipped_units + back  # what left, less what came back
    assert held(lab) == open_units  # refunded units released, once


def test_keep_newest_keeps_the_latest_version_of_a_case(app) -> None:
    from hub.client import keep_newest

    now = app.clock.now()
    older, newer = (
        _case("c1", AfterSaleStatus.REQUESTED, now),
        _case("c1", AfterSaleStatus.REFUNDED, now + timedelta(seconds=1)),
    )
    found: dict[str, AfterSale] = {}
    for case in (newer, older):
        keep_newest(found, case)
    assert found == {"c1": newer}


# --- bundles -----------------------------------------------------------------------------------


async def test_a_returned_bundle_goes_back_as_its_components_and_a_refund_releases_them(
    hub_db_url: str, fake_clock: FakeClock
) -> None:
    from tests.test_bundles import make_lab
    from tests.test_bundles import on_hand as units

    lab = make_lab(hub_db_url, fake_clock, partition_below=0, aftersales_interval_minutes=0)
    try:
        await sync(lab)
        state = lab.sandboxes["a"].state
        lab.clock.advance(3)
        shipped = state.order_code("GIFT-BOX", 2).order_id  # 2 × (2 CUP-500 + 1 TEA-100)
        unshipped = state.order_code("GIFT-BOX", 1).order_id
        state.ship(shipped, "SF", "SF1")
        await sync(lab)
        assert (units(lab, "CUP-500"), units(lab, "TEA-100")) == (16, 3)
        assert held(lab) == 1  # the unshipped box holds its components
        open_case(lab, "a", unshipped, AfterSaleType.REFUND_ONLY)
        case = open_case(lab, "a", shipped, AfterSaleType.RETURN_REFUND, qty=1)
        await sync(lab)
        assert held(lab) == 0
        assert hub(lab, "returns", "receive", case).exit_code == 0
        assert (units(lab, "CUP-500"), units(lab, "TEA-100")) == (18, 4)  # one box unpacked onto the shelves
        lab.clock.advance(40 * 60)  # the platform's receipt adds nothing more
        await sync(lab)
        assert (units(lab, "CUP-500"), units(lab, "TEA-100")) == (18, 4)
    finally:
        lab.close()
