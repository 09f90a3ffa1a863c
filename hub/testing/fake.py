"""A fake platform: the smallest complete plugin, with its sandbox.

It speaks a plain JSON protocol (``POST {base}/{method}``, bearer token, an
``{"ok": …}`` envelope) so core tests exercise the real client machinery — pacing,
retries, token refresh, fault injection — without any marketplace's quirks. It is
also the worked example of ``docs/writing_plugins.md``.

Register it in a test with ``host.register(FakePlatformPlugin(), name="fake")``;
``FakePlatformPlugin(code="fake_abs", delta_stock=False)`` gives an absolute-only one.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any, ClassVar

import httpx

from hub import hookimpl
from hub.client import ShopClient
from hub.core.ratelimit import RateLimit
from hub.errors import (
    AuthError,
    InvalidRequest,
    NotFound,
    PlatformError,
    RateLimited,
    ServerError,
)
from hub.models import (
    AfterSale,
    AfterSaleLine,
    Listing,
    ListingRef,
    ListingStatus,
    Order,
    OrderLine,
    PriceUpdate,
    PromotionKind,
    PromotionPush,
    PushResult,
    Shipment,
    StockLevel,
    StockUpdate,
    TimeWindow,
)
from hub.paging import numbered_pages
from hub.platform import (
    Capabilities,
    OrderWindowRule,
    PlatformInfo,
    PlatformRegistry,
    ShopSettings,
    TokenSet,
)
from hub.simulator import SandboxApp, SandboxConfig, SandboxError
from hub.units import from_unix, to_unix

PAGE_SIZE = 100
MAX_SPAN = timedelta(days=1)


# --- the sandbox ---------------------------------------------------------------------------


class FakeSandbox(SandboxApp):
    """The fake platform's server side."""

    platform = "fake"
    gateway_path = "/api"

    def throttled(self, request: httpx.Request) -> httpx.Response:
        return self._error("throttled", "too many requests", retry_after=1)

    def _error(self, code: str, message: str, *, status: int = 200, **extra: Any) -> httpx.Response:
        return self.json_response(
            {"ok": False, "error": {"code": code, "message": message, **extra}}, status=status
        )

    def handle(self, request: httpx.Request) -> httpx.Response:
        method = request.url.path.rsplit("/", 1)[-1]
        self.calls[method] += 1
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            return self._error("invalid", "body is not JSON")
        if request.headers.get("x-app-key") != self.credentials.app_key:
            return self._error("bad_key", "unknown app key")
        if method == "token.refresh":
            return self._refresh(body)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        verdict = self.credentials.check(token)
        if verdict != "ok":
            return self._error(
                "token_expired" if verdict == "expired" else "bad_token", f"access token {verdict}"
            )
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return self._error("invalid", f"no such method {method}")
        try:
            return self.json_response({"ok": True, "data": handler(body)})
        except SandboxError as exc:
            code = "not_found" if exc.code.endswith("not_found") else "invalid"
            return self._error(code, exc.message, param=exc.parameter)

    def _refresh(self, body: dict[str, Any]) -> httpx.Response:
        if body.get("app_secret") != self.credentials.app_secret:
            return self._error("bad_key", "wrong app secret")
        old = self.credentials.refresh_tokens.get(body.get("refresh_token", ""))
        if old is None:
            return self._error("bad_token", "unknown refresh token")
        self.credentials.revoke(old)
        access, refresh = self.credentials.issue(self.token_ttl)
        expires = self.credentials.expires_at(access)
        return self.json_response(
            {
                "ok": True,
                "data": {
                    "access_token": access,
                    "refresh_token": refresh,
                    "expires_at": to_unix(expires) if expires else None,
                },
            }
        )

    def _listings_list(self, body: dict[str, Any]) -> dict[str, Any]:
        page, size = int(body.get("page", 1)), int(body.get("size", PAGE_SIZE))
        if not 1 <= size <= PAGE_SIZE or page < 1:
            raise SandboxError("invalid", f"size must be 1..{PAGE_SIZE}", "size")
        rows = [(item, sku) for item in self.state.items.values() for sku in item.skus.values()]
        chunk = rows[(page - 1) * size : page * size]
        return {
            "total": len(rows),
            "items": [
                {
                    "item_id": i.item_id,
                    "sku_id": s.sku_id,
                    "code": s.code,
                    "title": f"{i.title} {s.spec}",
                    "price": s.price,
                    "quantity": s.quantity,
                    "on_sale": i.on_sale,
                }
                for i, s in chunk
            ],
        }

    def _stock_get(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "levels": [
                {"item_id": s.item_id, "sku_id": s.sku_id, "quantity": s.quantity}
                for s in (self.state.sku(i) for i in body["sku_ids"])
            ]
        }

    def _stock_set(self, body: dict[str, Any]) -> dict[str, Any]:
        results = []
        for update in body["updates"]:
            try:
                if "delta" in update:
                    sku = self.state.add_quantity(update["sku_id"], int(update["delta"]))
                else:
                    sku = self.state.set_quantity(update["sku_id"], int(update["quantity"]))
                results.append({"sku_id": sku.sku_id, "ok": True, "quantity": sku.quantity})
            except SandboxError as exc:
                results.append({"sku_id": update["sku_id"], "ok": False, "error": exc.message})
        return {"results": results}

    def _price_set(self, body: dict[str, Any]) -> dict[str, Any]:
        results = []
        for update in body["updates"]:
            try:
                self.state.set_price(update["sku_id"], int(update["price"]))
                results.append({"sku_id": update["sku_id"], "ok": True})
            except SandboxError as exc:
                results.append({"sku_id": update["sku_id"], "ok": False, "error": exc.message})
        return {"results": results}

    def _orders_list(self, body: dict[str, Any]) -> dict[str, Any]:
        start, end = from_unix(body["start"]), from_unix(body["end"])
        if end - start > MAX_SPAN:
            raise SandboxError("invalid", "the time range may span at most one day", "end")
        page, size = int(body.get("page", 1)), int(body.get("size", PAGE_SIZE))
        orders = self.state.orders_modified(start, end)
        chunk = orders[(page - 1) * size : page * size]
        return {
            "total": len(orders),
            "orders": [
                {
                    "order_id": o.order_id,
                    "status": o.status.value,
                    "created": to_unix(o.created),
                    "modified": to_unix(o.modified),
                    "paid": to_unix(o.paid_at) if o.paid_at else None,
                    "lines": [
                        {
                            "line_id": ln.line_id,
                            "item_id": ln.item_id,
                            "sku_id": ln.sku_id,
                            "code": ln.code,
                            "title": ln.title,
                            "quantity": ln.quantity,
                            "price": ln.unit_price,
                            "shipped": ln.shipped,
                            "refunded": ln.refunded,
                        }
                        for ln in o.lines
                    ],
                }
                for o in chunk
            ],
        }

    def _aftersales_list(self, body: dict[str, Any]) -> dict[str, Any]:
        start, end = from_unix(int(body["start"])), from_unix(int(body["end"]))
        if end - start > MAX_SPAN:
            raise SandboxError("invalid", "the time range may span at most one day", "end")
        page, size = int(body.get("page", 1)), int(body.get("size", PAGE_SIZE))
        cases = self.state.after_sales.modified(start, end)
        return {
            "total": len(cases),
            "cases": [
                {
                    "case_id": c.case_id,
                    "order_id": c.order_id,
                    "type": c.kind.value,
                    "status": c.status.value,
                    "created": to_unix(c.created),
                    "modified": to_unix(c.modified),
                    "refund": c.refund,
                    "reason": c.reason,
                    "line_id": c.line.line_id,
                    "item_id": c.line.item_id,
                    "sku_id": c.line.sku_id,
                    "code": c.line.code,
                    "quantity": c.quantity,
                }
                for c in cases[(page - 1) * size : page * size]
            ],
        }

    def _orders_ship(self, body: dict[str, Any]) -> dict[str, Any]:
        order = self.state.order(body["order_id"])
        if order.tracking_number == body["tracking"] and not body.get("line_ids"):
            return {"status": order.status.value}  # the same shipment again: nothing to do
        self.state.ship(body["order_id"], body["carrier"], body["tracking"], body.get("line_ids", ()))
        return {"status": self.state.order(body["order_id"]).status.value}

    def _promo_start(self, body: dict[str, Any]) -> dict[str, Any]:
        promo = self.state.add_promotion(
            body["name"],
            body["kind"],
            {i["sku_id"]: int(i["price"]) for i in body["items"]},
            from_unix(body["start"]),
            from_unix(body["end"]),
        )
        return {"promotion_id": promo.promotion_id}

    def _promo_end(self, body: dict[str, Any]) -> dict[str, Any]:
        self.state.end_promotion(body["promotion_id"])
        return {}


