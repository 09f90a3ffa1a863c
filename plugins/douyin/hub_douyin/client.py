"""The Douyin (抖店) client: request building and signing, error classification, token
refresh and the API operations the hooks use.

Wire protocol (fact sheet §3.1): ``POST {base}{path}``; the business parameters are the
JSON body (``param_json``, serialised once and signed as is); the system parameters
``app_key, method, timestamp, v=2, sign, sign_method, access_token`` go in the query.
Every answer is an envelope ``{"code": 10000, "msg", "sub_code", "sub_msg", "log_id",
"data"}``; any other ``code`` is an error, classified by :func:`classify`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from datetime import timedelta
from functools import partial
from math import gcd
from typing import Any, TypeVar

import httpx

from hub.client import RECENT_ORDERS, ShopClient, gather, keep_newest, recent_page_size
from hub.errors import (
    AuthError,
    BadPush,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    PermissionDenied,
    PlatformError,
    RateLimited,
    ServerError,
)
from hub.models import (
    AfterSale,
    Listing,
    ListingRef,
    Order,
    PriceUpdate,
    PushResult,
    Shipment,
    StockLevel,
    StockUpdate,
    TimeWindow,
)
from hub.paging import numbered_pages
from hub.platform import TokenSet
from hub.push.events import ParsedPush, PushAnswer, PushRequest
from hub.secrets import redact
from hub_douyin import PLATFORM, mappers, push, signing
from hub_douyin import aftersales as dy_after
from hub_douyin.settings import DouyinSettings

log = logging.getLogger("hub.douyin")

T = TypeVar("T")

SUCCESS = 10000
REFRESHABLE_TOKEN_ERRORS = frozenset({"isv.access-token-expired", "isv.access-token-no-existed"})
SERVER_ERRORS = frozenset({20000, 20001, 50000, 90000})
PERMISSION_ERRORS = frozenset({30001, 30002, 80000})
REQUEST_ERRORS = frozenset({10001, 30000, 40001, 40002, 40003, 40004, 50002})
TOKEN_OPERATIONS = frozenset({"token.create", "token.refresh"})
API_OFFLINE = 70000
INSUFFICIENT_STOCK = "31055"  # "更新库存数失败: 库存不足" on an incremental decrease below 0
MAX_PRODUCT_PAGE = 100  # product.listV2: page is 1..100
FIRST_PRODUCT_SECOND = 1_262_304_000  # 2010-01-01: no Douyin product was created earlier
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NOT_PARAMETERS = frozenset({"param_json", "json", "isv", "isp", "dop", "api", "sku", "id"})


class IdempotentReplay(InvalidRequest):
    """``isv.idempotent-id-existed``: a write with this idempotent_id was applied before."""


class InsufficientStock(InvalidRequest):
    """An incremental stock decrease would take the platform's stock below zero."""


# --- error classification ----------------------------------------------------------------


def parameter_in(sub_msg: str) -> str | None:
    """The parameter a Douyin error message names, e.g. ``"size不合法"`` -> ``"size"``."""
    for name in _IDENTIFIER.findall(sub_msg):
        if name.lower() not in _NOT_PARAMETERS and len(name) > 1:
            return name
    return None


