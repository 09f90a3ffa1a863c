"""A stateful Douyin shop (抖店) behind Douyin's real wire protocol.

It answers any correct Douyin client, not just ours: ``POST {origin}/<api path>`` with
the system parameters in the query (``app_key, method, timestamp, v, sign,
sign_method, access_token``) and ``param_json`` as the JSON body. It checks the method
against the path, the app key, the signature (hmac-sha256, or md5 when ``sign_method``
is absent), the timestamp (Unix seconds or ``yyyy-MM-dd HH:mm:ss`` GMT+8, at most 10
minutes off) and the access token, then runs the API against :class:`ShopState` and
answers with Douyin's envelope (fact sheet §3.4).

Implemented APIs: product.listV2, product.detail, sku.list, sku.detail, sku.syncStock,
sku.syncStockBatch, sku.editPrice, order.searchList, order.orderDetail,
order.logisticsAdd, token.create, token.refresh (with the §3.7 refresh rules).

Where Douyin's exact error wording is unknown the sandbox uses the documented code with
a plausible ``sub_code``/``sub_msg``; the README lists those choices.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

import httpx

from hub.models import OrderStatus
from hub.simulator import (
    ItemState,
    OrderState,
    SandboxApp,
    SandboxConfig,
    SandboxError,
    ShopState,
    SkuState,
    numeric_ids,
)
from hub.units import CN_TZ, from_unix, parse_cn_time, to_unix
from hub_douyin import PLATFORM, signing
from hub_douyin import aftersales as dy_after
from hub_douyin.push import event_sign

SUCCESS = 10000

#: canonical status -> Douyin order_status (§3.6). A paid order refunded in full is closed
#: as 4 like a cancelled one; its lines then carry refund_status 3.
STATUS_CODES: dict[OrderStatus, int] = {
    OrderStatus.PENDING_PAYMENT: 1,
    OrderStatus.AWAITING_SHIPMENT: 2,
    OrderStatus.PARTLY_SHIPPED: 101,
    OrderStatus.SHIPPED: 3,
    OrderStatus.COMPLETED: 5,
    OrderStatus.CANCELLED: 4,
    OrderStatus.REFUNDED: 4,
}
STATUS_DESC = {
    1: "待支付",
    105: "已支付",
    2: "备货中",
    101: "部分发货",
    3: "已发货",
    4: "已取消",
    5: "已完成",
}


class DouyinError(Exception):
    """A Douyin error envelope the sandbox answers with."""

    def __init__(self, code: int, msg: str, sub_code: str = "", sub_msg: str = ""):
        super().__init__(sub_msg or msg)
        self.code, self.msg, self.sub_code, self.sub_msg = code, msg, sub_code, sub_msg


def _missing_system(name: str, sub_code: str = "isv.parameter-missing") -> DouyinError:
    return DouyinError(40001, "缺少必选参数", sub_code, f"缺少必选参数{name}")


def _bad_system(sub_code: str, sub_msg: str) -> DouyinError:
    return DouyinError(40003, "非法的参数", sub_code, sub_msg)


def _missing(name: str) -> DouyinError:
    return DouyinError(40002, "缺少必选参数", "isv.parameter-missing", f"缺少必选参数{name}")


def _invalid(name: str, why: str) -> DouyinError:
    return DouyinError(40004, "非法的参数", "isv.parameter-invalid", f"{name}{why}")


def _business(sub_msg: str, detail: str = "") -> DouyinError:
    return DouyinError(50002, "业务处理失败", f"isv.business-failed{detail}", sub_msg)


def _token_failed(reason: str, sub_msg: str) -> DouyinError:
    return DouyinError(50001, "平台处理失败", f"dop.token-generate-failed:{reason}", sub_msg)


_NOT_FOUND = {
    "item_not_found": "商品不存在",
    "sku_not_found": "SKU不存在",
    "order_not_found": "订单不存在",
    "line_not_found": "子订单不存在",
}


class DouyinSandbox(SandboxApp):
    """The Douyin sandbox; see the module docstring. Class attributes are its limits."""

    platform: ClassVar[str] = PLATFORM
    gateway_path: ClassVar[str] = ""  # the API path follows the origin directly

    max_skew: ClassVar[timedelta] = timedelta(minutes=10)
    max_page_size: ClassVar[int] = 100
    max_product_page: ClassVar[int] = 100
    max_product_rows: ClassVar[int] = 10_000  # product.listV2: page * size
    max_order_window: ClassVar[timedelta] = timedelta(days=1)  # UNCONFIRMED on Douyin
    default_token_ttl: ClassVar[float] = 7 * 86400  # UNCONFIRMED ("often said to be 7 days")
    refresh_token_ttl: ClassVar[timedelta] = timedelta(days=14)
    refresh_grace: ClassVar[timedelta] = timedelta(hours=1)
    auth_code_ttl: ClassVar[timedelta] = timedelta(minutes=10)
    expires_in_mode: Literal["seconds", "timestamp"] = "seconds"
    repeat_shipment_ok: bool = True  # the same logisticsAdd again answers success
    shop_id: ClassVar[int] = 4463798
    shop_name: ClassVar[str] = "抖店沙箱店铺"

    def __init__(self, config: SandboxConfig | None = None):
        super().__init__(config)
        now = self.clock.now()
        if self.token_ttl is None:
            # Douyin tokens always expire; expires_in is always sent.
            self.token_ttl = self.default_token_ttl
            self.credentials.tokens[self.access_token].expires_at = now + timedelta(
                seconds=self.default_token_ttl
            )
        self.refresh_expiry: dict[str, datetime] = {self.refresh_token: now + self.refresh_token_ttl}
        self.refresh_successor: dict[str, tuple[datetime, str]] = {}  # old -> (valid until, new)
        self.idempotent_ids: set[str] = set()
        self.auth_codes: dict[str, datetime] = {}
        self._handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "product.listV2": self._product_list,
            "product.detail": self._product_detail,
            "sku.list": self._sku_list,
            "sku.detail": self._sku_detail,
            "sku.syncStock": self._sync_stock,
            "sku.syncStockBatch": self._sync_stock_batch,
            "sku.editPrice": self._edit_price,
            "order.searchList": self._order_search,
            "order.orderDetail": self._order_detail,
            "order.logisticsAdd": self._logistics_add,
            "afterSale.List": self._after_sale_list,
        }

    def new_state(self) -> ShopState:
        """Douyin-style ids: 19-digit product and order ids, 16-digit SKU ids."""
        return ShopState(
            self.clock,
            new_item_id=numeric_ids(3_580_000_000_000_000_001),
            new_sku_id=numeric_ids(1_737_000_000_000_001),
            new_order_id=numeric_ids(6_921_000_000_000_000_001),
            new_line_id=numeric_ids(6_921_500_000_000_000_001),
        )

    # --- protocol ---------------------------------------------------------------------------

    def throttled(self, request: httpx.Request) -> httpx.Response:
        return self._answer(
            DouyinError(60000, "请求过于频繁", "", "调用频率超过限制，请稍后重试"),
            legacy=request.headers.get("x-open-no-old-err-code") != "1",
        )

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = "/" + request.url.path.lstrip("/")  # some SDKs send //order/searchList
        api = signing.method_for_path(path)
        self.calls[api] += 1
        legacy = request.headers.get("x-open-no-old-err-code") != "1"
        try:
            params = self._authenticate(request, api)
            if api == "token.create":
                return self._answer(data=self._token_create(params), legacy=legacy)
            if api == "token.refresh":
                return self._answer(data=self._token_refresh(params), legacy=legacy)
            if self.credentials.check(request.url.params.get("access_token")) != "ok":
                # Douyin answers missing, unknown and expired tokens alike.
                raise _bad_system("isv.access-token-expired", "access_token已过期")
            handler = self._handlers.get(api)
            if handler is None:
                raise DouyinError(70000, "API已下线", "isp.api-service-off", f"{api}不存在或已下线")
            return self._answer(data=handler(params), legacy=legacy)
        except DouyinError as error:
            return self._answer(error, legacy=legacy)
        except SandboxError as exc:
            if exc.code in _NOT_FOUND:
                return self._answer(_business(_NOT_FOUND[exc.code]), legacy=legacy)
            return self._answer(_business(exc.message), legacy=legacy)

    def _authenticate(self, request: httpx.Request, api: str) -> dict[str, Any]:
        """The system-parameter checks, in gateway order; returns the parsed param_json."""
        query = request.url.params
        for name, sub_code in (
            ("app_key", "isv.app-id-missing"),
            ("method", "isv.parameter-missing"),
            ("timestamp", "isv.parameter-missing"),
            ("v", "isv.parameter-missing"),
            ("sign", "isv.signature-missing"),
        ):
            if not query.get(name):
                raise _missing_system(name, sub_code)
        if query["method"] != api:
            raise _bad_system("isv.parameter-format-invalid", "method与请求路径不一致")
        if query["v"] != signing.API_VERSION:
            raise _bad_system("isv.parameter-format-invalid", "v只支持2")
        if query["app_key"] != self.credentials.app_key:
            raise _bad_system("isv.app-id-invalid", "app_key无效")
        sign_method = query.get("sign_method") or "md5"  # md5 when absent (API guide)
        if sign_method not in signing.SIGN_METHODS:
            raise _bad_system("isv.parameter-format-invalid", "sign_method只支持md5和hmac-sha256")
        sent_at = self._parse_timestamp(query["timestamp"])
        if abs(self.clock.now() - sent_at) > self.max_skew:
            raise _bad_system("isv.timestamp-invalid", "timestamp与服务器时间相差超过10分钟")
        try:
            body = request.content.decode("utf-8")
        except UnicodeDecodeError:
            raise _bad_system("isv.parameter-format-invalid", "param_json不是UTF-8") from None
        if not body and query.get("param_json"):
            # The API guide lists param_json among the request parameters: a client may send
            # it in the query instead of the body.
            body = query["param_json"]
        expected = signing.sign(
            app_secret=self.credentials.app_secret,
            app_key=query["app_key"],
            method=api,
            param_json=body,
            timestamp=query["timestamp"],
            sign_method=sign_method,
        )
        if not secrets.compare_digest(expected, query["sign"]):
            raise _bad_system("isv.signature-invalid", "签名校验失败")
        try:
            params = json.loads(body or "{}")
        except ValueError:
            raise _bad_system("isv.parameter-format-invalid", "param_json格式错误") from None
        if not isinstance(params, dict):
            raise _bad_system("isv.parameter-format-invalid", "param_json必须是JSON对象")
        return params

    @staticmethod
    def _parse_timestamp(text: str) -> datetime:
        if text.isdigit():
            return from_unix(int(text))
        try:
            return parse_cn_time(text)
        except ValueError:
            raise _bad_system("isv.timestamp-format-error", "timestamp格式错误") from None

    def _answer(
        self, error: DouyinError | None = None, data: Any = None, *, legacy: bool = False
    ) -> httpx.Response:
        """Douyin's envelope. The official SDKs send ``x-open-no-old-err-code: 1`` and get only
        ``code/msg/sub_code/sub_msg``; without that header the platform also sends the legacy
        ``err_no``/``message`` pair (0 and "success" on success), which older clients read."""
        log_id = (
            self.clock.now().astimezone(CN_TZ).strftime("%Y%m%d%H%M%S") + self.request_id(self.rng).upper()
        )
        if error is None:
            body: dict[str, Any] = {
                "code": SUCCESS,
                "msg": "success",
                "sub_code": "",
                "sub_msg": "",
                "log_id": log_id,
                "data": data,
            }
            old = {"err_no": 0, "message": "success"}
        else:
            body = {
                "code": error.code,
                "msg": error.msg,
                "sub_code": error.sub_code,
                "sub_msg": error.sub_msg,
                "log_id": log_id,
            }
            old = {"err_no": error.code, "message": error.sub_msg or error.msg}
        return self.json_response({**body, **old} if legacy else body)

    def push_request(self, change: Any, url: str) -> httpx.Request:
        """A 消息推送 POST (fact sheet §3.8): a JSON array of one message, ``app-id`` and
        ``event-sign`` = MD5(app key + body + app secret)."""
        tag = _PUSH_TAGS.get(change.status, "109") if change.seq else "100"
        data = {
            "p_id": int(change.order.order_id),
            "s_ids": [int(change.order.order_id)],
            "shop_id": self.shop_id,
            "order_status": STATUS_CODES[change.status],
            "update_time": to_unix(self.clock.now()),
        }
        body = json.dumps(
            [{"tag": tag, "msg_id": f"{self.shop_id}-{change.key}", "data": json.dumps(data)}]
        ).encode()
        key, secret = self.credentials.app_key, self.credentials.app_secret
        return httpx.Request(
            "POST",
            url,
            content=body,
            headers={
                "content-type": "application/json",
                "app-id": key,
                "event-sign": event_sign(key, body, secret),
            },
        )

    def push_accepted(self, response: httpx.Response) -> bool:
        """Only ``{"code": 0}`` acknowledges; anything else is redelivered."""
        try:
            return response.status_code == 200 and response.json().get("code") == 0
        except (ValueError, AttributeError):
            return False

    def serve_notes(self) -> dict[str, str]:
        """token.create with grant_type authorization_self needs the shop's id."""
        return {"shop_id": str(self.shop_id)}

    # --- parameters -------------------------------------------------------------------------

    @staticmethod
    def _int(params: Mapping[str, Any], name: str, default: int | None = None) -> int:
        value = params.get(name, default)
        if value is None or value == "":
            if default is not None:
                return default
            raise _missing(name)
        if isinstance(value, bool):
            raise _invalid(name, "必须是整数")
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise _invalid(name, "必须是整数")

    @staticmethod
    def _bool(params: Mapping[str, Any], name: str) -> bool:
        value = params.get(name, False)
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise _invalid(name, "必须是布尔值")

    @staticmethod
    def _id(value: Any) -> str:
        return str(value).strip()

    def _find_sku(self, params: Mapping[str, Any]) -> SkuState:
        if params.get("sku_id") not in (None, "", 0):
            sku = self.state.sku(self._id(params["sku_id"]))
        elif params.get("code"):
            found = self.state.skus_by_code(str(params["code"]))
            product = params.get("product_id")
            found = [s for s in found if product in (None, "", 0) or s.item_id == self._id(product)]
            if not found:
                raise SandboxError("sku_not_found", "no SKU with that code")
            sku = found[0]
        else:
            raise _missing("sku_id")
        product = params.get("product_id")
        if product not in (None, "", 0) and self._id(product) != sku.item_id:
            raise _invalid("product_id", "与sku_id不匹配")
        return sku

    # --- products and SKUs ------------------------------------------------------------------

    def _product_list(self, params: dict[str, Any]) -> dict[str, Any]:
        page, size = self._int(params, "page", 1), self._int(params, "size", 10)
        if not 1 <= size <= self.max_page_size:
            raise _invalid("size", f"取值范围为1~{self.max_page_size}")
        if not 1 <= page <= self.max_product_page:
            raise _invalid("page", f"取值范围为1~{self.max_product_page}")
        if page * size > self.max_product_rows:
            raise _invalid("page*size", f"不能超过{self.max_product_rows}")
        statuses = {0, 1} if params.get("status") in (None, "") else {self._int(params, "status")}
        ids = {self._id(i) for i in params.get("product_id") or []}
        if len(ids) > 100:
            raise _invalid("product_id", "最多100个")

        def inside(when: datetime, low: str, high: str) -> bool:
            # Douyin's bounds exclude the given times ("不包含入参时间").
            t = to_unix(when)
            return (params.get(low) in (None, "", 0) or t > self._int(params, low)) and (
                params.get(high) in (None, "", 0) or t < self._int(params, high)
            )

        name = str(params.get("name") or "")
        items = [
            i
            for i in self.state.items.values()
            if (0 if i.on_sale else 1) in statuses
            and (not ids or i.item_id in ids)
            and name in i.title
            and inside(i.created, "start_time", "end_time")
            and inside(i.modified, "update_start_time", "update_end_time")
        ]
        items.sort(key=lambda i: (i.created, int(i.item_id)), reverse=True)  # newest first
        chunk = items[(page - 1) * size : page * size]
        return {
            "data": [self._product_json(i) for i in chunk],
            "total": len(items),
            "page": page,
            "size": size,
        }

    def _product_json(self, item: ItemState) -> dict[str, Any]:
        prices = [s.price for s in item.skus.values()] or [0]
        return {
            "product_id": int(item.item_id),
            "name": item.title,
            "status": 0 if item.on_sale else 1,
            "check_status": 3,
            "product_type": 0,
            "create_time": to_unix(item.created),
            "update_time": to_unix(item.modified),
            "outer_product_id": item.code or "",
            "out_product_id": 0,
            "img": "",
            "discount_price": min(prices),
            "market_price": max(prices),
            "spec_id": int(item.item_id) % 10**12,
            "is_package_product": False,
        }

    def _sku_json(self, sku: SkuState) -> dict[str, Any]:
        values = [part.split(":", 1)[-1] for part in sku.spec.split(";") if part]
        names = {f"spec_detail_name{n}": (values[n - 1] if n <= len(values) else "") for n in (1, 2, 3)}
        ids = {
            f"spec_detail_id{n}": (int(sku.sku_id) % 10**9 + n if n <= len(values) else 0) for n in (1, 2, 3)
        }
        return {
            "id": int(sku.sku_id),
            "product_id": int(sku.item_id),
            "product_id_str": sku.item_id,
            "code": sku.code or "",
            "price": sku.price,
            "stock_num": sku.quantity,
            "prehold_stock_num": 0,
            "prom_stock_num": 0,
            "step_stock_num": 0,
            "sku_type": 0,
            "out_sku_id": 0,
            "create_time": to_unix(sku.modified),
            "supplier_id": "",
            "sell_properties": [{"value_name": v} for v in values],
            **names,
            **ids,
        }

    def _product_detail(self, params: dict[str, Any]) -> dict[str, Any]:
        """One product with its SKUs (``spec_prices``), by ``product_id`` or by the merchant
        code (``out_product_id``; the sandbox keeps it in ``outer_product_id``)."""
        if params.get("product_id") not in (None, "", 0):
            item = self.state.item(self._id(params["product_id"]))
        elif params.get("out_product_id") not in (None, "", 0):
            code = self._id(params["out_product_id"])
            item = next((i for i in self.state.items.values() if i.code == code), None)
            if item is None:
                raise SandboxError("item_not_found", f"no product with out_product_id {code}")
        else:
            raise _missing("product_id")
        skus = [self._sku_json(s) for s in item.skus.values()]
        spec_prices = [
            {
                "sku_id": row["id"],
                "price": row["price"],
                "stock_num": row["stock_num"],
                "code": row["code"],
                "out_sku_id": 0,
                "spec_detail_ids": [
                    row[f"spec_detail_id{n}"] for n in (1, 2, 3) if row[f"spec_detail_id{n}"]
                ],
            }
            for row in skus
        ]
        return {**self._product_json(item), "product_id_str": item.item_id, "spec_prices": spec_prices}

    def _sku_list(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if params.get("product_id") in (None, "", 0):
            raise _missing("product_id")
        item = self.state.item(self._id(params["product_id"]))
        return [self._sku_json(s) for s in item.skus.values()]

    def _sku_detail(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._sku_json(self._find_sku(params))

    def _sync_stock(self, params: dict[str, Any]) -> dict[str, Any]:
        sku = self._find_sku(params)
        number = self._int(params, "stock_num")
        if self._bool(params, "incremental"):
            key = self._idempotent_id(params)
            if sku.quantity + number < 0:
                raise _business("更新库存数失败: 库存不足", ":31055")
            self.state.add_quantity(sku.sku_id, number)
            self.idempotent_ids.add(key)
        else:
            if number < 0:
                raise _invalid("stock_num", "不能小于0")
            self.state.set_quantity(sku.sku_id, number)
        return {}

    def _sync_stock_batch(self, params: dict[str, Any]) -> dict[str, Any]:
        """All-or-nothing for one product: everything is checked before anything applies."""
        if params.get("product_id") in (None, "", 0):
            raise _missing("product_id")
        item = self.state.item(self._id(params["product_id"]))
        rows = params.get("sku_sync_list")
        if not isinstance(rows, list) or not rows:
            raise _missing("sku_sync_list")
        incremental = self._bool(params, "incremental")
        key = self._idempotent_id(params) if incremental else None
        plan = []
        for row in rows:
            if not isinstance(row, dict):
                raise _invalid("sku_sync_list", "格式错误")
            sku = self._find_sku({**row, "product_id": item.item_id})
            number = self._int(row, "stock_num")
            target = sku.quantity + number if incremental else number
            if target < 0:
                raise (
                    _business("更新库存数失败: 库存不足", ":31055")
                    if incremental
                    else _invalid("stock_num", "不能小于0")
                )
            plan.append((sku.sku_id, target))
        for sku_id, target in plan:
            self.state.set_quantity(sku_id, target)
        if key is not None:
            self.idempotent_ids.add(key)
        return {}

    def _idempotent_id(self, params: Mapping[str, Any]) -> str:
        key = str(params.get("idempotent_id") or "")
        if not key:
            raise _missing("idempotent_id")
        if key in self.idempotent_ids:
            raise _bad_system("isv.idempotent-id-existed", "幂等ID已存在，请求已处理")
        return key

    def _edit_price(self, params: dict[str, Any]) -> dict[str, Any]:
        price = self._int(params, "price")
        if price <= 0:
            raise _invalid("price", "必须大于0")
        self.state.set_price(self._find_sku(params).sku_id, price)
        return {}

    # --- orders -----------------------------------------------------------------------------

    def status_code(self, order: OrderState) -> int:
        """The Douyin order_status of a sandbox order."""
        return STATUS_CODES[order.status]

    def _order_search(self, params: dict[str, Any]) -> dict[str, Any]:
        page, size = self._int(params, "page", 0), self._int(params, "size", 10)
        if not 1 <= size <= self.max_page_size:
            raise _invalid("size", f"取值范围为1~{self.max_page_size}")
        if page < 0:
            raise _invalid("page", "不能小于0")
        by_update = self._time_range(params, "update_time")
        by_create = self._time_range(params, "create_time")
        wanted_codes: set[int] | None = None
        for combo in params.get("combine_status") or []:
            text = str((combo or {}).get("order_status") or "")
            if text:
                wanted_codes = {int(c) for c in text.split(",") if c.strip().isdigit()}
        order_by = params.get("order_by") or "create_time"
        if order_by not in ("create_time", "update_time"):
            raise _invalid("order_by", "只支持create_time和update_time")
        ascending = self._bool(params, "order_asc")

        def selected(order: OrderState) -> bool:
            modified, created = to_unix(order.modified), to_unix(order.created)
            return (
                (by_update is None or by_update[0] <= modified <= by_update[1])
                and (by_create is None or by_create[0] <= created <= by_create[1])
                and (wanted_codes is None or self.status_code(order) in wanted_codes)
            )

        attribute = "modified" if order_by == "update_time" else "created"

        def search() -> list[OrderState]:
            found = [o for o in self.state.orders.values() if selected(o)]
            found.sort(key=lambda o: (to_unix(getattr(o, attribute)), int(o.order_id)), reverse=not ascending)
            return found

        codes = None if wanted_codes is None else frozenset(wanted_codes)
        found = self.state.selection(
            ("order.searchList", by_update, by_create, codes, attribute, ascending), search
        )
        chunk = found[page * size : (page + 1) * size]
        return {
            "page": page,
            "size": size,
            "total": len(found),
            "shop_order_list": [self._shop_order(o) for o in chunk],
        }

    def _after_sale_list(self, params: dict[str, Any]) -> dict[str, Any]:
        """After-sale orders by update time (both ends included), newest first, paged from 0."""
        page, size = self._int(params, "page", 0), self._int(params, "size", 10)
        if not 1 <= size <= self.max_page_size:
            raise _invalid("size", f"取值范围为1~{self.max_page_size}")
        if page < 0:
            raise _invalid("page", "不能小于0")
        span = self._time_range(
            {
                "update_time_start": params.get("update_start_time"),
                "update_time_end": params.get("update_end_time"),
            },
            "update_time",
        )
        first, last = span if span is not None else (0, to_unix(self.clock.now()))
        cases = self.state.after_sales.modified(from_unix(first), from_unix(last + 1))
        cases.sort(key=lambda c: (to_unix(c.modified), int(c.case_id)), reverse=True)
        chunk = cases[page * size : (page + 1) * size]
        return {
            "page": page,
            "size": size,
            "total": len(cases),
            "has_more": (page + 1) * size < len(cases),
            "items": [dy_after.item_json(c) for c in chunk],
        }

    def _time_range(self, params: Mapping[str, Any], field: str) -> tuple[int, int] | None:
        """An inclusive [start, end] of Unix seconds, at most ``max_order_window`` long."""
        start_given = params.get(f"{field}_start") not in (None, "", 0)
        end_given = params.get(f"{field}_end") not in (None, "", 0)
        if not start_given and not end_given:
            return None
        start = self._int(params, f"{field}_start") if start_given else 0
        end = self._int(params, f"{field}_end") if end_given else to_unix(self.clock.now())
        if end < start:
            raise _invalid(f"{field}_end", f"不能早于{field}_start")
        if end - start > self.max_order_window.total_seconds():
            raise _invalid(
                f"{field}_end", f"与{field}_start的间隔不能超过{int(self.max_order_window.total_seconds())}秒"
            )
        return start, end

    def _order_detail(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("shop_order_id"):
            raise _missing("shop_order_id")
        return {"shop_order_detail": self._shop_order(self.state.order(self._id(params["shop_order_id"])))}

    def _shop_order(self, order: OrderState) -> dict[str, Any]:
        code = self.status_code(order)
        shipped_at = next(
            (
                to_unix(at)
                for at, s in order.history
                if s in (OrderStatus.SHIPPED, OrderStatus.PARTLY_SHIPPED)
            ),
            0,
        )
        pay_time = to_unix(order.paid_at) if order.paid_at else 0
        lines = []
        for line in order.lines:
            line_code = code
            if code == 101:
                line_code = 3 if line.shipped else 2
            after_sale = (
                {"after_sale_status": 12, "after_sale_type": 1 if line.shipped else 2, "refund_status": 3}
                if line.refunded
                else {"after_sale_status": 0, "after_sale_type": 0, "refund_status": 0}
            )
            values = []
            if line.sku_id in self.state.skus:
                values = [p.split(":", 1) for p in self.state.skus[line.sku_id].spec.split(";") if p]
            lines.append(
                {
                    "order_id": line.line_id,
                    "parent_order_id": order.order_id,
                    "order_level": 3,
                    "order_status": line_code,
                    "order_status_desc": STATUS_DESC[line_code],
                    "product_id": int(line.item_id),
                    "product_id_str": line.item_id,
                    "sku_id": int(line.sku_id),
                    "code": line.code or "",
                    "product_name": line.title,
                    "item_num": line.quantity,
                    "origin_amount": line.unit_price,
                    "sum_amount": line.unit_price * line.quantity,
                    "pay_amount": line.unit_price * line.quantity if pay_time else 0,
                    "spec": [{"name": v[0], "value": v[-1]} for v in values],
                    "create_time": to_unix(order.created),
                    "update_time": to_unix(order.modified),
                    "pay_time": pay_time,
                    "trade_type": 0,
                    "order_type": 0,
                    "after_sale_info": after_sale,
                }
            )
        logistics = []
        if order.tracking_number:
            logistics.append(
                {
                    "tracking_no": order.tracking_number,
                    "company": order.carrier or "",
                    "company_name": order.carrier or "",
                    "ship_time": shipped_at,
                    "delivery_id": f"{order.order_id}01",
                    "product_info": [
                        {
                            "sku_order_id": ln.line_id,
                            "sku_id": int(ln.sku_id),
                            "product_count": ln.quantity,
                            "product_name": ln.title,
                            "product_id": int(ln.item_id),
                            "price": ln.unit_price,
                            "outer_sku_id": ln.code or "",
                        }
                        for ln in order.lines
                        if ln.shipped
                    ],
                }
            )
        return {
            "order_id": order.order_id,
            "order_level": 2,
            "shop_id": self.shop_id,
            "shop_name": self.shop_name,
            "order_status": code,
            "order_status_desc": STATUS_DESC[code],
            "order_type": 0,
            "trade_type": 0,
            "b_type": 2,
            "pay_type": 1 if pay_time else 0,
            "create_time": to_unix(order.created),
            "update_time": to_unix(order.modified),
            "pay_time": pay_time,
            "finish_time": to_unix(order.modified) if order.status is OrderStatus.COMPLETED else 0,
            "ship_time": shipped_at,
            "order_amount": order.total,
            "pay_amount": order.total if pay_time else 0,
            "post_amount": 0,
            "promotion_amount": 0,
            "logistics_info": logistics,
            "sku_order_list": lines,
        }

    def _logistics_add(self, params: dict[str, Any]) -> dict[str, Any]:
        for name in ("order_id", "company_code", "logistics_code"):
            if not params.get(name):
                raise _missing(name)
        order = self.state.order(self._id(params["order_id"]))
        tracking = str(params["logistics_code"])
        if order.status in (OrderStatus.SHIPPED, OrderStatus.COMPLETED):
            if order.tracking_number == tracking and self.repeat_shipment_ok:
                return {}
            raise _business("订单已发货，不能重复发货")
        if order.status not in (OrderStatus.AWAITING_SHIPMENT, OrderStatus.PARTLY_SHIPPED):
            raise _business("当前订单状态不允许发货")
        self.state.ship(order.order_id, str(params["company_code"]), tracking)
        return {}

    # --- tokens (§3.7) ----------------------------------------------------------------------

    def authorization_code(self) -> str:
        """A one-time authorisation code (valid 10 minutes), as a shop's consent yields."""
        code = f"{self.rng.getrandbits(64):016x}"
        self.auth_codes[code] = self.clock.now() + self.auth_code_ttl
        return code

    def _token_data(self, access: str, refresh: str) -> dict[str, Any]:
        now = self.clock.now()
        expires = self.credentials.expires_at(access)
        if expires is None:
            expires_in = 0
        elif self.expires_in_mode == "timestamp":
            expires_in = to_unix(expires)
        else:
            expires_in = max(0, int((expires - now).total_seconds()))
        return {
            "access_token": access,
            "expires_in": expires_in,
            "refresh_token": refresh,
            "scope": "SCOPE",
            "shop_id": self.shop_id,
            "shop_name": self.shop_name,
            "authority_id": str(self.shop_id),
            "auth_subject_type": "MinShop",
        }

    def _issue(self) -> tuple[str, str]:
        access, refresh = self.credentials.issue(self.token_ttl)
        self.refresh_expiry[refresh] = self.clock.now() + self.refresh_token_ttl
        return access, refresh

    def _token_create(self, params: dict[str, Any]) -> dict[str, Any]:
        grant = params.get("grant_type")
        now = self.clock.now()
        if grant == "authorization_code":
            code = str(params.get("code") or "")
            if code not in self.auth_codes:
                raise _token_failed("code-invalid", "code无效")
            if now >= self.auth_codes.pop(code):
                raise _token_failed("code-expired", "code已过期")
        elif grant == "authorization_self":
            # A test shop may be named by test_shop=1 instead of its shop_id; this one is.
            test_shop = str(params.get("test_shop") or "") == "1"
            if not test_shop and str(params.get("shop_id") or "") != str(self.shop_id):
                raise _token_failed("no-authorization", "店铺未授权该应用")
        else:
            raise _token_failed("grant-type-invalid", "grant_type无效")
        return self._token_data(*self._issue())

    def _token_refresh(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("grant_type") != "refresh_token":
            raise _token_failed("grant-type-invalid", "grant_type无效")
        refresh = str(params.get("refresh_token") or "")
        if not refresh:
            raise _business("refresh_token不能为空", ":31009")
        now = self.clock.now()
        if refresh in self.refresh_successor:
            # Replaced within the last hour of its access token: stays usable one more hour
            # and keeps answering with the pair that replaced it.
            until, newer = self.refresh_successor[refresh]
            if now >= until:
                raise _token_failed("token-invalid", "refresh_token无效")
            while newer in self.refresh_successor:
                newer = self.refresh_successor[newer][1]
            return self._token_data(self.credentials.refresh_tokens[newer], newer)
        access = self.credentials.refresh_tokens.get(refresh)
        if access is None:
            raise _token_failed("token-invalid", "refresh_token无效")
        if now >= self.refresh_expiry.get(refresh, now):
            raise _token_failed("token-expired", "refresh_token已过期")
        record = self.credentials.tokens[access]
        expired = record.revoked or (record.expires_at is not None and now >= record.expires_at)
        if not expired and (record.expires_at is None or record.expires_at - now > self.refresh_grace):
            return self._token_data(access, refresh)  # more than 1 h left: the same tokens
        new_access, new_refresh = self._issue()
        del self.credentials.refresh_tokens[refresh]
        if expired:
            self.credentials.revoke(access)  # after expiry: the old pair is invalid
        else:
            record.expires_at = now + self.refresh_grace  # the old pair lives one more hour
            self.refresh_successor[refresh] = (now + self.refresh_grace, new_refresh)
        return self._token_data(new_access, new_refresh)


# Douyin push tags of an order's statuses (its first status: 100, order created).
_PUSH_TAGS = {
    OrderStatus.AWAITING_SHIPMENT: "101",
    OrderStatus.PARTLY_SHIPPED: "102",
    OrderStatus.SHIPPED: "102",
    OrderStatus.COMPLETED: "103",
    OrderStatus.CANCELLED: "106",
    OrderStatus.REFUNDED: "206",
}