# --- the client ----------------------------------------------------------------------------


class FakeSettings(ShopSettings):
    base_url: str = "https://fake.invalid/api"


class FakeClient(ShopClient):
    """The fake platform's client: every operation of :class:`~hub.client.ShopClient`."""

    platform = "fake"
    #: send deltas (the plugin's ``Capabilities.delta_stock``); set per platform code
    delta_stock: ClassVar[bool] = True

    def parse(self, operation: str, response: httpx.Response) -> Any:
        body = self.decode_json(operation, response)
        if body.get("ok") is True:
            return body.get("data", {})
        error = body.get("error") or {}
        code, message = error.get("code", "?"), error.get("message", "unknown error")
        where = {"platform": self.platform, "operation": operation, "code": code}
        kinds: dict[str, type[PlatformError]] = {
            "throttled": RateLimited,
            "server": ServerError,
            "not_found": NotFound,
        }
        if code == "throttled":
            raise RateLimited(message, retry_after=error.get("retry_after"), **where)
        if code in ("token_expired", "bad_token", "bad_key"):
            credential = "app" if code == "bad_key" else "token"
            raise AuthError(message, refreshable=code == "token_expired", credential=credential, **where)
        if code == "invalid":
            raise InvalidRequest(message, parameter=error.get("param"), **where)
        raise kinds.get(code, ServerError)(message, **where)

    def request(self, method: str, body: dict[str, Any], *, idempotent: bool = True) -> Any:
        def build() -> httpx.Request:
            return httpx.Request(
                "POST",
                f"{self.settings.base_url}/{method}",
                json=body,
                headers={
                    "x-app-key": self.settings.app_key,
                    "authorization": f"Bearer {self.access_token or ''}",
                },
            )

        return self.call(method, build, idempotent=idempotent)

    async def refresh_credentials(self) -> TokenSet | None:
        if not self.refresh_token:
            return None

        def build() -> httpx.Request:
            return httpx.Request(
                "POST",
                f"{self.settings.base_url}/token.refresh",
                headers={"x-app-key": self.settings.app_key},
                json={
                    "app_secret": self.settings.app_secret.get_secret_value(),
                    "refresh_token": self.refresh_token,
                },
            )

        data = await self.call("token.refresh", build, authenticated=False)
        expires = from_unix(data["expires_at"]) if data.get("expires_at") else None
        return TokenSet(data["access_token"], data["refresh_token"], expires)

    async def check(self) -> str:
        data = await self.request("listings.list", {"page": 1, "size": 1})
        return f"{data['total']} listing(s)"

    async def _listings_page(self, page: int) -> tuple[list[dict[str, Any]], int]:
        data = await self.request("listings.list", {"page": page, "size": PAGE_SIZE})
        return data["items"], data["total"]

    async def iter_listings(self) -> AsyncIterator[Listing]:
        async for rows in numbered_pages(self._listings_page, size=PAGE_SIZE):
            for row in rows:
                yield Listing(
                    platform_item_id=row["item_id"],
                    platform_sku_id=row["sku_id"],
                    master_code=row["code"] or None,
                    title=row["title"],
                    price=row["price"],
                    quantity=row["quantity"],
                    status=ListingStatus.ON_SALE if row["on_sale"] else ListingStatus.OFF_SALE,
                )

    async def fetch_stock(self, refs: Sequence[ListingRef]) -> list[StockLevel]:
        levels = []
        for start in range(0, len(refs), 50):
            ids = [r.platform_sku_id for r in refs[start : start + 50]]
            data = await self.request("stock.get", {"sku_ids": ids})
            now = self.clock.now()
            levels += [
                StockLevel(
                    platform_item_id=x["item_id"],
                    platform_sku_id=x["sku_id"],
                    quantity=x["quantity"],
                    observed_at=now,
                )
                for x in data["levels"]
            ]
        return levels

    async def push_stock(self, updates: Sequence[StockUpdate]) -> list[PushResult]:
        delta = self.delta_stock
        rows = [
            {
                "sku_id": u.ref.platform_sku_id,
                **({"delta": u.delta} if delta and u.delta is not None else {"quantity": u.quantity}),
            }
            for u in updates
        ]
        relative = any("delta" in r for r in rows)
        data = await self.request("stock.set", {"updates": rows}, idempotent=not relative)
        by_sku = {r["sku_id"]: r for r in data["results"]}
        return [
            PushResult(
                idempotency_key=u.idempotency_key,
                ok=by_sku[u.ref.platform_sku_id]["ok"],
                error=by_sku[u.ref.platform_sku_id].get("error"),
                quantity_after=by_sku[u.ref.platform_sku_id].get("quantity"),
            )
            for u in updates
        ]

    async def push_prices(self, updates: Sequence[PriceUpdate]) -> list[PushResult]:
        rows = [{"sku_id": u.ref.platform_sku_id, "price": u.price} for u in updates]
        data = await self.request("price.set", {"updates": rows})
        by_sku = {r["sku_id"]: r for r in data["results"]}
        return [
            PushResult(
                idempotency_key=u.idempotency_key,
                ok=by_sku[u.ref.platform_sku_id]["ok"],
                error=by_sku[u.ref.platform_sku_id].get("error"),
            )
            for u in updates
        ]

    async def iter_orders(self, window: TimeWindow) -> AsyncIterator[Order]:
        async def page_of(page: int) -> tuple[list[dict[str, Any]], int]:
            # Whole seconds: round the start down and the end up, so the window's last
            # (partial) second is included; reading a little extra is harmless.
            data = await self.request(
                "orders.list",
                {
                    "start": to_unix(window.start),
                    "end": math.ceil(window.end.timestamp()),
                    "page": page,
                    "size": PAGE_SIZE,
                },
            )
            return data["orders"], data["total"]

        async for rows in numbered_pages(page_of, size=PAGE_SIZE):
            for row in rows:
                yield Order(
                    platform_order_id=row["order_id"],
                    status=row["status"],
                    platform_status=row["status"],
                    created_at=from_unix(row["created"]),
                    modified_at=from_unix(row["modified"]),
                    paid_at=from_unix(row["paid"]) if row["paid"] else None,
                    total=sum(ln["price"] * ln["quantity"] for ln in row["lines"]),
                    lines=tuple(
                        OrderLine(
                            line_id=ln["line_id"],
                            platform_item_id=ln["item_id"],
                            platform_sku_id=ln["sku_id"],
                            master_code=ln["code"],
                            title=ln["title"],
                            quantity=ln["quantity"],
                            unit_price=ln["price"],
                            shipped=ln["shipped"],
                            refunded=ln["refunded"],
                        )
                        for ln in row["lines"]
                    ),
                )

    async def iter_after_sales(self, window: TimeWindow) -> AsyncIterator[AfterSale]:
        async def page_of(page: int) -> tuple[list[dict[str, Any]], int]:
            body = {"start": to_unix(window.start), "end": math.ceil(window.end.timestamp()), "page": page}
            data = await self.request("aftersales.list", {**body, "size": PAGE_SIZE})
            return data["cases"], data["total"]

        async for rows in numbered_pages(page_of, size=PAGE_SIZE):
            for row in rows:
                yield AfterSale(
                    platform_case_id=row["case_id"],
                    platform_order_id=row["order_id"],
                    type=row["type"],
                    status=row["status"],
                    platform_status=row["status"],
                    created_at=from_unix(row["created"]),
                    modified_at=from_unix(row["modified"]),
                    refund_amount=row["refund"],
                    reason=row["reason"],
                    lines=(
                        AfterSaleLine(
                            platform_item_id=row["item_id"],
                            platform_sku_id=row["sku_id"],
                            master_code=row["code"],
                            line_id=row["line_id"],
                            quantity=row["quantity"],
                        ),
                    ),
                )

    async def ship(self, shipment: Shipment) -> PushResult:
        try:
            await self.request(
                "orders.ship",
                {
                    "order_id": shipment.platform_order_id,
                    "carrier": shipment.carrier,
                    "tracking": shipment.tracking_number,
                    "line_ids": list(shipment.line_ids),
                },
            )
        except InvalidRequest as exc:
            return self.failed(shipment.idempotency_key, exc)
        return PushResult(idempotency_key=shipment.idempotency_key, ok=True)

    async def start_promotion(self, push: PromotionPush) -> PushResult:
        data = await self.request(
            "promo.start",
            {
                "name": push.promotion.name,
                "kind": push.promotion.kind.value,
                "start": to_unix(push.promotion.starts_at),
                "end": to_unix(push.promotion.ends_at),
                "items": [{"sku_id": i.ref.platform_sku_id, "price": i.promotion_price} for i in push.items],
            },
            idempotent=False,
        )
        return PushResult(idempotency_key=push.idempotency_key, ok=True, platform_ref=data["promotion_id"])

    async def end_promotion(self, push: PromotionPush, platform_ref: str) -> PushResult:
        await self.request("promo.end", {"promotion_id": platform_ref})
        return PushResult(idempotency_key=push.idempotency_key, ok=True)


