"""The contract every platform plugin passes against its own sandbox.

A plugin's test suite subclasses :class:`PlatformContract` and sets ``platform``::

    from hub.testing.contract import PlatformContract

    class TestTaobaoContract(PlatformContract):
        platform = "taobao"
        refreshes_tokens = False

The plugin is loaded through its installed entry point, so the contract also checks
that the hub discovers it. Every test drives the platform's client
(:class:`hub.client.ShopClient`) as the core does and checks the result in the sandbox's
state (or the other way round), so a client that merely agrees with itself cannot pass.
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

import pytest

from hub.client import ShopClient
from hub.errors import AuthError, PlatformError, RateLimited
from hub.models import (
    ListingRef,
    ListingStatus,
    OrderStatus,
    PriceUpdate,
    Promotion,
    PromotionItem,
    PromotionKind,
    PromotionPush,
    Shipment,
    StockUpdate,
    TimeWindow,
)
from hub.platform import PlatformInfo, ShopContext, ShopSettings, TokenSet
from hub.plugins import PluginHost
from hub.simulator import SandboxApp, SandboxConfig, serve_in_thread
from hub.simulator.seed import Seed, SeedProduct, SeedSku
from hub.testing import make_shop
from hub.testing.clock import FakeClock


def contract_seed() -> Seed:
    """Three items: two SKUs each, one of them without a master code."""
    return Seed(
        products=[
            SeedProduct(
                title="纯棉T恤",
                code="TSHIRT",
                skus=[
                    SeedSku(code="TSHIRT-RED-M", spec="颜色:红;尺码:M", price=5990, stock=40),
                    SeedSku(code="TSHIRT-RED-L", spec="颜色:红;尺码:L", price=5990, stock=0),
                ],
            ),
            SeedProduct(
                title="保温杯",
                code="CUP",
                skus=[
                    SeedSku(code="CUP-500", spec="容量:500ml", price=12900, stock=15),
                    SeedSku(code=None, spec="容量:750ml", price=14900, stock=3),
                ],
            ),
            SeedProduct(
                title="数据线",
                code="CABLE",
                skus=[
                    SeedSku(code="CABLE-1M", spec="长度:1m", price=1990, stock=500),
                    SeedSku(code="CABLE-2M", spec="长度:2m", price=2590, stock=200),
                ],
            ),
        ]
    )


class PlatformContract:
    """Tests every platform plugin inherits; see the module docstring."""

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.anyio]

    platform: ClassVar[str] = ""
    #: the plugin refreshes expired access tokens itself (Douyin, WeChat)
    refreshes_tokens: ClassVar[bool] = False
    #: canonical statuses the platform can represent (sandbox -> wire -> plugin round trip).
    #: CANCELLED is tested as cancelled before payment; REFUNDED as paid, then refunded.
    statuses: ClassVar[tuple[OrderStatus, ...]] = (
        OrderStatus.PENDING_PAYMENT,
        OrderStatus.AWAITING_SHIPMENT,
        OrderStatus.SHIPPED,
        OrderStatus.COMPLETED,
        OrderStatus.CANCELLED,
    )

    # --- fixtures ---------------------------------------------------------------------------

    @pytest.fixture
    def host(self) -> PluginHost:
        return PluginHost(autoload=True, blocked=[])

    @pytest.fixture
    def info(self, host: PluginHost) -> PlatformInfo:
        return host.platform(self.platform)

    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def sandbox(self, info: PlatformInfo, clock: FakeClock) -> SandboxApp:
        assert info.sandbox is not None, "a platform must ship its sandbox"
        return info.make_sandbox(SandboxConfig(clock=clock, seed=contract_seed()))

    @pytest.fixture
    def saved_tokens(self) -> list[TokenSet]:
        return []

    @pytest.fixture
    async def shop(
        self, info: PlatformInfo, sandbox: SandboxApp, clock: FakeClock, saved_tokens: list[TokenSet]
    ):  # type: ignore[no-untyped-def]
        shop = make_shop(info, sandbox, clock=clock, saved_tokens=saved_tokens)
        yield shop
        await shop.client.aclose()

    @staticmethod
    def sku_by_code(sandbox: SandboxApp, code: str):  # type: ignore[no-untyped-def]
        return sandbox.state.skus_by_code(code)[0]

    @staticmethod
    def ref(sku) -> ListingRef:  # type: ignore[no-untyped-def]
        return ListingRef(platform_item_id=sku.item_id, platform_sku_id=sku.sku_id, master_code=sku.code)

    # --- registration -----------------------------------------------------------------------

    def test_platform_is_registered(self, host: PluginHost, info: PlatformInfo) -> None:
        assert info.code == self.platform
        assert issubclass(info.settings_model, ShopSettings)
        default_url = info.settings_model.model_fields["base_url"].default
        assert isinstance(default_url, str) and default_url.startswith("https://")
        assert info.rate_limit.qps > 0 and info.order_window.max_span > timedelta(0)
        plugin = next(p for p in host.list_plugins() if self.platform in p.platforms)
        assert plugin.version, "the plugin must be installed as a distribution"
        assert "hub_register_platforms" in plugin.hooks
        # The operations every platform must implement (promotions are optional).
        for operation in ("iter_listings", "fetch_stock", "push_stock", "push_prices", "iter_orders", "ship"):
            assert getattr(info.client_class, operation) is not getattr(ShopClient, operation), operation
        if info.capabilities.native_promotions:
            for operation in ("start_promotion", "end_promotion"):
                assert getattr(info.client_class, operation) is not getattr(ShopClient, operation), operation

    # --- listings and stock -----------------------------------------------------------------

    async def test_listings_match_the_platform(
        self, host: PluginHost, shop: ShopContext, sandbox: SandboxApp
    ) -> None:
        listings = [x async for x in shop.client.iter_listings()]
        assert len({x.platform_sku_id for x in listings}) == len(listings) == 6
        for listing in listings:
            sku = sandbox.state.sku(listing.platform_sku_id)
            assert listing.platform_item_id == sku.item_id
            assert listing.master_code == sku.code
            assert listing.price == sku.price and isinstance(listing.price, int)
            assert listing.quantity == sku.quantity
            assert listing.status is ListingStatus.ON_SALE

    async def test_fetch_stock_reads_platform_quantities(
        self, host: PluginHost, shop: ShopContext, sandbox: SandboxApp
    ) -> None:
        skus = list(sandbox.state.iter_skus())
        sandbox.state.set_quantity(skus[0].sku_id, 33)
        levels = await shop.client.fetch_stock([self.ref(s) for s in skus])
        got = {level.platform_sku_id: level.quantity for level in levels}
        assert got == {s.sku_id: s.quantity for s in skus}
        assert all(level.observed_at.tzinfo is not None for level in levels)

    async def test_push_absolute_stock(
        self, host: PluginHost, shop: ShopContext, sandbox: SandboxApp
    ) -> None:
        sku = self.sku_by_code(sandbox, "CUP-500")
        results = await shop.client.push_stock(
            [StockUpdate(ref=self.ref(sku), quantity=7, idempotency_key="abs-1")]
        )
        assert [r.ok for r in results] == [True]
        assert sandbox.state.sku(sku.sku_id).quantity == 7

    async def test_delta_push_keeps_a_concurrent_sale(
        self, host: PluginHost, info: PlatformInfo, shop: ShopContext, sandbox: SandboxApp
    ) -> None:
        if not info.capabilities.delta_stock:
            pytest.skip("absolute-only platform")
        sku = self.sku_by_code(sandbox, "CABLE-1M")
        sandbox.state.set_quantity(sku.sku_id, 10)  # what the hub observed
        sandbox.state.place_order([(sku.sku_id, 1)])  # a buyer, after our read
        update = StockUpdate(ref=self.ref(sku), quantity=15, delta=5, idempotency_key="delta-1")
        assert [r.ok for r in await shop.client.push_stock([update])] == [True]
        assert sandbox.state.sku(sku.sku_id).quantity == 14

    async def test_batch_push_reports_each_update(
        self, host: PluginHost, info: PlatformInfo, shop: ShopContext, sandbox: SandboxApp
    ) -> None:
        skus = [self.sku_by_code(sandbox, c) for c in ("CABLE-1M", "CABLE-2M", "CUP-500")]
        updates = [
            StockUpdate(ref=self.ref(s), quantity=3 + i, idempotency_key=f"batch-{i}")
            for i, s in enumerate(skus)
        ][: info.capabilities.stock_batch_size]
        results = await shop.client.push_stock(updates)
        assert sorted(r.idempotency_key for r in results) == sorted(u.idempotency_key for u in updates)
        for update in updates:
            assert sandbox.state.sku(update.ref.platform_sku_id).quantity == update.quantity

    async def test_push_prices(self, host: PluginHost, shop: ShopContext, sandbox: SandboxApp) -> None:
        sku = self.sku_by_code(sandbox, "TSHIRT-RED-M")
        results = await shop.client.push_prices(
            [PriceUpdate(ref=self.ref(sku), price=4990, idempotency_key="price-1")]
        )
        assert [r.ok for r in results] == [True]
        assert sandbox.state.sku(sku.sku_id).price == 4990

    # --- orders -----------------------------------------------------------------------------

    async def test_orders_in_a_window(
        self, host: PluginHost, shop: ShopContext, sandbox: SandboxApp, clock: FakeClock
    ) -> None:
        start = clock.now()
        placed = []
        for code, qty in (("CABLE-1M", 2), ("CUP-500", 1), ("CABLE-2M", 3)):
            clock.advance(60)
            placed.append(sandbox.state.place_order([(self.sku_by_code(sandbox, code).sku_id, qty)]))
        clock.advance(60)
        window = TimeWindow(start=start, end=clock.now())
        orders = [o async for o in shop.client.iter_orders(window)]
        assert sorted(o.platform_order_id for o in orders) == sorted(p.order_id for p in placed)
        for order in orders:
            source = sandbox.state.order(order.platform_order_id)
            assert order.status is OrderStatus.AWAITING_SHIPMENT
            assert order.created_at == source.created.replace(microsecond=0)
            assert order.modified_at == source.modified.replace(microsecond=0)
            assert order.total == source.total
            assert [(ln.master_code, ln.quantity, ln.unit_price) for ln in order.lines] == [
                (ln.code, ln.quantity, ln.unit_price) for ln in source.lines
            ]

    async def test_new_orders_leave_out_the_known_ones(
        self, host: PluginHost, shop: ShopContext, sandbox: SandboxApp, clock: FakeClock
    ) -> None:
        """``iter_new_orders`` (the catch-up read before a stock plan) yields what
        ``iter_orders`` does, less the orders the hub says it holds."""
        start = clock.now()
        placed = []
        for code in ("CABLE-1M", "CUP-500", "CABLE-2M"):
            clock.advance(60)
            placed.append(sandbox.state.place_order([(self.sku_by_code(sandbox, code).sku_id, 1)]).order_id)
        clock.advance(60)
        window = TimeWindow(start=start, end=clock.now())
        new = [o.platform_order_id async for o in shop.client.iter_new_orders(window, {placed[1]})]
        assert sorted(new) == sorted([placed[0], placed[2]])

    async def test_announced_orders_read_together_are_their_details(
        self, host: PluginHost, shop: ShopContext, sandbox: SandboxApp, clock: FakeClock
    ) -> None:
        """``fetch_orders`` (a push round's read of the orders it announces, from the
        platform's recent list where ``recent_orders`` gives one) returns each order just
        as ``fetch_order`` reads it from the detail API."""
        if type(shop.client).fetch_order is ShopClient.fetch_order:
            pytest.skip("the platform has no order detail read (its orders are not announced)")
        placed = []
        for code in ("CABLE-1M", "CUP-500", "CABLE-2M"):
            clock.advance(5)
            placed.append(sandbox.state.place_order([(self.sku_by_code(sandbox, code).sku_id, 1)]).order_id)
        clock.advance(5)
        together = {o.platform_order_id: o for o in await shop.client.fetch_orders(placed)}
        assert together == {i: await shop.client.fetch_order(i) for i in placed}

    async def test_a_window_includes_its_last_partial_second(
        self, host: PluginHost, shop: ShopContext, sandbox: SandboxApp, clock: FakeClock
    ) -> None:
        """Windows end at arbitrary instants (the engine's signpost). An order placed a
        fraction of a second before the end must be returned, although the platform
        stamps it with the whole second: round the end up, never down."""
        start = clock.now()
        clock.advance(30.2)
        order = sandbox.state.place_order([(self.sku_by_code(sandbox, "CUP-500").sku_id, 1)])
        clock.advance(0.3)
        window = TimeWindow(start=start, end=clock.now())  # ends 0.5 s into the order's second
        orders = [o async for o in shop.client.iter_orders(window)]
        assert order.order_id in {o.platform_order_id for o in orders}

    async def test_order_statuses_map_to_canonical(
        self, host: PluginHost, shop: ShopContext, sandbox: SandboxApp, clock: FakeClock
    ) -> None:
        start = clock.now()
        sku = self.sku_by_code(sandbox, "CABLE-1M")
        expected = {}
        for status in self.statuses:
            clock.advance(10)
            unpaid = status in (OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED)
            order = sandbox.state.place_order([(sku.sku_id, 1)], paid=not unpaid)
            if status in (OrderStatus.SHIPPED, OrderStatus.COMPLETED, OrderStatus.PARTLY_SHIPPED):
                sandbox.state.ship(order.order_id, "SF", "SF0001")
            if order.status is not status:
                sandbox.state.set_status(order.order_id, status)
            expected[order.order_id] = status
        clock.advance(10)
        orders = [o async for o in shop.client.iter_orders(TimeWindow(start=start, end=clock.now()))]
        assert {o.platform_order_id: o.status for o in orders} == expected

    async def test_ship_order(self, host: PluginHost, shop: ShopContext, sandbox: SandboxApp) -> None:
        order = sandbox.state.place_order([(self.sku_by_code(sandbox, "CUP-500").sku_id, 1)])
        shipment = Shipment(
            platform_order_id=order.order_id,
            carrier="SF",
            tracking_number="SF1234567890",
            idempotency_key="ship-1",
        )
        result = await shop.client.ship(shipment)
        assert result.ok, result.error
        assert sandbox.state.order(order.order_id).status is OrderStatus.SHIPPED
        assert sandbox.state.order(order.order_id).tracking_number == "SF1234567890"

    async def test_sandbox_serves_real_http(
        self, host: PluginHost, info: PlatformInfo, sandbox: SandboxApp, clock: FakeClock
    ) -> None:
        with serve_in_thread(sandbox) as served:
            shop = make_shop(info, sandbox, clock=clock, transport=None, base_url=served.url)
            listings = [x async for x in shop.client.iter_listings()]
            await shop.client.aclose()
        assert len(listings) == 6

    # --- errors, throttling, tokens --------------------------------------------------------

    async def test_wrong_credentials_are_an_auth_error(
        self, info: PlatformInfo, sandbox: SandboxApp, clock: FakeClock, host: PluginHost
    ) -> None:
        bad = make_shop(
            info,
            sandbox,
            clock=clock,
            app_secret="not-the-secret",
            access_token="not-a-token",
            refresh_token="not-a-refresh-token",
        )
        with pytest.raises(AuthError):
            _ = [x async for x in bad.client.iter_listings()]
        await bad.client.aclose()

    @pytest.mark.parametrize("fault", ["throttle", "server_error", "timeout", "reset", "malformed"])
    async def test_transient_faults_are_retried(
        self, host: PluginHost, shop: ShopContext, sandbox: SandboxApp, fault: str
    ) -> None:
        sandbox.faults.inject(fault, 2)
        try:
            listings = [x async for x in shop.client.iter_listings()]
        except RateLimited as exc:
            # A platform may ask for a longer wait than the hub takes within a run
            # (WeChat: "retry next minute"); then failing fast, saying so, is right.
            assert fault == "throttle", exc
            assert (exc.retry_after or 0) > shop.client.retry_policy.max_retry_after, exc
            return
        assert len(listings) == 6
        assert shop.client.stats.retries >= 2

    async def test_a_lasting_fault_fails_clearly(
        self, host: PluginHost, shop: ShopContext, sandbox: SandboxApp
    ) -> None:
        sandbox.faults.set_rate("server_error", 1.0)
        with pytest.raises(PlatformError) as caught:
            _ = [x async for x in shop.client.iter_listings()]
        assert caught.value.retryable and caught.value.platform == self.platform

    async def test_expired_token_is_refreshed_once(
        self, host: PluginHost, shop: ShopContext, sandbox: SandboxApp, saved_tokens: list[TokenSet]
    ) -> None:
        if not self.refreshes_tokens:
            pytest.skip("this platform's tokens are renewed outside the hub")
        sandbox.expire_tokens()
        listings = [x async for x in shop.client.iter_listings()]
        assert len(listings) == 6
        assert len(saved_tokens) == 1 and shop.client.stats.token_refreshes == 1

    # --- promotions -------------------------------------------------------------------------

    async def test_native_promotions_start_and_end(
        self, host: PluginHost, info: PlatformInfo, shop: ShopContext, sandbox: SandboxApp, clock: FakeClock
    ) -> None:
        kinds = sorted(info.capabilities.native_promotions)
        if not kinds:
            pytest.skip("no native promotions: the engine falls back to price changes")
        sku = self.sku_by_code(sandbox, "CUP-500")
        for number, kind in enumerate(kinds):
            params = {
                PromotionKind.PERCENT_DISCOUNT: {"percent_off": 20},
                PromotionKind.FLASH_PRICE: {"flash_price": 9900},
                PromotionKind.SPEND_SAVE: {"spend_threshold": 20000, "spend_discount": 2000},
            }[kind]
            promotion = Promotion(
                name=f"contract {kind.value}",
                kind=kind,
                skus=("CUP-500",),
                shops=(shop.name,),
                starts_at=clock.now() + timedelta(hours=1),
                ends_at=clock.now() + timedelta(hours=3),
                **params,
            )
            push = PromotionPush(
                promotion_id=number + 1,
                promotion=promotion,
                items=(
                    PromotionItem(
                        ref=self.ref(sku),
                        regular_price=sku.price,
                        promotion_price=promotion.price_for(sku.price),
                    ),
                ),
                idempotency_key=f"promo-{number}",
            )
            started = await shop.client.start_promotion(push)
            assert started.ok and started.platform_ref, started.error
            active = [p for p in sandbox.state.promotions.values() if p.active]
            assert len(active) == 1
            ended = await shop.client.end_promotion(push, started.platform_ref)
            assert ended.ok, ended.error
            assert not any(p.active for p in sandbox.state.promotions.values())
