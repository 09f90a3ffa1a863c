"""The TOP client: signed router requests, error classification and the API operations.

Every call is one POST of ``application/x-www-form-urlencoded`` parameters to the router
(``settings.base_url``): the system parameters (method, app_key, session, timestamp,
v, sign_method, format, sign) plus the API's business parameters. The parameters we
sign are exactly the parameters we send, and none of them is ever empty.

Pacing, retries, safe logging and the write policy come from :class:`hub.client.ShopClient`; this
module decides which TOP answers are retryable by classifying them into
:mod:`hub.errors` classes (see :func:`classify_error`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from hub.client import RECENT_ORDERS, SHOP_WIDE, ShopClient, gather, keep_newest, recent_page_size
from hub.errors import (
    AuthError,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    PermissionDenied,
    PlatformError,
    PushMalformed,
    RateLimited,
    ServerError,
)
from hub.models import (
    AfterSale,
    Listing,
    ListingRef,
    ListingStatus,
    Order,
    PriceUpdate,
    PushResult,
    Shipment,
    StockLevel,
    StockUpdate,
    TimeWindow,
)
from hub.paging import numbered_pages
from hub.push.events import PushEvent
from hub.secrets import redact
from hub_taobao import PLATFORM, push
from hub_taobao import aftersales as refunds
from hub_taobao import mappers as m
from hub_taobao.settings import TaobaoSettings
from hub_taobao.signing import sign

log = logging.getLogger("hub.taobao")

API_VERSION = "2.0"
#: trades.sold.increment.get refuses windows longer than one day
MAX_ORDER_SPAN = timedelta(days=1)
#: the longest window the engine should ask for: rounded out to whole seconds it still fits
ENGINE_ORDER_SPAN = MAX_ORDER_SPAN - timedelta(seconds=2)
SKUS_PER_READ = 40  # item.skus.get num_iids
SKUS_PER_STOCK_CALL = 20  # skus.quantity.update skuid_quantities
SYSTEM_PARAMS = frozenset(
    {
        "method",
        "app_key",
        "session",
        "timestamp",
        "v",
        "sign_method",
        "format",
        "sign",
        "simplify",
        "partner_id",
        "target_app_key",
    }
)


# --- error classification ---------------------------------------------------------------------

_BAN = re.compile(r"ban will last for (\d+(?:\.\d+)?) more seconds?", re.IGNORECASE)
_PARAM_SUB_CODE = re.compile(r"^isv\.(?:invalid|missing)-parameters?:(?P<name>[\w.\-]+)$")
_PARAM_MSG = re.compile(
    r"^(?:missing required arguments|invalid arguments|parameter error):\s*(?P<name>[\w.\-]+)", re.IGNORECASE
)
_RATE_CODES = frozenset({4, 5, 6, 7, 8})
_CALLER_CODES = frozenset({3, 9, 21, 22, 23, 32, 33, 34, 40, 41, 43})


def ban_seconds(*texts: str | None) -> float | None:
    """The N of "This ban will last for N more seconds", if any text says it."""
    for text in texts:
        match = _BAN.search(text or "")
        if match:
            return float(match.group(1))
    return None


def classify_error(
    error: Mapping[str, Any], *, operation: str = "", platform: str = PLATFORM
) -> PlatformError:
    """The hub error for a TOP ``error_response`` object (fact sheet §1.6).

    Platform codes decide first (throttling, credentials, permissions), then the
    ``sub_code`` family: ``isp.*`` is the platform's fault (retry), ``isv.*`` the
    caller's (fix the request). Unknown codes are treated as a rejected request, so a
    write is never blindly repeated; the codes and ``request_id`` stay on the error."""
    raw_code = error.get("code")
    try:
        code: int | None = int(raw_code) if raw_code is not None else None
    except (TypeError, ValueError):
        code = None
    msg = str(error.get("msg") or "error")
    sub_code = str(error.get("sub_code") or "")
    sub_msg = str(error.get("sub_msg") or "")
    text = redact(f"{msg}: {sub_msg}" if sub_msg else msg)
    where: dict[str, Any] = {
        "platform": platform,
        "operation": operation,
        "code": code if code is not None else raw_code,
        "sub_code": sub_code or None,
        "request_id": error.get("request_id") or None,
    }

    if code in _RATE_CODES or sub_code.startswith("accesscontrol."):
        return RateLimited(text, retry_after=ban_seconds(sub_msg, msg), **where)
    if code == 27:
        expired = "expired" in sub_code or "expired" in msg.lower()
        state = "has expired" if expired else "is invalid"
        return AuthError(
            f"{text} — the shop's session {state}; re-authorise the shop on Taobao "
            "and update its access_token",
            refreshable=False,
            credential="token",
            **where,
        )
    if code == 26:
        return AuthError(
            f"{text} — no session was sent; set the shop's access_token", credential="token", **where
        )
    if code in (24, 25):
        return AuthError(f"{text} — check the shop's app_secret and sign_method", credential="app", **where)
    if code in (28, 29):
        return AuthError(f"{text} — check the shop's app_key", credential="app", **where)
    if code in (11, 12, 13, 42) or (sub_code.startswith("isv.") and "permission" in sub_code):
        api = operation or "this API"
        return PermissionDenied(f"{text} — the app or the seller lacks permission for {api}", **where)
    if code in (30, 31):
        return InvalidRequest(
            f"{text} — TOP allows 10 minutes of clock skew: check this host's clock",
            parameter="timestamp",
            **where,
        )
    if sub_code.startswith("isp.") or (code in (10, 15) and not sub_code.startswith("isv.")):
        return ServerError(text, **where)
    if sub_code.startswith("isv."):
        if "not-exist" in sub_code or "not-found" in sub_code:
            return NotFound(text, **where)
        return InvalidRequest(text, parameter=_parameter(sub_code, msg), **where)
    if code in _CALLER_CODES:
        return InvalidRequest(text, parameter=_parameter(sub_code, msg), **where)
    return InvalidRequest(f"unrecognised TOP error: {text}", **where)


def _parameter(sub_code: str, msg: str) -> str | None:
    match = _PARAM_SUB_CODE.match(sub_code) or _PARAM_MSG.match(msg)
    return match.group("name") if match else None


def response_key(method: str) -> str:
    """``taobao.items.onsale.get`` -> ``items_onsale_get_response`` (the success wrapper)."""
    return method.removeprefix("taobao.").replace(".", "_") + "_response"


def param_value(value: Any) -> str | None:
    """A business parameter as TOP sends it (booleans ``true``/``false``, lists comma-joined),
    or None for a parameter that must not be sent (None or empty)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    text = str(value)
    return text or None


