"""The client against the sandbox: request shape, tokens, stock/price writes, orders,
listings and shipments — each test checks the platform's state or the wire, not just
what the client says."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest

from hub.errors import AuthError, PlatformError
from hub.models import (
    ListingRef,
    OrderStatus,
    PriceUpdate,
    Shipment,
    StockUpdate,
    TimeWindow,
)
from hub.platform import ShopContext, TokenSet
from hub.plugins import PluginHost
from hub.simulator import SkuState
from hub.testing import FakeClock
from hub.units import format_cn_time
from hub_douyin.sandbox import DouyinSandbox

from .wire import APP_KEY, APP_SECRET, Recorder, hand_sign

pytestmark = pytest.mark.anyio

ShopFactory = Callable[..., ShopContext]


def ref(sku: SkuState) -> ListingRef:
    return ListingRef(platform_item_id=sku.item_id, platform_sku_id=sku.sku_id, master_code=sku.code)


def sku_of(sandbox: DouyinSandbox, code: str) -> SkuState:
    return sandbox.state.skus_by_code(code)[0]


async def listings(host: PluginHost, shop: ShopContext) -> list[Any]:
    return [x async for x in shop.client.iter_listings()]


async def orders(host: PluginHost, shop: ShopContext, window: TimeWindow) -> list[Any]:
    return [o async for o in shop.client.iter_orders(window)]


# --- the wire ---------------------------------------------------------------------------------


async def test_requests_follow_the_documented_shape(
    host: PluginHost, shop_factory: ShopFactory, sandbox: DouyinSandbox, clock: FakeClock
) -> None:
    recorder = Recorder(sandbox.transport())
    started = clock.now()
    await listings(host, shop_factory(transport=recorder))
    request = recorder.requests[0]
    assert request.method == "POST" and request.url.path == "/product/listV2"
    query = dict(request.url.params)
    assert set(query) == {"app_key", "method", "timestamp", "v", "sign", "sign_method", "access_token"}
    assert (query["app_key"], query["method"], query["v"], query["sign_method"]) == (
        APP_KEY,
        "product.listV2",
        "2",
        "hmac-sha256",
    )
    assert query["timestamp"] == str(int(started.timestamp()))
    assert query["access_token"] == sandbox.access_token
    body = request.content.decode()
    assert body == json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert query["sign"] == hand_sign(
        APP_SECRET, APP_KEY, "product.listV2", body, query["timestamp"], "hmac-sha256"
    )
    assert request.headers["x-open-no-old-err-code"] == "1"
    assert request.headers["content-type"].startswith("application/json")


async def test_datetime_timestamps_and_md5_signatures(
    host: PluginHost, shop_factory: ShopFactory, sandbox: DouyinSandbox, clock: FakeClock
) -> None:
    recorder = Recorder(sandbox.transport())
    started = clock.now()
    shop = shop_factory(transport=recorder, timestamp_format="datetime", sign_method="md5")
    assert len(await listings(host, shop)) == 6
    query = recorder.requests[0].url.params
    assert query["timestamp"] == format_cn_time(started) and query["sign_method"] == "md5"
    assert query["sign"] == hand_sign(
        APP_SECRET,
        APP_KEY,
        "product.listV2",
        recorder.requests[0].content.decode(),
        query["timestamp"],
        "md5",
    )


# --- tokens -----------------------------------------------------------------------------------


async def test_an_expired_token_is_refreshed_and_persisted(
    host: PluginHost, shop: ShopContext, sandbox: DouyinSandbox, saved_tokens: list[TokenSet]
) -> None:
    old = sandbox.access_token
    sandbox.expire_tokens()
    assert len(await listings(host, shop)) == 6
    (tokens,) = saved_tokens
    assert tokens.access_token != old and tokens.refresh_token != sandbox.refresh_token
    assert tokens.expires_at == sandbox.credentials.expires_at(tokens.access_token)
    assert shop.client.access_token == tokens.access_token and sandbox.credentials.check(old) != "ok"
    assert sandbox.calls["token.refresh"] == 1


async def test_concurrent_calls_with_an_expired_token_cause_one_refresh(
    host: PluginHost, shop: ShopContext, sandbox: DouyinSandbox, saved_tokens: list[TokenSet]
) -> None:
    refs = [ref(s) for s in sandbox.state.iter_skus()]
    sandbox.expire_tokens()
    results: list[int] = []

    async def read() -> None:
        results.append(len(await shop.client.fetch_stock(refs)))

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(read)
    assert results == [6] * 5
    assert shop.client.stats.token_refreshes == 1 and sandbox.calls["token.refresh"] == 1
    assert len(saved_tokens) == 1


async def test_a_token_about_to_expire_is_refreshed_first(
    host: PluginHost,
    shop_factory: ShopFactory,
    sandbox: DouyinSandbox,
    clock: FakeClock,
    saved_tokens: list[TokenSet],
) -> None:
    # Douyin answers a refresh more than an hour before expiry with the same tokens.
    shop = shop_factory(token_expires_at=clock.now() + timedelta(minutes=2))
    assert len(await listings(host, shop)) == 6
    (tokens,) = saved_tokens
    assert tokens.access_token == sandbox.access_token
    assert tokens.expires_at == sandbox.credentials.expires_at(sandbox.access_token)
    assert shop.client.token_expires_at == tokens.expires_at


async def test_expires_in_as_a_timestamp_setting(
    host: PluginHost, shop_factory: ShopFactory, sandbox: DouyinSandbox, saved_tokens: list[TokenSet]
) -> None:
    sandbox.expires_in_mode = "timestamp"
    shop = shop_factory(token_expires_in="timestamp")
    sandbox.expire_tokens()
    await listings(host, shop)
    exact = sandbox.credentials.expires_at(saved_tokens[0].access_token)
    assert exact is not None and saved_tokens[0].expires_at == exact.replace(microsecond=0)


async def test_a_timestamp_where_seconds_were_expected_is_still_read_right(
    host: PluginHost, shop: ShopContext, sandbox: DouyinSandbox, saved_tokens: list[TokenSet]
) -> None:
    sandbox.expires_in_mode = "timestamp"  # the shop keeps the default "seconds"
    sandbox.expire_tokens()
    await listings(host, shop)
    exact = sandbox.credentials.expires_at(saved_tokens[0].access_token)
    assert exact is not None and saved_tokens[0].expires_at == exact.replace(microsecond=0)


async def test_a_refused_refresh_is_an_auth_error_that_shows_no_secret(
    host: PluginHost, shop_factory: ShopFactory, sandbox: DouyinSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    shop = shop_factory(refresh_token="not-the-refresh-token")
    sandbox.expire_tokens()
    with caplog.at_level(logging.DEBUG, logger="hub"), pytest.raises(AuthError) as caught:
        await listings(host, shop)
    assert not caught.value.refreshable
    assert caught.value.sub_code == "dop.token-generate-failed:token-invalid"
    for secret in (APP_SECRET, sandbox.access_token, "not-the-refresh-token"):
        assert secret not in str(caught.value) and secret not in caplog.text


async def test_no_secret_reaches_the_logs(
    host: PluginHost,
    shop: ShopContext,
    sandbox: DouyinSandbox,
    saved_tokens: list[TokenSet],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sandbox.expire_tokens()
    with caplog.at_level(logging.DEBUG, logger="hub"):
        await listings(host, shop)
    assert "/product/listV2" in caplog.text  # requests are logged...
    secrets = [
        APP_SECRET,
        sandbox.access_token,
        sandbox.refresh_token,
        saved_tokens[0].access_token,
        saved_tokens[0].refresh_token,
    ]
    assert not [s for s in secrets if s and s in caplog.text]  # ...without credentials
    assert "sign=****" in caplog.text


async def test_create_token(shop: ShopContext, sandbox: DouyinSandbox) -> None:
    tokens = await shop.client.create_token(code=sandbox.authorization_code())
    assert sandbox.credentials.check(tokens.access_token) == "ok" and tokens.refresh_token
    own = await shop.client.create_token(shop_id=str(sandbox.shop_id))
    assert sandbox.credentials.check(own.access_token) == "ok"
    with pytest.raises(AuthError):
        await shop.client.create_token(code="used-or-unknown")


# --- stock and prices -------------------------------------------------------------------------


async def test_a_delta_whose_answer_was_lost_is_applied_once(
    host: PluginHost, shop: ShopContext, sandbox: DouyinSandbox
) -> None:
    sku = sku_of(sandbox, "CABLE-1M")
    before = sku.quantity
    sandbox.faults.inject("lost_response")  # applied, then the answer times out
    update = StockUpdate(ref=ref(sku), quantity=before + 5, delta=5, idempotency_key="lost-1")
    (result,) = await shop.client.push_stock([update])
    assert result.ok and sandbox.state.sku(sku.sku_id).quantity == before + 5
    assert sandbox.calls["sku.syncStock"] == 2  # the retry was answered "already applied"
    (again,) = await shop.client.push_stock([update])  # the engine re-sends later: still once
    assert again.ok and sandbox.state.sku(sku.sku_id).quantity == before + 5


async def test_a_decrease_below_the_platform_stock_leaves_zero(
    host: PluginHost, shop: ShopContext, sandbox: DouyinSandbox
) -> None:
    sku = sku_of(sandbox, "CUP-500")
    sandbox.state.set_quantity(sku.sku_id, 2)  # buyers took more than the hub knew
    update = StockUpdate(ref=ref(sku), quantity=5, delta=-5, idempotency_key="dec-1")
    (result,) = await shop.client.push_stock([update])
    assert result.ok and result.quantity_after == 0
    assert sandbox.state.sku(sku.sku_id).quantity == 0


async def test_absolute_writes_report_the_quantity(
    host: PluginHost, shop: ShopContext, sandbox: DouyinSandbox
) -> None:
    sku = sku_of(sandbox, "CUP-500")
    (result,) = await shop.client.push_stock([StockUpdate(ref=ref(sku), quantity=4, idempotency_key="a")])
    assert result.ok and result.quantity_after == 4 and sandbox.state.sku(sku.sku_id).quantity == 4


async def test_one_bad_update_does_not_fail_the_others(
    host: PluginHost, shop: ShopContext, sandbox: DouyinSandbox
) -> None:
    good = sku_of(sandbox, "CABLE-2M")
    unknown = ListingRef(platform_item_id=good.item_id, platform_sku_id="1737999999999999")
    foreign = ListingRef(platform_item_id="TB-123", platform_sku_id="x")
    results = await shop.client.push_stock(
        [
            StockUpdate(ref=ref(good), quantity=9, idempotency_key="ok"),
            StockUpdate(ref=unknown, quantity=9, idempotency_key="unknown"),
            StockUpdate(ref=foreign, quantity=9, idempotency_key="foreign"),
        ]
    )
    by_key = {r.idempotency_key: r for r in results}
    assert by_key["ok"].ok and sandbox.state.sku(good.sku_id).quantity == 9
    missing = by_key["unknown"]
    assert not missing.ok and not missing.retryable and "不存在" in (missing.error or "")
    assert not by_key["foreign"].ok and "numeric" in by_key["foreign"].error


async def test_bad_credentials_fail_the_whole_push(
    host: PluginHost, shop_factory: ShopFactory, sandbox: DouyinSandbox
) -> None:
    shop = shop_factory(app_secret="wrong-secret")
    with pytest.raises(AuthError):
        await shop.client.push_stock(
            [StockUpdate(ref=ref(sku_of(sandbox, "CUP-500")), quantity=1, idempotency_key="k")]
        )


async def test_prices_per_sku(host: PluginHost, shop: ShopContext, sandbox: DouyinSandbox) -> None:
    sku = sku_of(sandbox, "CABLE-2M")
    unknown = ListingRef(platform_item_id=sku.item_id, platform_sku_id="1737999999999999")
    results = await shop.client.push_prices(
        [
            PriceUpdate(ref=ref(sku), price=2290, idempotency_key="p1"),
            PriceUpdate(ref=unknown, price=100, idempotency_key="p2"),
        ]
    )
    assert [r.ok for r in results] == [True, False]
    assert sandbox.state.sku(sku.sku_id).price == 2290


async def test_stock_reads_skip_what_douyin_does_not_have(
    host: PluginHost, shop: ShopContext, sandbox: DouyinSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sku = sku_of(sandbox, "CUP-500")
    gone = ListingRef(platform_item_id="3580000000000999999", platform_sku_id="1")
    with caplog.at_level(logging.WARNING, logger="hub.douyin"):
        levels = await shop.client.fetch_stock([ref(sku), gone])
    assert [(lv.platform_sku_id, lv.quantity) for lv in levels] == [(sku.sku_id, sku.quantity)]
    assert "3580000000000999999" in caplog.text


# --- orders -----------------------------------------------------------------------------------


def place(sandbox: DouyinSandbox, clock: FakeClock, count: int, every: float) -> list[str]:
    sku = sku_of(sandbox, "CABLE-1M")
    ids = []
    for _ in range(count):
        clock.advance(every)
        ids.append(sandbox.state.place_order([(sku.sku_id, 1)]).order_id)
    return ids


async def test_a_long_window_is_split_into_allowed_queries(
    host: PluginHost, shop: ShopContext, shop_factory: ShopFactory, sandbox: DouyinSandbox, clock: FakeClock
) -> None:
    start = clock.now()
    placed = place(sandbox, clock, 6, 10 * 3600)  # over 2.5 days
    clock.advance(60)
    window = TimeWindow(start=start, end=clock.now())
    assert sorted(o.platform_order_id for o in await orders(host, shop, window)) == sorted(placed)
    recorder = Recorder(sandbox.transport())
    hourly = shop_factory(transport=recorder, order_window_hours=6)
    assert sorted(o.platform_order_id for o in await orders(host, hourly, window)) == sorted(placed)
    spans = [p["update_time_end"] - p["update_time_start"] for p in recorder.params("order.searchList")]
    assert len(spans) == 11 and max(spans) < 6 * 3600


@pytest.mark.parametrize("end_inclusive", [True, False])
async def test_orders_on_window_edges_are_read_exactly_once(
    host: PluginHost, shop_factory: ShopFactory, sandbox: DouyinSandbox, clock: FakeClock, end_inclusive: bool
) -> None:
    shop = shop_factory(order_window_end_inclusive=end_inclusive)
    start = clock.now()
    placed = place(sandbox, clock, 4, 30)  # at +30 s, +60 s, +90 s, +120 s
    middle = start + timedelta(seconds=60)  # an order sits exactly on this edge
    clock.advance(1)
    first = await orders(host, shop, TimeWindow(start=start, end=middle))
    second = await orders(host, shop, TimeWindow(start=middle, end=clock.now()))
    assert [o.platform_order_id for o in first] == placed[:1]
    assert sorted(o.platform_order_id for o in second) == sorted(placed[1:])


async def test_windows_cover_the_partial_seconds_at_both_ends(
    host: PluginHost, shop: ShopContext, sandbox: DouyinSandbox, clock: FakeClock
) -> None:
    # Douyin stamps whole seconds. A window ending 0.5 s into a second is read; then an
    # order is updated 0.2 s later in that same second, so Douyin stamps it with the second
    # the previous window already covered. The next window must still return it.
    start = clock.now()
    clock.advance(30.5)
    edge = clock.now()
    assert await orders(host, shop, TimeWindow(start=start, end=edge)) == []
    clock.advance(0.2)
    order = sandbox.state.place_order([(sku_of(sandbox, "CUP-500").sku_id, 1)])
    clock.advance(5)
    later = await orders(host, shop, TimeWindow(start=edge, end=clock.now()))
    assert [o.platform_order_id for o in later] == [order.order_id]


async def test_an_order_updated_while_paging_does_not_hide_another(
    host: PluginHost, shop_factory: ShopFactory, sandbox: DouyinSandbox, clock: FakeClock
) -> None:
    start = clock.now()
    placed = place(sandbox, clock, 7, 1)
    clock.advance(1)
    window = TimeWindow(start=start, end=clock.now())
    clock.advance(60)

    def after(request: httpx.Request, response: httpx.Response) -> None:
        # Right after the first page: the merchant ships the oldest order, so it leaves the
        # window (its update_time is now) and every later order moves up one place.
        if (
            request.url.params.get("method") == "order.searchList"
            and not sandbox.state.order(placed[0]).tracking_number
        ):
            sandbox.state.ship(placed[0], "SF", "SF-late")

    shop = shop_factory(transport=Recorder(sandbox.transport(), after), page_size=2)
    got = [o.platform_order_id for o in await orders(host, shop, window)]
    assert sorted(set(got)) == sorted(placed) and len(got) == len(set(got))


async def test_get_order(shop: ShopContext, sandbox: DouyinSandbox) -> None:
    order = sandbox.state.place_order([(sku_of(sandbox, "CUP-500").sku_id, 2)])
    got = await shop.client.get_order(order.order_id)
    assert got.platform_order_id == order.order_id and got.status is OrderStatus.AWAITING_SHIPMENT
    assert got.lines[0].quantity == 2 and got.total == order.total


async def test_announced_orders_are_read_with_one_list_call_when_recent(
    shop_factory: ShopFactory, sandbox: DouyinSandbox, clock: FakeClock
) -> None:
    [old] = place(sandbox, clock, 1, 1)
    clock.advance(3600)  # announced an hour after its change: outside the recent window
    recent = place(sandbox, clock, 3, 1)
    recorder = Recorder(sandbox.transport())
    shop = shop_factory(transport=recorder)
    got = await shop.client.fetch_orders([*recent, old, "6900000000000000001"])
    assert sorted(o.platform_order_id for o in got) == sorted([*recent, old])
    [search] = recorder.params("order.searchList")
    assert (search["order_by"], search["order_asc"], search["page"]) == ("update_time", False, 0)
    assert search["update_time_end"] - search["update_time_start"] == 60 and search["size"] == 20
    assert search["update_time_end"] > clock.now().timestamp()
    assert len(recorder.params("order.orderDetail")) == 2  # the old one and the unknown one
    recorder.requests.clear()
    assert [o.platform_order_id for o in await shop.client.fetch_orders(recent[:1])] == recent[:1]
    assert [r.url.params.get("method") for r in recorder.requests] == ["order.orderDetail"]


async def test_announced_orders_are_read_one_by_one_when_the_list_fails(
    shop_factory: ShopFactory, sandbox: DouyinSandbox, clock: FakeClock
) -> None:
    recent = place(sandbox, clock, 3, 1)
    inner = sandbox.transport()

    class BrokenList(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.params.get("method") == "order.searchList":
                return httpx.Response(200, text="<html>gateway</html>")
            return await inner.handle_async_request(request)

    shop = shop_factory(transport=BrokenList())
    got = await shop.client.fetch_orders(recent)
    assert sorted(o.platform_order_id for o in got) == sorted(recent)


async def test_unmappable_order_data_is_a_clear_non_retryable_error(
    host: PluginHost, shop_factory: ShopFactory, clock: FakeClock
) -> None:
    row = {
        "order_id": "6921000000000000009",
        "order_status": 77,
        "create_time": 1,
        "update_time": 1,
        "order_amount": 0,
        "sku_order_list": [
            {"order_id": "1", "product_id": 1, "sku_id": 1, "item_num": 1, "origin_amount": 1}
        ],
    }

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "code": 10000,
                "msg": "success",
                "data": {
                    "total": 1,
                    "page": 0,
                    "size": 100,
                    "shop_order_list": [{**row, "update_time": int(clock.now().timestamp()) - 1}],
                },
            },
        )

    shop = shop_factory(transport=httpx.MockTransport(answer))
    window = TimeWindow(start=clock.now() - timedelta(minutes=1), end=clock.now())
    with pytest.raises(PlatformError) as caught:
        await orders(host, shop, window)
    assert "6921000000000000009" in str(caught.value) and "order_status 77" in str(caught.value)
    assert not caught.value.retryable


# --- listings -----------------------------------------------------------------------------


async def test_offline_products_are_listed_off_sale(
    host: PluginHost, shop: ShopContext, sandbox: DouyinSandbox
) -> None:
    item = next(iter(sandbox.state.items.values()))
    item.on_sale = False
    got = await listings(host, shop)
    assert len(got) == 6
    assert {x.status.value for x in got if x.platform_item_id == item.item_id} == {"off_sale"}


async def test_a_product_deleted_while_listing_is_skipped(
    host: PluginHost, shop_factory: ShopFactory, sandbox: DouyinSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    victim = next(iter(sandbox.state.items))

    def after(request: httpx.Request, response: httpx.Response) -> None:
        if request.url.params.get("method") == "product.listV2" and victim in sandbox.state.items:
            item = sandbox.state.items.pop(victim)
            for sku_id in item.skus:
                sandbox.state.skus.pop(sku_id)

    shop = shop_factory(transport=Recorder(sandbox.transport(), after))
    with caplog.at_level(logging.WARNING, logger="hub.douyin"):
        got = await listings(host, shop)
    assert len(got) == 4 and victim not in {x.platform_item_id for x in got}
    assert f"product {victim} vanished" in caplog.text


async def test_a_shop_beyond_the_listing_cap_is_read_in_creation_slices(
    host: PluginHost, shop_factory: ShopFactory, sandbox: DouyinSandbox, clock: FakeClock
) -> None:
    sandbox.max_product_rows = 20  # as if Douyin's 10,000-row cap were 20
    for n in range(53):
        clock.advance(3600 * (n % 5) + 1)
        item = sandbox.state.add_item(f"商品{n}", f"ITEM{n}")
        sandbox.state.add_sku(item, code=f"C{n}", spec="规格:1", price=100 + n, quantity=n)
    recorder = Recorder(sandbox.transport())
    shop = shop_factory(transport=recorder, product_list_max_rows=20, page_size=10)
    got = await listings(host, shop)
    assert len(got) == 59 and len({x.platform_sku_id for x in got}) == 59
    calls = recorder.params("product.listV2")
    assert all(c["page"] * c["size"] <= 20 for c in calls)
    assert any("start_time" in c for c in calls)


async def test_more_products_in_one_second_than_the_cap_are_reported(
    host: PluginHost, shop_factory: ShopFactory, sandbox: DouyinSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.max_product_rows = 20
    for n in range(25):
        item = sandbox.state.add_item(f"商品{n}")
        sandbox.state.add_sku(item, code=None, spec="", price=100, quantity=1)
    with caplog.at_level(logging.WARNING, logger="hub.douyin"):
        got = await listings(host, shop_factory(product_list_max_rows=20, page_size=10))
    assert len({x.platform_item_id for x in got}) == 20
    assert "exceed Douyin's 20-row listing cap" in caplog.text


# --- shipments -----------------------------------------------------------------------------


async def test_carrier_codes_are_mapped(
    host: PluginHost, shop_factory: ShopFactory, sandbox: DouyinSandbox
) -> None:
    shop = shop_factory(carrier_codes={"SF": "shunfeng"})
    order = sandbox.state.place_order([(sku_of(sandbox, "CUP-500").sku_id, 1)])
    result = await shop.client.ship(
        Shipment(platform_order_id=order.order_id, carrier="SF", tracking_number="SF1", idempotency_key="s1")
    )
    assert result.ok and sandbox.state.order(order.order_id).carrier == "shunfeng"


async def test_a_repeated_shipment_is_success_even_if_douyin_refuses_it(
    host: PluginHost, shop: ShopContext, sandbox: DouyinSandbox
) -> None:
    sandbox.repeat_shipment_ok = False  # UNCONFIRMED platform behaviour: check the order instead
    order = sandbox.state.place_order([(sku_of(sandbox, "CUP-500").sku_id, 1)])
    shipment = Shipment(
        platform_order_id=order.order_id, carrier="SF", tracking_number="SF1", idempotency_key="s1"
    )
    assert (await shop.client.ship(shipment)).ok
    assert (await shop.client.ship(shipment)).ok
    assert sandbox.calls["order.orderDetail"] == 1
    other = await shop.client.ship(shipment.model_copy(update={"tracking_number": "SF2"}))
    assert not other.ok and "已发货" in other.error


async def test_shipping_some_lines_is_refused_without_a_call(
    host: PluginHost, shop: ShopContext, sandbox: DouyinSandbox
) -> None:
    order = sandbox.state.place_order([(sku_of(sandbox, "CUP-500").sku_id, 1)])
    result = await shop.client.ship(
        Shipment(
            platform_order_id=order.order_id,
            carrier="SF",
            tracking_number="SF1",
            line_ids=(order.lines[0].line_id,),
            idempotency_key="s1",
        )
    )
    assert not result.ok and "whole-order" in result.error
    assert sandbox.calls["order.logisticsAdd"] == 0


async def test_shipping_an_unknown_order_fails_cleanly(host: PluginHost, shop: ShopContext) -> None:
    result = await shop.client.ship(
        Shipment(
            platform_order_id="6921000000009999999", carrier="SF", tracking_number="SF1", idempotency_key="s1"
        )
    )
    assert not result.ok and "不存在" in result.error


async def test_datetime_timestamps_over_real_http(
    host: PluginHost, info: Any, sandbox: DouyinSandbox, clock: FakeClock
) -> None:
    # The documented timestamp has a space; it must survive real URL encoding.
    from hub.simulator import serve_in_thread
    from hub.testing import make_shop

    with serve_in_thread(sandbox) as served:
        shop = make_shop(
            info, sandbox, clock=clock, transport=None, base_url=served.url, timestamp_format="datetime"
        )
        try:
            assert len(await listings(host, shop)) == 6
        finally:
            await shop.client.aclose()