def classify(body: Mapping[str, Any], *, operation: str, platform: str = PLATFORM) -> PlatformError:
    """The hub error for a Douyin error envelope (``code != 10000``)."""
    try:
        code = int(body.get("code"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return MalformedResponse(
            f"unreadable envelope code {body.get('code')!r}", platform=platform, operation=operation
        )
    sub_code = str(body.get("sub_code") or "")
    msg, sub_msg = str(body.get("msg") or ""), str(body.get("sub_msg") or "")
    text = redact(": ".join(p for p in (msg, sub_msg) if p) or "error without a message")
    where: dict[str, Any] = {
        "platform": platform,
        "operation": operation,
        "code": code,
        "sub_code": sub_code or None,
        "request_id": str(body.get("log_id") or "") or None,
    }
    if sub_code in REFRESHABLE_TOKEN_ERRORS:
        return AuthError(text, refreshable=True, credential="token", **where)
    if sub_code.startswith("isv.access-token"):  # invalid / missing: a refresh cannot cure it
        return AuthError(text, credential="token", **where)
    if code == 60000:
        return RateLimited(text, **where)  # Douyin does not say how long to wait
    if code in SERVER_ERRORS:
        return ServerError(text, **where)
    if operation in TOKEN_OPERATIONS and code in (50001, 50002):
        return AuthError(f"{text} (the shop must authorise the app again)", credential="token", **where)
    if code == 50001:
        return ServerError(text, **where)
    if code in PERMISSION_ERRORS:
        return PermissionDenied(text, **where)
    if code == API_OFFLINE:
        return PermissionDenied(f"API offline for this app: {text}", **where)
    if sub_code == "isv.idempotent-id-existed":
        return IdempotentReplay(text, parameter="idempotent_id", **where)
    if sub_code.startswith("isv.signature"):
        return AuthError(f"{text} — check the shop's app_secret and sign_method", credential="app", **where)
    if sub_code.startswith("isv.app-id"):
        return AuthError(f"{text} — check the shop's app_key", credential="app", **where)
    if sub_code.startswith("isv.timestamp"):
        return InvalidRequest(
            f"{text} (check the clock: Douyin allows 10 minutes of skew)", parameter="timestamp", **where
        )
    if sub_code.endswith(":" + INSUFFICIENT_STOCK) or "库存不足" in sub_msg:
        return InsufficientStock(text, parameter="stock_num", **where)
    if code in REQUEST_ERRORS:
        if "不存在" in sub_msg:  # "…不存在" = does not exist
            return NotFound(text, **where)
        return InvalidRequest(text, parameter=parameter_in(sub_msg), **where)
    return PlatformError(f"unknown Douyin error: {text}", **where)


# --- the client --------------------------------------------------------------------------


class DouyinClient(ShopClient):
    """One Douyin shop's client; see the module docstring."""

    platform = PLATFORM
    settings: DouyinSettings

    # --- requests ---------------------------------------------------------------------------

    def build_request(self, path: str, body: str, *, with_token: bool = True) -> httpx.Request:
        """A signed request for ``path`` whose body is the already serialised ``body``.

        Called once per attempt, so the timestamp, signature and token are current."""
        method = signing.method_for_path(path)
        timestamp = signing.format_timestamp(self.clock.now(), self.settings.timestamp_format)
        query = {
            "app_key": self.settings.app_key,
            "method": method,
            "timestamp": timestamp,
            "v": signing.API_VERSION,
            "sign": signing.sign(
                app_secret=self.settings.app_secret.get_secret_value(),
                app_key=self.settings.app_key,
                method=method,
                param_json=body,
                timestamp=timestamp,
                sign_method=self.settings.sign_method,
            ),
            "sign_method": self.settings.sign_method,
        }
        if with_token and self.access_token:
            query["access_token"] = self.access_token
        return httpx.Request(
            "POST",
            f"{self.settings.base_url}/{path.lstrip('/')}",
            params=query,
            content=body.encode("utf-8"),
            headers={
                "content-type": "application/json;charset=UTF-8",
                "x-open-no-old-err-code": "1",
            },  # ask for the code/sub_code envelope
        )

    def request(self, path: str, params: Mapping[str, Any], *, idempotent: bool = True) -> Awaitable[Any]:
        """Call the API at ``path`` with business ``params``; returns the envelope's ``data``."""
        body = signing.param_json(params)  # serialised once: the body and the signed string
        return self.call(
            signing.method_for_path(path), partial(self.build_request, path, body), idempotent=idempotent
        )

    def parse(self, operation: str, response: httpx.Response) -> Any:
        """The ``data`` of a success envelope, or the classified hub error."""
        body = self.decode_json(operation, response)
        if "code" not in body and "err_no" in body:  # the legacy envelope
            if body.get("err_no") == 0:
                return body.get("data")
            raise PlatformError(
                redact(str(body.get("message") or "error")),
                platform=self.platform,
                operation=operation,
                code=body.get("err_no"),
            )
        if "code" not in body:
            raise MalformedResponse("envelope without a code", **self._where(operation))
        if body.get("code") in (SUCCESS, str(SUCCESS)):
            return body.get("data")
        raise classify(body, operation=operation, platform=self.platform)

    # --- tokens -----------------------------------------------------------------------------

    async def refresh_credentials(self) -> TokenSet | None:
        """``POST /token/refresh`` (grant_type=refresh_token); None without a refresh token."""
        if not self.refresh_token:
            return None
        body = signing.param_json({"grant_type": "refresh_token", "refresh_token": self.refresh_token})
        # Not through call(): that would check the token's expiry and try to refresh again.
        data = await self._call_with_retries(
            "token.refresh", partial(self.build_request, "/token/refresh", body, with_token=False), True
        )
        return self._tokens(data, "token.refresh")

    async def create_token(
        self, *, code: str = "", shop_id: str | None = None, grant_type: str | None = None
    ) -> TokenSet:
        """``POST /token/create``: exchange an authorisation ``code`` (tool apps) or, with
        ``shop_id`` and no code, authorise a self-use app (grant_type authorization_self)."""
        grant = grant_type or ("authorization_code" if code else "authorization_self")
        params: dict[str, Any] = {"code": code, "grant_type": grant}
        if shop_id:
            params["shop_id"] = shop_id
        body = signing.param_json(params)
        data = await self._call_with_retries(
            "token.create", partial(self.build_request, "/token/create", body, with_token=False), True
        )
        return self._tokens(data, "token.create")

    def _tokens(self, data: Any, operation: str) -> TokenSet:
        try:
            return mappers.token_set(
                data or {}, now=self.clock.now(), expires_in=self.settings.token_expires_in
            )
        except mappers.DataError as exc:
            raise PlatformError(str(exc), **self._where(operation)) from None

    # --- listings and stock -----------------------------------------------------------------

    async def check(self) -> str:
        """One row of product.listV2 (on sale): the app key, signature and token checked; an
        expired token is refreshed on the way, as in a sync."""
        status = mappers.LISTED_PRODUCT_STATUSES[0]
        _rows, total = await self._list_products(status, 1, 1)
        return f"{total} product(s) on sale"

    async def iter_listings(self) -> AsyncIterator[Listing]:
        """Every SKU of every online and offline product (product.listV2, then sku.list)."""
        seen: set[str] = set()
        for status in mappers.LISTED_PRODUCT_STATUSES:
            async for rows in self._product_pages(status):
                products = []
                for product in rows:
                    product_id = self._mapped(
                        mappers.platform_id, product.get("product_id"), "product_id", "product.listV2 row"
                    )
                    if product_id in seen or product.get("status") == mappers.PRODUCT_DELETED:
                        continue  # creation-time slices overlap by a second; read each once
                    seen.add(product_id)
                    products.append((product_id, product))
                sku_lists = await gather(partial(self._sku_list_or_none, pid) for pid, _ in products)
                for (product_id, product), skus in zip(products, sku_lists, strict=True):
                    if skus is None:  # deleted between the two calls
                        log.warning("%s: product %s vanished while listing", self.shop, product_id)
                        continue
                    for sku in skus:
                        yield self._mapped(mappers.listing_from, {"status": status, **product}, sku)

    async def sku_list(self, product_id: str) -> list[Mapping[str, Any]]:
        """The SKUs of one product (``/sku/list``)."""
        data = await self.request(
            "/sku/list", {"product_id": self._mapped(mappers.numeric_id, product_id, "product_id")}
        )
        if isinstance(data, Mapping):  # tolerate {"data": [...]} as well as the documented list
            data = data.get("data")
        if not isinstance(data, list):
            raise MalformedResponse("sku.list data is not a list", **self._where("sku.list"))
        return data

    async def fetch_stock(self, refs: Sequence[ListingRef]) -> list[StockLevel]:
        """Current quantities of ``refs`` (one sku.list call per product)."""
        wanted: dict[str, set[str]] = {}
        for ref in refs:
            wanted.setdefault(ref.platform_item_id, set()).add(ref.platform_sku_id)
        product_ids = list(wanted)
        lists = await gather(partial(self._sku_list_or_none, pid) for pid in product_ids)
        levels = []
        for product_id, skus in zip(product_ids, lists, strict=True):
            now = self.clock.now()
            found = set()
            for sku in skus or []:
                level = self._mapped(mappers.stock_level_from, sku, product_id, now)
                if level.platform_sku_id in wanted[product_id]:
                    levels.append(level)
                    found.add(level.platform_sku_id)
            missing = wanted[product_id] - found
            if missing:
                log.warning(
                    "%s: product %s has no SKU %s on Douyin; no stock read for it",
                    self.shop,
                    product_id,
                    ", ".join(sorted(missing)),
                )
        return levels

    async def _sku_list_or_none(self, product_id: str) -> list[Mapping[str, Any]] | None:
        try:
            return await self.sku_list(product_id)
        except NotFound:
            return None

    async def push_stock(self, updates: Sequence[StockUpdate]) -> list[PushResult]:
        """Apply ``updates`` with sku.syncStock, one call per SKU (see README: why not the
        batch API). Deltas are incremental writes keyed by the update's idempotency key."""
        return await self.write_each(updates, self._push_one_stock)

    async def _push_one_stock(self, update: StockUpdate) -> PushResult:
        key = update.idempotency_key
        try:
            params = mappers.stock_params(update)
        except mappers.DataError as exc:
            return self.failed(key, str(exc))
        relative = params["incremental"]
        try:
            # Safe to resend: Douyin de-duplicates incremental writes by idempotent_id, and a
            # full write sets the same value again.
            await self.request("/sku/syncStock", params, idempotent=True)
        except IdempotentReplay:
            return PushResult(idempotency_key=key, ok=True)  # applied by an earlier attempt
        except InsufficientStock as exc:
            if not (relative and update.delta is not None and update.delta < 0):
                return self.failed(key, exc)
            # Douyin refuses a decrease below zero; a clamped relative write would leave 0.
            # Showing 0 can never oversell, so set it absolutely.
            await self.request(
                "/sku/syncStock", mappers.stock_params(update, use_delta=False) | {"stock_num": 0}
            )
            return PushResult(idempotency_key=key, ok=True, quantity_after=0)
        return PushResult(idempotency_key=key, ok=True, quantity_after=None if relative else update.quantity)

    async def push_prices(self, updates: Sequence[PriceUpdate]) -> list[PushResult]:
        """Set prices (fen) with sku.editPrice, one call per SKU."""
        return await self.write_each(updates, self._push_one_price)

    async def _push_one_price(self, update: PriceUpdate) -> PushResult:
        try:
            params = mappers.price_params(update)
        except mappers.DataError as exc:
            return self.failed(update.idempotency_key, str(exc))
        await self.request("/sku/editPrice", params)
        return PushResult(idempotency_key=update.idempotency_key, ok=True)

    # --- orders -----------------------------------------------------------------------------

    async def iter_orders(self, window: TimeWindow) -> AsyncIterator[Order]:
        """Orders updated within ``window`` (order.searchList by update_time), each once.

        Windows longer than the shop's ``order_window_hours`` are split. The window is
        widened to whole seconds (see :func:`mappers.window_seconds`); within one call
        each version of an order is yielded once."""
        span = timedelta(hours=self.settings.order_window_hours)
        seen: set[tuple[str, int]] = set()
        for part in mappers.split_window(window, span):
            first, stop = mappers.window_seconds(part)
            last = stop - 1 if self.settings.order_window_end_inclusive else stop
            async for row in self._search_orders(first, last):
                modified = mappers.unix(self._mapped(mappers.order_modified_at, row))
                if not first <= modified < stop:
                    continue  # beyond the window's seconds: the neighbouring window reads it
                order = self._mapped(mappers.order_from, row)
                if (order.platform_order_id, modified) not in seen:
                    seen.add((order.platform_order_id, modified))
                    yield order

    async def _search_orders(self, start: int, end: int) -> AsyncIterator[Mapping[str, Any]]:
        size = self.settings.page_size
        params = {
            "update_time_start": start,
            "update_time_end": end,
            "order_by": "update_time",
            "order_asc": True,
            "size": size,
        }

        async def page_at(page: int) -> tuple[list[Mapping[str, Any]], int]:
            return self._order_page(await self.request("/order/searchList", {**params, "page": page}))

        # After page 0, the pages are read last to first (page 0 again at the end): an order
        # updated while we page leaves its place (it moves past the window's end), which
        # shifts later rows forward by one. Reading backwards, such a shift can only repeat
        # a row we already have, never hide one we have not read yet.
        async for rows in numbered_pages(page_at, size=size, first=0, backwards=True):
            for row in rows:
                yield row

    def _order_page(self, data: Any) -> tuple[list[Mapping[str, Any]], int]:
        if not isinstance(data, Mapping):
            raise MalformedResponse(
                "order.searchList data is not an object", **self._where("order.searchList")
            )
        rows = data.get("shop_order_list") or []
        try:
            total = int(data.get("total") or 0)
        except (TypeError, ValueError):
            raise MalformedResponse(
                "order.searchList total is not a number", **self._where("order.searchList")
            ) from None
        return list(rows), total

    # --- after-sales (hub_douyin.aftersales) ------------------------------------------------

    async def iter_after_sales(self, window: TimeWindow) -> AsyncIterator[AfterSale]:
        """After-sale orders updated within ``window`` (UNCONFIRMED API, see
        :mod:`hub_douyin.aftersales`), split and rounded to whole seconds like orders; the
        pages are read last to first (an item that moves is read twice, never skipped) and
        the newest version of each case is yielded once per window part."""
        path = self.settings.aftersale_path
        operation = signing.method_for_path(path)
        size = self.settings.page_size
        for part in mappers.split_window(window, timedelta(hours=self.settings.aftersale_window_hours)):
            first, stop = mappers.window_seconds(part)
            last = stop - 1 if self.settings.order_window_end_inclusive else stop
            params = {"update_start_time": first, "update_end_time": last, "size": size}

            async def page_at(page: int, params: dict[str, Any] = params) -> tuple[list[Any], int]:
                data = await self.request(path, {**params, "page": page})
                if not isinstance(data, Mapping) or not isinstance(data.get("items") or [], list):
                    raise MalformedResponse(f"{operation} data has no items list", **self._where(operation))
                return list(data.get("items") or []), self._mapped(
                    mappers.count_of, data.get("total"), "total"
                )

            found: dict[str, AfterSale] = {}
            async for rows in numbered_pages(page_at, size=size, first=0, backwards=True):
                for row in rows:
                    case = self._mapped(dy_after.case_from_item, row)
                    if case is None or not first <= mappers.unix(case.modified_at) < stop:
                        continue
                    keep_newest(found, case)
            for case in found.values():
                yield case

    async def get_order(self, order_id: str) -> Order:
        """One order by its shop order id (order.orderDetail)."""
        return self._mapped(mappers.order_from, await self._order_detail(order_id))

    async def fetch_order(self, order_id: str) -> Order | None:
        """:meth:`get_order`, None when Douyin does not know the order."""
        try:
            return await self.get_order(order_id)
        except NotFound:
            return None

    async def recent_orders(self, order_ids: Collection[str]) -> list[Order]:
        """One order.searchList page of the orders updated last, newest first (a row
        carries the whole order, as orderDetail's does)."""
        end = int(self.platform_time().timestamp()) + 1
        params = {
            "update_time_start": end - int(RECENT_ORDERS.total_seconds()),
            "update_time_end": end,
            "order_by": "update_time",
            "order_asc": False,
            "size": recent_page_size(order_ids, self.settings.page_size),
            "page": 0,
        }
        rows, _ = self._order_page(await self.request("/order/searchList", params))
        return [
            self._mapped(mappers.order_from, row)
            for row in rows
            if isinstance(row, Mapping) and str(row.get("order_id")).strip() in order_ids
        ]

    def parse_push(self, request: PushRequest) -> ParsedPush:
        """Check ``app-id`` and ``event-sign`` and parse the messages (see :mod:`hub_douyin.push`)."""
        return push.parse(request, self.settings.app_key, self.settings.app_secret.get_secret_value())

    def push_error_answer(self, error: BadPush) -> PushAnswer:
        return push.error_answer(error)

    async def _order_detail(self, order_id: str) -> Mapping[str, Any]:
        data = await self.request("/order/orderDetail", {"shop_order_id": order_id})
        detail = (data or {}).get("shop_order_detail") if isinstance(data, Mapping) else None
        if not isinstance(detail, Mapping):
            raise MalformedResponse(
                "order.orderDetail without shop_order_detail", **self._where("order.orderDetail")
            )
        return detail

    async def ship(self, shipment: Shipment) -> PushResult:
        """Write a whole-order shipment back (order.logisticsAdd)."""
        [result] = await self.write_each([shipment], self._ship)
        return result

    async def _ship(self, shipment: Shipment) -> PushResult:
        key = shipment.idempotency_key
        if shipment.line_ids:
            return self.failed(
                key,
                "Douyin plugin writes back whole-order shipments only "
                "(order.logisticsAdd); a shipment of some lines is not supported",
            )
        company = self.settings.carrier_codes.get(shipment.carrier, shipment.carrier)
        try:
            await self.request("/order/logisticsAdd", mappers.shipment_params(shipment, company))
        except InvalidRequest as exc:
            if isinstance(exc, NotFound) or not await self._already_shipped(shipment):
                return self.failed(key, exc)
        return PushResult(idempotency_key=key, ok=True)

    async def _already_shipped(self, shipment: Shipment) -> bool:
        """Whether the order already carries this tracking number (a repeated write-back)."""
        try:
            detail = await self._order_detail(shipment.platform_order_id)
        except PlatformError:
            return False
        return any(
            str(info.get("tracking_no")) == shipment.tracking_number
            for info in detail.get("logistics_info") or []
            if isinstance(info, Mapping)
        )

    # --- helpers ----------------------------------------------------------------------------

    async def _product_pages(self, status: int) -> AsyncIterator[list[Mapping[str, Any]]]:
        """Pages of product.listV2 rows with ``status``; shops beyond the platform's
        page*size cap are read in creation-time slices."""
        size, cap = self._product_page_size()
        first = await self._list_products(status, 1, size)
        if first[1] <= cap:
            async for rows in self._product_rows(status, size, first):
                yield rows
            return
        hi = mappers.unix(self.clock.now()) + 86400
        async for rows in self._product_slice(status, size, cap, FIRST_PRODUCT_SECOND, hi):
            yield rows

    async def _product_slice(
        self, status: int, size: int, cap: int, lo: int, hi: int
    ) -> AsyncIterator[list[Mapping[str, Any]]]:
        # Products created in seconds lo..hi. The creation bounds are sent one second wider
        # on each side, so the slices cover every second whether Douyin treats the bounds
        # as inclusive or exclusive; the overlap is de-duplicated by product id.
        bounds = {"start_time": lo - 1, "end_time": hi + 1}
        first = await self._list_products(status, 1, size, bounds)
        if first[1] > cap and lo < hi:
            mid = (lo + hi) // 2
            async for rows in self._product_slice(status, size, cap, lo, mid):
                yield rows
            async for rows in self._product_slice(status, size, cap, mid + 1, hi):
                yield rows
            return
        if first[1] > cap:
            log.warning(
                "%s: %d products created in one second exceed Douyin's %d-row listing "
                "cap; only the first %d are read",
                self.shop,
                first[1],
                cap,
                cap,
            )
        async for rows in self._product_rows(status, size, first, bounds):
            yield rows

    async def _product_rows(
        self, status: int, size: int, first: tuple[list[Any], int], bounds: Mapping[str, int] | None = None
    ) -> AsyncIterator[list[Mapping[str, Any]]]:
        _, cap = self._product_page_size()
        async for rows in numbered_pages(
            lambda page: self._list_products(status, page, size, bounds),
            size=size,
            first_page=first,
            max_rows=cap,
        ):
            yield list(rows)

    def _product_page_size(self) -> tuple[int, int]:
        """Page size and row cap such that every page obeys page <= 100, page*size <= cap."""
        cap = self.settings.product_list_max_rows
        size = min(self.settings.page_size, cap)
        if cap % size:
            size = gcd(size, cap)  # a size that divides the cap, so the last page fits
        return size, min(cap, MAX_PRODUCT_PAGE * size)

    async def _list_products(
        self, status: int, page: int, size: int, bounds: Mapping[str, int] | None = None
    ) -> tuple[list[Any], int]:
        data = await self.request(
            "/product/listV2", {"status": status, "page": page, "size": size, **(bounds or {})}
        )
        if not isinstance(data, Mapping):
            raise MalformedResponse("product.listV2 data is not an object", **self._where("product.listV2"))
        try:
            return list(data.get("data") or []), int(data.get("total") or 0)
        except (TypeError, ValueError):
            raise MalformedResponse(
                "product.listV2 total is not a number", **self._where("product.listV2")
            ) from None

    def _mapped(self, mapper: Callable[..., T], *args: Any) -> T:
        """Run a mapper; data it cannot map becomes a non-retryable platform error."""
        try:
            return mapper(*args)
        except mappers.DataError as exc:
            raise PlatformError(f"unexpected Douyin data: {exc}", platform=self.platform) from None
        except ValueError as exc:  # a canonical model refused the mapped values
            raise PlatformError(
                f"unexpected Douyin data: {redact(str(exc))}", platform=self.platform
            ) from None