# --- the plugin ----------------------------------------------------------------------------


class FakePlatformPlugin:
    """The fake platform's plugin: one platform code with its own client class; see the
    module docstring."""

    def __init__(
        self,
        code: str = "fake",
        *,
        delta_stock: bool = True,
        native_promotions: frozenset[PromotionKind] = frozenset({PromotionKind.FLASH_PRICE}),
        rate_limit: RateLimit = RateLimit(qps=1000, concurrency=8),
        stock_batch_size: int = 50,
    ):
        self.code = code
        # One client class per code, so errors are tagged with it and deltas obey the flag.
        client_class = type(
            f"FakeClient_{code}", (FakeClient,), {"platform": code, "delta_stock": delta_stock}
        )
        self.info = PlatformInfo(
            code=code,
            title=f"Fake platform ({code})",
            settings_model=FakeSettings,
            client_class=client_class,
            capabilities=Capabilities(
                delta_stock=delta_stock,
                stock_batch_size=stock_batch_size,
                price_batch_size=50,
                native_promotions=native_promotions,
            ),
            rate_limit=rate_limit,
            order_window=OrderWindowRule(
                max_span=MAX_SPAN, lookback=timedelta(minutes=5), initial_history=timedelta(days=3)
            ),
            sandbox="hub.testing.fake:FakeSandbox",
        )

    @hookimpl
    def hub_register_platforms(self, registry: PlatformRegistry) -> None:
        registry.add(self.info)


def fake_sandbox(**config: Any) -> FakeSandbox:
    """A fake sandbox; keyword arguments are :class:`SandboxConfig` fields."""
    return FakeSandbox(SandboxConfig(**config))
