"""The JD JOS client: signed /routerjson requests, error classification, API operations.

Every request is a POST to the gateway with the system parameters (``method``,
``access_token``, ``app_key``, ``timestamp``, ``v``, ``sign``) in the query string and the
business parameters as one sorted, compact JSON string ``360buy_param_json`` in the form
body. The JSON is serialised once and the signature covers exactly what is sent.

Answers come in two layers (fact sheet §2.5/§2.6): a gateway error
``{"error_response": {"code": "19", "zh_desc": …, "en_desc": …}}`` with string codes, or
``{"<method_with_underscores>_responce": {"code": "0", …}}`` (sic) whose result may
still report a business failure (``apiResult.success=false`` with
``englishErrCode``/``chineseErrCode``/``numberCode``). :meth:`JdClient.parse` checks both.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx

from hub.client import ShopClient, gather, keep_newest
from hub.errors import (
    AuthError,
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
from hub.secrets import redact
from hub_jd import PLATFORM
from hub_jd import aftersales as jd_after
from hub_jd.mappers import (
    ORDER_FIELDS,
    SKU_DELETED,
    SKU_OFF_SALE,
    SKU_ON_SALE,
    JdDataError,
    ceil_cn_time,
    cn_time,
    count,
    id_param,
    jd_timestamp,
    listing_from_jd,
    order_from_jd,
    yuan,
)
from hub_jd.settings import JdSettings
from hub_jd.signing import PARAM_JSON, SIGN, business_json, sign

log = logging.getLogger("hub.jd")

SKU_SEARCH = "jingdong.sku.read.searchSkuList"
STOCK_READ = "jingdong.stock.read.findSkuStock"
STOCK_WRITE = "jingdong.stock.write.updateSkuStock"
PRICE_WRITE = "jingdong.price.write.updateSkuJdPrice"
ORDER_SHIPMENT = "jingdong.pop.order.shipment"

#: JD refuses order searches spanning more than one month; 28 days is under every month.
MAX_QUERY_SPAN = timedelta(days=28)

# --- error classification ---------------------------------------------------------------

#: JD gateway codes (fact sheet §2.6) -> (hub error class, parameter at fault, advice).
#: Kept apart from TOP's table on purpose: the numbers collide (JD 21 = invalid app_key).
GATEWAY_ERRORS: dict[str, tuple[type[PlatformError], str | None, str]] = {
    "2": (RateLimited, None, "too many calls or failures; backing off"),
    "4": (InvalidRequest, "v", "the version parameter is missing"),
    "5": (InvalidRequest, "v", "unsupported version; JD's /routerjson takes v=2.0"),
    "7": (InvalidRequest, "timestamp", "timestamp missing; check the clock"),
    "8": (
        InvalidRequest,
        "timestamp",
        "timestamp invalid or more than 6 minutes off; check the clock (Asia/Shanghai)",
    ),
    "11": (AuthError, "sign", "signature missing"),
    "12": (AuthError, "sign", "signature invalid; check the shop's app_secret"),
    "14": (InvalidRequest, "method", "method name missing"),
    "15": (InvalidRequest, "method", "JD does not know this method"),
    "18": (AuthError, "access_token", "access_token missing; authorise the shop in JD and store its token"),
    "19": (
        AuthError,
        "access_token",
        "access_token invalid or expired; re-authorise the shop in JD and update its token",
    ),
    "20": (AuthError, "app_key", "app_key missing"),
    "21": (AuthError, "app_key", "app_key invalid (a sandbox key used in production?)"),
    "24": (
        PermissionDenied,
        None,
        "the app may not call this API; apply for the permission in the JD console",
    ),
}

# JD does not document business error codes (apiResult.numberCode etc.), so business
# failures are classified by their text; anything unrecognised is the request's fault.
_NOT_FOUND_WORDS = ("not exist", "not found", "no such", "不存在", "未找到")
_SERVER_WORDS = (
    "system error",
    "system busy",
    "busy",
    "timeout",
    "系统异常",
    "系统繁忙",
    "服务异常",
    "超时",
    "稍后重试",
)
_PERMISSION_WORDS = ("permission", "no right", "unauthorized", "无权", "没有权限")


_SIGNATURE = re.compile(r"\b[0-9A-Fa-f]{32}\b")


def _clean(text: str) -> str:
    """Platform text made safe to show: registered secrets and anything shaped like a
    signature (32 hex digits) masked."""
    return _SIGNATURE.sub("****", redact(text))


def classify_gateway_error(envelope: Mapping[str, Any], operation: str) -> PlatformError:
    """The hub error for a JD gateway error (``error_response`` or a non-"0" ``code``)."""
    code = str(envelope.get("code", "")).strip()
    desc = str(envelope.get("en_desc") or envelope.get("zh_desc") or "no description")
    cls, parameter, advice = GATEWAY_ERRORS.get(
        code, (ServerError, None, "JD gateway error (a code JD does not document)")
    )
    message = f"{advice}: {_clean(desc)}"
    where: dict[str, Any] = {"platform": PLATFORM, "operation": operation, "code": code or None}
    if cls is AuthError:
        # JD's token refresh endpoint is UNCONFIRMED, so the hub cannot cure any of these.
        credential = "token" if parameter == "access_token" else "app"
        return AuthError(message, refreshable=False, credential=credential, **where)
    if cls is InvalidRequest:
        return InvalidRequest(message, parameter=parameter, **where)
    if cls is RateLimited:
        return RateLimited(message, retry_after=None, **where)  # JD does not say how long
    return cls(message, **where)


def find_business_failure(result: Any, depth: int = 3) -> Mapping[str, Any] | None:
    """The first object with ``success: false`` inside a ``_responce`` result (JD's
    ``apiResult`` or a write API's own result), searching ``depth`` levels of objects."""
    if not isinstance(result, Mapping) or depth < 0:
        return None
    if result.get("success") in (False, "false"):
        return result
    for value in result.values():
        found = find_business_failure(value, depth - 1)
        if found is not None:
            return found
    return None


def classify_business_failure(
    failure: Mapping[str, Any], operation: str, param_names: Sequence[str] = ()
) -> PlatformError:
    """The hub error for a business failure inside a successful envelope. ``param_names``
    (the business parameters sent) lets an InvalidRequest name the one JD complains of."""
    english = str(
        failure.get("englishErrCode") or failure.get("errorMessage") or failure.get("message") or ""
    )
    chinese = str(failure.get("chineseErrCode") or "")
    code = failure.get("numberCode") or failure.get("errorCode") or failure.get("code")
    text = " / ".join(t for t in (english, chinese) if t) or "JD reported a failure"
    message = f"JD refused the request: {_clean(text)}"
    lowered = f"{english} {chinese}".lower()
    where: dict[str, Any] = {
        "platform": PLATFORM,
        "operation": operation,
        "code": str(code) if code not in (None, "") else None,
    }
    if any(w in lowered for w in _NOT_FOUND_WORDS):
        return NotFound(message, **where)
    if any(w in lowered for w in _SERVER_WORDS):
        return ServerError(message, **where)
    if any(w in lowered for w in _PERMISSION_WORDS):
        return PermissionDenied(message, **where)
    # The parameter JD names first, as a whole word ("page" is not in "page_size").
    mentioned = [
        (match.start(), name)
        for name in param_names
        if (match := re.search(rf"(?<![a-z0-9_]){re.escape(name.lower())}(?![a-z0-9_])", lowered))
    ]
    parameter = min(mentioned)[1] if mentioned else None
    return InvalidRequest(message, parameter=parameter, **where)


def _sent_param_names(response: httpx.Response) -> list[str]:
    """Names of the business parameters of the request behind ``response``."""
    try:
        form = dict(parse_qsl(response.request.content.decode("utf-8")))
        params = json.loads(form.get(PARAM_JSON, "{}"))
    except (RuntimeError, ValueError, httpx.RequestNotRead):
        return []
    return list(params) if isinstance(params, dict) else []


def response_key(method: str) -> str:
    """The success envelope key of ``method`` (JD spells it "responce")."""
    return method.replace(".", "_") + "_responce"


# --- the client ----------------------------------------------------------------------------


class JdClient(ShopClient):
    """One JD shop's client (``PlatformInfo.client_class`` of JD)."""

    platform = PLATFORM
    settings: JdSettings

    # --- wire protocol --------------------------------------------------------------------

    def build_request(self, method: str, params: Mapping[str, Any]) -> httpx.Request:
        """A signed POST for ``method`` with business ``params`` (fresh timestamp)."""
        body = business_json(params)
        system = {
            "app_key": self.settings.app_key,
            "method": method,
            "timestamp": jd_timestamp(self.clock.now(), self.settings.timestamp_format),
            "v": self.settings.api_version,
        }
        if self.access_token:
            system["access_token"] = self.access_token
        # The signed set must equal the sent set: the JSON string travels in the body.
        system[SIGN] = sign({PARAM_JSON: body, **system}, self.settings.app_secret.get_secret_value())
        return httpx.Request(
            "POST", httpx.URL(self.settings.base_url, params=system), data={PARAM_JSON: body}
        )

    def request(self, method: str, params: Mapping[str, Any], *, idempotent: bool = True) -> Awaitable[Any]:
        """Call ``method``; the result object inside its ``_responce`` envelope."""
        return self.call(method, lambda: self.build_request(method, params), idempotent=idempotent)

    def parse(self, operation: str, response: httpx.Response) -> Any:
        """The result inside ``<method>_responce``, or the hub error JD's answer means."""
        body = self.decode_json(operation, response)
        error = body.get("error_response")
        if isinstance(error, Mapping):
            raise classify_gateway_error(error, operation)
        key = response_key(operation)
        # JD writes "responce"; accept the correct spelling too, in case a gateway fixes it.
        result = body.get(key, body.get(key.removesuffix("_responce") + "_response"))
        if not isinstance(result, Mapping):
            raise MalformedResponse(
                f"the answer has no {key} object", platform=self.platform, operation=operation
            )
        if str(result.get("code", "0")).strip() != "0":
            raise classify_gateway_error(result, operation)
        failure = find_business_failure(result)
        if failure is not None:
            raise classify_business_failure(failure, operation, _sent_param_names(response))
        return result

    async def refresh_credentials(self) -> TokenSet | None:
        """JD's token refresh endpoint is UNCONFIRMED, so the hub does not refresh: an
        expired token (code 19) needs the merchant to re-authorise the app."""
        return None

    def _malformed(self, operation: str, exc: JdDataError, record: str = "") -> MalformedResponse:
        what = f" in {record}" if record else ""
        return MalformedResponse(
            f"unreadable field{what}: {exc}", platform=self.platform, operation=operation
        )

    def _count(self, operation: str, value: Any, field: str) -> int | None:
        """A total JD reports (None when it reports none)."""
        if value is None or value == "":
            return None
        try:
            return count(value, field)
        except JdDataError as exc:
            raise self._malformed(operation, exc) from None

    async def check(self) -> str:
        """One row of the SKU search: the app key, signature and access token all checked."""
        result = await self.request(
            SKU_SEARCH, {"pageNo": 1, "pageSize": 1, "skuStatuValue": [SKU_ON_SALE, SKU_OFF_SALE]}
        )
        block = result.get("page")
        if not isinstance(block, Mapping):
            raise MalformedResponse(
                "the answer has no page object", platform=self.platform, operation=SKU_SEARCH
            )
        total = self._count(SKU_SEARCH, block.get("totalItem"), "page.totalItem")
        return "SKUs listed" if total is None else f"{total} SKU(s) listed"

    # --- listings -------------------------------------------------------------------------

    async def iter_listings(self) -> AsyncIterator[Listing]:
        """Every on-sale and off-sale SKU of the shop, page by page (pageNo from 1)."""
        size = self.settings.sku_page_size
        seen: set[str] = set()
        page = 1
        while True:
            result = await self.request(
                SKU_SEARCH, {"pageNo": page, "pageSize": size, "skuStatuValue": [SKU_ON_SALE, SKU_OFF_SALE]}
            )
            block = result.get("page")
            if not isinstance(block, Mapping):
                raise MalformedResponse(
                    "the answer has no page object", platform=self.platform, operation=SKU_SEARCH
                )
            rows = block.get("data") or []
            if not isinstance(rows, list):
                raise MalformedResponse(
                    "page.data is not a list", platform=self.platform, operation=SKU_SEARCH
                )
            for row in rows:
                if not isinstance(row, Mapping) or str(row.get("status")) == str(SKU_DELETED):
                    continue
                try:
                    listing = listing_from_jd(row)
                except JdDataError as exc:
                    raise self._malformed(SKU_SEARCH, exc, f"skuId {row.get('skuId')}") from None
                # Rows can shift between pages while the shop changes; report each SKU once.
                if listing.platform_sku_id not in seen:
                    seen.add(listing.platform_sku_id)
                    yield listing
            total = self._count(SKU_SEARCH, block.get("totalItem"), "page.totalItem")
            if len(rows) < size or (total is not None and page * size >= total):
                return
            page += 1

    # --- stock and prices ---------------------------------------------------------------------

    async def fetch_stock(self, refs: Sequence[ListingRef]) -> list[StockLevel]:
        """The platform quantity of each SKU (``findSkuStock`` takes one skuId per call)."""
        return await gather(lambda ref=ref: self._stock_of(ref) for ref in refs)

    async def _stock_of(self, ref: ListingRef) -> StockLevel:
        try:
            sku_id = id_param(ref.platform_sku_id, "skuId")
        except JdDataError as exc:
            raise InvalidRequest(
                str(exc), parameter="skuId", platform=self.platform, operation=STOCK_READ
            ) from None
        result = await self.request(STOCK_READ, {"skuId": sku_id})
        rows = result.get("skuStocks")
        if isinstance(rows, Mapping):
            rows = [rows]
        if not isinstance(rows, list):
            rows = [result]  # a flat answer carrying stockNum itself
        for row in rows:
            if (
                isinstance(row, Mapping)
                and "stockNum" in row
                and ("skuId" not in row or str(row["skuId"]).strip() == ref.platform_sku_id)
            ):
                try:
                    quantity = count(row["stockNum"], "stockNum")
                except JdDataError as exc:
                    raise self._malformed(STOCK_READ, exc) from None
                return StockLevel(
                    platform_item_id=ref.platform_item_id,
                    platform_sku_id=ref.platform_sku_id,
                    quantity=quantity,
                    observed_at=self.clock.now(),
                )
        raise MalformedResponse(
            "the answer has no stockNum for the SKU asked for", platform=self.platform, operation=STOCK_READ
        )

    async def push_stock(self, updates: Sequence[StockUpdate]) -> list[PushResult]:
        """Set each SKU's stock (absolute ``stockNum``, one SKU per call, concurrently).

        JD has no delta write, so ``delta`` is ignored; an absolute set is safe to resend."""

        async def one(update: StockUpdate) -> PushResult:
            try:
                params: dict[str, Any] = {
                    "skuId": id_param(update.ref.platform_sku_id, "skuId"),
                    "stockNum": update.quantity,
                }
            except JdDataError as exc:
                return self.failed(update.idempotency_key, str(exc))
            if self.settings.stock_store_id is not None:
                params["storeId"] = self.settings.stock_store_id
            await self.request(STOCK_WRITE, params)
            return PushResult(idempotency_key=update.idempotency_key, ok=True, quantity_after=update.quantity)

        return await self.write_each(updates, one)

    async def push_prices(self, updates: Sequence[PriceUpdate]) -> list[PushResult]:
        """Set each SKU's JD price (``jdPrice`` in yuan, one SKU per call, concurrently)."""

        async def one(update: PriceUpdate) -> PushResult:
            try:
                params = {
                    "skuId": id_param(update.ref.platform_sku_id, "skuId"),
                    "jdPrice": yuan(update.price),
                }
            except JdDataError as exc:
                return self.failed(update.idempotency_key, str(exc))
            await self.request(PRICE_WRITE, params)
            return PushResult(idempotency_key=update.idempotency_key, ok=True)

        return await self.write_each(updates, one)

    # --- orders --------------------------------------------------------------------------------

    def _order(self, operation: str, info: Any) -> Order:
        if not isinstance(info, Mapping):
            raise MalformedResponse(
                "an orderInfo is not an object", platform=self.platform, operation=operation
            )
        try:
            return order_from_jd(info, refund_from_payment_time=self.settings.refund_from_payment_time)
        except JdDataError as exc:
            raise self._malformed(operation, exc, f"order {info.get('orderId')}") from None

    async def iter_orders(self, window: TimeWindow) -> AsyncIterator[Order]:
        """Orders whose JD ``modified`` time is in ``[window.start, window.end)``.

        JD's dates are whole seconds and (as far as we know) inclusive, so each query asks
        for a little more (end rounded up) and orders outside the window are dropped by
        their reported ``modified`` time: consecutive windows then see each order once.
        Windows longer than JD's one-month limit are split."""
        seen: set[tuple[str, datetime]] = set()
        start = window.start
        while start < window.end:
            end = min(window.end, start + MAX_QUERY_SPAN)
            async for order in self._search_span(start, end, seen):
                yield order
            start = end

    async def _search_span(
        self, start: datetime, end: datetime, seen: set[tuple[str, datetime]]
    ) -> AsyncIterator[Order]:
        """One query span, paged so that orders changing meanwhile are not skipped.

        Plain page numbers skip an order whenever one on an earlier page is modified
        meanwhile (it leaves the span or moves to its end, and everything after it shifts
        one place forward). So while JD's answers come sorted by ``modified`` (ascending,
        as asked), the next query starts at the last ``modified`` seen, from page 1;
        orders read twice are reported once (per version). A page that is not sorted, or
        lies entirely within one second, falls back to the next page number."""
        method = self.settings.order_search_method
        size = self.settings.order_page_size
        cursor, page = start, 1
        while True:
            result = await self.request(method, self._search_params(cursor, end, page, size))
            block = result.get("searchorderinfo_result")
            if not isinstance(block, Mapping):
                raise MalformedResponse(
                    "the answer has no searchorderinfo_result", platform=self.platform, operation=method
                )
            infos = block.get("orderInfoList") or []
            if not isinstance(infos, list):
                raise MalformedResponse(
                    "orderInfoList is not a list", platform=self.platform, operation=method
                )
            orders = [self._order(method, info) for info in infos]
            for order in orders:
                key = (order.platform_order_id, order.modified_at)
                if start <= order.modified_at < end and key not in seen:
                    seen.add(key)
                    yield order
            total = self._count(method, block.get("orderTotal"), "orderTotal") or 0
            if len(orders) < size or page * size >= total:
                return
            times = [order.modified_at for order in orders]
            if times == sorted(times) and times[-1] > cursor.replace(microsecond=0):
                cursor, page = times[-1], 1
            else:
                page += 1

    def _search_params(self, start: datetime, end: datetime, page: int, size: int) -> dict[str, Any]:
        return {
            "start_date": cn_time(start),
            "end_date": ceil_cn_time(end),
            "order_state": ",".join(self.settings.order_states),
            "optional_fields": ",".join(ORDER_FIELDS),
            # page and page_size travel as strings, as in JD's official example.
            "page": str(page),
            "page_size": str(size),
            "sortType": 0,  # anything but 1 is ascending
            "dateType": 0,  # anything but 1 is by modified time
        }

    # --- after-sales (hub_jd.aftersales) -----------------------------------------------------

    async def iter_after_sales(self, window: TimeWindow) -> AsyncIterator[AfterSale]:
        """Service orders updated in ``window``: whole seconds, end rounded up (JD's
        bounds are taken as inclusive), ``aftersale_max_span_days`` per query, and the
        pages read from the last back to the first (the sort order is UNCONFIRMED: a
        service order that moves is then read twice, never skipped; the newest is kept)."""
        method = self.settings.aftersale_method
        size = self.settings.aftersale_page_size
        span = timedelta(days=self.settings.aftersale_max_span_days)
        start = window.start
        while start < window.end:
            stop = min(window.end, start + span)
            found: dict[str, AfterSale] = {}
            async for rows in numbered_pages(
                lambda n, a=start, b=stop: self._services_page(a, b, n), size=size, backwards=True
            ):
                for row in rows:
                    try:
                        case = jd_after.case_from_service(row, self.settings.aftersale_received_steps)
                    except JdDataError as exc:
                        raise self._malformed(method, exc, "a service order") from None
                    if case is None or not start <= case.modified_at < stop:
                        continue
                    keep_newest(found, case)
            for case in found.values():
                yield case
            start = stop

    async def _services_page(self, start: datetime, end: datetime, page: int) -> tuple[list[Any], int]:
        method = self.settings.aftersale_method
        params: dict[str, Any] = {
            "updateTimeBegin": cn_time(start),
            "updateTimeEnd": ceil_cn_time(end),
            "pageNumber": page,
            "pageSize": self.settings.aftersale_page_size,
        }
        if self.settings.aftersale_bu_id:
            params["buId"] = self.settings.aftersale_bu_id
        if self.settings.aftersale_operate_pin:
            params["operatePin"] = self.settings.aftersale_operate_pin
        result = await self.request(method, params)
        block = result.get(jd_after.RESULT_KEY)
        rows = block.get("data") if isinstance(block, Mapping) else None
        if not isinstance(rows, list):
            raise MalformedResponse(
                f"the answer has no {jd_after.RESULT_KEY}.data list", platform=self.platform, operation=method
            )
        return rows, self._count(method, block.get("totalCount"), "totalCount") or 0

    async def get_order_info(self, order_id: str) -> Mapping[str, Any] | None:
        """JD's raw ``orderInfo`` of one order, or None when JD does not know it."""
        method = self.settings.order_get_method
        try:
            result = await self.request(
                method,
                {
                    "order_id": id_param(order_id, "order_id"),
                    "optional_fields": ",".join(ORDER_FIELDS),
                    "order_state": ",".join(self.settings.order_states),
                },
            )
        except NotFound:
            return None
        except JdDataError as exc:
            raise InvalidRequest(
                str(exc), parameter="order_id", platform=self.platform, operation=method
            ) from None
        detail = result.get("orderDetailInfo")
        info = detail.get("orderInfo") if isinstance(detail, Mapping) else None
        if info is None:
            return None
        if not isinstance(info, Mapping):
            raise MalformedResponse(
                "orderDetailInfo.orderInfo is not an object", platform=self.platform, operation=method
            )
        return info

    async def get_order(self, order_id: str) -> Order | None:
        """One order (``jingdong.pop.order.get``), or None when JD does not know it."""
        info = await self.get_order_info(order_id)
        return None if info is None else self._order(self.settings.order_get_method, info)

    async def fetch_order(self, order_id: str) -> Order | None:
        return await self.get_order(order_id)

    # --- shipments -----------------------------------------------------------------------------

    async def ship(self, shipment: Shipment) -> PushResult:
        """Write a shipment back (``jingdong.pop.order.shipment``: order_id, logiCoprId,
        logiNo). JD ships whole orders, so ``line_ids`` must name every line (or none).
        If JD refuses, the order is read back: already shipped with this waybill means a
        repeat of a shipment JD recorded, which is success."""
        [result] = await self.write_each([shipment], self._ship)
        return result

    async def _ship(self, shipment: Shipment) -> PushResult:
        key, order_id = shipment.idempotency_key, shipment.platform_order_id
        if not order_id.isdigit():
            return self.failed(key, "platform_order_id: a JD order id is all digits")
        if shipment.line_ids:
            order = await self.get_order(order_id)
            if order is None:
                return self.failed(key, "JD does not know this order")
            missing = {line.line_id for line in order.lines} - set(shipment.line_ids)
            if missing:
                return self.failed(
                    key,
                    f"JD ships whole orders: its lines {', '.join(sorted(missing))} "
                    "would ship too; name every line or none",
                )
        carrier = self.settings.carrier_ids.get(shipment.carrier, shipment.carrier)
        try:
            await self.request(
                ORDER_SHIPMENT,
                {"order_id": int(order_id), "logiCoprId": carrier, "logiNo": shipment.tracking_number},
            )
        except InvalidRequest as exc:
            if await self._already_shipped(order_id, shipment.tracking_number):
                return PushResult(idempotency_key=key, ok=True)
            return self.failed(key, str(exc))
        return PushResult(idempotency_key=key, ok=True)

    async def _already_shipped(self, order_id: str, tracking_number: str) -> bool:
        info = await self.get_order_info(order_id)
        if info is None:
            return False
        shipped = info.get("orderState") in ("WAIT_GOODS_RECEIVE_CONFIRM", "FINISHED_L")
        # An order may carry several waybills, comma-separated.
        waybills = {w.strip() for w in re.split(r"[,;，]", str(info.get("waybill") or ""))}
        return shipped and tracking_number in waybills


__all__ = [
    "GATEWAY_ERRORS",
    "MAX_QUERY_SPAN",
    "JdClient",
    "classify_business_failure",
    "classify_gateway_error",
    "find_business_failure",
    "response_key",
]
