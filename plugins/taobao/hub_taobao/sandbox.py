"""A stateful Taobao/Tmall shop behind TOP's real wire protocol.

Requests are what TOP receives: GET or POST to ``/router/rest`` with form/query
parameters. The sandbox checks them the way the router does and answers with TOP's
envelopes — ``{"<api>_response": {...}}`` in the nested (non-simplified) JSON shape, or
``{"error_response": {"code", "msg", "sub_code", "sub_msg", "request_id"}}``:

====  ====================================================================
21    method missing
28/29 app_key missing / unknown
24/25 sign missing / wrong (md5, hmac and hmac-sha256; md5 when sign_method is absent)
30/31 timestamp missing / unreadable or more than 10 minutes off (``yyyy-MM-dd HH:mm:ss``
      GMT+8, or epoch milliseconds as the console-generated Python SDK sends)
32-34 v missing / malformed / not 2.0
23    format other than json (the sandbox does not speak XML)
22    method unknown (any method the sandbox does not implement)
26/27 session missing / invalid (``invalid-sessionkey``) / expired (``session-expired``);
      taobao.top.auth.token.create/refresh need none
40/41 a required business parameter missing / out of range (``isv.*-parameter:<name>``)
15    a business rule refused the call (``isv.*`` sub_code)
7     throttled: "App Call Limited", "This ban will last for 1 more seconds"
====  ====================================================================

The checks run in that order: the signature before the timestamp, so a wrong secret is
always 25.

The shop lives in a platform-neutral :class:`~hub.simulator.ShopState`
(canonical statuses, fen, UTC); this module maps it to TOP's shapes: yuan strings,
Asia/Shanghai times, numeric ids, trade/sub-order statuses. An item without SKUs is
kept as one SKU whose id is the item's ``num_iid`` (:meth:`TaobaoSandbox.add_plain_item`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import httpx

from hub.models import AfterSaleType, OrderStatus
from hub.simulator import (
    ItemState,
    OrderLineState,
    OrderState,
    SandboxApp,
    SandboxConfig,
    SandboxError,
    ShopState,
    SkuState,
    numeric_ids,
)
from hub.simulator.pushes import OrderFeed
from hub.units import CN_FORMAT, CN_TZ, fen_to_yuan, format_cn_time, from_unix, utc, yuan_to_fen
from hub_taobao import PLATFORM
from hub_taobao import aftersales as refunds
from hub_taobao.signing import SIGN_METHODS, verify

# Canonical status -> TOP trade status. A closed trade is TRADE_CLOSED_BY_TAOBAO when it
# was never paid and TRADE_CLOSED (full refund) when it was.
_TRADE_STATUS = {
    OrderStatus.PENDING_PAYMENT: "WAIT_BUYER_PAY",
    OrderStatus.AWAITING_SHIPMENT: "WAIT_SELLER_SEND_GOODS",
    OrderStatus.PARTLY_SHIPPED: "SELLER_CONSIGNED_PART",
    OrderStatus.SHIPPED: "WAIT_BUYER_CONFIRM_GOODS",
    OrderStatus.COMPLETED: "TRADE_FINISHED",
    OrderStatus.REFUNDED: "TRADE_CLOSED",
}
# The TMC topic announcing an order's later statuses (its first: TradeCreate).
_TMC_TOPICS = {
    OrderStatus.AWAITING_SHIPMENT: "taobao_trade_TradeBuyerPay",
    OrderStatus.PARTLY_SHIPPED: "taobao_trade_TradeSellerShip",
    OrderStatus.SHIPPED: "taobao_trade_TradeSellerShip",
    OrderStatus.COMPLETED: "taobao_trade_TradeSuccess",
    OrderStatus.CANCELLED: "taobao_trade_TradeClose",
    OrderStatus.REFUNDED: "taobao_refund_RefundSuccess",
}
_PLATFORM_STATUS = {
    "TRADE_NO_CREATE_PAY",
    "WAIT_BUYER_PAY",
    "SELLER_CONSIGNED_PART",
    "WAIT_SELLER_SEND_GOODS",
    "WAIT_BUYER_CONFIRM_GOODS",
    "TRADE_BUYER_SIGNED",
    "TRADE_FINISHED",
    "TRADE_CLOSED",
    "TRADE_CLOSED_BY_TAOBAO",
    "PAY_PENDING",
    "WAIT_PRE_AUTH_CONFIRM",
    "PAID_FORBID_CONSIGN",
}
_KNOWN_PIDS = {"颜色": 1627207, "颜色分类": 1627207, "尺码": 20509}
_ORDER_BY = {
    "list_time": lambda item: item.created,
    "delist_time": lambda item: item.created + timedelta(days=7),
    "modified": lambda item: item.modified.replace(microsecond=0),
    "num": lambda item: item.quantity,
    "sold_quantity": lambda item: 0,
}
_BANNERS = {
    "for_shelved": {"off_shelf", "never_on_shelf", "regular_shelved"},
    "off_shelf": {"off_shelf"},
    "never_on_shelf": {"never_on_shelf"},
    "regular_shelved": {"regular_shelved"},
    "sold_out": {"sold_out"},
    "violation_off_shelf": {"violation_off_shelf"},
}
_YUAN = re.compile(r"^\d{1,9}(\.\d{1,2})?$")


class TopError(Exception):
    """An ``error_response`` the sandbox answers with."""

    def __init__(self, code: int, msg: str, sub_code: str | None = None, sub_msg: str | None = None):
        super().__init__(msg)
        self.code, self.msg, self.sub_code, self.sub_msg = code, msg, sub_code, sub_msg


def _missing(name: str) -> TopError:
    return TopError(
        40, f"Missing Required Arguments:{name}", f"isv.missing-parameter:{name}", f"{name} is required"
    )


def _invalid(name: str, why: str) -> TopError:
    return TopError(41, f"Invalid Arguments:{name}", f"isv.invalid-parameter:{name}", why)


def _refused(sub_code: str, why: str) -> TopError:
    return TopError(15, "Remote service error", sub_code, why)


class TaobaoSandbox(SandboxApp):
    """The TOP router of one sandbox shop; see the module docstring."""

    platform: ClassVar[str] = PLATFORM
    gateway_path: ClassVar[str] = "/router/rest"

    max_skew: ClassVar[timedelta] = timedelta(minutes=10)
    max_trade_span: ClassVar[timedelta] = timedelta(days=1)
    #: "only trades of the last three months"; 90 days here
    trade_history: ClassVar[timedelta] = timedelta(days=90)
    max_item_page_size: ClassVar[int] = 200
    max_trade_page_size: ClassVar[int] = 100
    max_skus_read: ClassVar[int] = 40
    max_skus_write: ClassVar[int] = 20
    #: methods the router serves without a ``session`` (the app itself is the caller)
    _sessionless: ClassVar[frozenset[str]] = frozenset(
        {"taobao.top.auth.token.refresh", "taobao.top.auth.token.create"}
    )
    #: how long an authorisation code from :meth:`TaobaoSandbox.authorization_code` is good for
    auth_code_ttl: ClassVar[timedelta] = timedelta(minutes=10)
    inventory_max_pages: ClassVar[int] = 101

    def __init__(self, config: SandboxConfig | None = None):
        super().__init__(config)
        #: items.onsale.get refuses page_no * page_size beyond this (tests lower it)
        self.onsale_max_rows = 20_000
        #: emulate list answers that carry no sub-orders (callers then need trade.fullinfo.get)
        self.increment_partial = False
        self.item_prices: dict[str, int] = {}  # explicit item prices (fen) of items with SKUs
        self.auth_codes: dict[str, datetime] = {}  # authorisation code -> valid until
        self.line_shipments: dict[str, tuple[str, str]] = {}  # oid -> (company_code, out_sid)
        self._pids: dict[str, int] = dict(_KNOWN_PIDS)
        self._vids: dict[tuple[str, str], int] = {}
        for item in self.state.items.values():
            for sku in item.skus.values():
                if not self.is_plain(sku):
                    derived = self._derive_properties(sku.spec)
                    if derived and derived not in {s.properties for s in item.skus.values()}:
                        sku.properties = derived
        self._methods: dict[str, Callable[[dict[str, str]], dict[str, Any]]] = {
            "taobao.items.onsale.get": self._items_onsale_get,
            "taobao.items.inventory.get": self._items_inventory_get,
            "taobao.item.skus.get": self._item_skus_get,
            "taobao.item.seller.get": self._item_seller_get,
            "taobao.item.quantity.update": self._item_quantity_update,
            "taobao.skus.quantity.update": self._skus_quantity_update,
            "taobao.item.sku.price.update": self._item_sku_price_update,
            "taobao.item.update": self._item_update,
            "taobao.trades.sold.increment.get": self._trades_sold_increment_get,
            "taobao.trades.sold.get": self._trades_sold_get,
            "taobao.refunds.receive.get": self._refunds_receive_get,
            "taobao.item.sku.get": self._item_sku_get,
            "taobao.top.auth.token.refresh": self._token_refresh,
            "taobao.top.auth.token.create": self._token_create,
            "taobao.trade.fullinfo.get": self._trade_fullinfo_get,
            "taobao.logistics.offline.send": self._logistics_offline_send,
            "taobao.tmc.user.permit": self._tmc_user_permit,
            "taobao.tmc.messages.consume": self._tmc_messages_consume,
            "taobao.tmc.messages.confirm": self._tmc_messages_confirm,
        }
        #: TMC: the seller's trade messages, from ``taobao.tmc.user.permit`` on; a consumed
        #: message stays until it is confirmed (consumed again: redelivered)
        self.tmc_permitted = False
        self.tmc_queue: dict[str, dict[str, Any]] = {}
        self._tmc_feed: OrderFeed | None = None
        self._tmc_ids = numeric_ids(7_000_000_001)

    # --- shop state ------------------------------------------------------------------------------

    def new_state(self) -> ShopState:
        """Ids in TOP's styles: 12-digit num_iid, 13-digit sku_id, 19-digit tid and oid."""
        return ShopState(
            self.clock,
            new_item_id=numeric_ids(600_000_000_001),
            new_sku_id=numeric_ids(4_000_000_000_001),
            new_order_id=numeric_ids(3_500_000_000_000_000_001),
            new_line_id=numeric_ids(3_600_000_000_000_000_001),
        )

    def add_plain_item(
        self, title: str, code: str | None, *, price: int, quantity: int, on_sale: bool = True
    ) -> SkuState:
        """An item without SKUs, kept as one SKU whose id is the num_iid."""
        with self.state.lock:
            item = self.state.add_item(title, code, on_sale=on_sale)
            sku = SkuState(item.item_id, item.item_id, code, "", price, quantity, self.clock.now())
            item.skus[sku.sku_id] = sku
            self.state.skus[sku.sku_id] = sku
            return sku

    @staticmethod
    def is_plain(sku: SkuState) -> bool:
        return sku.sku_id == sku.item_id

    def item_price(self, item: ItemState) -> int:
        """The item's own price: the plain SKU's, else the explicit one, else the lowest SKU's."""
        skus = list(item.skus.values())
        if len(skus) == 1 and self.is_plain(skus[0]):
            return skus[0].price
        return self.item_prices.get(item.item_id) or min((s.price for s in skus), default=0)

    def trade_status(self, order: OrderState) -> str:
        """The TOP status of a trade."""
        if order.status is OrderStatus.CANCELLED:
            return "TRADE_CLOSED" if order.paid_at is not None else "TRADE_CLOSED_BY_TAOBAO"
        return _TRADE_STATUS[order.status]

    def _derive_properties(self, spec: str) -> str:
        pairs = [p.split(":", 1) for p in spec.split(";") if p.strip()]
        if not pairs or any(len(p) != 2 or not p[0] or not p[1] for p in pairs):
            return ""
        out = []
        for name, value in pairs:
            pid = self._pids.setdefault(name, 100_000 + len(self._pids))
            vid = self._vids.setdefault((name, value), 3_000_001 + len(self._vids))
            out.append(f"{pid}:{vid}")
        return ";".join(out)

    def properties(self, sku: SkuState) -> str:
        """The SKU's property string (``pid:vid;…``), assigned on first use for SKUs added
        after start-up without one."""
        if not sku.properties and not self.is_plain(sku):
            item = self.state.items[sku.item_id]
            taken = {s.properties for s in item.skus.values()}
            derived = self._derive_properties(sku.spec)
            number = len(item.skus)
            while not derived or derived in taken:
                number += 1
                derived = f"1627207:{number}"
            sku.properties = derived
        return sku.properties

    def _properties_name(self, sku: SkuState) -> str:
        props = self.properties(sku).split(";")
        specs = [p.split(":", 1) for p in sku.spec.split(";") if p.strip()]
        if len(props) == len(specs) and all(len(s) == 2 for s in specs):
            return ";".join(f"{p}:{s[0]}:{s[1]}" for p, s in zip(props, specs, strict=True))
        return ";".join(f"{p}:规格:{sku.spec or '默认'}" for p in props)

    # --- protocol --------------------------------------------------------------------------------

    def throttled(self, request: httpx.Request) -> httpx.Response:
        return self._error(
            TopError(
                7,
                "App Call Limited",
                "accesscontrol.limited-by-api-access-count",
                "This ban will last for 1 more seconds",
            )
        )

    def _error(self, error: TopError) -> httpx.Response:
        body: dict[str, Any] = {"code": error.code, "msg": error.msg}
        if error.sub_code:
            body["sub_code"] = error.sub_code
        if error.sub_msg:
            body["sub_msg"] = error.sub_msg
        body["request_id"] = self.request_id(self.rng)
        return self.json_response({"error_response": body})

    @staticmethod
    def read_params(request: httpx.Request) -> dict[str, str]:
        """Query parameters plus a form body, as the router reads them (values decoded as UTF-8)."""
        params = dict(request.url.params.multi_items())
        ctype = request.headers.get("content-type", "").lower()
        if (
            request.method == "POST"
            and request.content
            and (not ctype or "application/x-www-form-urlencoded" in ctype)
        ):
            body = request.content.decode("utf-8", "replace")
            params.update(parse_qsl(body, keep_blank_values=True))
        return params

    def handle(self, request: httpx.Request) -> httpx.Response:
        try:
            if request.method not in ("GET", "POST"):
                raise TopError(9, "Http Action Not Allowed", None, "use POST or GET")
            params = self.read_params(request)
            method = params.get("method", "")
            if method:
                self.calls[method] += 1
            self._check_system(params)
            payload = self._methods[method](params)
        except TopError as error:
            return self._error(error)
        except SandboxError as exc:
            return self._error(self._business_error(exc))
        payload["request_id"] = self.request_id(self.rng)
        key = method.removeprefix("taobao.").replace(".", "_") + "_response"
        if params.get("simplify") == "true":
            return self.json_response(_simplified(payload))
        return self.json_response({key: payload})

    def _check_system(self, p: dict[str, str]) -> None:
        """The router's checks, in its order: who is calling (method, app key), whether the
        request is genuinely theirs (signature), and only then whether it is fresh
        (timestamp) and well-formed. A wrong secret is therefore always 25, whatever
        timestamp form the SDK sends."""
        if not p.get("method"):
            raise TopError(21, "Missing Method")
        if not p.get("app_key"):
            raise TopError(28, "Missing App Key")
        if p["app_key"] != self.credentials.app_key:
            raise TopError(29, "Invalid App Key")
        if not p.get("sign"):
            raise TopError(24, "Missing Signature")
        sign_method = p.get("sign_method") or "md5"  # md5 when absent, as the SDKs assume
        if sign_method not in SIGN_METHODS:
            raise TopError(25, "Invalid Signature", None, "sign_method must be md5, hmac or hmac-sha256")
        if not verify(self.credentials.app_secret, p, sign_method, p["sign"]):
            raise TopError(25, "Invalid Signature")
        if not p.get("timestamp"):
            raise TopError(30, "Missing Timestamp")
        sent = self._sent_at(p["timestamp"])
        if abs(sent - self.clock.now()) > self.max_skew:
            raise TopError(
                31, "Invalid Timestamp", None, "timestamp is more than 10 minutes off the server time"
            )
        if not p.get("v"):
            raise TopError(32, "Missing Version")
        if not re.fullmatch(r"\d+\.\d+", p["v"]):
            raise TopError(33, "Invalid Version")
        if p["v"] != "2.0":
            raise TopError(34, "Unsupported Version")
        if p.get("format", "xml") != "json":
            raise TopError(23, "Invalid Format", None, "this sandbox answers format=json only")
        if p["method"] not in self._methods:
            raise TopError(22, "Invalid Method")
        if p["method"] in self._sessionless:
            return
        verdict = self.credentials.check(p.get("session"))
        if verdict == "missing":
            raise TopError(26, "Missing Session")
        if verdict == "invalid":
            raise TopError(27, "Invalid session", "invalid-sessionkey")
        if verdict == "expired":
            raise TopError(27, "Invalid session:session-expired", "session-expired")

    @staticmethod
    def _sent_at(text: str) -> datetime:
        """``timestamp`` in either form TOP takes: the documented ``yyyy-MM-dd HH:mm:ss``
        (GMT+8), or epoch milliseconds, which the Python SDK the TOP console generates
        sends (``str(int(time.time() * 1000))``)."""
        if text.isdigit() and len(text) == 13:
            return from_unix(int(text) / 1000)
        try:
            return utc(datetime.strptime(text, CN_FORMAT).replace(tzinfo=CN_TZ))
        except ValueError:
            raise TopError(
                31,
                "Invalid Timestamp",
                None,
                "timestamp must be yyyy-MM-dd HH:mm:ss (GMT+8) or epoch milliseconds",
            ) from None

    @staticmethod
    def _business_error(exc: SandboxError) -> TopError:
        if exc.code == "item_not_found":
            return _refused("isv.item-not-exist:invalid-numIid", exc.message)
        if exc.code == "sku_not_found":
            return _refused("isv.sku-not-exist:invalid-skuId", exc.message)
        if exc.code == "order_not_found":
            return _refused("isv.trade-not-exist:invalid-tid", exc.message)
        if exc.parameter:
            return _refused(f"isv.invalid-parameter:{exc.parameter}", exc.message)
        return _refused(f"isv.{exc.code.replace('_', '-')}", exc.message)

    # --- parameter helpers ----------------------------------------------------------------------------

    @staticmethod
    def _required(p: dict[str, str], name: str) -> str:
        value = p.get(name, "")
        if not value:
            raise _missing(name)
        return value

    @staticmethod
    def _int(p: dict[str, str], name: str, default: int, low: int, high: int | None = None) -> int:
        raw = p.get(name, "")
        if raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise _invalid(name, f"{name} must be a whole number") from None
        if value < low or (high is not None and value > high):
            upper = f"..{high}" if high is not None else " or more"
            raise _invalid(name, f"{name} must be {low}{upper}")
        return value

    @staticmethod
    def _time(p: dict[str, str], name: str, *, required: bool) -> datetime | None:
        raw = p.get(name, "")
        if not raw:
            if required:
                raise _missing(name)
            return None
        try:
            return utc(datetime.strptime(raw, CN_FORMAT).replace(tzinfo=CN_TZ))
        except ValueError:
            raise _invalid(name, f"{name} must be yyyy-MM-dd HH:mm:ss") from None

    @staticmethod
    def _fields(p: dict[str, str]) -> set[str]:
        raw = p.get("fields", "")
        if not raw:
            raise _missing("fields")
        return {f.strip() for f in raw.split(",") if f.strip()}

    @staticmethod
    def _yuan(p: dict[str, str], name: str) -> int | None:
        raw = p.get(name, "")
        if not raw:
            return None
        if not _YUAN.match(raw) or yuan_to_fen(raw) <= 0:
            raise _invalid(name, f"{name} must be a positive yuan amount with at most 2 decimals")
        return yuan_to_fen(raw)

    def _item(self, num_iid: str) -> ItemState:
        item = self.state.items.get(num_iid)
        if item is None:
            raise _refused("isv.item-not-exist:invalid-numIid", f"item {num_iid} does not exist")
        return item

    # --- items and SKUs ---------------------------------------------------------------------------------

    def _item_json(self, item: ItemState, fields: set[str]) -> dict[str, Any]:
        full: dict[str, Any] = {
            "num_iid": int(item.item_id),
            "title": item.title,
            "nick": "sandbox_shop",
            "type": "fixed",
            "cid": 50010850,
            "num": item.quantity,
            "price": fen_to_yuan(self.item_price(item)),
            "approve_status": "onsale" if item.on_sale else "instock",
            "list_time": format_cn_time(item.created),
            "modified": format_cn_time(item.modified),
            "delist_time": format_cn_time(item.created + timedelta(days=7)),
        }
        if item.code:
            full["outer_id"] = item.code
        out = {k: v for k, v in full.items() if k in fields}
        if "skus" in fields or "sku" in fields:
            skus = [self._sku_json(s, set()) for s in item.skus.values() if not self.is_plain(s)]
            if skus:
                out["skus"] = {"sku": skus}
        return out

    def _sku_json(self, sku: SkuState, fields: set[str]) -> dict[str, Any]:
        full: dict[str, Any] = {
            "sku_id": int(sku.sku_id),
            "num_iid": int(sku.item_id),
            "quantity": sku.quantity,
            "price": fen_to_yuan(sku.price),
            "properties": self.properties(sku),
            "properties_name": self._properties_name(sku),
            "status": "normal",
            "modified": format_cn_time(sku.modified),
            "created": format_cn_time(sku.modified),
        }
        if sku.code:
            full["outer_id"] = sku.code
        return {k: v for k, v in full.items() if not fields or k in fields}

    def _banner(self, item: ItemState) -> str:
        return "sold_out" if item.quantity == 0 else "off_shelf"

    def _item_list(
        self, p: dict[str, str], items: list[ItemState], *, max_rows: int | None, max_pages: int | None
    ) -> dict[str, Any]:
        fields = self._fields(p)
        page = self._int(p, "page_no", 1, 1, max_pages)
        size = self._int(p, "page_size", 40, 1, self.max_item_page_size)
        if max_rows is not None and page * size > max_rows:
            raise _refused(
                "isv.invalid-parameter:page_no",
                f"page_no*page_size may not exceed {max_rows}; narrow start_modified/end_modified",
            )
        start = self._time(p, "start_modified", required=False)
        end = self._time(p, "end_modified", required=False)
        if start is not None:
            items = [i for i in items if i.modified.replace(microsecond=0) >= start]
        if end is not None:
            items = [i for i in items if i.modified.replace(microsecond=0) <= end]
        field_name, _, direction = (p.get("order_by") or "list_time:desc").partition(":")
        if field_name not in _ORDER_BY or direction not in ("asc", "desc", ""):
            raise _invalid(
                "order_by",
                "order_by must be list_time, delist_time, num, modified or sold_quantity with :asc or :desc",
            )
        key = _ORDER_BY[field_name]
        items = sorted(items, key=lambda i: int(i.item_id))  # stable tie-break
        items.sort(key=key, reverse=direction == "desc")
        chunk = items[(page - 1) * size : page * size]
        out: dict[str, Any] = {"total_results": len(items)}
        if chunk:
            out["items"] = {"item": [self._item_json(i, fields) for i in chunk]}
        return out

    def _items_onsale_get(self, p: dict[str, str]) -> dict[str, Any]:
        items = [i for i in self.state.items.values() if i.on_sale]
        return self._item_list(p, items, max_rows=self.onsale_max_rows, max_pages=None)

    def _items_inventory_get(self, p: dict[str, str]) -> dict[str, Any]:
        wanted: set[str] = set()
        for banner in (p.get("banner") or "for_shelved").split(","):
            if banner not in _BANNERS:
                raise _invalid("banner", f"unknown banner {banner!r}")
            wanted |= _BANNERS[banner]
        items = [i for i in self.state.items.values() if not i.on_sale and self._banner(i) in wanted]
        return self._item_list(p, items, max_rows=None, max_pages=self.inventory_max_pages)

    def _item_skus_get(self, p: dict[str, str]) -> dict[str, Any]:
        fields = self._fields(p)
        ids = [x.strip() for x in self._required(p, "num_iids").split(",") if x.strip()]
        if len(ids) > self.max_skus_read:
            raise _invalid("num_iids", f"at most {self.max_skus_read} num_iids per call")
        if not all(x.isdigit() for x in ids):
            raise _invalid("num_iids", "num_iids must be numbers")
        skus = [
            self._sku_json(s, fields)
            for x in ids
            if x in self.state.items
            for s in self.state.items[x].skus.values()
            if not self.is_plain(s)
        ]
        return {"skus": {"sku": skus}} if skus else {}

    def _item_seller_get(self, p: dict[str, str]) -> dict[str, Any]:
        fields = self._fields(p)
        return {"item": self._item_json(self._item(self._required(p, "num_iid")), fields)}

    def _item_sku_get(self, p: dict[str, str]) -> dict[str, Any]:
        fields = self._fields(p)
        sku_id = self._required(p, "sku_id")
        sku = self.state.skus.get(sku_id)
        if sku is None or self.is_plain(sku) or (p.get("num_iid") and p["num_iid"] != sku.item_id):
            raise _refused("isv.sku-not-exist:invalid-skuId", f"SKU {sku_id} does not exist")
        return {"sku": self._sku_json(sku, fields)}

    # --- stock -------------------------------------------------------------------------------------------

    def _stock_type(self, p: dict[str, str]) -> int:
        return self._int(p, "type", 1, 1, 2)  # 1 = full (default), 2 = delta

    def _apply_stock(self, sku: SkuState, quantity: int, kind: int) -> None:
        if kind == 1:
            self.state.set_quantity(sku.sku_id, quantity)
        else:
            self.state.add_quantity(sku.sku_id, quantity)

    def _stock_answer(self, item: ItemState, skus: Iterable[SkuState]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "num_iid": int(item.item_id),
            "num": item.quantity,
            "modified": format_cn_time(item.modified),
        }
        rows = [
            {"sku_id": int(s.sku_id), "quantity": s.quantity, "modified": format_cn_time(s.modified)}
            for s in skus
            if not self.is_plain(s)
        ]
        if rows:
            out["skus"] = {"sku": rows}
        return {"item": out}

    def _item_quantity_update(self, p: dict[str, str]) -> dict[str, Any]:
        item = self._item(self._required(p, "num_iid"))
        raw_quantity = self._required(p, "quantity")
        kind = self._stock_type(p)
        try:
            quantity = int(raw_quantity)
        except ValueError:
            raise _invalid("quantity", "quantity must be a whole number") from None
        if kind == 1 and quantity < 0:
            raise _invalid("quantity", "a full update (type=1) cannot be negative")
        skus = list(item.skus.values())
        if len(skus) == 1 and self.is_plain(skus[0]):
            targets = skus
        elif p.get("sku_id"):
            sku = item.skus.get(p["sku_id"])
            if sku is None:
                raise _refused(
                    "isv.sku-not-exist:invalid-skuId", f"item {item.item_id} has no SKU {p['sku_id']}"
                )
            targets = [sku]
        elif p.get("outer_id"):
            targets = [s for s in skus if s.code == p["outer_id"]]
            if not targets:
                raise _refused("isv.sku-not-exist:invalid-outerId", f"no SKU with outer_id {p['outer_id']}")
        else:
            raise _refused("isv.invalid-parameter:sku_id", "the item has SKUs: give sku_id or outer_id")
        with self.state.lock:
            for sku in targets:
                self._apply_stock(sku, quantity, kind)
        return self._stock_answer(item, targets)

    def _skus_quantity_update(self, p: dict[str, str]) -> dict[str, Any]:
        item = self._item(self._required(p, "num_iid"))
        kind = self._stock_type(p)
        by_id, name = p.get("skuid_quantities", ""), "skuid_quantities"
        if not by_id:
            by_id, name = p.get("outerid_quantities", ""), "outerid_quantities"
            if not by_id:
                raise _missing("skuid_quantities")
        pairs = []
        for part in filter(None, by_id.split(";")):
            key, sep, raw = part.partition(":")
            try:
                pairs.append((key.strip(), int(raw)))
            except ValueError:
                raise _invalid(name, f"{name} must look like id:quantity;id:quantity") from None
            if not sep or not key.strip():
                raise _invalid(name, f"{name} must look like id:quantity;id:quantity")
        if not pairs or len(pairs) > self.max_skus_write:
            raise _invalid(name, f"1..{self.max_skus_write} SKUs per call")
        plan: list[tuple[SkuState, int]] = []
        for key, quantity in pairs:
            if kind == 1 and quantity < 0:
                raise _invalid(name, "a full update (type=1) cannot be negative")
            if name == "skuid_quantities":
                matched = [item.skus[key]] if key in item.skus and not self.is_plain(item.skus[key]) else []
            else:
                matched = [s for s in item.skus.values() if s.code == key and not self.is_plain(s)]
            if not matched:
                raise _refused("isv.sku-not-exist:invalid-skuId", f"item {item.item_id} has no SKU {key}")
            plan += [(s, quantity) for s in matched]
        with self.state.lock:  # all or nothing: everything was validated above
            for sku, quantity in plan:
                self._apply_stock(sku, quantity, kind)
        touched = {s.sku_id: s for s, _ in plan}
        return self._stock_answer(item, touched.values())

    # --- prices ------------------------------------------------------------------------------------------

    def _item_sku_price_update(self, p: dict[str, str]) -> dict[str, Any]:
        item = self._item(self._required(p, "num_iid"))
        properties = self._required(p, "properties")
        price = self._yuan(p, "price")
        item_price = self._yuan(p, "item_price")
        quantity = self._int(p, "quantity", -1, 0) if p.get("quantity") else None
        sku = next(
            (s for s in item.skus.values() if not self.is_plain(s) and self.properties(s) == properties), None
        )
        if sku is None:
            raise _refused(
                "isv.sku-not-exist:invalid-properties", f"item {item.item_id} has no SKU {properties}"
            )
        new_prices = [price if s is sku and price is not None else s.price for s in item.skus.values()]
        shown = item_price if item_price is not None else self.item_price(item)
        if not min(new_prices) <= shown <= max(new_prices):
            raise _refused(
                "isv.item-price-out-of-sku-range",
                "the item price must lie within the SKU price range; pass item_price",
            )
        with self.state.lock:
            if price is not None:
                self.state.set_price(sku.sku_id, price)
            if item_price is not None:
                self.item_prices[item.item_id] = item_price
            if quantity is not None:
                self.state.set_quantity(sku.sku_id, quantity)
            if p.get("outer_id"):
                sku.code = p["outer_id"]
        return {
            "sku": {
                "sku_id": int(sku.sku_id),
                "num_iid": int(item.item_id),
                "properties": sku.properties,
                "price": fen_to_yuan(sku.price),
                "quantity": sku.quantity,
                "modified": format_cn_time(sku.modified),
            }
        }

    def _item_update(self, p: dict[str, str]) -> dict[str, Any]:
        item = self._item(self._required(p, "num_iid"))
        price = self._yuan(p, "price")
        if price is not None:
            skus = list(item.skus.values())
            if len(skus) == 1 and self.is_plain(skus[0]):
                self.state.set_price(skus[0].sku_id, price)
            else:
                prices = [s.price for s in skus]
                if not min(prices) <= price <= max(prices):
                    raise _refused(
                        "isv.item-price-out-of-sku-range",
                        "the item price must lie within the SKU price range",
                    )
                self.item_prices[item.item_id] = price
                item.modified = self.clock.now()
        return {"item": {"num_iid": int(item.item_id), "modified": format_cn_time(item.modified)}}

    # --- trades ------------------------------------------------------------------------------------------

    def _line_json(self, order: OrderState, line: OrderLineState, status: str) -> dict[str, Any]:
        sku = self.state.skus.get(line.sku_id)
        item = self.state.items.get(line.item_id)
        plain = line.sku_id == line.item_id
        if order.status is OrderStatus.PARTLY_SHIPPED:
            status = "WAIT_BUYER_CONFIRM_GOODS" if line.shipped else "WAIT_SELLER_SEND_GOODS"
        if line.refunded:
            status = "TRADE_CLOSED"  # a refunded sub-order is closed, whatever its trade does
        out: dict[str, Any] = {
            "oid": int(line.line_id),
            "status": status,
            "num_iid": int(line.item_id),
            "title": line.title,
            "num": line.quantity,
            "price": fen_to_yuan(line.unit_price),
            "total_fee": fen_to_yuan(line.unit_price * line.quantity),
            "payment": fen_to_yuan(line.unit_price * line.quantity),
        }
        if not plain:
            out["sku_id"] = line.sku_id  # TOP sends the sub-order's sku_id as a string
            if sku is not None:
                out["sku_properties_name"] = self._properties_name(sku)
            if line.code:
                out["outer_sku_id"] = line.code
        if item is not None and item.code:
            out["outer_iid"] = item.code
        elif plain and line.code:
            out["outer_iid"] = line.code
        if line.refunded:
            out["refund_status"] = "SUCCESS"
        if line.shipped:
            company, tracking = self.line_shipments.get(
                line.line_id, (order.carrier or "", order.tracking_number or "")
            )
            if tracking:
                out["invoice_no"], out["logistics_company"] = tracking, company
        return out

    def _trade_json(self, order: OrderState, fields: set[str], *, with_orders: bool = True) -> dict[str, Any]:
        status = self.trade_status(order)
        total = fen_to_yuan(order.total)
        full: dict[str, Any] = {
            "tid": int(order.order_id),
            "status": status,
            "type": "fixed",
            "created": format_cn_time(order.created),
            "modified": format_cn_time(order.modified),
            "total_fee": total,
            "payment": total,
            "post_fee": "0.00",
            "buyer_open_uid": f"AAH{order.buyer}",
        }
        if order.paid_at is not None:
            full["pay_time"] = format_cn_time(order.paid_at)
        shipping = (OrderStatus.SHIPPED, OrderStatus.PARTLY_SHIPPED)
        shipped_at = next((at for at, s in order.history if s in shipping), None)
        if shipped_at is not None:
            full["consign_time"] = format_cn_time(shipped_at)
        if order.status in (OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.REFUNDED):
            full["end_time"] = format_cn_time(order.modified)
        out = {k: v for k, v in full.items() if k in fields}
        sub_fields = {f.split(".", 1)[1] for f in fields if f.startswith("orders.")}
        if with_orders and ("orders" in fields or sub_fields):
            rows = [self._line_json(order, line, status) for line in order.lines]
            if sub_fields and "orders" not in fields:
                rows = [{k: v for k, v in row.items() if k in sub_fields} for row in rows]
            out["orders"] = {"order": rows}
        return out

    def _trades_sold_increment_get(self, p: dict[str, str]) -> dict[str, Any]:
        start = self._time(p, "start_modified", required=True)
        end = self._time(p, "end_modified", required=True)
        assert start is not None and end is not None
        if end < start:
            raise _refused(
                "isv.invalid-parameter:end_modified", "end_modified must not be before start_modified"
            )
        if end - start > self.max_trade_span:
            raise _refused(
                "isv.invalid-parameter:end_modified", "end_modified - start_modified may not exceed one day"
            )
        if start < self.clock.now() - self.trade_history:
            raise _refused("isv.invalid-parameter:start_modified", "only trades of the last three months")
        return self._trade_page(p, "modified", start, end, partial=self.increment_partial)

    def _trades_sold_get(self, p: dict[str, str]) -> dict[str, Any]:
        """Trades by creation time, newest first; both bounds optional. Only the last three
        months are searched, whatever ``start_created`` says."""
        now = self.clock.now()
        start = self._time(p, "start_created", required=False) or now - self.trade_history
        end = self._time(p, "end_created", required=False) or now
        if end < start:
            raise _refused(
                "isv.invalid-parameter:end_created", "end_created must not be before start_created"
            )
        return self._trade_page(p, "created", max(start, now - self.trade_history), end, partial=False)

    def _trade_page(
        self, p: dict[str, str], attribute: str, start: datetime, end: datetime, *, partial: bool
    ) -> dict[str, Any]:
        """One page of trades whose ``attribute`` (modified or created) lies in [start, end],
        newest first, with the paging of the trades.sold.* APIs."""
        fields = self._fields(p)
        page = self._int(p, "page_no", 1, 1)
        size = self._int(p, "page_size", 40, 1, self.max_trade_page_size)
        status = p.get("status")
        if status and status not in _PLATFORM_STATUS:
            raise _invalid("status", f"unknown trade status {status!r}")
        types = set(filter(None, (p.get("type") or "").split(",")))
        # TOP compares whole seconds and includes both ends: start <= second(time) <= end.
        until = end + timedelta(seconds=1)
        any_type = not types or bool(types & {"fixed", "guarantee_trade"})

        def search() -> list[OrderState]:
            trades = [
                o
                for o in self.state.orders.values()
                if start <= getattr(o, attribute) < until
                and (not status or self.trade_status(o) == status)
                and any_type
            ]
            trades.sort(
                key=lambda o: (getattr(o, attribute).replace(microsecond=0), int(o.order_id)), reverse=True
            )
            return trades

        with self.state.lock:
            key = (f"trades.sold.{attribute}", start, until, status, any_type)
            trades = self.state.selection(key, search)
            chunk = trades[(page - 1) * size : page * size]
            rows = [self._trade_json(o, fields, with_orders=not partial) for o in chunk]
        out: dict[str, Any] = {}
        if p.get("use_has_next") == "true":
            out["has_next"] = page * size < len(trades)
        else:
            out["total_results"] = len(trades)
        if rows:
            out["trades"] = {"trade": rows}
        return out

    def _refunds_receive_get(self, p: dict[str, str]) -> dict[str, Any]:
        """Refunds the seller received, by modified time (both ends included, whole seconds),
        newest first, paged like trades; exchanges are not refunds and are left out."""
        fields = self._fields(p)
        start = self._time(p, "start_modified", required=False) or datetime.min.replace(tzinfo=UTC)
        end = self._time(p, "end_modified", required=False) or self.clock.now()
        page = self._int(p, "page_no", 1, 1)
        size = self._int(p, "page_size", 40, 1, self.max_trade_page_size)
        status = p.get("status")
        if status and status not in refunds.STATUS:
            raise _invalid("status", f"unknown refund status {status!r}")
        cases = [
            c
            for c in self.state.after_sales.modified(start, end + timedelta(seconds=1))
            if c.kind is not AfterSaleType.EXCHANGE and (not status or refunds.TOP_STATUS[c.status] == status)
        ]
        cases.sort(key=lambda c: (c.modified.replace(microsecond=0), int(c.case_id)), reverse=True)
        rows = [refunds.refund_json(c, fields) for c in cases[(page - 1) * size : page * size]]
        out: dict[str, Any] = (
            {"has_next": page * size < len(cases)}
            if p.get("use_has_next") == "true"
            else {"total_results": len(cases)}
        )
        if rows:
            out["refunds"] = {"refund": rows}
        return out

    def _trade_fullinfo_get(self, p: dict[str, str]) -> dict[str, Any]:
        fields = self._fields(p)
        tid = self._required(p, "tid")
        with self.state.lock:
            order = self.state.orders.get(tid)
            if order is None:
                raise _refused("isv.trade-not-exist:invalid-tid", f"trade {tid} does not exist")
            return {"trade": self._trade_json(order, fields)}

    # --- TMC (fact sheet §1.10) ----------------------------------------------------------------

    def _tmc_user_permit(self, p: dict[str, str]) -> dict[str, Any]:
        if not self.tmc_permitted:
            self.tmc_permitted = True
            self._tmc_feed = OrderFeed(self.state)
        return {"is_success": True}

    def _tmc_collect(self) -> None:
        if self._tmc_feed is None:
            return
        for change in self._tmc_feed.new():
            topic = (
                _TMC_TOPICS.get(change.status, "taobao_trade_TradeChanged")
                if change.seq
                else ("taobao_trade_TradeCreate")
            )
            msg_id = self._tmc_ids()
            self.tmc_queue[msg_id] = {
                "id": int(msg_id),
                "topic": topic,
                "content": json.dumps({"tid": int(change.order.order_id), "seller_nick": "sandbox"}),
                "pub_time": self.clock.now().astimezone(CN_TZ).strftime(CN_FORMAT),
                "pub_app_key": self.credentials.app_key,
                "user_id": 1,
                "user_nick": "sandbox",
            }

    def _tmc_messages_consume(self, p: dict[str, str]) -> dict[str, Any]:
        quantity = int(p.get("quantity") or 100)
        if not 10 <= quantity <= 200:
            raise TopError(41, "Invalid Arguments", "isv.invalid-parameter:quantity", "quantity is 10-200")
        with self.state.lock:
            self._tmc_collect()
            rows = list(self.tmc_queue.values())[:quantity]
        return {"messages": {"tmc_message": rows}} if rows else {}

    def _tmc_messages_confirm(self, p: dict[str, str]) -> dict[str, Any]:
        ids = [i for i in self._required(p, "s_message_ids").split(",") if i]
        if len(ids) > 200:
            raise TopError(41, "Invalid Arguments", "isv.invalid-parameter:s_message_ids", "at most 200 ids")
        with self.state.lock:
            for msg_id in ids:
                self.tmc_queue.pop(msg_id, None)
        return {"is_success": True}

    def _logistics_offline_send(self, p: dict[str, str]) -> dict[str, Any]:
        tid = self._required(p, "tid")
        out_sid = self._required(p, "out_sid")
        company = self._required(p, "company_code")
        with self.state.lock:
            order = self.state.orders.get(tid)
            if order is None:
                raise _refused("isv.trade-not-exist:invalid-tid", f"trade {tid} does not exist")
            lines = {line.line_id: line for line in order.lines}
            wanted = [x.strip() for x in p.get("sub_tid", "").split(",") if x.strip()] or list(lines)
            unknown = [x for x in wanted if x not in lines]
            if unknown:
                raise _invalid("sub_tid", f"trade {tid} has no sub-order {unknown[0]}")
            pending = [x for x in wanted if not lines[x].shipped]
            if not pending:
                if all(
                    self.line_shipments.get(x, (order.carrier, order.tracking_number))[1] == out_sid
                    for x in wanted
                ):
                    return {"shipping": {"is_success": True}}  # the same shipment again
                raise _refused("isv.logistics-offline-service-error", "the trade has already been shipped")
            if order.status not in (OrderStatus.AWAITING_SHIPMENT, OrderStatus.PARTLY_SHIPPED):
                raise _refused(
                    "isv.logistics-offline-service-error",
                    f"trade status {self.trade_status(order)} does not allow shipping",
                )
            self.state.ship(tid, company, out_sid, pending)
            for oid in pending:
                self.line_shipments[oid] = (company, out_sid)
        return {"shipping": {"is_success": True}}

    # --- authorisation ------------------------------------------------------------------------------

    def authorization_code(self) -> str:
        """A one-time authorisation code, as the seller's consent on the OAuth page yields
        (valid :attr:`auth_code_ttl`; TOP's real lifetime is UNCONFIRMED)."""
        code = f"{self.rng.getrandbits(64):016x}"
        self.auth_codes[code] = self.clock.now() + self.auth_code_ttl
        return code

    def _token_create(self, p: dict[str, str]) -> dict[str, Any]:
        """``taobao.top.auth.token.create``: a session and refresh token for a code."""
        code = self._required(p, "code")
        with self.state.lock:
            valid_until = self.auth_codes.pop(code, None)
            if valid_until is None or self.clock.now() >= valid_until:
                raise _refused("isv.code-invalid", "the authorisation code is invalid, expired or used")
            return self._token_result(*self.credentials.issue(self.token_ttl))

    def _token_refresh(self, p: dict[str, str]) -> dict[str, Any]:
        """``taobao.top.auth.token.refresh``: a new session and refresh token for a refresh
        token (which is used up); the old session lives on until its own expiry."""
        refresh = self._required(p, "refresh_token")
        with self.state.lock:
            old = self.credentials.refresh_tokens.pop(refresh, None)
            if old is None:
                raise _refused("isv.refresh-token-invalid", "refresh_token is invalid or was already used")
            return self._token_result(*self.credentials.issue(self.token_ttl))

    def _token_result(self, access: str, refresh: str) -> dict[str, Any]:
        """The token answer: the token as a JSON string in ``token_result``, as TOP sends it."""
        expires_in = int(self.token_ttl) if self.token_ttl else 86400 * 365
        now_ms = int(self.clock.now().timestamp() * 1000)
        token = {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "re_expires_in": 86400 * 30,
            "r1_expires_in": expires_in,
            "r2_expires_in": expires_in,
            "w1_expires_in": expires_in,
            "w2_expires_in": expires_in,
            "expire_time": now_ms + expires_in * 1000,
            "refresh_token_valid_time": now_ms + 86400 * 30 * 1000,
            "taobao_user_id": "2200000000001",
            "taobao_user_nick": "sandbox_shop",
            "sp": "taobao",
            "locale": "zh_CN",
        }
        return {"token_result": json.dumps(token, separators=(",", ":"))}


def _simplified(payload: dict[str, Any]) -> dict[str, Any]:
    """``simplify=true``: no wrapper, and ``{"items": {"item": [...]}}`` becomes ``{"items": [...]}``."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                rows = next(iter(value.values()))
                if isinstance(rows, list):
                    return [walk(r) for r in rows]
            return {k: walk(v) for k, v in value.items()}
        return value

    return {k: walk(v) for k, v in payload.items()}