# --- the client --------------------------------------------------------------------------------


@dataclass
class _SkuInfo:
    num_iid: str
    properties: str
    price: int


class TaobaoClient(ShopClient):
    """A Taobao/Tmall shop's TOP client (see the module docstring)."""

    platform = PLATFORM
    settings: TaobaoSettings

    # --- requests ----------------------------------------------------------------------------

    def build_params(self, method: str, business: Mapping[str, Any]) -> dict[str, str]:
        """The exact, signed parameter set of one call (``sign`` included)."""
        params = {
            "method": method,
            "app_key": self.settings.app_key,
            "timestamp": m.top_time(self.clock.now()),
            "v": API_VERSION,
            "sign_method": self.settings.sign_method,
            "format": "json",
        }
        if self.access_token:
            params["session"] = self.access_token
        if self.settings.partner_id:
            params["partner_id"] = self.settings.partner_id
        for name, raw in business.items():
            if name in SYSTEM_PARAMS:
                raise ValueError(f"{method}: business parameter {name!r} clashes with a system parameter")
            value = param_value(raw)
            if value is not None:
                params[name] = value
        params["sign"] = sign(self.settings.app_secret.get_secret_value(), params, self.settings.sign_method)
        return params

    def build_request(self, method: str, business: Mapping[str, Any]) -> httpx.Request:
        """A signed POST to the router; rebuilt per attempt so timestamp and sign are fresh."""
        body = urlencode(self.build_params(method, business)).encode("ascii")
        return httpx.Request(
            "POST",
            self.settings.base_url,
            content=body,
            headers={
                "content-type": "application/x-www-form-urlencoded;charset=utf-8",
                "accept": "application/json",
            },
        )

    async def request(
        self, method: str, business: Mapping[str, Any], *, idempotent: bool = True
    ) -> dict[str, Any]:
        """Call ``method`` and return the object inside its ``<api>_response`` wrapper."""
        return await self.call(method, lambda: self.build_request(method, business), idempotent=idempotent)

    def parse(self, operation: str, response: httpx.Response) -> dict[str, Any]:
        """The ``<api>_response`` object, or the hub error for an ``error_response``."""
        body = self.decode_json(operation, response)
        error = body.get("error_response")
        if isinstance(error, Mapping):
            raise classify_error(error, operation=operation, platform=self.platform)
        payload = body.get(response_key(operation))
        if not isinstance(payload, dict):
            keys = ", ".join(sorted(body)[:3]) or "nothing"
            raise MalformedResponse(
                f"expected {response_key(operation)}, got {keys}", platform=self.platform, operation=operation
            )
        return payload

    def _malformed(self, operation: str, exc: Exception) -> MalformedResponse:
        return MalformedResponse(str(exc), platform=self.platform, operation=operation)

    async def check(self) -> str:
        """One row of items.onsale.get: the app key, signature and session all checked."""
        method = "taobao.items.onsale.get"
        data = await self.request(method, {"fields": "num_iid", "page_no": 1, "page_size": 1})
        try:
            total = int(data.get("total_results") or 0)
        except (TypeError, ValueError) as exc:
            raise self._malformed(method, exc) from None
        return f"{total} item(s) on sale"

    # --- listings ------------------------------------------------------------------------------

    async def iter_listings(self) -> AsyncIterator[Listing]:
        """Every SKU of the shop, on sale (items.onsale.get) and off sale
        (items.inventory.get per configured banner), each exactly once.

        Item rows are collected 40 at a time and expanded with one item.skus.get; an item
        without SKUs becomes one listing whose SKU id is its num_iid."""
        seen: set[str] = set()
        batch: list[tuple[dict[str, Any], ListingStatus]] = []
        async for row, status in self._item_rows():
            num_iid = str(row.get("num_iid", ""))
            if not num_iid or num_iid in seen:  # an item can show up in two scans or slices
                continue
            seen.add(num_iid)
            batch.append((row, status))
            if len(batch) == SKUS_PER_READ:
                for listing in await self._expand(batch):
                    yield listing
                batch = []
        if batch:
            for listing in await self._expand(batch):
                yield listing

    async def _item_rows(self) -> AsyncIterator[tuple[dict[str, Any], ListingStatus]]:
        size = self.settings.item_page_size
        async for row in self._scan_items("taobao.items.onsale.get", {}, self.settings.onsale_max_rows):
            yield row, m.listing_status(row, ListingStatus.ON_SALE)
        max_rows = self.settings.inventory_max_pages * size
        for banner in self.settings.inventory_banners:
            async for row in self._scan_items("taobao.items.inventory.get", {"banner": banner}, max_rows):
                yield row, m.listing_status(row, ListingStatus.OFF_SALE)

    async def _items_page(
        self,
        method: str,
        extra: Mapping[str, Any],
        page: int,
        size: int,
        span: tuple[datetime, datetime] | None,
    ) -> tuple[list[dict[str, Any]], int]:
        params: dict[str, Any] = {
            "fields": m.ITEM_FIELDS,
            "page_no": page,
            "page_size": size,
            # list_time changes only when an item is relisted, unlike
            # modified (every sale), so pages stay stable while we read
            "order_by": "list_time:asc",
            **extra,
        }
        if span is not None:
            params["start_modified"], params["end_modified"] = m.top_time(span[0]), m.top_time(span[1])
        data = await self.request(method, params)
        try:
            return m.nested(data, "items", "item"), int(data.get("total_results") or 0)
        except (m.MappingError, ValueError) as exc:
            raise self._malformed(method, exc) from None

    async def _scan_items(
        self, method: str, extra: Mapping[str, Any], max_rows: int
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item row of ``method``. TOP refuses to page past ``max_rows``; a bigger
        shop is read in modified-time slices, halved until each fits."""
        size = self.settings.item_page_size
        rows, total = await self._items_page(method, extra, 1, size, None)
        if total <= max_rows:
            async for page in numbered_pages(
                lambda n: self._items_page(method, extra, n, size, None), size=size, first_page=(rows, total)
            ):
                for row in page:
                    yield row
            return
        # Slices share their boundary second (inclusive or exclusive ends both work);
        # the caller drops the repeats. The last slice reaches past "now" so an item
        # modified while we read moves into a slice still ahead of us.
        oldest, _ = await self._items_page(method, {**extra, "order_by": "modified:asc"}, 1, 1, None)
        try:
            low = m.to_utc(oldest[0].get("modified"), "oldest item modified") if oldest else self.clock.now()
        except m.MappingError as exc:
            raise self._malformed(method, exc) from None
        pending = [(low.replace(microsecond=0), self.clock.now().replace(microsecond=0) + timedelta(days=1))]
        while pending:
            span = pending.pop(0)
            rows, total = await self._items_page(method, extra, 1, size, span)
            if total > max_rows and span[1] - span[0] > timedelta(seconds=1):
                middle = span[0] + timedelta(seconds=(span[1] - span[0]).total_seconds() // 2)
                pending[:0] = [(span[0], middle), (middle, span[1])]
                continue
            if total > max_rows:
                log.warning(
                    "%s %s: %d items modified within one second; only %d are readable",
                    self.shop,
                    method,
                    total,
                    max_rows,
                )
            async for page in numbered_pages(
                lambda n, span=span: self._items_page(method, extra, n, size, span),
                size=size,
                first_page=(rows, total),
                max_rows=max_rows,
            ):
                for row in page:
                    yield row

    async def _read_skus(self, num_iids: Sequence[str], fields: str) -> list[dict[str, Any]]:
        """Live SKUs of up to 40 items (one item.skus.get)."""
        data = await self.request("taobao.item.skus.get", {"fields": fields, "num_iids": list(num_iids)})
        try:
            return m.live_skus(m.nested(data, "skus", "sku"))
        except m.MappingError as exc:
            raise self._malformed("taobao.item.skus.get", exc) from None

    async def _expand(self, batch: Sequence[tuple[dict[str, Any], ListingStatus]]) -> list[Listing]:
        skus = await self._read_skus([str(row["num_iid"]) for row, _ in batch], m.SKU_FIELDS)
        by_item: dict[str, list[dict[str, Any]]] = {}
        for sku in skus:
            by_item.setdefault(str(sku.get("num_iid")), []).append(sku)
        listings = []
        try:
            for row, status in batch:
                item_skus = by_item.get(str(row["num_iid"]))
                if item_skus:
                    listings += [m.listing_from_sku(row, sku, status) for sku in item_skus]
                else:
                    listings.append(m.listing_from_item(row, status))
        except (m.MappingError, ValueError) as exc:
            raise self._malformed("taobao.item.skus.get", exc) from None
        return listings

    # --- stock -------------------------------------------------------------------------------------

    async def fetch_stock(self, refs: Sequence[ListingRef]) -> list[StockLevel]:
        """Current quantities: item.skus.get (40 items a call) for SKUs, item.seller.get for
        items without SKUs. A ref the platform no longer has is left out."""
        found: dict[str, tuple[int, datetime]] = {}
        sku_items = list(dict.fromkeys(r.platform_item_id for r in refs if not _is_plain(r)))
        for start in range(0, len(sku_items), SKUS_PER_READ):
            chunk = sku_items[start : start + SKUS_PER_READ]
            skus = await self._read_skus(chunk, "sku_id,num_iid,quantity,status")
            now = self.clock.now()
            for sku in skus:
                found[str(sku.get("sku_id"))] = (int(sku.get("quantity") or 0), now)
        for ref in refs:
            if _is_plain(ref) and ref.platform_sku_id not in found:
                try:
                    data = await self.request(
                        "taobao.item.seller.get", {"fields": "num_iid,num", "num_iid": ref.platform_item_id}
                    )
                except NotFound:
                    continue
                found[ref.platform_sku_id] = (int((data.get("item") or {}).get("num") or 0), self.clock.now())
        levels = []
        for ref in refs:
            if ref.platform_sku_id not in found:
                log.info(
                    "%s: %s/%s is not on Taobao any more",
                    self.shop,
                    ref.platform_item_id,
                    ref.platform_sku_id,
                )
                continue
            quantity, seen_at = found[ref.platform_sku_id]
            levels.append(
                StockLevel(
                    platform_item_id=ref.platform_item_id,
                    platform_sku_id=ref.platform_sku_id,
                    quantity=max(0, quantity),
                    observed_at=seen_at,
                )
            )
        return levels

    async def push_stock(self, updates: Sequence[StockUpdate]) -> list[PushResult]:
        """Apply stock updates, batched per item: several SKUs of one item go in one
        skus.quantity.update (20 a call), a lone SKU or an item without SKUs in one
        item.quantity.update. ``type=2`` (delta) when the update carries a delta, else
        ``type=1`` (full). Items are written concurrently, one item's calls in the order
        of its updates. One item's failure is reported on its updates only."""
        results: dict[str, PushResult] = {}
        by_item: dict[str, list[StockUpdate]] = {}
        for update in updates:
            if update.delta == 0:  # nothing to change, and a delta call is not free to repeat
                results[update.idempotency_key] = PushResult(idempotency_key=update.idempotency_key, ok=True)
                continue
            by_item.setdefault(update.ref.platform_item_id, []).append(update)

        async def run(item_updates: list[StockUpdate]) -> list[PushResult]:
            # A delta repeated would apply twice: one whose answer was lost is in doubt.
            return await self.write_batches(
                _stock_chunks(item_updates), self._stock_call, concurrently=False, maybe_applied=_is_delta
            )

        for batch in await gather(lambda u=u: run(u) for u in by_item.values()):
            for result in batch:
                results[result.idempotency_key] = result
        return [results[u.idempotency_key] for u in updates]

    async def _stock_call(self, chunk: Sequence[StockUpdate]) -> list[PushResult]:
        item_id, delta = chunk[0].ref.platform_item_id, _is_delta(chunk)
        kind = 2 if delta else 1

        def amount(update: StockUpdate) -> int:
            return update.delta if delta and update.delta is not None else update.quantity

        if len(chunk) == 1:
            update = chunk[0]
            method = "taobao.item.quantity.update"
            params: dict[str, Any] = {"num_iid": item_id, "quantity": amount(update), "type": kind}
            if not _is_plain(update.ref):
                params["sku_id"] = update.ref.platform_sku_id
        else:
            method = "taobao.skus.quantity.update"
            params = {
                "num_iid": item_id,
                "type": kind,
                "skuid_quantities": m.skuid_quantities((u.ref.platform_sku_id, amount(u)) for u in chunk),
            }
        # A delta repeated would apply twice: only re-send it when it surely did not arrive.
        data = await self.request(method, params, idempotent=not delta)
        after = m.quantities_after(data.get("item"))
        return [
            PushResult(
                idempotency_key=u.idempotency_key, ok=True, quantity_after=after.get(u.ref.platform_sku_id)
            )
            for u in chunk
        ]

    # --- prices ------------------------------------------------------------------------------------

    async def push_prices(self, updates: Sequence[PriceUpdate]) -> list[PushResult]:
        """Set SKU prices with item.sku.price.update. TOP finds the SKU by its property
        string, and the item price must stay inside the SKU price range, so the SKUs of the
        batch's items are read first (40 items a call) and each call also sends
        ``item_price`` = the lowest SKU price after the change."""
        results: dict[str, PushResult] = {}
        sku_items = list(dict.fromkeys(u.ref.platform_item_id for u in updates if not _is_plain(u.ref)))
        info: dict[str, _SkuInfo] = {}
        read_errors: dict[str, PlatformError] = {}
        for start in range(0, len(sku_items), SKUS_PER_READ):
            chunk = sku_items[start : start + SKUS_PER_READ]
            try:
                skus = await self._read_skus(chunk, "sku_id,num_iid,price,properties,status")
            except SHOP_WIDE:
                raise
            except PlatformError as exc:
                read_errors.update(dict.fromkeys(chunk, exc))
                continue
            try:
                for sku in skus:
                    price = m.to_fen(sku.get("price"), f"sku {sku['sku_id']} price")
                    info[str(sku["sku_id"])] = _SkuInfo(
                        str(sku["num_iid"]), str(sku.get("properties") or ""), price
                    )
            except (KeyError, m.MappingError) as exc:
                bad = self._malformed("taobao.item.skus.get", exc)
                read_errors.update(dict.fromkeys(chunk, bad))
        by_item: dict[str, list[PriceUpdate]] = {}
        for update in updates:
            by_item.setdefault(update.ref.platform_item_id, []).append(update)

        async def one(update: PriceUpdate) -> PushResult:
            if update.ref.platform_item_id in read_errors:
                raise read_errors[update.ref.platform_item_id]
            return await self._price_call(update, info)

        async def run(item_updates: list[PriceUpdate]) -> list[PushResult]:
            # One item's SKUs go one after another: each item_price depends on the last change.
            return await self.write_each(item_updates, one, concurrently=False)

        for batch in await gather(lambda u=u: run(u) for u in by_item.values()):
            for result in batch:
                results[result.idempotency_key] = result
        return [results[u.idempotency_key] for u in updates]

    async def _price_call(self, update: PriceUpdate, info: dict[str, _SkuInfo]) -> PushResult:
        key, ref = update.idempotency_key, update.ref
        if _is_plain(ref):
            method = self.settings.plain_item_price_method
            if not method:
                return self.failed(
                    key, f"item {ref.platform_item_id} has no SKUs and plain_item_price_method is not set"
                )
            await self.request(method, {"num_iid": ref.platform_item_id, "price": m.to_yuan(update.price)})
            return PushResult(idempotency_key=key, ok=True)
        sku = info.get(ref.platform_sku_id)
        if sku is None or sku.num_iid != ref.platform_item_id:
            return self.failed(
                key, f"SKU {ref.platform_sku_id} of item {ref.platform_item_id} is not on Taobao"
            )
        siblings = [
            s.price
            for sku_id, s in info.items()
            if s.num_iid == sku.num_iid and sku_id != ref.platform_sku_id
        ]
        await self.request(
            "taobao.item.sku.price.update",
            {
                "num_iid": ref.platform_item_id,
                "properties": sku.properties,
                "price": m.to_yuan(update.price),
                "item_price": m.to_yuan(min([update.price, *siblings])),
            },
        )
        sku.price = update.price
        return PushResult(idempotency_key=key, ok=True)

    # --- orders --------------------------------------------------------------------------------------

    async def iter_orders(self, window: TimeWindow) -> AsyncIterator[Order]:
        """Trades modified in ``window`` (trades.sold.increment.get).

        TOP stamps trades with whole seconds, so the window is widened to
        ``[floor(start), ceil(end))``: a trade in the window's last, partial second is
        returned (the next window reads it again, which is harmless), and windows on whole
        seconds share no trade. A window longer than a day is read one day at a time."""
        start, end = _floor(window.start), _ceil(window.end)
        while start < end:
            stop = min(end, start + MAX_ORDER_SPAN)
            async for order in self._orders_between(start, stop):
                yield order
            start = stop

    async def _trades_page(
        self, start: datetime, end: datetime, page: int, size: int | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        method = "taobao.trades.sold.increment.get"
        data = await self.request(
            method,
            {
                "fields": m.TRADE_FIELDS,
                "start_modified": m.top_time(start),
                "end_modified": m.top_time(end),
                "type": self.settings.trade_types,
                "page_no": page,
                "page_size": size or self.settings.trade_page_size,
                # has_next paging would drop total_results, which walking backwards needs
                "use_has_next": False,
            },
        )
        try:
            return m.nested(data, "trades", "trade"), int(data.get("total_results") or 0)
        except (m.MappingError, ValueError) as exc:
            raise self._malformed(method, exc) from None

    async def _pages_backwards(self, start: datetime, end: datetime) -> AsyncIterator[dict[str, Any]]:
        """Trade rows, last page first. The list is sorted by modified descending; a trade
        modified while we read leaves the window and shifts later rows towards page 1, so
        reading from the last page back to page 1 (as TOP advises) can repeat a row but
        never skip one.

        A window whose last second is not over yet (a sync reads a little past the
        platform's clock) also takes in trades sold or changed while we read, at page 1:
        each pushes the rows behind it one place towards the last page, so a row can cross
        into a page already read, and the next window starts after it. When such a window
        spans several pages, they are read once more, forwards (a row pushed back is then
        read again, never skipped)."""
        size = self.settings.trade_page_size
        open_ended = end >= _floor(self.platform_time())
        pages = 0
        async for page in numbered_pages(
            lambda n: self._trades_page(start, end, n), size=size, backwards=True, yield_first_read=False
        ):
            pages += 1
            for row in page:
                yield row
        number, total = 2, size + 1
        while open_ended and pages > 1 and (number - 1) * size < total:
            rows, total = await self._trades_page(start, end, number)
            for row in rows:
                yield row
            number += 1

    async def _orders_between(self, start: datetime, end: datetime) -> AsyncIterator[Order]:
        seen: set[str] = set()
        async for trade in self._pages_backwards(start, end):
            tid = str(trade.get("tid", ""))
            if not tid or tid in seen:
                continue
            try:
                modified = m.to_utc(trade.get("modified"), f"trade {tid} modified")
            except m.MappingError as exc:
                raise self._malformed("taobao.trades.sold.increment.get", exc) from None
            if not start <= modified < end:
                continue  # TOP's end is inclusive; the end second belongs to the next window
            seen.add(tid)
            if self.settings.trade_detail == "always" or not m.has_lines(trade):
                trade = await self.trade_detail(tid)
            try:
                yield m.order_from_trade(trade)
            except (m.MappingError, ValueError) as exc:
                raise self._malformed("taobao.trades.sold.increment.get", exc) from None

    # --- refunds (hub_taobao.aftersales) ----------------------------------------------------------

    async def iter_after_sales(self, window: TimeWindow) -> AsyncIterator[AfterSale]:
        """Refunds modified in ``window`` (refunds.receive.get), widened to whole seconds like
        trades and read ``refund_max_span`` at a time (the limit is UNCONFIRMED)."""
        start, end = _floor(window.start), _ceil(window.end)
        span = timedelta(hours=self.settings.refund_max_span_hours)
        while start < end:
            stop = min(end, start + span)
            seen: dict[str, AfterSale] = {}
            # The sort order is UNCONFIRMED: walking back from the last page (as for trades)
            # repeats a refund that moves, never skips one; the newest version is kept.
            async for page in numbered_pages(
                lambda n, a=start, b=stop: self._refunds_page(a, b, n),
                size=self.settings.refund_page_size,
                backwards=True,
            ):
                for row in page:
                    try:
                        case = refunds.case_from_refund(row)
                    except (m.MappingError, ValueError) as exc:
                        raise self._malformed(refunds.METHOD, exc) from None
                    if start <= case.modified_at < stop:
                        keep_newest(seen, case)
            for case in seen.values():
                yield case
            start = stop

    async def _refunds_page(
        self, start: datetime, end: datetime, page: int
    ) -> tuple[list[dict[str, Any]], int]:
        data = await self.request(
            refunds.METHOD,
            {
                "fields": refunds.REFUND_FIELDS,
                "start_modified": m.top_time(start),
                "end_modified": m.top_time(end),
                "page_no": page,
                "page_size": self.settings.refund_page_size,
                "use_has_next": False,
            },
        )
        try:
            return m.nested(data, "refunds", "refund"), int(data.get("total_results") or 0)
        except (m.MappingError, ValueError) as exc:
            raise self._malformed(refunds.METHOD, exc) from None

    async def trade_detail(self, tid: str, fields: str = m.TRADE_FIELDS) -> dict[str, Any]:
        """One trade with its sub-orders (trade.fullinfo.get)."""
        data = await self.request("taobao.trade.fullinfo.get", {"fields": fields, "tid": tid})
        trade = data.get("trade")
        if not isinstance(trade, dict):
            raise MalformedResponse(
                "trade.fullinfo.get answered without a trade",
                platform=self.platform,
                operation="taobao.trade.fullinfo.get",
            )
        return trade

    async def recent_orders(self, order_ids: Collection[str]) -> list[Order]:
        """One trades.sold.increment.get page of the trades modified last (TOP sorts them
        newest first): those that came with their sub-orders (none when ``trade_detail``
        is "always")."""
        if self.settings.trade_detail == "always":
            return []
        method = "taobao.trades.sold.increment.get"
        end = _ceil(self.platform_time())
        size = recent_page_size(order_ids, self.settings.trade_page_size)
        rows, _ = await self._trades_page(end - RECENT_ORDERS, end, 1, size)
        try:
            return [
                m.order_from_trade(trade)
                for trade in rows
                if str(trade.get("tid")).strip() in order_ids and m.has_lines(trade)
            ]
        except (m.MappingError, ValueError) as exc:
            raise self._malformed(method, exc) from None

    async def fetch_order(self, order_id: str) -> Order | None:
        """The trade ``order_id`` with its sub-orders (trade.fullinfo.get)."""
        try:
            trade = await self.trade_detail(order_id)
        except NotFound:
            return None
        try:
            return m.order_from_trade(trade)
        except (m.MappingError, ValueError) as exc:
            raise self._malformed("taobao.trade.fullinfo.get", exc) from None

    # --- TMC messages (hub_taobao.push) -----------------------------------------------------------

    async def consume_pushes(self, quantity: int) -> list[tuple[str, list[PushEvent]]]:
        """``taobao.tmc.messages.consume`` of the settings' group (10-200 messages)."""
        data = await self.request(
            "taobao.tmc.messages.consume",
            {"group_name": self.settings.tmc_group, "quantity": max(10, min(200, quantity))},
        )
        out = []
        for row in push.messages_of(data):
            try:
                out.append(push.events_of(row))
            except PushMalformed as exc:
                # A permanent data error would be redelivered forever: log it and confirm it.
                log.warning("TMC message dropped: %s", exc.reason)
                if isinstance(row, dict) and row.get("id") not in (None, ""):
                    out.append((str(row["id"]), []))
        return out

    async def confirm_pushes(self, message_ids: Sequence[str]) -> None:
        """``taobao.tmc.messages.confirm``, at most 200 ids per call."""
        for start in range(0, len(message_ids), 200):
            await self.request(
                "taobao.tmc.messages.confirm",
                {
                    "group_name": self.settings.tmc_group,
                    "s_message_ids": ",".join(message_ids[start : start + 200]),
                },
            )

    async def enable_pushes(self) -> None:
        """``taobao.tmc.user.permit`` without ``topics``: the app's subscribed topics
        (sending ``topics`` would overwrite the list)."""
        await self.request("taobao.tmc.user.permit", {})

    # --- shipment ------------------------------------------------------------------------------------

    async def ship(self, shipment: Shipment) -> PushResult:
        """Write a shipment back with logistics.offline.send (``sub_tid`` lists the lines of
        a partial shipment). If TOP refuses it, the trade is read back: when it already
        carries this tracking number on those lines, the shipment was done before (a repeat
        after a lost answer) and counts as success."""
        [result] = await self.write_each([shipment], self._ship)
        return result

    async def _ship(self, shipment: Shipment) -> PushResult:
        key = shipment.idempotency_key
        params = {
            "tid": shipment.platform_order_id,
            "out_sid": shipment.tracking_number,
            "company_code": shipment.carrier,
            "sub_tid": list(shipment.line_ids) or None,
        }
        try:
            data = await self.request("taobao.logistics.offline.send", params)
        except (InvalidRequest, NotFound) as exc:
            try:
                if await self._already_shipped(shipment):
                    return PushResult(idempotency_key=key, ok=True, platform_ref=shipment.platform_order_id)
            except SHOP_WIDE:
                raise
            except PlatformError:
                pass  # report the original refusal, it says more
            return self.failed(key, exc)
        shipping = data.get("shipping") or {}
        if shipping.get("is_success") is False:
            return self.failed(key, "logistics.offline.send answered is_success=false")
        return PushResult(idempotency_key=key, ok=True, platform_ref=shipment.platform_order_id)

    async def _already_shipped(self, shipment: Shipment) -> bool:
        trade = await self.trade_detail(
            shipment.platform_order_id, "tid,status,orders.oid,orders.status,orders.invoice_no"
        )
        wanted = set(shipment.line_ids)
        lines = [o for o in m.nested(trade, "orders", "order") if not wanted or str(o.get("oid")) in wanted]
        return bool(lines) and all(str(o.get("invoice_no") or "") == shipment.tracking_number for o in lines)


def _stock_chunks(updates: Sequence[StockUpdate]) -> list[list[StockUpdate]]:
    """One item's updates as consecutive calls, in their order: a call holds up to 20
    SKUs of one type (full or delta) with no SKU twice, since a SKU twice in one call
    would be ambiguous; an item without SKUs is a call of its own."""
    chunks: list[list[StockUpdate]] = []
    for update in updates:
        delta = update.delta is not None
        if chunks and not _is_plain(update.ref):
            chunk = chunks[-1]
            if (
                _is_delta(chunk) == delta
                and len(chunk) < SKUS_PER_STOCK_CALL
                and not _is_plain(chunk[0].ref)
                and all(u.ref.platform_sku_id != update.ref.platform_sku_id for u in chunk)
            ):
                chunk.append(update)
                continue
        chunks.append([update])
    return chunks


def _is_delta(chunk: Sequence[StockUpdate]) -> bool:
    """Whether a call of :func:`_stock_chunks` is relative (all its updates are alike)."""
    return chunk[0].delta is not None


def _is_plain(ref: ListingRef) -> bool:
    """An item without SKUs: its listing's SKU id is the item's num_iid."""
    return ref.platform_sku_id == ref.platform_item_id


def _floor(dt: datetime) -> datetime:
    return dt.replace(microsecond=0)


def _ceil(dt: datetime) -> datetime:
    return _floor(dt) + timedelta(seconds=1) if dt.microsecond else dt
