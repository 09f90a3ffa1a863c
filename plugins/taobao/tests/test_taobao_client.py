"""The client's behaviour against the sandbox: requests, listings, stock, prices, orders, shipments."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import anyio
import httpx
import pytest

from hub.errors import AuthError, InvalidRequest, MalformedResponse, PermissionDenied
from hub.models import (
    ListingRef,
    ListingStatus,
    OrderStatus,
    PriceUpdate,
    Shipment,
    StockUpdate,
    TimeWindow,
)
from hub.platform import ShopContext
from hub.simulator import SkuState
from hub.testing import FakeClock, make_shop
from hub_taobao.client import classify_error
from hub_taobao.plugin import INFO
from hub_taobao.sandbox import TaobaoSandbox

pytestmark = pytest.mark.anyio

Spy = list[dict[str, str]]


@pytest.fixture
def seen(sandbox: TaobaoSandbox) -> Spy:
    """Every request's parameters, in order, as the sandbox received them."""
    log: Spy = []
    original = sandbox.handle

    def spy(request: httpx.Request) -> httpx.Response:
        log.append(sandbox.read_params(request))
        return original(request)

    sandbox.handle = spy  # type: ignore[method-assign]
    return log


def methods(log: Spy) -> list[str]:
    return [p["method"] for p in log]


def sku(sandbox: TaobaoSandbox, code: str) -> SkuState:
    return sandbox.state.skus_by_code(code)[0]


def ref(s: SkuState) -> ListingRef:
    return ListingRef(platform_item_id=s.item_id, platform_sku_id=s.sku_id, master_code=s.code)


def stock(s: SkuState, quantity: int, key: str, delta: int | None = None) -> StockUpdate:
    return StockUpdate(ref=ref(s), quantity=quantity, delta=delta, idempotency_key=key)


# --- requests -------------------------------------------------------------------------------------------


async def test_request_shape(
    shop: ShopContext, sandbox: TaobaoSandbox, hand_sign: Callable[[str, dict[str, str], str], str]
) -> None:
    request = shop.client.build_request(
        "taobao.item.skus.get",
        {"fields": "sku_id", "num_iids": ["1", "2"], "flag": True, "skip": None, "empty": ""},
    )
    assert request.method == "POST" and str(request.url) == "http://sandbox.test/router/rest"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded;charset=utf-8"
    sent = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
    assert sent.keys() == {
        "method",
        "app_key",
        "session",
        "timestamp",
        "v",
        "sign_method",
        "format",
        "sign",
        "fields",
        "num_iids",
        "flag",
    }
    assert sent["timestamp"] == "2026-11-11 08:00:00"  # the fake clock's midnight UTC, in GMT+8
    assert (sent["v"], sent["format"], sent["sign_method"]) == ("2.0", "json", "hmac-sha256")
    assert (sent["num_iids"], sent["flag"], sent["session"]) == ("1,2", "true", sandbox.access_token)
    assert all(sent.values())
    # The signature covers exactly what is sent.
    assert sent["sign"] == hand_sign("helloworld", sent, "hmac-sha256")


async def test_business_parameters_cannot_override_system_ones(shop: ShopContext) -> None:
    with pytest.raises(ValueError, match="'session' clashes"):
        shop.client.build_request("taobao.item.skus.get", {"session": "x"})


@pytest.mark.parametrize("sign_method", ["md5", "hmac", "hmac-sha256"])
async def test_every_sign_method_is_accepted(
    shop_factory: Callable[..., ShopContext], sign_method: str, seen: Spy
) -> None:
    shop = shop_factory(sign_method=sign_method, partner_id="hub")
    listings = [x async for x in shop.client.iter_listings()]
    await shop.client.aclose()
    assert len(listings) == 6
    assert {p["sign_method"] for p in seen} == {sign_method} and {p["partner_id"] for p in seen} == {"hub"}


async def test_a_skewed_host_clock_is_reported_as_such(sandbox: TaobaoSandbox, clock: FakeClock) -> None:
    fast = FakeClock(clock.now() + timedelta(minutes=11))
    shop = make_shop(INFO, sandbox, clock=fast)
    with pytest.raises(InvalidRequest) as caught:
        [x async for x in shop.client.iter_listings()]
    await shop.client.aclose()
    assert caught.value.parameter == "timestamp" and "clock" in str(caught.value)


async def test_throttling_waits_for_the_ban(
    shop: ShopContext, sandbox: TaobaoSandbox, clock: FakeClock
) -> None:
    sandbox.faults.inject("throttle", 2)
    before = clock.now()
    assert len([x async for x in shop.client.iter_listings()]) == 6
    assert clock.now() - before >= timedelta(seconds=2) and shop.client.stats.retries == 2


