"""A JD shop behind JD's real /routerjson wire protocol, for tests, demos and
``hub sandbox serve``.

What a client meets here is what the fact sheet (§2) documents:

* system parameters in the query string (the form body is accepted too), business
  parameters as one JSON string ``360buy_param_json`` in the form body or the query;
* gateway checks in ``{"error_response": {"code", "zh_desc", "en_desc"}}`` with string
  codes: app_key (20 missing / 21 invalid), method (14 missing / 15 unknown), version
  (4 missing / 5 unsupported), timestamp (7 missing / 8 invalid or more than 6 minutes
  off, either ``yyyy-MM-dd HH:mm:ss`` or ``yyyy-MM-dd HH:mm:ss.SSS+0800``), signature
  (11 missing / 12 invalid: md5 of secret + sorted name+value pairs + secret, uppercase),
  access_token (18 missing / 19 invalid or expired), throttling (2);
* success as ``{"<method_with_underscores>_responce": {"code": "0", …}}`` with yuan
  strings and Asia/Shanghai ``yyyy-MM-dd HH:mm:ss`` times;
* business failures inside that envelope, ``success: false`` with
  ``englishErrCode``/``chineseErrCode``/``numberCode`` (in ``apiResult`` for the order
  APIs, as JD documents; directly in the result for the ware, stock, price and shipment
  APIs, whose failure shape is UNCONFIRMED). The ``numberCode`` values are the sandbox's.

APIs: jingdong.sku.read.searchSkuList, jingdong.ware.read.findWareById,
jingdong.stock.read.findSkuStock, jingdong.stock.write.updateSkuStock,
jingdong.price.write.updateSkuJdPrice, jingdong.pop.order.search/enSearch,
jingdong.pop.order.get/enGet, jingdong.pop.order.shipment; any other method is code 15.

Limits: order searches span at most one calendar month with ``page_size`` ≤ 100; SKU
searches take ``pageSize`` ≤ :attr:`JdSandbox.sku_page_max` (JD's real maximum is
UNCONFIRMED). JD's POP order search has no unpaid state, so orders awaiting payment are
not listed. Ids are numeric strings: wareId and skuId 11 digits, orderId 12 digits.
"""

from __future__ import annotations

import contextlib
import json
from bisect import bisect_left, bisect_right
from calendar import monthrange
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import httpx

from hub.models import AfterSaleType, OrderStatus
from hub.simulator import (
    ItemState,
    OrderState,
    SandboxApp,
    SandboxError,
    ShopState,
    SkuState,
    numeric_ids,
)
from hub.units import CN_TZ, utc
from hub_jd import PLATFORM
from hub_jd import aftersales as jd_after
from hub_jd.mappers import (
    SKU_OFF_SALE,
    SKU_ON_SALE,
    JdDataError,
    cn_time,
    fen_from_yuan,
    parse_jd_timestamp,
    state_for,
    time_from_jd,
    yuan,
)
from hub_jd.settings import ALL_ORDER_STATES
from hub_jd.signing import PARAM_JSON, SIGN, sign

#: JD gateway error texts (fact sheet §2.6).
GATEWAY_TEXT: dict[str, tuple[str, str]] = {
    "2": ("限制时间内调用失败次数", "App Call Limited"),
    "4": ("缺少版本参数", "Missing Version"),
    "5": ("不支持的版本号", "Unsupported Version"),
    "7": ("缺少时间戳参数", "Missing Timestamp"),
    "8": ("非法的时间戳参数", "Invalid Timestamp"),
    "11": ("缺少签名参数", "Missing Signature"),
    "12": ("无效签名", "Invalid Signature"),
    "14": ("缺少方法名参数", "Missing Method"),
    "15": ("不存在的方法名", "Invalid Method"),
    "18": ("缺少access_token参数", "Missing access_token"),
    "19": ("无效access_token", "Invalid access_token"),
    "20": ("缺少app_key参数", "Missing app_key"),
    "21": ("无效app_key", "Invalid app_key"),
    "24": ("无权调用API", "cannot use this API"),
}

API_VERSION = "2.0"
MAX_SKEW = timedelta(minutes=6)
ORDER_SEARCH_METHODS = ("jingdong.pop.order.search", "jingdong.pop.order.enSearch")
ORDER_GET_METHODS = ("jingdong.pop.order.get", "jingdong.pop.order.enGet")

