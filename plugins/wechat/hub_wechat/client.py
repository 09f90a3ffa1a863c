"""The WeChat store client: requests, access tokens, error classification, operations.

Wire protocol (fact sheet §4.1-4.2): ``POST {base}/channels/ec/<path>?access_token=TOKEN``
with a JSON body and no signature; IDs are uint64 strings, money integer fen, times
Unix seconds. Every answer is HTTP 200 with ``{"errcode": 0, "errmsg": "ok", ...}`` on
success or a non-zero ``errcode`` (§4.6), which :func:`classify_error` turns into a hub
error.

Tokens: the store has no refresh token. :meth:`WechatClient.refresh_credentials` asks
the token API (stable_token by default) for the current token; the base client calls it
ahead of expiry, once on a refreshable :class:`~hub.errors.AuthError`, and — through
:meth:`WechatClient.ensure_token` — before the first call when the shop has no token.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Container, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx

from hub.client import SHOP_WIDE, ShopClient, gather
from hub.errors import (
    AuthError,
    BadPush,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    PermissionDenied,
    PlatformError,
    QuotaExhausted,
    RateLimited,
    ServerError,
    TransportError,
)
from hub.models import (
    AfterSale,
    Listing,
    ListingRef,
    Order,
    PriceUpdate,
    PromotionKind,
    PromotionPush,
    PushResult,
    Shipment,
    StockLevel,
    StockUpdate,
    TimeWindow,
)
from hub.paging import token_pages
from hub.platform import TokenSet
from hub.push.events import ParsedPush, PushAnswer, PushRequest
from hub.secrets import redact
from hub_wechat import PLATFORM, mappers, push
from hub_wechat import aftersales as wx_after
from hub_wechat.settings import WechatSettings

log = logging.getLogger("hub_wechat")

MAX_ORDER_SPAN = timedelta(days=7)  # update_time_range may span at most 7 days (§4.4)
NATIVE_PROMOTIONS = frozenset({PromotionKind.FLASH_PRICE, PromotionKind.PERCENT_DISCOUNT})
TASK_PAGE_SIZE = 50  # limiteddiscounttask/list/get: page_size at most 50
STABLE_TOKEN_OP = "cgi-bin/stable_token"
TOKEN_OP = "cgi-bin/token"


# --- error classification --------------------------------------------------------------------


#: access-token problems a fresh token cures (§4.6, §5.6)
REFRESHABLE = {
    40001: "access_token invalid or not the latest",
    40014: "invalid access_token",
    41001: "access_token missing",
    42001: "access_token expired",
}
PERMISSION = {
    48001: "API unauthorized (wrong token type or permission missing)",
    48004: "API banned",
    50001: "user unauthorized",
    50002: "user limited",
    61007: "API not authorised to the third-party platform",
    10020050: "no permission to call this API",  # product APIs [W6]
}
IP_WHITELIST = {45035, 61004, 40164}  # 40164: the general WeChat code for the same
INVALID = {
    40003: ("invalid openid", "openid"),
    40066: ("invalid URL", None),
    43002: ("POST required", None),
    43003: ("HTTPS required", None),
    44002: ("empty POST body", None),
    45002: ("request body too large", None),
    47001: ("data format error (JSON)", None),
}
NOT_FOUND = {10020052: "product does not exist"}  # product APIs [W6]
SKU_UPDATE_TOO_FREQUENT = 10020112  # per-SKU update frequency limit
_RID = re.compile(r"rid:\s*([0-9A-Za-z-]+)")


def seconds_to_next_minute(now: datetime) -> float:
    """Seconds from ``now`` to the start of the next minute (45011: "retry next minute")."""
    into = now.second + now.microsecond / 1_000_000
    return 60.0 - into


def classify_error(errcode: int, errmsg: str, *, operation: str, now: datetime) -> PlatformError:
    """The hub error for a non-zero ``errcode`` of ``operation`` (fact sheet §4.6).

    ``now`` is the client's clock, for the wait a per-minute limit asks for. Token
    calls (``cgi-bin/…``) are special: 40001 there means a wrong AppSecret, which no
    refresh cures."""
    message = redact(str(errmsg or "").strip()) or "no errmsg"
    rid = _RID.search(message)
    where: dict[str, Any] = {
        "platform": PLATFORM,
        "operation": operation,
        "code": errcode,
        "request_id": rid.group(1) if rid else None,
    }
    token_call = operation in (STABLE_TOKEN_OP, TOKEN_OP)
    if token_call and errcode in (40001, 40125):
        return AuthError(f"the AppSecret is wrong: {message}", refreshable=False, credential="app", **where)
    if errcode == 40013:
        return AuthError(f"invalid AppID (app_key): {message}", refreshable=False, credential="app", **where)
    if errcode in REFRESHABLE:
        return AuthError(f"{REFRESHABLE[errcode]}: {message}", refreshable=True, credential="token", **where)
    if errcode == 45011:
        return RateLimited(
            f"per-minute call limit reached, retry next minute: {message}",
            retry_after=seconds_to_next_minute(now),
            **where,
        )
    if errcode == 45009:  # calls succeed again after the daily reset or clear_quota
        return QuotaExhausted(
            "daily API quota reached: calls fail until the daily reset or until the quota "
            f"is cleared (clear_quota); not retried automatically: {message}",
            **where,
        )
    if errcode == SKU_UPDATE_TOO_FREQUENT:
        return RateLimited(f"this SKU is updated too often: {message}", **where)
    if errcode == -1:
        return ServerError(f"system busy: {message}", **where)
    if errcode in IP_WHITELIST:
        return PermissionDenied(
            "this server's IP is not in the store's IP whitelist (add it under "
            f"channels.weixin.qq.com/shop): {message}",
            **where,
        )
    if errcode in PERMISSION:
        return PermissionDenied(f"{PERMISSION[errcode]}: {message}", **where)
    if errcode in INVALID:
        meaning, parameter = INVALID[errcode]
        return InvalidRequest(f"{meaning}: {message}", parameter=parameter, **where)
    if errcode in NOT_FOUND:
        return NotFound(f"{NOT_FOUND[errcode]}: {message}", **where)
    if 10_000_000 <= errcode <= 99_999_999:  # per-API business codes
        return InvalidRequest(message, **where)
    return PlatformError(f"unclassified errcode: {message}", **where)


# --- the client ----------------------------------------------------------------------------


class WechatClient(ShopClient):
    """One WeChat store: see the module docstring."""

    platform = PLATFORM
    # stable_token renews a token only in its last 5 minutes; refreshing a little later
    # than that (4 min before expiry) makes sure the refresh returns a new token.
    token_refresh_margin: ClassVar[timedelta] = timedelta(minutes=4)
    settings: WechatSettings

    # --- protocol ------------------------------------------------------------------------------

    def parse(self, operation: str, response: httpx.Response) -> dict[str, Any]:
        """The body of a successful answer, or the classified hub error."""
        if response.status_code in (401, 403) and not _is_json(response.content):
            # Some IP rejections may come as a bare HTTP 403 without errcode (UNCONFIRMED).
            raise PermissionDenied(
                f"HTTP {response.status_code}: access refused; check that this server's IP "
                "is in the store's IP whitelist",
                platform=self.platform,
                operation=operation,
            )
        body = self.decode_json(operation, response)
        errcode = body.get("errcode", 0)  # token answers carry no errcode on success
        if isinstance(errcode, str) and errcode.lstrip("-").isdigit():
            errcode = int(errcode)
        if not isinstance(errcode, int) or isinstance(errcode, bool):
            raise MalformedResponse(
                f"errcode is not a number: {errcode!r}", platform=self.platform, operation=operation
            )
        if errcode == 0:
            return body
        raise classify_error(errcode, str(body.get("errmsg", "")), operation=operation, now=self.clock.now())

    def request(self, path: str, body: dict[str, Any], *, idempotent: bool = True) -> Awaitable[Any]:
        """POST ``body`` to ``channels/ec/<path>`` with the current access token."""
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        url = f"{self.settings.base_url}/channels/ec/{path}"

        def build() -> httpx.Request:
            # Rebuilt per attempt, so a retry after a token refresh carries the new token.
            return httpx.Request(
                "POST",
                url,
                params={"access_token": self.access_token or ""},
                content=content,
                headers={"content-type": "application/json;charset=utf-8"},
            )

        return self.call(path, build, idempotent=idempotent)

    async def ensure_token(self) -> None:
        """Fetch a token before the first call when the shop has none; otherwise refresh
        ahead of expiry as the base client does."""
        if not self.access_token:
            await self._refresh(since_generation=self._token_generation)
            return
        await super().ensure_token()

    async def refresh_credentials(self) -> TokenSet:
        """The store's current access token from the configured token API (§4.1)."""
        settings = self.settings
        secret = settings.app_secret.get_secret_value()
        build: Callable[[], httpx.Request]
        if settings.token_api == "stable_token":
            operation = STABLE_TOKEN_OP
            # Normal mode (force_refresh false): the platform hands back the token it
            # holds, renewing it only near its end, so other processes keep working.
            payload = json.dumps(
                {
                    "grant_type": "client_credential",
                    "appid": settings.app_key,
                    "secret": secret,
                    "force_refresh": False,
                }
            ).encode("utf-8")

            def build() -> httpx.Request:
                return httpx.Request(
                    "POST",
                    f"{settings.base_url}/cgi-bin/stable_token",
                    content=payload,
                    headers={"content-type": "application/json"},
                )
        else:
            operation = TOKEN_OP
            params = {"grant_type": "client_credential", "appid": settings.app_key, "secret": secret}

            def build() -> httpx.Request:
                return httpx.Request("GET", f"{settings.base_url}/cgi-bin/token", params=params)

        data = await self._call_with_retries(operation, build, True)
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise MalformedResponse(
                "token answer without access_token", platform=self.platform, operation=operation
            )
        try:
            expires_at = mappers.token_expiry(self.clock.now(), data.get("expires_in"))
        except ValueError as exc:
            raise MalformedResponse(str(exc), platform=self.platform, operation=operation) from None
        return TokenSet(access_token=token, expires_at=expires_at)

    def _malformed(self, operation: str, exc: Exception) -> MalformedResponse:
        detail = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        return MalformedResponse(
            f"unexpected answer shape: {detail}", platform=self.platform, operation=operation
        )

    # --- listings and stock ------------------------------------------------------------------

    async def check(self) -> str:
        """Fetch the store's access token from the AppID and AppSecret (so a wrong secret
        shows now, not when the stored token expires), then read one row of product/list/get."""
        await self._refresh(since_generation=self._token_generation)
        page = await self.request("product/list/get", {"page_size": 1, "next_key": ""})
        total = page.get("total_num")
        return f"{total} product(s)" if isinstance(total, int) else "products listed"

    async def iter_listings(self) -> AsyncIterator[Listing]:
        """Every SKU of every product (except the recycle bin), on and off sale."""
        settings = self.settings
        extra = {} if settings.product_status is None else {"status": settings.product_status}

        def page_at(key: str) -> Awaitable[Any]:
            body = {"page_size": settings.product_page_size, "next_key": key, **extra}
            return self.request("product/list/get", body)

        seen = 0
        async for page in token_pages(page_at, _next_key, what=f"{self.shop} product/list/get"):
            ids = [str(x) for x in page.get("product_ids") or []]
            for product_id in ids:
                for listing in await self._product_listings(product_id):
                    yield listing
            seen += len(ids)
            total = page.get("total_num")
            if not ids or (isinstance(total, int) and seen >= total):
                return

    async def _product_listings(self, product_id: str) -> list[Listing]:
        try:
            data = await self.request("product/get", {"product_id": product_id, "data_type": 1})
        except NotFound:
            log.info("%s: product %s vanished while listing; skipped", self.shop, product_id)
            return []
        product = data.get("product")
        if not product:
            return []  # never listed: only a draft exists, nothing buyers can see
        try:
            return mappers.listings_from_product(product, self.settings.master_code_source)
        except (KeyError, TypeError, ValueError) as exc:
            raise self._malformed("product/get", exc) from None

    async def _stock_data(self, product_id: str, sku_id: str) -> dict[str, Any]:
        data = await self.request("product/stock/get", {"product_id": product_id, "sku_id": sku_id})
        stock = data.get("data")
        if not isinstance(stock, dict):
            raise MalformedResponse(
                "stock/get answer without data", platform=self.platform, operation="product/stock/get"
            )
        return stock

    async def fetch_stock(self, refs: Sequence[ListingRef]) -> list[StockLevel]:
        """The platform quantity of each ref the platform knows (unknown ones are left out)."""
        levels = []
        for ref in refs:
            try:
                stock = await self._stock_data(ref.platform_item_id, ref.platform_sku_id)
            except NotFound:
                log.warning(
                    "%s: SKU %s/%s is not on the platform",
                    self.shop,
                    ref.platform_item_id,
                    ref.platform_sku_id,
                )
                continue
            try:
                quantity = mappers.stock_quantity(stock, self.settings.stock_field)
            except (TypeError, ValueError) as exc:
                raise self._malformed("product/stock/get", exc) from None
            levels.append(
                StockLevel(
                    platform_item_id=ref.platform_item_id,
                    platform_sku_id=ref.platform_sku_id,
                    quantity=quantity,
                    observed_at=self.clock.now(),
                )
            )
        return levels

    async def push_stock(self, updates: Sequence[StockUpdate]) -> list[PushResult]:
        """One ``stock/update`` per update (the API takes one SKU), one result per update.
        Different SKUs are written concurrently (the rate limiter paces the calls); one
        SKU's updates one after another, as two must not cross. A delta applied twice
        counts twice: one whose answer was lost is reported in doubt."""
        by_sku: dict[tuple[str, str], list[int]] = {}
        for index, update in enumerate(updates):
            by_sku.setdefault((update.ref.platform_item_id, update.ref.platform_sku_id), []).append(index)

        async def in_turn(indices: list[int]) -> list[PushResult]:
            return await self.write_each(
                [updates[i] for i in indices],
                self._push_one_stock,
                concurrently=False,
                maybe_applied=lambda update: update.delta is not None,
            )

        done = await gather(lambda indices=indices: in_turn(indices) for indices in by_sku.values())
        results: dict[int, PushResult] = {}
        for indices, written in zip(by_sku.values(), done, strict=True):
            results.update(zip(indices, written, strict=True))
        return [results[i] for i in range(len(updates))]

    async def _push_one_stock(self, update: StockUpdate) -> PushResult:
        key = update.idempotency_key
        body = mappers.stock_update_body(update)
        if body is None:
            return PushResult(idempotency_key=key, ok=True)  # a zero delta changes nothing
        relative = body["diff_type"] != mappers.DIFF_SET
        try:
            # A delta applied twice counts twice: never re-sent unless surely not applied.
            await self.request("product/stock/update", body, idempotent=not relative)
        except InvalidRequest as exc:
            if body["diff_type"] == mappers.DIFF_SUBTRACT:
                clamped = await self._subtract_what_is_left(update, body, exc)
                if clamped is not None:
                    return clamped
            raise
        return PushResult(idempotency_key=key, ok=True, quantity_after=None if relative else update.quantity)

    async def _subtract_what_is_left(
        self, update: StockUpdate, body: dict[str, Any], refused: PlatformError
    ) -> PushResult | None:
        """A subtraction larger than the platform's stock is refused; buyers took units
        since our read. Taking what is left reaches the lowest reachable quantity, 0,
        which is what the engine wanted at most (never leaving more units for sale)."""
        try:
            left = mappers.normal_stock(await self._stock_data(body["product_id"], body["sku_id"]))
        except (PlatformError, TypeError, ValueError) as exc:
            # Nothing was applied (the subtraction was refused): safe to try again later.
            return PushResult(
                idempotency_key=update.idempotency_key,
                ok=False,
                retryable=True,
                error=f"{refused}; what is left could not be read: {exc}",
            )
        if left >= body["num"]:
            return None  # refused for another reason: report it
        key = update.idempotency_key
        if left > 0:
            try:
                await self.request("product/stock/update", {**body, "num": left}, idempotent=False)
            except PlatformError as exc:
                return self.failed(key, exc, maybe_applied=True)
        log.info(
            "%s: SKU %s had %d units, fewer than the %d to subtract; took them all",
            self.shop,
            body["sku_id"],
            left,
            body["num"],
        )
        # General stock is now 0; the total also holds discount/warehouse stock, if any.
        after = 0 if self.settings.stock_field == "normal_stock_num" else None
        return PushResult(idempotency_key=key, ok=True, quantity_after=after)

    # --- prices ----------------------------------------------------------------------------------

    async def push_prices(self, updates: Sequence[PriceUpdate]) -> list[PushResult]:
        """Audit-free price updates (``product/auditfree``), one call per product."""
        by_product: dict[str, list[PriceUpdate]] = {}
        for update in updates:
            by_product.setdefault(update.ref.platform_item_id, []).append(update)

        async def write(group: Sequence[PriceUpdate]) -> list[PushResult]:
            prices = {u.ref.platform_sku_id: u.price for u in group}  # the last one wins
            body = {
                "product_id": group[0].ref.platform_item_id,
                "skus": [{"sku_id": sku_id, "sale_price": price} for sku_id, price in prices.items()],
            }
            await self.request("product/auditfree", body)  # a re-send is harmless
            return [PushResult(idempotency_key=u.idempotency_key, ok=True) for u in group]

        results = await self.write_batches(list(by_product.values()), write, concurrently=False)
        by_key = {r.idempotency_key: r for r in results}
        return [by_key[u.idempotency_key] for u in updates]

    # --- orders ----------------------------------------------------------------------------------

    def iter_orders(self, window: TimeWindow) -> AsyncIterator[Order]:
        """Orders modified in ``window``: ``order/list/get`` by update time in slices of
        at most 7 days (looping while ``has_more``), then ``order/get`` for each id — a
        page's ids fetched concurrently (the rate limiter paces them), yielded in order."""
        return self.iter_new_orders(window, ())

    async def iter_new_orders(self, window: TimeWindow, known: Container[str]) -> AsyncIterator[Order]:
        """As :meth:`iter_orders`, without the ``order/get`` calls for ``known`` ids."""
        for part in mappers.split_window(window, MAX_ORDER_SPAN):
            yielded: set[str] = set()

            def page_at(key: str, part: TimeWindow = part) -> Awaitable[Any]:
                return self.request(
                    "order/list/get",
                    {
                        "update_time_range": mappers.update_time_range(part),
                        "page_size": self.settings.order_page_size,
                        "next_key": key,
                    },
                )

            async for page in token_pages(page_at, _next_key, what=f"{self.shop} order/list/get"):
                ids = [str(x) for x in page.get("order_id_list") or []]
                details = await self._get_orders(
                    [i for i in dict.fromkeys(ids) if i not in yielded and i not in known]
                )
                for order_id in ids:
                    if order_id in yielded or order_id in known:
                        continue  # moved to a later page while we paged, or held
                    order = details[order_id]
                    if order is not None and mappers.in_window(order, part):
                        yielded.add(order_id)
                        yield order
                if not page.get("has_more"):
                    break

    # --- after-sales (hub_wechat.aftersales) --------------------------------------------------

    async def iter_after_sales(self, window: TimeWindow) -> AsyncIterator[AfterSale]:
        """After-sale orders in ``window`` (by update time, or create time: the
        ``aftersale_time_field`` setting) in slices of at most 24 hours, paged by
        ``next_key`` while ``has_more``; then ``getaftersaleorder`` for each id."""
        pair = self.settings.aftersale_time_field
        for part in mappers.split_window(window, timedelta(hours=wx_after.MAX_SPAN_HOURS)):
            yielded: set[str] = set()
            span = mappers.update_time_range(part)

            def page_at(key: str, span: dict[str, int] = span) -> Awaitable[Any]:
                body = {f"begin_{pair}_time": span["start_time"], f"end_{pair}_time": span["end_time"]}
                return self.request(wx_after.LIST_PATH, {**body, "next_key": key} if key else body)

            async for page in token_pages(page_at, _next_key, what=f"{self.shop} {wx_after.LIST_PATH}"):
                ids = [str(x) for x in page.get("after_sale_order_id_list") or []]
                fresh = [i for i in dict.fromkeys(ids) if i not in yielded]
                for case in await gather(lambda i=i: self.get_after_sale(i) for i in fresh):
                    when = case.modified_at if pair == "update" else case.created_at
                    if part.start <= when < part.end:
                        yielded.add(case.platform_case_id)
                        yield case
                if not page.get("has_more"):
                    break

    async def get_after_sale(self, case_id: str) -> AfterSale:
        """One after-sale order (getaftersaleorder)."""
        data = await self.request(wx_after.GET_PATH, {"after_sale_order_id": case_id})
        try:
            return wx_after.case_from_wire(data["after_sale_order"])
        except (KeyError, TypeError, ValueError) as exc:
            raise self._malformed(wx_after.GET_PATH, exc) from None

    async def _get_orders(self, order_ids: Sequence[str]) -> dict[str, Order | None]:
        """:meth:`get_order` of each id, concurrently; the first failure is raised as itself."""
        orders = await gather(lambda i=i: self.get_order(i) for i in order_ids)
        return dict(zip(order_ids, orders, strict=True))

    async def _order_json(self, order_id: str) -> dict[str, Any]:
        data = await self.request("order/get", {"order_id": order_id})
        order = data.get("order")
        if not isinstance(order, dict):
            raise MalformedResponse(
                "order/get answer without order", platform=self.platform, operation="order/get"
            )
        return order

    async def get_order(self, order_id: str) -> Order | None:
        """One order in canonical form (None if the platform no longer knows it)."""
        try:
            order = await self._order_json(order_id)
        except NotFound:
            return None
        try:
            return mappers.order_from_wire(order, self.settings.master_code_source)
        except (KeyError, TypeError, ValueError) as exc:
            raise self._malformed("order/get", exc) from None

    async def fetch_order(self, order_id: str) -> Order | None:
        return await self.get_order(order_id)

    # --- push messages (hub_wechat.push) -------------------------------------------------------

    def _push_secrets(self) -> tuple[str | None, str | None]:
        token, key = self.settings.push_token, self.settings.push_aes_key
        return (token.get_secret_value() if token else None, key.get_secret_value() if key else None)

    def parse_push(self, request: PushRequest) -> ParsedPush:
        """``msg_signature``, AES decryption with the shop's EncodingAESKey, the appid."""
        return push.parse(request, self.settings.app_key, *self._push_secrets())

    def verify_push_url(self, request: PushRequest) -> PushAnswer:
        return push.verify_url(request, self._push_secrets()[0])

    def push_error_answer(self, error: BadPush) -> PushAnswer:
        return push.error_answer(error)

    async def ship(self, shipment: Shipment) -> PushResult:
        """``order/delivery/send`` for the shipment's lines (all lines left to ship when
        none are named). A shipment the order already carries is reported as done."""
        key = shipment.idempotency_key
        try:
            order = await self._order_json(shipment.platform_order_id)
        except (InvalidRequest, NotFound) as exc:
            return self.failed(key, exc)
        if mappers.has_waybill(order, shipment.tracking_number):
            return PushResult(idempotency_key=key, ok=True)  # sent before: nothing to do
        try:
            products = mappers.delivery_products(order, shipment.line_ids)
        except ValueError as exc:
            return self.failed(key, str(exc))
        carrier = self.settings.carrier_codes.get(shipment.carrier, shipment.carrier)
        body = {
            "order_id": shipment.platform_order_id,
            "delivery_list": [
                {
                    "delivery_id": carrier,
                    "waybill_id": shipment.tracking_number,
                    "deliver_type": self.settings.deliver_type,
                    "product_infos": products,
                }
            ],
        }
        try:
            await self.request("order/delivery/send", body, idempotent=False)
        except (InvalidRequest, NotFound, TransportError, ServerError, MalformedResponse) as exc:
            # Refused, or no readable answer: this attempt (or an earlier one whose answer
            # was lost) may have shipped it after all. The order says which.
            again = await self._order_json(shipment.platform_order_id)
            if mappers.has_waybill(again, shipment.tracking_number):
                return PushResult(idempotency_key=key, ok=True)
            return self.failed(key, exc)
        return PushResult(idempotency_key=key, ok=True)

    # --- promotions ------------------------------------------------------------------------------

    async def start_promotion(self, push: PromotionPush) -> PushResult:
        """A limited-time discount task (限时抢购) per product, all units at the promotion
        price. A refusal (the platform's rules: one task per product, at most 24 h, price
        10-85 % of the original and at least 10 yuan off, original above 10 yuan) stops
        the tasks already created and comes back as ``ok=False`` so the engine falls
        back to a price change."""
        key = push.idempotency_key
        promotion = push.promotion
        if promotion.kind not in NATIVE_PROMOTIONS:
            return self.failed(key, f"{promotion.kind.value} has no native WeChat API")
        by_product: dict[str, list[tuple[str, int]]] = {}
        for item in push.items:
            if item.promotion_price is None:
                return self.failed(key, f"SKU {item.ref.platform_sku_id} has no promotion price")
            by_product.setdefault(item.ref.platform_item_id, []).append(
                (item.ref.platform_sku_id, item.promotion_price)
            )
        created: list[str] = []
        try:
            for product_id, skus in by_product.items():
                offered = []
                for sku_id, price in skus:
                    # sale_stock may not exceed the current stock: offer every unit.
                    stock = mappers.normal_stock(await self._stock_data(product_id, sku_id))
                    offered.append((sku_id, price, stock))
                body = mappers.limited_discount_task(
                    product_id, promotion.starts_at, promotion.ends_at, self.clock.now(), offered
                )
                data = await self.request("product/limiteddiscounttask/add", body, idempotent=False)
                task_id = data.get("task_id")
                if task_id in (None, ""):
                    raise MalformedResponse(
                        "limiteddiscounttask/add answer without task_id",
                        platform=self.platform,
                        operation="product/limiteddiscounttask/add",
                    )
                created.append(str(task_id))
        except (InvalidRequest, NotFound) as exc:
            await self._stop_quietly(created)
            return self.failed(key, f"refused: {exc}")
        except PlatformError as exc:
            await self._stop_quietly(created)
            if isinstance(exc, SHOP_WIDE):
                raise  # shop-wide problems: a human must act
            return self.failed(key, exc)
        return PushResult(idempotency_key=key, ok=True, platform_ref=",".join(created))

    async def _stop_quietly(self, task_ids: Sequence[str]) -> None:
        for task_id in task_ids:
            try:
                await self.request("product/limiteddiscounttask/stop", {"task_id": task_id})
            except PlatformError as exc:
                log.warning("%s: could not stop limited-discount task %s: %s", self.shop, task_id, exc)

    async def end_promotion(self, push: PromotionPush, platform_ref: str) -> PushResult:
        """Stop every task of ``platform_ref``; a task that already ended is success."""
        key = push.idempotency_key
        failures = []
        for task_id in filter(None, (x.strip() for x in platform_ref.split(","))):
            try:
                await self.request("product/limiteddiscounttask/stop", {"task_id": task_id})
            except (InvalidRequest, NotFound) as exc:
                if await self._task_running(task_id):
                    failures.append(f"task {task_id}: {exc}")
        if failures:
            return self.failed(key, "; ".join(failures))
        return PushResult(idempotency_key=key, ok=True)

    async def _task_running(self, task_id: str) -> bool:
        """Whether a limited-discount task is still scheduled or running (absent: no)."""

        def page_at(key: str) -> Awaitable[Any]:
            return self.request(
                "product/limiteddiscounttask/list/get", {"page_size": TASK_PAGE_SIZE, "next_key": key}
            )

        async for page in token_pages(page_at, _next_key, what=f"{self.shop} limiteddiscounttask/list/get"):
            tasks = page.get("limited_discount_tasks") or []
            for task in tasks:
                if str(task.get("task_id")) == task_id:
                    try:
                        return mappers.task_running(task, self.clock.now())
                    except (TypeError, ValueError) as exc:
                        raise self._malformed("product/limiteddiscounttask/list/get", exc) from None
            if not tasks:
                break
        return False


def _next_key(page: Any) -> str | None:
    """The token of the page after ``page`` (WeChat's ``next_key``; empty at the end)."""
    return page.get("next_key") or None


def _is_json(content: bytes) -> bool:
    try:
        json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return False
    return True