async def test_an_expired_session_is_not_refreshed(shop: ShopContext, sandbox: TaobaoSandbox) -> None:
    sandbox.expire_tokens()
    with pytest.raises(AuthError, match="has expired"):
        [x async for x in shop.client.iter_listings()]
    assert shop.client.stats.token_refreshes == 0 and shop.client.stats.calls == 1


async def test_no_secret_reaches_the_logs(
    shop: ShopContext, sandbox: TaobaoSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sandbox.faults.inject("server_error")
    [x async for x in shop.client.iter_listings()]
    sandbox.expire_tokens()
    with pytest.raises(AuthError) as caught:
        await shop.client.fetch_stock([ref(sku(sandbox, "CUP-500"))])
    text = caplog.text + str(caught.value) + repr(shop.settings)
    assert caplog.records
    for secret in ("helloworld", sandbox.access_token):
        assert secret not in text


# --- listings -------------------------------------------------------------------------------------------


async def test_off_sale_and_sku_less_items_are_listed(
    shop: ShopContext, sandbox: TaobaoSandbox, seen: Spy
) -> None:
    sandbox.state.items[sku(sandbox, "CUP-500").item_id].on_sale = False
    mug = sandbox.add_plain_item("马克杯", "MUG", price=1990, quantity=12)
    gone = sandbox.add_plain_item("旧款", "OLD", price=990, quantity=0, on_sale=False)
    listings = {x.platform_sku_id: x async for x in shop.client.iter_listings()}
    assert len(listings) == 8
    assert listings[sku(sandbox, "CUP-500").sku_id].status is ListingStatus.OFF_SALE
    assert listings[sku(sandbox, "CABLE-1M").sku_id].status is ListingStatus.ON_SALE
    plain = listings[mug.item_id]
    assert (plain.platform_item_id, plain.master_code, plain.price, plain.quantity) == (
        mug.item_id,
        "MUG",
        1990,
        12,
    )
    assert listings[gone.item_id].status is ListingStatus.OFF_SALE  # found under the sold_out banner
    banners = [p.get("banner") for p in seen if p["method"] == "taobao.items.inventory.get"]
    assert banners == ["for_shelved", "sold_out", "violation_off_shelf"]


async def test_item_rows_are_expanded_40_at_a_time(
    shop: ShopContext, sandbox: TaobaoSandbox, seen: Spy
) -> None:
    for number in range(85):
        item = sandbox.state.add_item(f"商品{number}", None)
        sandbox.state.add_sku(item, code=f"N{number}", spec="颜色:蓝", price=100, quantity=1)
    listings = [x async for x in shop.client.iter_listings()]
    assert len(listings) == 6 + 85 and len({x.platform_sku_id for x in listings}) == 91
    sizes = [len(p["num_iids"].split(",")) for p in seen if p["method"] == "taobao.item.skus.get"]
    assert sizes == [40, 40, 8]


async def test_a_big_shop_is_read_in_modified_slices(
    shop_factory: Callable[..., ShopContext], sandbox: TaobaoSandbox, clock: FakeClock, seen: Spy
) -> None:
    for number in range(500):
        clock.advance(37)
        item = sandbox.state.add_item(f"商品{number}", None)
        sandbox.state.add_sku(item, code=f"N{number}", spec="颜色:蓝", price=100, quantity=1)
    sandbox.onsale_max_rows = 200  # the platform refuses to page past this
    shop = shop_factory(onsale_max_rows=200, item_page_size=100)
    listings = [x async for x in shop.client.iter_listings()]
    await shop.client.aclose()
    assert len(listings) == 506 and len({x.platform_sku_id for x in listings}) == 506
    sliced = [p for p in seen if p["method"] == "taobao.items.onsale.get" and "start_modified" in p]
    assert len(sliced) >= 3


# --- stock ----------------------------------------------------------------------------------------------


async def test_fetch_stock_reads_skus_and_sku_less_items(
    shop: ShopContext, sandbox: TaobaoSandbox, seen: Spy
) -> None:
    mug = sandbox.add_plain_item("马克杯", "MUG", price=1990, quantity=12)
    refs = [ref(s) for s in sandbox.state.iter_skus()]
    refs.append(ListingRef(platform_item_id=refs[0].platform_item_id, platform_sku_id="4999999999999"))
    levels = await shop.client.fetch_stock(refs)
    got = {level.platform_sku_id: level.quantity for level in levels}
    assert got == {s.sku_id: s.quantity for s in sandbox.state.iter_skus()}  # the unknown SKU is left out
    assert got[mug.item_id] == 12
    assert methods(seen) == ["taobao.item.skus.get", "taobao.item.seller.get"]
    gone = ListingRef(platform_item_id="699999999999", platform_sku_id="699999999999")
    assert await shop.client.fetch_stock([gone]) == []  # an item without SKUs that was deleted


async def test_stock_is_batched_per_item(shop: ShopContext, sandbox: TaobaoSandbox, seen: Spy) -> None:
    mug = sandbox.add_plain_item("马克杯", "MUG", price=1990, quantity=12)
    red_m, red_l = sku(sandbox, "TSHIRT-RED-M"), sku(sandbox, "TSHIRT-RED-L")
    cup = sku(sandbox, "CUP-500")
    updates = [
        stock(red_m, 5, "a"),
        stock(cup, 6, "b"),
        stock(red_l, 7, "c"),
        StockUpdate(
            ref=ListingRef(platform_item_id=mug.item_id, platform_sku_id=mug.item_id),
            quantity=8,
            idempotency_key="d",
        ),
    ]
    results = await shop.client.push_stock(updates)
    assert [r.idempotency_key for r in results] == ["a", "b", "c", "d"]
    assert all(r.ok for r in results) and [r.quantity_after for r in results] == [5, 6, 7, 8]
    assert (red_m.quantity, red_l.quantity, cup.quantity, mug.quantity) == (5, 7, 6, 8)
    calls = {p["num_iid"]: p for p in seen}
    assert calls[red_m.item_id]["method"] == "taobao.skus.quantity.update"
    assert calls[red_m.item_id]["skuid_quantities"] == f"{red_m.sku_id}:5;{red_l.sku_id}:7"
    assert calls[cup.item_id]["method"] == "taobao.item.quantity.update"
    assert calls[cup.item_id]["sku_id"] == cup.sku_id and calls[cup.item_id]["type"] == "1"
    assert calls[mug.item_id]["method"] == "taobao.item.quantity.update"
    assert "sku_id" not in calls[mug.item_id]
    assert len(seen) == 3


async def test_deltas_use_type_2_and_zero_deltas_send_nothing(
    shop: ShopContext, sandbox: TaobaoSandbox, seen: Spy
) -> None:
    red_m, red_l, cup = sku(sandbox, "TSHIRT-RED-M"), sku(sandbox, "TSHIRT-RED-L"), sku(sandbox, "CUP-500")
    results = await shop.client.push_stock(
        [stock(red_m, 35, "a", delta=-5), stock(red_l, 3, "b", delta=3), stock(cup, 15, "c", delta=0)]
    )
    assert all(r.ok for r in results) and (red_m.quantity, red_l.quantity, cup.quantity) == (35, 3, 15)
    assert [(p["method"], p["type"]) for p in seen] == [("taobao.skus.quantity.update", "2")]
    assert seen[0]["skuid_quantities"] == f"{red_m.sku_id}:-5;{red_l.sku_id}:3"


async def test_full_and_delta_updates_of_one_item_go_in_separate_calls(
    shop: ShopContext, sandbox: TaobaoSandbox, seen: Spy
) -> None:
    red_m, red_l = sku(sandbox, "TSHIRT-RED-M"), sku(sandbox, "TSHIRT-RED-L")
    await shop.client.push_stock([stock(red_m, 1, "a"), stock(red_l, 2, "b", delta=2)])
    assert sorted(p["type"] for p in seen) == ["1", "2"] and (red_m.quantity, red_l.quantity) == (1, 2)


async def test_more_than_20_skus_of_an_item_are_chunked(
    shop: ShopContext, sandbox: TaobaoSandbox, seen: Spy
) -> None:
    item = sandbox.state.add_item("大码", "BIG")
    skus = [
        sandbox.state.add_sku(item, code=f"BIG-{n}", spec=f"尺码:{n}", price=100, quantity=0)
        for n in range(45)
    ]
    results = await shop.client.push_stock([stock(s, n, f"k{n}") for n, s in enumerate(skus)])
    assert all(r.ok for r in results) and [s.quantity for s in skus] == list(range(45))
    assert [len(p["skuid_quantities"].split(";")) for p in seen] == [20, 20, 5]


class OverlapTransport(httpx.AsyncBaseTransport):
    """Answers from the sandbox, holding each call open for a few scheduler turns, and
    records how many calls were in flight at once, overall and per item."""

    def __init__(self, sandbox: TaobaoSandbox):
        self.sandbox = sandbox
        self.in_flight: dict[str, int] = {}
        self.most_per_item = 0
        self.most_overall = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        item = self.sandbox.read_params(request).get("num_iid", "")
        self.in_flight[item] = self.in_flight.get(item, 0) + 1
        self.most_per_item = max(self.most_per_item, self.in_flight[item])
        self.most_overall = max(self.most_overall, sum(self.in_flight.values()))
        for _ in range(5):
            await anyio.sleep(0)
        self.in_flight[item] -= 1
        return self.sandbox.dispatch(request)


async def test_items_are_written_concurrently_and_each_item_in_order(
    sandbox: TaobaoSandbox, clock: FakeClock
) -> None:
    transport = OverlapTransport(sandbox)
    shop = make_shop(INFO, sandbox, clock=clock, transport=transport)
    red_m, red_l = sku(sandbox, "TSHIRT-RED-M"), sku(sandbox, "TSHIRT-RED-L")
    cup, cable = sku(sandbox, "CUP-500"), sku(sandbox, "CABLE-1M")
    results = await shop.client.push_stock(
        [
            stock(red_m, 1, "a"),
            stock(red_l, 2, "b"),
            stock(cup, 3, "c"),
            stock(red_m, 9, "d"),
            stock(cable, 4, "e", delta=-1),
            stock(red_m, 20, "f", delta=11),
        ]
    )
    await shop.client.aclose()
    assert all(r.ok for r in results)
    assert (red_m.quantity, red_l.quantity, cup.quantity, cable.quantity) == (20, 2, 3, 499)
    assert transport.most_overall > 1 and transport.most_per_item == 1


async def test_a_sku_twice_in_a_batch_goes_in_the_next_call(
    shop: ShopContext, sandbox: TaobaoSandbox, seen: Spy
) -> None:
    red_m, red_l = sku(sandbox, "TSHIRT-RED-M"), sku(sandbox, "TSHIRT-RED-L")
    await shop.client.push_stock(
        [stock(red_m, 1, "a"), stock(red_l, 2, "b"), stock(red_m, 9, "c"), stock(red_m, 20, "d", delta=11)]
    )
    assert [(p.get("skuid_quantities") or p.get("quantity"), p["type"]) for p in seen] == [
        (f"{red_m.sku_id}:1;{red_l.sku_id}:2", "1"),
        ("9", "1"),
        ("11", "2"),
    ]
    assert red_m.quantity == 20


async def test_a_failing_item_does_not_fail_the_others(shop: ShopContext, sandbox: TaobaoSandbox) -> None:
    cup, cable = sku(sandbox, "CUP-500"), sku(sandbox, "CABLE-1M")
    ghost = ListingRef(platform_item_id=cup.item_id, platform_sku_id="4999999999999")
    results = await shop.client.push_stock(
        [
            StockUpdate(ref=ghost, quantity=1, idempotency_key="ghost"),
            stock(cup, 2, "cup"),
            stock(cable, 3, "cable"),
        ]
    )
    by_key = {r.idempotency_key: r for r in results}
    # The ghost shares a call with CUP-500 (same item), so both fail; the cable item is fine.
    assert not by_key["ghost"].ok and not by_key["cup"].ok and by_key["cable"].ok
    assert "isv.sku-not-exist" in (by_key["ghost"].error or "") and not by_key["ghost"].retryable
    assert cable.quantity == 3 and cup.quantity == 15


async def test_a_delta_in_doubt_is_not_resent(shop: ShopContext, sandbox: TaobaoSandbox) -> None:
    cable = sku(sandbox, "CABLE-1M")
    sandbox.faults.inject("lost_response")
    [result] = await shop.client.push_stock([stock(cable, 505, "d", delta=5)])
    assert cable.quantity == 505  # applied once, not twice
    assert not result.ok and not result.retryable and result.in_doubt
    assert "may have been applied" in (result.error or "")


async def test_a_full_update_in_doubt_is_resent(shop: ShopContext, sandbox: TaobaoSandbox) -> None:
    cable = sku(sandbox, "CABLE-1M")
    sandbox.faults.inject("lost_response")
    [result] = await shop.client.push_stock([stock(cable, 70, "f")])
    assert result.ok and cable.quantity == 70 and shop.client.stats.retries == 1


async def test_a_refused_connection_is_retried_even_for_a_delta(
    shop: ShopContext, sandbox: TaobaoSandbox
) -> None:
    cable = sku(sandbox, "CABLE-1M")
    sandbox.faults.inject("throttle")
    [result] = await shop.client.push_stock([stock(cable, 505, "d", delta=5)])
    assert result.ok and cable.quantity == 505


async def test_auth_errors_fail_the_whole_push(shop: ShopContext, sandbox: TaobaoSandbox) -> None:
    sandbox.expire_tokens()
    with pytest.raises(AuthError):
        await shop.client.push_stock(
            [stock(sku(sandbox, "CUP-500"), 1, "a"), stock(sku(sandbox, "CABLE-1M"), 1, "b")]
        )


async def test_a_missing_permission_fails_the_whole_push_too(
    shop: ShopContext, sandbox: TaobaoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like an expired session, a permission TOP refuses concerns every write of the shop
    (the shared write policy), so it is raised rather than reported on one update."""
    real = shop.client.request

    async def request(method: str, business: Any, *, idempotent: bool = True) -> Any:
        if method.endswith((".quantity.update", ".price.update")):
            raise classify_error({"code": 11, "msg": "Insufficient isv permissions"}, operation=method)
        return await real(method, business, idempotent=idempotent)

    monkeypatch.setattr(shop.client, "request", request)
    cup, cable = sku(sandbox, "CUP-500"), sku(sandbox, "CABLE-1M")
    with pytest.raises(PermissionDenied):
        await shop.client.push_stock([stock(cup, 1, "a"), stock(cable, 1, "b")])
    with pytest.raises(PermissionDenied):
        await shop.client.push_prices([PriceUpdate(ref=ref(cup), price=100, idempotency_key="p")])
    assert cup.quantity != 1


# --- prices ---------------------------------------------------------------------------------------------


async def test_prices_are_set_by_properties_with_item_price(
    shop: ShopContext, sandbox: TaobaoSandbox, seen: Spy
) -> None:
    red_m, red_l = sku(sandbox, "TSHIRT-RED-M"), sku(sandbox, "TSHIRT-RED-L")
    # Both above the current item price (59.90): the second needs item_price to stay in range.
    results = await shop.client.push_prices(
        [
            PriceUpdate(ref=ref(red_m), price=6990, idempotency_key="m"),
            PriceUpdate(ref=ref(red_l), price=7990, idempotency_key="l"),
        ]
    )
    assert [r.ok for r in results] == [True, True], results
    assert (red_m.price, red_l.price) == (6990, 7990) and sandbox.item_prices[red_m.item_id] == 6990
    updates = [p for p in seen if p["method"] == "taobao.item.sku.price.update"]
    assert [(p["properties"], p["price"], p["item_price"]) for p in updates] == [
        (red_m.properties, "69.90", "59.90"),
        (red_l.properties, "79.90", "69.90"),
    ]
    assert methods(seen)[0] == "taobao.item.skus.get"


async def test_price_of_an_item_without_skus(shop: ShopContext, sandbox: TaobaoSandbox, seen: Spy) -> None:
    mug = sandbox.add_plain_item("马克杯", "MUG", price=1990, quantity=12)
    mug_ref = ListingRef(platform_item_id=mug.item_id, platform_sku_id=mug.item_id)
    [result] = await shop.client.push_prices([PriceUpdate(ref=mug_ref, price=2490, idempotency_key="mug")])
    assert result.ok and mug.price == 2490 and methods(seen) == ["taobao.item.update"]
    shop.client.settings = shop.settings.model_copy(update={"plain_item_price_method": None})
    [result] = await shop.client.push_prices([PriceUpdate(ref=mug_ref, price=2590, idempotency_key="mug")])
    assert not result.ok and "plain_item_price_method" in (result.error or "") and mug.price == 2490


async def test_prices_fail_softly_when_the_skus_cannot_be_read(
    shop: ShopContext, sandbox: TaobaoSandbox
) -> None:
    sandbox.faults.set_rate("server_error", 1.0)
    cable = sku(sandbox, "CABLE-1M")
    [result] = await shop.client.push_prices([PriceUpdate(ref=ref(cable), price=1890, idempotency_key="c")])
    assert not result.ok and result.retryable and "HTTP 502" in (result.error or "")
    assert cable.price == 1990


async def test_a_bad_price_update_does_not_fail_the_others(shop: ShopContext, sandbox: TaobaoSandbox) -> None:
    cup, cable = sku(sandbox, "CUP-500"), sku(sandbox, "CABLE-1M")
    ghost = ListingRef(platform_item_id=cup.item_id, platform_sku_id="4999999999999")
    results = await shop.client.push_prices(
        [
            PriceUpdate(ref=ghost, price=100, idempotency_key="g"),
            PriceUpdate(ref=ref(cable), price=1890, idempotency_key="c"),
        ]
    )
    assert [r.ok for r in results] == [False, True] and "not on Taobao" in (results[0].error or "")
    assert cable.price == 1890


# --- orders ---------------------------------------------------------------------------------------------


def place(sandbox: TaobaoSandbox, clock: FakeClock, count: int, gap: float = 60) -> list[str]:
    cable = sku(sandbox, "CABLE-1M")
    placed = []
    for _ in range(count):
        clock.advance(gap)
        placed.append(sandbox.state.place_order([(cable.sku_id, 1)]).order_id)
    return placed


async def test_pages_are_read_from_the_last_back_to_the_first(
    shop_factory: Callable[..., ShopContext], sandbox: TaobaoSandbox, clock: FakeClock, seen: Spy
) -> None:
    start = clock.now()
    placed = place(sandbox, clock, 7)
    clock.advance(60)
    end = clock.now()
    clock.advance(1)  # the window's last second is over: no trade can enter it any more
    shop = shop_factory(trade_page_size=2)
    orders = [o async for o in shop.client.iter_orders(TimeWindow(start=start, end=end))]
    await shop.client.aclose()
    assert sorted(o.platform_order_id for o in orders) == sorted(placed)
    assert [p["page_no"] for p in seen] == ["1", "4", "3", "2", "1"]
    assert {p["use_has_next"] for p in seen} == {"false"} and {p["page_size"] for p in seen} == {"2"}


async def test_a_trade_leaving_the_window_while_paging_skips_nothing(
    shop_factory: Callable[..., ShopContext], sandbox: TaobaoSandbox, clock: FakeClock
) -> None:
    start = clock.now()
    placed = place(sandbox, clock, 7)
    clock.advance(60)
    end = clock.now()
    original = sandbox.handle

    def buyer_acts_midway(request: httpx.Request) -> httpx.Response:
        if sandbox.read_params(request).get("page_no") == "3":
            clock.advance(5)  # the newest trade (on page 1) is modified now, after the window
            sandbox.state.set_status(placed[-1], OrderStatus.REFUNDED)
        return original(request)

    sandbox.handle = buyer_acts_midway  # type: ignore[method-assign]
    shop = shop_factory(trade_page_size=2)
    got = [o.platform_order_id async for o in shop.client.iter_orders(TimeWindow(start=start, end=end))]
    await shop.client.aclose()
    # Every trade still modified in the window is found exactly once (forward paging would skip one).
    assert sorted(got) == sorted(placed[:-1])


async def test_a_trade_sold_while_paging_a_window_not_over_yet_skips_nothing(
    shop_factory: Callable[..., ShopContext], sandbox: TaobaoSandbox, clock: FakeClock, seen: Spy
) -> None:
    """A sync's window reaches past the platform's clock, so a trade sold while its pages
    are read lands on page 1 and pushes every row one place back: read backwards only,
    the row pushed from page 2 into page 3 (already read) was lost for good."""
    start = clock.now()
    placed = place(sandbox, clock, 7)
    end = clock.now() + timedelta(seconds=2)
    original = sandbox.handle

    def buyer_acts_midway(request: httpx.Request) -> httpx.Response:
        if sandbox.read_params(request).get("page_no") == "2" and len(seen) == 3:
            placed.append(sandbox.state.place_order([(sku(sandbox, "CABLE-1M").sku_id, 1)]).order_id)
        return original(request)

    sandbox.handle = buyer_acts_midway  # type: ignore[method-assign]
    shop = shop_factory(trade_page_size=2)
    got = [o.platform_order_id async for o in shop.client.iter_orders(TimeWindow(start=start, end=end))]
    await shop.client.aclose()
    assert sorted(got) == sorted(placed)  # the new trade too: it is inside the window
    # backwards as TOP advises, then forwards once more to the (now longer) list's end
    assert [p["page_no"] for p in seen] == ["1", "4", "3", "2", "1", "2", "3", "4"]


async def test_windows_round_out_to_whole_seconds(
    shop: ShopContext, sandbox: TaobaoSandbox, clock: FakeClock, seen: Spy
) -> None:
    start = clock.now()
    [first] = place(sandbox, clock, 1)
    [second] = place(sandbox, clock, 1)
    client = shop.client

    async def read(a: datetime, b: datetime) -> list[str]:
        return [o.platform_order_id async for o in client.iter_orders(TimeWindow(start=a, end=b))]

    # Whole-second windows share no trade, although TOP's end_modified is inclusive.
    middle = start + timedelta(seconds=60)  # the first trade's second
    assert await read(start, middle) == [] and await read(middle, clock.now() + timedelta(seconds=1)) == [
        second,
        first,
    ]
    # A window ending inside a trade's second includes it; the next window reads it again.
    partial = middle + timedelta(microseconds=400_000)
    assert await read(start, partial) == [first]
    assert sorted(await read(partial, clock.now() + timedelta(seconds=1))) == sorted([first, second])
    assert (seen[2]["start_modified"], seen[2]["end_modified"]) == (
        "2026-11-11 08:00:00",
        "2026-11-11 08:01:01",
    )


async def test_a_window_longer_than_a_day_is_read_a_day_at_a_time(
    shop: ShopContext, sandbox: TaobaoSandbox, clock: FakeClock, seen: Spy
) -> None:
    start = clock.now()
    placed = place(sandbox, clock, 5, gap=15 * 3600)
    clock.advance(60)
    orders = [o async for o in shop.client.iter_orders(TimeWindow(start=start, end=clock.now()))]
    assert sorted(o.platform_order_id for o in orders) == sorted(placed)
    assert len(seen) == 4  # 75 hours in 1-day slices


async def test_trades_listed_without_sub_orders_are_read_in_full(
    shop: ShopContext, sandbox: TaobaoSandbox, clock: FakeClock, seen: Spy
) -> None:
    sandbox.increment_partial = True
    start = clock.now()
    placed = place(sandbox, clock, 3)
    clock.advance(60)
    orders = [o async for o in shop.client.iter_orders(TimeWindow(start=start, end=clock.now()))]
    assert sorted(o.platform_order_id for o in orders) == sorted(placed)
    assert all(o.lines[0].master_code == "CABLE-1M" for o in orders)
    assert methods(seen).count("taobao.trade.fullinfo.get") == 3


async def test_the_list_alone_suffices_when_it_has_sub_orders(
    shop: ShopContext,
    sandbox: TaobaoSandbox,
    clock: FakeClock,
    seen: Spy,
    shop_factory: Callable[..., ShopContext],
) -> None:
    start = clock.now()
    place(sandbox, clock, 3)
    clock.advance(60)
    window = TimeWindow(start=start, end=clock.now())
    assert len([o async for o in shop.client.iter_orders(window)]) == 3
    assert methods(seen) == ["taobao.trades.sold.increment.get"]
    always = shop_factory(trade_detail="always")
    assert len([o async for o in always.client.iter_orders(window)]) == 3
    await always.client.aclose()
    assert methods(seen).count("taobao.trade.fullinfo.get") == 3


async def test_announced_trades_are_read_with_one_list_call_when_recent(
    shop: ShopContext,
    sandbox: TaobaoSandbox,
    clock: FakeClock,
    seen: Spy,
    shop_factory: Callable[..., ShopContext],
) -> None:
    [old] = place(sandbox, clock, 1)
    clock.advance(3600)  # announced an hour after its change: outside the recent window
    recent = place(sandbox, clock, 3, gap=1)
    got = await shop.client.fetch_orders([*recent, old, "99999999"])
    assert sorted(o.platform_order_id for o in got) == sorted([*recent, old])
    assert methods(seen) == ["taobao.trades.sold.increment.get", *["taobao.trade.fullinfo.get"] * 2]
    assert (seen[0]["page_no"], seen[0]["page_size"]) == ("1", "20")  # room for the 5 and 10 more
    window = (seen[0]["start_modified"], seen[0]["end_modified"])
    assert window == ("2026-11-11 09:00:03", "2026-11-11 09:01:03")  # the last minute
    seen.clear()
    assert [o.platform_order_id for o in await shop.client.fetch_orders(recent[:1])] == recent[:1]
    assert methods(seen) == ["taobao.trade.fullinfo.get"]  # one order: its detail, no list
    seen.clear()
    always = shop_factory(trade_detail="always")  # the list is not trusted: details only
    assert len(await always.client.fetch_orders(recent)) == 3
    await always.client.aclose()
    assert methods(seen) == ["taobao.trade.fullinfo.get"] * 3


async def test_trade_types_are_sent_when_set(
    shop_factory: Callable[..., ShopContext], sandbox: TaobaoSandbox, clock: FakeClock, seen: Spy
) -> None:
    start = clock.now()
    place(sandbox, clock, 2)
    clock.advance(60)
    window = TimeWindow(start=start, end=clock.now())
    for types, expected in (("fixed,auction", 2), ("step", 0)):
        shop = shop_factory(trade_types=types)
        assert len([o async for o in shop.client.iter_orders(window)]) == expected
        await shop.client.aclose()
        assert seen[-1]["type"] == types
    default = shop_factory()
    assert len([o async for o in default.client.iter_orders(window)]) == 2
    await default.client.aclose()
    assert "type" not in seen[-1]


async def test_unreadable_records_are_malformed_answers(
    shop: ShopContext, sandbox: TaobaoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = sandbox._sku_json
    monkeypatch.setattr(sandbox, "_sku_json", lambda s, fields: {**original(s, fields), "price": "59.9.0"})
    with pytest.raises(MalformedResponse, match=r"sku \d+ price: not a money amount"):
        [x async for x in shop.client.iter_listings()]


async def test_an_unknown_trade_status_is_a_malformed_answer(
    shop: ShopContext, sandbox: TaobaoSandbox, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = clock.now()
    place(sandbox, clock, 1)
    clock.advance(60)
    monkeypatch.setattr(sandbox, "trade_status", lambda order: "SOMETHING_NEW")
    with pytest.raises(MalformedResponse, match="unknown trade status 'SOMETHING_NEW'"):
        [o async for o in shop.client.iter_orders(TimeWindow(start=start, end=clock.now()))]


async def test_orders_older_than_three_months_are_refused_clearly(
    shop: ShopContext, clock: FakeClock
) -> None:
    old = clock.now() - timedelta(days=100)
    with pytest.raises(InvalidRequest) as caught:
        [o async for o in shop.client.iter_orders(TimeWindow(start=old, end=old + timedelta(hours=1)))]
    assert caught.value.parameter == "start_modified"


# --- shipments ------------------------------------------------------------------------------------------


async def test_partial_shipment_names_the_sub_orders(
    shop: ShopContext, sandbox: TaobaoSandbox, seen: Spy
) -> None:
    cable, cup = sku(sandbox, "CABLE-1M"), sku(sandbox, "CUP-500")
    order = sandbox.state.place_order([(cable.sku_id, 1), (cup.sku_id, 1)])
    first = order.lines[0].line_id
    result = await shop.client.ship(
        Shipment(
            platform_order_id=order.order_id,
            carrier="SF",
            tracking_number="SF1",
            line_ids=(first,),
            idempotency_key="s1",
        )
    )
    assert result.ok and order.status is OrderStatus.PARTLY_SHIPPED
    assert (seen[0]["sub_tid"], seen[0]["out_sid"], seen[0]["company_code"]) == (first, "SF1", "SF")


async def test_a_repeat_refused_by_the_platform_is_recognised(
    shop: ShopContext, sandbox: TaobaoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = sandbox.state.place_order([(sku(sandbox, "CUP-500").sku_id, 1)])
    shipment = Shipment(
        platform_order_id=order.order_id, carrier="SF", tracking_number="SF9", idempotency_key="s"
    )
    assert (await shop.client.ship(shipment)).ok
    # Suppose TOP refuses any second offline.send: the trade already carries SF9, so it is a success.
    from hub_taobao import sandbox as module

    refuse = module._refused("isv.logistics-offline-service-error", "already consigned")

    def refuse_all(params: dict[str, str]) -> dict[str, Any]:
        raise refuse

    monkeypatch.setitem(sandbox._methods, "taobao.logistics.offline.send", refuse_all)
    assert (await shop.client.ship(shipment)).ok
    other = await shop.client.ship(shipment.model_copy(update={"tracking_number": "YTO1"}))
    assert not other.ok and "already consigned" in (other.error or "")


async def test_a_shipment_answered_without_success_fails(
    shop: ShopContext, sandbox: TaobaoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = sandbox.state.place_order([(sku(sandbox, "CUP-500").sku_id, 1)])
    monkeypatch.setitem(
        sandbox._methods, "taobao.logistics.offline.send", lambda params: {"shipping": {"is_success": False}}
    )
    result = await shop.client.ship(
        Shipment(platform_order_id=order.order_id, carrier="SF", tracking_number="SF1", idempotency_key="s")
    )
    assert not result.ok and "is_success=false" in (result.error or "")


async def test_shipping_an_unknown_trade_fails_cleanly(shop: ShopContext) -> None:
    result = await shop.client.ship(
        Shipment(
            platform_order_id="3599999999999999999", carrier="SF", tracking_number="SF1", idempotency_key="s"
        )
    )
    assert not result.ok and "isv.trade-not-exist" in (result.error or "") and not result.retryable