#: ware (商品) status of jingdong.ware.read.findWareById: 8 on sale, 2 taken off shelf by the seller
WARE_ON_SALE, WARE_OFF_SHELF = 8, 2

# Sandbox business error numbers (JD does not publish its own; see the module docstring).
E_PARAM, E_NOT_FOUND, E_STATE, E_WINDOW = 10100001, 10100004, 10100009, 10100011


class BusinessError(Exception):
    """A request JD's API refuses after the gateway accepted it."""

    def __init__(self, english: str, chinese: str, number: int = E_PARAM):
        self.english, self.chinese, self.number = english, chinese, number
        super().__init__(english)

    def fields(self) -> dict[str, Any]:
        return {
            "success": False,
            "englishErrCode": self.english,
            "chineseErrCode": self.chinese,
            "numberCode": self.number,
        }


def _from_state_error(exc: SandboxError) -> BusinessError:
    if exc.code.endswith("not_found"):
        return BusinessError(f"{exc.message}: not exist", "数据不存在", E_NOT_FOUND)
    if exc.code == "bad_order_status":
        return BusinessError(
            f"{exc.message}: order state does not allow this", "订单状态不允许该操作", E_STATE
        )
    return BusinessError(exc.message, "参数错误", E_PARAM)


def _add_month(local: datetime, months: int = 1) -> datetime:
    """The same wall-clock time ``months`` calendar months later (day clamped to the
    month's end); a negative ``months`` goes back."""
    index = local.year * 12 + local.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return local.replace(year=year, month=month, day=min(local.day, monthrange(year, month)[1]))


def _floor(dt: datetime) -> datetime:
    return dt.replace(microsecond=0)


def _when(found: tuple[datetime, str, OrderState]) -> datetime:
    return found[0]


# --- business parameter readers (JD's Java side coerces "1" and 1 alike) -------------------


def _int(
    params: Mapping[str, Any],
    name: str,
    *,
    default: int | None = None,
    low: int | None = None,
    high: int | None = None,
) -> int:
    value = params.get(name)
    if value is None or value == "":
        if default is None:
            raise BusinessError(f"{name} is required", f"{name}不能为空")
        return default
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and value.strip().lstrip("-").isdigit())
    ):
        raise BusinessError(f"{name} must be an integer", f"{name}格式错误")
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise BusinessError(f"{name} must be {bounds}", f"{name}超出范围")
    return number


def _text(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None or str(value).strip() == "":
        raise BusinessError(f"{name} is required", f"{name}不能为空")
    return str(value).strip()


def _values(params: Mapping[str, Any], name: str) -> list[str] | None:
    """A list parameter given as a JSON list, a comma-separated string or one value."""
    value = params.get(name)
    if value is None or value == "" or value == []:
        return None
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(v).strip() for v in items if str(v).strip()]


