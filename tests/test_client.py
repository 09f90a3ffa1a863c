"""The base client: unsupported operations, the write policy, gather, and registration of
a client class (hub.client, hub.platform)."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from hub.client import SHOP_WIDE, ShopClient, check_results, gather
from hub.core.http import HttpOptions
from hub.core.ratelimit import RateLimit
from hub.errors import (
    AuthError,
    CapabilityNotSupported,
    ConnectFailed,
    InvalidRequest,
    MalformedResponse,
    PermissionDenied,
    PlatformError,
    PluginError,
    QuotaExhausted,
    RateLimited,
    RequestTimeout,
    ServerError,
)
from hub.models import (
    ListingRef,
    Promotion,
    PromotionKind,
    PromotionPush,
    PushResult,
    Shipment,
    StockUpdate,
    TimeWindow,
)
from hub.platform import Capabilities, OrderWindowRule, PlatformInfo, ShopSettings
from hub.simulator import SandboxConfig
from hub.testing import FakeClock
from hub.testing.fake import FakeSandbox, FakeSettings

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[1]


class BareClient(ShopClient):
    """A client that overrides no operation."""

    platform = "bare"


def bare_client() -> BareClient:
    clock = FakeClock()
    settings = ShopSettings(app_key="k", app_secret="s", base_url="https://bare.invalid")
    return BareClient(settings, HttpOptions(shop="s1", rate_limit=RateLimit(qps=10), clock=clock))


def update(key: str, delta: int | None = None) -> StockUpdate:
    return StockUpdate(
        ref=ListingRef(platform_item_id="1", platform_sku_id=key),
        quantity=5,
        delta=delta,
        idempotency_key=key,
    )


# --- the operations -------------------------------------------------------------------------


async def test_an_operation_not_overridden_is_not_supported() -> None:
    client = bare_client()
    clock = FakeClock()
    window = TimeWindow(start=clock.now(), end=clock.now() + timedelta(hours=1))
    with pytest.raises(CapabilityNotSupported, match="'bare' does not support listings"):
        client.iter_listings()
    with pytest.raises(CapabilityNotSupported, match="orders"):
        client.iter_orders(window)
    with pytest.raises(CapabilityNotSupported, match="stock writes"):
        await client.push_stock([update("a")])
    with pytest.raises(CapabilityNotSupported, match="shipment"):
        await client.ship(
            Shipment(platform_order_id="1", carrier="SF", tracking_number="1", idempotency_key="k")
        )
    promotion = Promotion(
        name="p",
        kind=PromotionKind.FLASH_PRICE,
        skus=("A",),
        shops=("s1",),
        starts_at=clock.now(),
        ends_at=clock.now() + timedelta(hours=1),
        flash_price=100,
    )
    push = PromotionPush(promotion_id=1, promotion=promotion, items=(), idempotency_key="p")
    with pytest.raises(CapabilityNotSupported, match="native flash_price"):
        await client.start_promotion(push)
    await client.aclose()


# --- failed results ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "in_doubt"),
    [
        (RequestTimeout("lost"), True),  # the request may have arrived
        (ServerError("busy"), True),
        (MalformedResponse("garbled"), True),  # something answered: it arrived
        (ConnectFailed("refused"), False),  # never reached the platform
        (RateLimited("slow down"), False),  # refused before it was applied
        (InvalidRequest("bad"), False),  # refused
    ],
)
def test_a_write_that_may_have_been_applied_is_in_doubt(error: PlatformError, in_doubt: bool) -> None:
    result = ShopClient.failed("k", error, maybe_applied=True)
    assert not result.ok and result.in_doubt is in_doubt
    assert result.retryable is (error.retryable and not in_doubt)
    assert str(error) in (result.error or "")
    # The same error on a write that is safe to resend is never in doubt.
    plain = ShopClient.failed("k", error)
    assert not plain.in_doubt and plain.retryable is error.retryable and plain.error == str(error)


def test_a_reason_of_the_plugin_is_a_final_failure() -> None:
    failed = ShopClient.failed("k", "no such SKU")
    assert failed == PushResult(idempotency_key="k", ok=False, error="no such SKU")


# --- write_each / write_batches ----------------------------------------------------------------


@pytest.mark.parametrize("concurrently", [True, False])
async def test_write_each_reports_each_update_and_keeps_their_order(concurrently: bool) -> None:
    client = bare_client()

    async def one(u: StockUpdate) -> PushResult:
        if u.idempotency_key == "bad":
            raise InvalidRequest("refused", platform="bare")
        if u.idempotency_key == "lost":
            raise RequestTimeout("no answer", platform="bare")
        return PushResult(idempotency_key=u.idempotency_key, ok=True)

    updates = [update("a"), update("bad"), update("lost", delta=2), update("b")]
    results = await client.write_each(
        updates, one, concurrently=concurrently, maybe_applied=lambda u: u.delta is not None
    )
    assert [r.idempotency_key for r in results] == ["a", "bad", "lost", "b"]
    assert [r.ok for r in results] == [True, False, False, True]
    assert not results[1].retryable and not results[1].in_doubt
    assert results[2].in_doubt  # a relative write whose answer was lost
    await client.aclose()


@pytest.mark.parametrize("error", [AuthError("expired"), PermissionDenied("no API"), QuotaExhausted("daily")])
async def test_shop_wide_errors_are_raised_after_the_other_writes(error: PlatformError) -> None:
    assert isinstance(error, SHOP_WIDE)
    client = bare_client()
    written: list[str] = []

    async def one(u: StockUpdate) -> PushResult:
        if u.idempotency_key == "x":
            raise error
        written.append(u.idempotency_key)
        return PushResult(idempotency_key=u.idempotency_key, ok=True)

    with pytest.raises(type(error)):
        await client.write_each([update("a"), update("x"), update("b")], one)
    assert sorted(written) == ["a", "b"]  # concurrently: the others ended first
    written.clear()
    with pytest.raises(type(error)):
        await client.write_each([update("a"), update("x"), update("b")], one, concurrently=False)
    assert written == ["a"]  # one after another: nothing is sent after it
    await client.aclose()


async def test_write_batches_fails_every_update_of_a_failed_batch() -> None:
    client = bare_client()

    async def write(batch: Sequence[StockUpdate]) -> list[PushResult]:
        if batch[0].idempotency_key == "c":
            raise ServerError("busy", platform="bare")
        return [PushResult(idempotency_key=u.idempotency_key, ok=True) for u in batch]

    batches = [[update("a"), update("b")], [update("c", delta=1), update("d", delta=1)]]
    results = await client.write_batches(batches, write, maybe_applied=lambda b: b[0].delta is not None)
    assert [(r.idempotency_key, r.ok, r.in_doubt) for r in results] == [
        ("a", True, False),
        ("b", True, False),
        ("c", False, True),
        ("d", False, True),
    ]
    await client.aclose()


# --- gather and the results check ------------------------------------------------------------


async def test_gather_keeps_order_and_raises_the_first_error_itself() -> None:
    async def value(n: int) -> int:
        return n * 2

    assert await gather(lambda n=n: value(n) for n in range(5)) == [0, 2, 4, 6, 8]
    assert await gather([]) == []

    async def boom() -> int:
        raise ServerError("down")

    with pytest.raises(ServerError):  # not an ExceptionGroup
        await gather([lambda: value(1), boom])


def test_check_results_wants_one_result_per_update() -> None:
    updates = [update("a"), update("b")]
    ok = [PushResult(idempotency_key=k, ok=True) for k in ("b", "a")]
    assert check_results("push_stock", updates, ok) == ok
    with pytest.raises(PluginError, match="push_stock returned results for"):
        check_results("push_stock", updates, ok[:1])
    with pytest.raises(PluginError):
        check_results("push_stock", updates, [*ok, ok[0]])


# --- registration of a client class and a sandbox ----------------------------------------------


def info(**overrides: object) -> PlatformInfo:
    values: dict[str, object] = {
        "code": "bare",
        "title": "Bare",
        "settings_model": FakeSettings,
        "client_class": BareClient,
        "capabilities": Capabilities(),
        "rate_limit": RateLimit(qps=1),
        "order_window": OrderWindowRule(max_span=timedelta(days=1)),
        **overrides,
    }
    return PlatformInfo(**values)  # type: ignore[arg-type]


def test_platform_info_wants_a_shop_client_and_a_sandbox_import_path() -> None:
    with pytest.raises(PluginError, match=r"client_class must subclass hub\.client\.ShopClient"):
        info(client_class=object)
    with pytest.raises(PluginError, match="import path"):
        info(sandbox=FakeSandbox)
    with pytest.raises(PluginError, match="ships no sandbox"):
        info().make_sandbox(None)


def test_the_sandbox_is_imported_when_built() -> None:
    box = info(sandbox="hub.testing.fake:FakeSandbox").make_sandbox(SandboxConfig(clock=FakeClock()))
    assert isinstance(box, FakeSandbox)


def test_the_base_client_does_not_import_what_plugins_register() -> None:
    """hub.platform imports the client; the client side (hub.core.http, hub.client,
    hub.credentials) never imports hub.platform, not even for type checking."""
    for module in ("hub/core/http.py", "hub/client.py", "hub/credentials.py", "hub/paging.py"):
        tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
        assert "hub.platform" not in imported and "hub.plugins" not in imported, module