class JdSandbox(SandboxApp):
    """JD's server side over a :class:`~hub.simulator.ShopState`."""

    platform: ClassVar[str] = PLATFORM
    gateway_path: ClassVar[str] = "/routerjson"
    # Knobs a test may change per instance:
    #: largest pageSize of jingdong.sku.read.searchSkuList (JD's real limit is UNCONFIRMED)
    sku_page_max: int = 50
    #: largest page_size of the POP order search (documented: 100)
    order_page_max: int = 100
    aftersale_page_max: int = 100  # UNCONFIRMED
    vender_id: str = "10086001"
    _sorted_skus: tuple[SkuState, ...] = ()  # see _skus_by_id

    def new_state(self) -> ShopState:
        return ShopState(
            self.clock,
            new_item_id=numeric_ids(10_010_000_001),  # wareId
            new_sku_id=numeric_ids(10_020_000_001),  # skuId
            new_order_id=numeric_ids(230_100_000_001, 7),  # orderId
        )

    # --- envelopes ------------------------------------------------------------------------

    def gateway_error(self, code: str) -> httpx.Response:
        """JD's gateway error envelope for ``code`` (string codes, zh/en descriptions)."""
        zh, en = GATEWAY_TEXT[code]
        return self.json_response({"error_response": {"code": code, "zh_desc": zh, "en_desc": en}})

    def throttled(self, request: httpx.Request) -> httpx.Response:
        return self.gateway_error("2")

    @staticmethod
    def _envelope(method: str, result: Mapping[str, Any]) -> dict[str, Any]:
        return {method.replace(".", "_") + "_responce": {"code": "0", **result}}

    # --- request parsing and gateway checks -------------------------------------------------

    @staticmethod
    def request_params(request: httpx.Request) -> dict[str, str]:
        """Every parameter of the request: form body fields, then the query string (which
        wins on a clash, as a servlet's getParameter would)."""
        params: dict[str, str] = {}
        content_type = request.headers.get("content-type", "")
        if request.content and "application/x-www-form-urlencoded" in content_type:
            with contextlib.suppress(UnicodeDecodeError):  # not a form after all: no fields
                params.update(parse_qsl(request.content.decode("utf-8"), keep_blank_values=True))
        for name, value in request.url.params.multi_items():
            params[name] = value
        return params

    def _gateway_check(self, params: Mapping[str, str]) -> str | None:
        """The gateway error code for ``params``, or None when they pass."""
        app_key = params.get("app_key", "")
        if not app_key:
            return "20"
        if app_key != self.credentials.app_key:
            return "21"
        method = params.get("method", "")
        if not method:
            return "14"
        version = params.get("v", "")
        if not version:
            return "4"
        if version != API_VERSION:
            return "5"
        stamp = params.get("timestamp", "")
        if not stamp:
            return "7"
        try:
            sent_at = parse_jd_timestamp(stamp)
        except ValueError:
            return "8"
        if abs(sent_at - self.clock.now()) > MAX_SKEW:
            return "8"
        given = params.get(SIGN, "")
        if not given:
            return "11"
        if params.get("sign_method", "md5").lower() != "md5":
            return "12"  # HMAC byte rules are UNCONFIRMED; the sandbox verifies md5 only
        if given != sign({k: v for k, v in params.items() if k != SIGN}, self.credentials.app_secret):
            return "12"
        if method not in self._handlers():
            return "15"
        token = params.get("access_token", "")
        if not token:
            return "18"
        if self.credentials.check(token) != "ok":
            return "19"
        return None

    def _handlers(self) -> dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]]:
        handlers: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
            "jingdong.sku.read.searchSkuList": self._search_skus,
            "jingdong.ware.read.findWareById": self._find_ware,
            "jingdong.stock.read.findSkuStock": self._find_stock,
            "jingdong.stock.write.updateSkuStock": self._update_stock,
            "jingdong.price.write.updateSkuJdPrice": self._update_price,
            "jingdong.pop.order.shipment": self._ship,
            "jingdong.asc.query.list": self._after_sales,
        }
        for method in ORDER_SEARCH_METHODS:
            handlers[method] = self._search_orders
        for method in ORDER_GET_METHODS:
            handlers[method] = self._get_order
        return handlers

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.rstrip("/") != self.gateway_path or request.method not in ("GET", "POST"):
            return httpx.Response(404, text="Not Found")
        params = self.request_params(request)
        code = self._gateway_check(params)
        if code is not None:
            return self.gateway_error(code)
        method = params["method"]
        self.calls[method] += 1
        handler = self._handlers()[method]
        try:
            business = json.loads(params.get(PARAM_JSON) or "{}")
            if not isinstance(business, dict):
                raise ValueError("not an object")
        except ValueError:
            return self.json_response(
                self._envelope(
                    method,
                    self._failure(
                        method, BusinessError(f"{PARAM_JSON} is not a JSON object", f"{PARAM_JSON}格式错误")
                    ),
                )
            )
        try:
            with self.state.lock:
                result = handler(method, business)
        except SandboxError as exc:
            result = self._failure(method, _from_state_error(exc))
        except BusinessError as exc:
            result = self._failure(method, exc)
        return self.json_response(self._envelope(method, result))

    @staticmethod
    def _failure(method: str, exc: BusinessError) -> dict[str, Any]:
        """Where each API reports a business failure (see the module docstring)."""
        if method in ORDER_SEARCH_METHODS:
            return {
                "searchorderinfo_result": {"apiResult": exc.fields(), "orderTotal": 0, "orderInfoList": []}
            }
        if method in ORDER_GET_METHODS:
            return {"orderDetailInfo": {"apiResult": exc.fields()}}
        if method == "jingdong.pop.order.shipment":
            return {"sopjosshipment_result": exc.fields()}
        return exc.fields()

    # --- wares, SKUs, stock, prices ------------------------------------------------------------

    def _sku_row(self, item: ItemState, sku: SkuState) -> dict[str, Any]:
        return {
            "skuId": sku.sku_id,
            "wareId": item.item_id,
            "outerId": sku.code or "",
            "jdPrice": yuan(sku.price),
            "stockNum": sku.quantity,
            "status": SKU_ON_SALE if item.on_sale else SKU_OFF_SALE,
            "skuName": f"{item.title} {sku.spec}".strip(),
            "wareTitle": item.title,
            "saleAttrs": sku.spec,
            "created": cn_time(item.created),
            "modified": cn_time(sku.modified),
        }

    def _search_skus(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        page_no = _int(p, "pageNo", default=1, low=1)
        page_size = _int(p, "pageSize", default=20, low=1, high=self.sku_page_max)
        statuses = _values(p, "skuStatuValue") or [str(SKU_ON_SALE), str(SKU_OFF_SALE)]
        sku_ids, ware_ids, outer_ids = _values(p, "skuId"), _values(p, "wareId"), _values(p, "outId")
        candidates: Sequence[SkuState]
        if sku_ids is None:
            candidates = self._skus_by_id()
        else:
            asked = (self.state.skus[i] for i in set(sku_ids) if i in self.state.skus)
            candidates = sorted(asked, key=lambda s: int(s.sku_id))
        if ware_ids is None and outer_ids is None and {str(SKU_ON_SALE), str(SKU_OFF_SALE)} <= set(statuses):
            matches = candidates  # nothing to filter: page the id order (a scan per page is quadratic)
        else:
            matches = [sku for sku in candidates if self._sku_matches(sku, statuses, ware_ids, outer_ids)]
        page = matches[(page_no - 1) * page_size : page_no * page_size]
        chunk = [self._sku_row(self.state.items[sku.item_id], sku) for sku in page]
        return {"page": {"data": chunk, "pageNo": page_no, "pageSize": page_size, "totalItem": len(matches)}}

    def _sku_matches(
        self,
        sku: SkuState,
        statuses: Sequence[str],
        ware_ids: Sequence[str] | None,
        outer_ids: Sequence[str] | None,
    ) -> bool:
        item = self.state.items[sku.item_id]
        return (
            str(SKU_ON_SALE if item.on_sale else SKU_OFF_SALE) in statuses
            and (ware_ids is None or item.item_id in ware_ids)
            and (outer_ids is None or (sku.code or "") in outer_ids)
        )

    def _skus_by_id(self) -> tuple[SkuState, ...]:
        """Every SKU by numeric id. Sandbox SKUs are only ever added, so the count tells
        whether the sorted list is current (re-sorting 100k SKUs per page was quadratic)."""
        if len(self._sorted_skus) != len(self.state.skus):
            self._sorted_skus = tuple(sorted(self.state.skus.values(), key=lambda s: int(s.sku_id)))
        return self._sorted_skus

    def _find_ware(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        """One ware (商品) with its SKUs. ``field`` narrows the ware's fields as JD's does
        (``wareId`` always comes back); wareStatus 8 is on sale, 2 off shelf."""
        item = self.state.item(str(_int(p, "wareId", low=1)))
        skus = [self._sku_row(item, sku) for sku in item.skus.values()]
        prices = [sku.price for sku in item.skus.values()] or [0]
        ware: dict[str, Any] = {
            "wareId": item.item_id,
            "title": item.title,
            "outerId": item.code or "",
            "itemNum": item.code or "",
            "wareStatus": WARE_ON_SALE if item.on_sale else WARE_OFF_SHELF,
            "jdPrice": yuan(min(prices)),
            "marketPrice": yuan(max(prices)),
            "stockNum": sum(sku.quantity for sku in item.skus.values()),
            "venderId": self.vender_id,
            "created": cn_time(item.created),
            "modified": cn_time(item.modified),
            "skus": skus,
        }
        wanted = _values(p, "field")
        if wanted is not None:
            ware = {k: v for k, v in ware.items() if k in wanted or k == "wareId"}
        return {"ware": ware}

    def _find_stock(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        sku = self.state.sku(str(_int(p, "skuId", low=1)))
        return {"skuStocks": [{"skuId": sku.sku_id, "stockNum": sku.quantity, "storeId": 0}]}

    def _update_stock(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        sku_id = str(_int(p, "skuId", low=1))
        quantity = _int(p, "stockNum", low=0)
        self.state.set_quantity(sku_id, quantity)  # absolute: JD overwrites the stock
        return {"success": True}

    def _update_price(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        sku_id = str(_int(p, "skuId", low=1))
        value = p.get("jdPrice")
        if value is None or value == "":
            raise BusinessError("jdPrice is required", "jdPrice不能为空")
        try:
            fen = fen_from_yuan(value, "jdPrice")
        except JdDataError:
            raise BusinessError(
                "jdPrice must be a yuan amount with at most 2 decimals", "jdPrice格式错误"
            ) from None
        if fen <= 0:
            raise BusinessError("jdPrice must be positive", "jdPrice必须大于0")
        self.state.set_price(sku_id, fen)
        return {"success": True}

    # --- orders ------------------------------------------------------------------------------

    def order_info(self, order: OrderState) -> dict[str, Any] | None:
        """The full POP ``orderInfo`` of ``order`` (None: JD does not list unpaid orders)."""
        state = state_for(order.status)
        if state is None:
            return None
        total = yuan(order.total)
        return {
            "orderId": order.order_id,
            "venderId": self.vender_id,
            "orderType": "22",  # SOP
            "orderState": state,
            "orderStartTime": cn_time(order.created),
            "modified": cn_time(order.modified),
            # Empty for an order cancelled before payment; set for one paid, then refunded.
            "paymentConfirmTime": cn_time(order.paid_at) if order.paid_at else "",
            "orderTotalPrice": total,
            "orderSellerPrice": total,
            "orderPayment": total,
            "freightPrice": "0.00",
            "sellerDiscount": "0.00",
            "payType": "4-在线支付",
            "itemInfoList": [
                {
                    "skuId": line.sku_id,
                    "outerSkuId": line.code or "",
                    "wareId": line.item_id,
                    "jdPrice": yuan(line.unit_price),
                    "itemTotal": str(line.quantity),
                    "skuName": line.title,
                }
                for line in order.lines
            ],
            "couponDetailList": [],
            "logisticsId": order.carrier or "",
            "waybill": order.tracking_number or "",
        }

    @staticmethod
    def _only(info: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
        """JD returns only the ``optional_fields`` asked for."""
        return info if fields is None else {k: v for k, v in info.items() if k in fields}

    def _states(self, p: dict[str, Any]) -> list[str]:
        states = _values(p, "order_state")
        if not states:
            raise BusinessError("order_state is required", "order_state不能为空")
        unknown = [s for s in states if s not in ALL_ORDER_STATES]
        if unknown:
            raise BusinessError(f"order_state {unknown[0]} is invalid", "订单状态参数错误")
        return states

    def _date(self, p: dict[str, Any], name: str) -> datetime:
        try:
            return time_from_jd(_text(p, name), name)
        except JdDataError:
            raise BusinessError(f"{name} must be yyyy-MM-dd HH:mm:ss", f"{name}格式错误") from None

    def _after_sales(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        """Service orders (returns and exchanges) by update time, both ends included,
        oldest first; a refund before shipment is an order cancellation, not listed here."""
        page = _int(p, "pageNumber", default=1, low=1)
        size = _int(p, "pageSize", default=10, low=1, high=self.aftersale_page_max)
        start, end = self._date(p, "updateTimeBegin"), self._date(p, "updateTimeEnd")
        if end < start:
            raise BusinessError(
                "updateTimeEnd must not be before updateTimeBegin", "结束时间不能早于开始时间"
            )
        cases = [
            c
            for c in self.state.after_sales.modified(start, end + timedelta(seconds=1))
            if c.kind is not AfterSaleType.REFUND_ONLY
        ]
        cases.sort(key=lambda c: (_floor(c.modified), int(c.case_id)))
        rows = [jd_after.service_json(c) for c in cases[(page - 1) * size : page * size]]
        return {
            jd_after.RESULT_KEY: {
                "data": rows,
                "totalCount": len(cases),
                "pageNumber": page,
                "pageSize": size,
            }
        }

    def _search_orders(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        states = self._states(p)
        fields = _values(p, "optional_fields")
        if not fields:
            raise BusinessError("optional_fields is required", "optional_fields不能为空")
        page = _int(p, "page", low=1)
        size = _int(p, "page_size", low=1, high=self.order_page_max)
        if not p.get("start_date") and not p.get("end_date") and states == ["WAIT_SELLER_STOCK_OUT"]:
            # Documented: awaiting stock-out orders may omit the dates (the last month).
            end = _floor(self.clock.now())
            start = utc(_add_month(end.astimezone(CN_TZ), -1))
        else:
            start, end = self._date(p, "start_date"), self._date(p, "end_date")
        if end < start:
            raise BusinessError("end_date must not be before start_date", "结束时间不能早于开始时间")
        if end > _add_month(start.astimezone(CN_TZ)):
            raise BusinessError(
                "end_date - start_date must not exceed one month", "查询时间跨度不能超过一个月", E_WINDOW
            )
        by_created = str(p.get("dateType", "")) == "1"
        descending = str(p.get("sortType", "")) == "1"

        def search() -> list[tuple[datetime, str, OrderState]]:
            found = []
            for order in self.state.orders.values():
                state = state_for(order.status)
                when = _floor(order.created if by_created else order.modified)
                if state in states:
                    found.append((when, order.order_id, order))
            found.sort(key=lambda x: (x[0], int(x[1])))
            return found

        # Every order in the states, by date (memoised while no order changes); the dates
        # select a slice of it, both inclusive.
        ordered = self.state.selection(("order.search", tuple(states), by_created), search)
        found = ordered[bisect_left(ordered, start, key=_when) : bisect_right(ordered, end, key=_when)]
        if descending:
            found.reverse()
        chunk = found[(page - 1) * size : page * size]
        infos = [
            self._only(info, fields) for _, _, order in chunk if (info := self.order_info(order)) is not None
        ]
        return {
            "searchorderinfo_result": {
                "apiResult": {"success": True, "englishErrCode": "", "chineseErrCode": "", "numberCode": 0},
                "orderTotal": len(found),
                "orderInfoList": infos,
            }
        }

    def _listed_order(self, order_id: str) -> OrderState:
        order = self.state.order(order_id)
        if state_for(order.status) is None:
            raise SandboxError("order_not_found", f"order {order_id} does not exist")
        return order

    def _get_order(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        order = self._listed_order(str(_int(p, "order_id", low=1)))
        info = self.order_info(order)
        assert info is not None
        states = _values(p, "order_state")
        if states is not None and info["orderState"] not in states:
            raise SandboxError("order_not_found", f"order {order.order_id} is not in the states asked for")
        return {
            "orderDetailInfo": {
                "apiResult": {"success": True, "englishErrCode": "", "chineseErrCode": "", "numberCode": 0},
                "orderInfo": self._only(info, _values(p, "optional_fields")),
            }
        }

    def _ship(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        order = self._listed_order(str(_int(p, "order_id", low=1)))
        carrier, waybill = _text(p, "logiCoprId"), _text(p, "logiNo")
        shipped = order.status in (OrderStatus.SHIPPED, OrderStatus.COMPLETED)
        if not (shipped and order.tracking_number == waybill):  # a repeat changes nothing
            self.state.ship(order.order_id, carrier, waybill)
        return {
            "sopjosshipment_result": {
                "success": True,
                "chineseErrCode": "成功",
                "englishErrCode": "success",
                "errorCode": "",
            }
        }


def jd_sandbox(**config: Any) -> JdSandbox:
    """A JD sandbox; keyword arguments are :class:`~hub.simulator.SandboxConfig` fields."""
    from hub.simulator import SandboxConfig

    return JdSandbox(SandboxConfig(**config))


__all__ = ["GATEWAY_TEXT", "JdSandbox", "jd_sandbox"]
