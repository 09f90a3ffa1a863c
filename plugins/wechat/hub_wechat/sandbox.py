"""A WeChat store sandbox: a stateful shop behind the store's real wire protocol.

Usable by any correct WeChat client, not only ours:

* ``POST /cgi-bin/stable_token`` (JSON) and ``GET /cgi-bin/token`` (query) issue access
  tokens of ``token_ttl`` seconds (7200 unless configured). stable_token in normal mode
  returns the token it holds while more than 5 minutes remain, and a new one in the last
  5 minutes (the old one stays valid until its own expiry: the 5-minute overlap);
  ``force_refresh`` revokes the old token. cgi-bin/token issues a new token per call and
  gives the previous one 5 more minutes at most (the usual WeChat rule; UNCONFIRMED for
  the store). Wrong appid: 40013; wrong secret: 40001 "invalid credential".
* ``POST /channels/ec/<path>?access_token=…`` with a JSON body: missing token 41001,
  unknown/revoked 40001, expired 42001 (errmsg "access_token expired rid: …"); not POST
  43002; empty body 44002; malformed JSON or an id that is not a string 47001.
* Envelopes ``{"errcode": 0, "errmsg": "ok", ...}`` / ``{"errcode": N, "errmsg": "... rid: ..."}``
  over HTTP 200; ids are uint64 strings, money integer fen, times Unix seconds.
* Throttling answers 45011; :attr:`WechatSandbox.daily_quota` makes calls beyond a
  per-API daily budget answer 45009.

Business codes: 10020049 (under audit), 10020051 (bad parameter) and 10020052 (no such
product) are the product API's documented codes [W6]; the order and limited-discount
codes below (:data:`ORDER_PARAM_ERROR` …) are the sandbox's own choice, because the
real ones are UNCONFIRMED. A client classifies every 8-digit code the same way.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import random
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx

from hub.models import OrderStatus
from hub.simulator import SandboxApp, SandboxConfig, SandboxError, ShopState, numeric_ids
from hub.simulator.state import OrderState
from hub.units import CN_TZ, from_unix, to_unix
from hub_wechat import aftersales as wx_after
from hub_wechat import push

TOKEN_TTL = 7200  # seconds a WeChat access token lives
RENEW_WINDOW = 300  # stable_token renews in the last 5 minutes; old and new overlap 5 min
MAX_RANGE = 7 * 24 * 3600  # order/list/get time ranges span at most 7 days
ORDER_PAGE_MAX = 100
PRODUCT_PAGE_MAX = 30  # product/list/get: "默认10，不超过30" [W6]
TASK_PAGE_MAX = 50
PRICE_MAX = 1_000_000_000  # sale_price at most 10 million yuan, in fen

# Common codes (fact sheet §4.6).
INVALID_CREDENTIAL = 40001
INVALID_GRANT_TYPE = 40002
INVALID_APPID = 40013
INVALID_URL = 40066
TOKEN_MISSING = 41001
TOKEN_EXPIRED = 42001
REQUIRE_POST = 43002
EMPTY_BODY = 44002
DAILY_QUOTA = 45009
MINUTE_QUOTA = 45011
DATA_FORMAT = 47001
# Product API codes [W6].
PRODUCT_UNDER_AUDIT = 10020049
PARAM_ERROR = 10020051
PRODUCT_NOT_FOUND = 10020052
# The sandbox's own codes where the real ones are UNCONFIRMED.
STOCK_NOT_ENOUGH = 10020090
ORDER_PARAM_ERROR = 10021000
ORDER_NOT_FOUND = 10021001
ORDER_STATUS_ERROR = 10021002
AFTERSALE_RANGE = 10020004  # getaftersalelist: time range longer than 24 hours
TASK_RULE = 10020300
TASK_EXISTS = 10020301
TASK_NOT_FOUND = 10020302
TASK_ENDED = 10020303

#: canonical status -> order ``status`` (§4.5). Paid-then-refunded is 200; a cancel
#: (before payment, or by the merchant) is 250.
WIRE_STATUS: dict[OrderStatus, int] = {
    OrderStatus.PENDING_PAYMENT: 10,
    OrderStatus.AWAITING_SHIPMENT: 20,
    OrderStatus.PARTLY_SHIPPED: 21,
    OrderStatus.SHIPPED: 30,
    OrderStatus.COMPLETED: 100,
    OrderStatus.REFUNDED: 200,
    OrderStatus.CANCELLED: 250,
}
PRODUCT_LISTED, PRODUCT_SELF_DELISTED = 5, 11
EDIT_AUDIT_PASSED, EDIT_UNDER_AUDIT = 4, 2
#: limited-discount task status: 0 not started, 1 running (a public SDK's enum);
#: 2 ended or stopped is the sandbox's choice (UNCONFIRMED)
TASK_PENDING, TASK_RUNNING, TASK_OVER = 0, 1, 2

_SANDBOX_ERRORS = {
    "item_not_found": PRODUCT_NOT_FOUND,
    "sku_not_found": PRODUCT_NOT_FOUND,
    "order_not_found": ORDER_NOT_FOUND,
    "not_found": ORDER_NOT_FOUND,  # an after-sale order (its own code is UNCONFIRMED)
    "bad_order_status": ORDER_STATUS_ERROR,
    "line_not_found": ORDER_PARAM_ERROR,
    "promotion_conflict": TASK_EXISTS,
    "promotion_not_found": TASK_NOT_FOUND,
}


class WxError(Exception):
    """An answer with a non-zero errcode."""

    def __init__(self, errcode: int, errmsg: str):
        super().__init__(errmsg)
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass
class Task:
    """A limited-time discount task (限时抢购)."""

    task_id: str
    product_id: str
    promotion_id: str
    create_time: int
    start_time: int
    end_time: int
    skus: list[dict[str, Any]]
    stopped: bool = False

    def status(self, now: int) -> int:
        if self.stopped or now >= self.end_time:
            return TASK_OVER
        return TASK_PENDING if now < self.start_time else TASK_RUNNING


@dataclass
class _Quota:
    limit: int | None = None
    used: Counter[tuple[str, str]] = field(default_factory=Counter)


Handler = Callable[["WechatSandbox", dict[str, Any]], dict[str, Any]]


class WechatSandbox(SandboxApp):
    """The WeChat store's server side; see the module docstring."""

    platform = "wechat"
    gateway_path = ""
    ROUTES: ClassVar[dict[str, Handler]] = {}

    def __init__(self, config: SandboxConfig | None = None):
        config = config or SandboxConfig()
        changes: dict[str, Any] = {}
        if config.app_key is None:  # AppIDs look like wx + 16 hex digits
            changes["app_key"] = f"wx{random.Random(config.rng_seed).getrandbits(64):016x}"
        if config.token_ttl is None:
            changes["token_ttl"] = TOKEN_TTL
        super().__init__(dataclasses.replace(config, **changes) if changes else config)
        self.stable_token: str | None = self.access_token  # what stable_token hands out
        self.plain_token: str | None = None  # the latest cgi-bin/token token
        self.quota = _Quota()
        self.errors: Counter[int] = Counter()  # errcodes answered, for tests
        self.edit_status: dict[str, int] = {}  # product_id -> draft status (default 4)
        self.deliveries: dict[str, list[dict[str, Any]]] = {}
        self.tasks: dict[str, Task] = {}
        self._task_ids = numeric_ids(2_024_050_001)
        # The Token and EncodingAESKey of 消息推送, as the store backend generates them.
        push_rng = random.Random(config.rng_seed + 7)
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        self.push_token = "".join(push_rng.choice(alphabet) for _ in range(32))
        self.push_aes_key = "".join(push_rng.choice(alphabet) for _ in range(43))

    def new_state(self) -> ShopState:
        return ShopState(
            self.clock,
            new_item_id=numeric_ids(10_000_000_088_001),
            new_sku_id=numeric_ids(462_966_001),
            new_order_id=numeric_ids(3_712_984_209_868_589_057),
        )

    def push_settings(self) -> dict[str, str]:
        return {"push_token": self.push_token, "push_aes_key": self.push_aes_key}

    def push_request(self, change: Any, url: str) -> httpx.Request:
        """An event POST in secure JSON mode (fact sheet §4.7): the event encrypted with the
        EncodingAESKey for this AppID, ``msg_signature`` over the Token, time, nonce and
        ciphertext in the query."""
        event = (
            _PUSH_EVENTS.get(change.status, "channels_ec_order_ext_info_update")
            if change.seq
            else ("channels_ec_order_new")
        )
        now = str(to_unix(self.clock.now()))
        message = {
            "ToUserName": "gh_sandbox",
            "FromUserName": "sandbox",
            "CreateTime": int(now),
            "MsgType": "event",
            "Event": event,
            "order_info": {"order_id": int(change.order.order_id)},
        }
        encrypted = push.encrypt(json.dumps(message), self.push_aes_key, self.credentials.app_key)
        nonce = str(self.rng.randrange(10**9))
        query = {
            "timestamp": now,
            "nonce": nonce,
            "msg_signature": push.sign_push(self.push_token, now, nonce, encrypted),
        }
        return httpx.Request(
            "POST",
            url,
            params=query,
            headers={"content-type": "application/json"},
            content=json.dumps({"ToUserName": "gh_sandbox", "Encrypt": encrypted}).encode(),
        )

    def push_accepted(self, response: httpx.Response) -> bool:
        """``success`` (or an empty body) acknowledges; anything else is retried."""
        return response.status_code == 200 and response.text.strip() in ("success", "")

    def shop_credentials(self) -> dict[str, str]:
        """AppID, AppSecret and the current token (the store has no refresh token)."""
        return {
            "app_key": self.credentials.app_key,
            "app_secret": self.credentials.app_secret,
            "access_token": self.access_token,
        }

    @property
    def daily_quota(self) -> int | None:
        """Calls allowed per API per day (Asia/Shanghai); None = unlimited."""
        return self.quota.limit

    @daily_quota.setter
    def daily_quota(self, value: int | None) -> None:
        self.quota.limit = value

    # --- envelopes ------------------------------------------------------------------------------

    def _rid(self) -> str:
        return "-".join(f"{self.rng.getrandbits(32):08x}" for _ in range(3))

    def _error(self, errcode: int, errmsg: str) -> httpx.Response:
        self.errors[errcode] += 1
        return self.json_response({"errcode": errcode, "errmsg": f"{errmsg} rid: {self._rid()}"})

    def throttled(self, request: httpx.Request) -> httpx.Response:
        return self._error(MINUTE_QUOTA, "api minute-quota reach limit mustslower retry next minute")

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        try:
            if path == "/cgi-bin/stable_token":
                self.calls["cgi-bin/stable_token"] += 1
                return self.json_response(self._stable_token(request))
            if path == "/cgi-bin/token":
                self.calls["cgi-bin/token"] += 1
                return self.json_response(self._plain_token(request))
            if path.startswith("/channels/ec/"):
                method = path.removeprefix("/channels/ec/")
                self.calls[method] += 1
                payload = self._channels(method, request)
                return self.json_response({"errcode": 0, "errmsg": "ok", **payload})
            raise WxError(INVALID_URL, "invalid url")
        except WxError as exc:
            return self._error(exc.errcode, exc.errmsg)

    # --- tokens ----------------------------------------------------------------------------------

    def _check_app(self, appid: Any, secret: Any, grant_type: Any) -> None:
        if grant_type != "client_credential":
            raise WxError(INVALID_GRANT_TYPE, "invalid grant_type")
        if appid != self.credentials.app_key:
            raise WxError(INVALID_APPID, "invalid appid")
        if secret != self.credentials.app_secret:
            raise WxError(
                INVALID_CREDENTIAL,
                "invalid credential, AppSecret error or AppSecret does not belong to this AppID",
            )

    def _remaining(self, token: str | None) -> float:
        if token is None or self.credentials.check(token) != "ok":
            return 0.0
        expires = self.credentials.expires_at(token)
        return math.inf if expires is None else (expires - self.clock.now()).total_seconds()

    def _stable_token(self, request: httpx.Request) -> dict[str, Any]:
        if request.method != "POST":
            raise WxError(REQUIRE_POST, "require POST method")
        body = self._json(request)
        self._check_app(body.get("appid"), body.get("secret"), body.get("grant_type"))
        force = body.get("force_refresh", False)
        if not isinstance(force, bool):
            raise WxError(DATA_FORMAT, "data format error: force_refresh")
        remaining = self._remaining(self.stable_token)
        if not force and remaining > RENEW_WINDOW:
            return {
                "access_token": self.stable_token,
                "expires_in": TOKEN_TTL if remaining == math.inf else int(remaining),
            }
        if force and self.stable_token:
            self.credentials.revoke(self.stable_token)
        self.stable_token, _ = self.credentials.issue(self.token_ttl)
        return {"access_token": self.stable_token, "expires_in": int(self.token_ttl or TOKEN_TTL)}

    def _plain_token(self, request: httpx.Request) -> dict[str, Any]:
        params = request.url.params
        self._check_app(params.get("appid"), params.get("secret"), params.get("grant_type"))
        previous = self.plain_token
        if previous and self.credentials.check(previous) == "ok":
            record = self.credentials.tokens[previous]
            cutoff = self.clock.now() + timedelta(seconds=RENEW_WINDOW)
            record.expires_at = min(record.expires_at or cutoff, cutoff)
        self.plain_token, _ = self.credentials.issue(self.token_ttl)
        return {"access_token": self.plain_token, "expires_in": int(self.token_ttl or TOKEN_TTL)}

    # --- channels/ec ---------------------------------------------------------------------------

    def _json(self, request: httpx.Request) -> dict[str, Any]:
        if not request.content:
            raise WxError(EMPTY_BODY, "empty post data")
        try:
            body = json.loads(request.content)
        except (ValueError, UnicodeDecodeError):
            raise WxError(DATA_FORMAT, "data format error") from None
        if not isinstance(body, dict):
            raise WxError(DATA_FORMAT, "data format error")
        return body

    def _charge_quota(self, method: str) -> None:
        if self.quota.limit is None:
            return
        day = self.clock.now().astimezone(CN_TZ).date().isoformat()
        self.quota.used[(day, method)] += 1
        if self.quota.used[(day, method)] > self.quota.limit:
            raise WxError(DAILY_QUOTA, "reach max api daily quota limit")

    def _channels(self, method: str, request: httpx.Request) -> dict[str, Any]:
        if request.method != "POST":
            raise WxError(REQUIRE_POST, "require POST method")
        verdict = self.credentials.check(request.url.params.get("access_token"))
        if verdict == "missing":
            raise WxError(TOKEN_MISSING, "access_token missing")
        if verdict == "invalid":
            raise WxError(INVALID_CREDENTIAL, "invalid credential, access_token is invalid or not latest")
        if verdict == "expired":
            raise WxError(TOKEN_EXPIRED, "access_token expired")
        handler = self.ROUTES.get(method)
        if handler is None:
            raise WxError(INVALID_URL, "invalid url")
        self._charge_quota(method)
        body = self._json(request)
        try:
            return handler(self, body)
        except SandboxError as exc:
            raise WxError(_SANDBOX_ERRORS.get(exc.code, PARAM_ERROR), exc.message) from None

    # --- field readers ---------------------------------------------------------------------

    @staticmethod
    def _id(body: dict[str, Any], name: str, *, code: int = PARAM_ERROR) -> str:
        value = body.get(name)
        if value is None or value == "":
            raise WxError(code, f"invalid parameter: {name} is required")
        if not isinstance(value, str):  # documented as string(uint64)
            raise WxError(DATA_FORMAT, f"data format error: {name} must be a string")
        if not value.isdigit():
            raise WxError(code, f"invalid parameter: {name}")
        return value

    @staticmethod
    def _int(body: dict[str, Any], name: str, *, code: int = PARAM_ERROR, default: int | None = None) -> int:
        value = body.get(name, default)
        if value is None:
            raise WxError(code, f"invalid parameter: {name} is required")
        if isinstance(value, bool) or not isinstance(value, int):
            raise WxError(DATA_FORMAT, f"data format error: {name} must be a number")
        return value

    @staticmethod
    def _cursor(next_key: Any) -> str | None:
        if next_key in (None, ""):
            return None
        if not isinstance(next_key, str):
            raise WxError(DATA_FORMAT, "data format error: next_key")
        try:
            return base64.urlsafe_b64decode(next_key.encode()).decode()
        except (ValueError, UnicodeDecodeError):
            raise WxError(PARAM_ERROR, "invalid parameter: next_key") from None

    @staticmethod
    def _key(value: str) -> str:
        return base64.urlsafe_b64encode(value.encode()).decode()

    def _now(self) -> int:
        return to_unix(self.clock.now())

    # --- products ----------------------------------------------------------------------------

    def _product_status(self, item_id: str) -> int:
        return PRODUCT_LISTED if self.state.item(item_id).on_sale else PRODUCT_SELF_DELISTED

    @staticmethod
    def _attrs(spec: str) -> list[dict[str, str]]:
        out = []
        for part in filter(None, (p.strip() for p in spec.split(";"))):
            key, sep, value = part.partition(":")
            out.append({"attr_key": key if sep else "规格", "attr_value": value if sep else key})
        return out

    def _wire_product(self, item_id: str) -> dict[str, Any]:
        item = self.state.item(item_id)
        skus = [
            {
                "sku_id": s.sku_id,
                "out_sku_id": "",
                "sku_code": s.code or "",
                "thumb_img": "",
                "sale_price": s.price,
                "stock_num": s.quantity,
                "sku_attrs": self._attrs(s.spec),
                "status": 0,
            }
            for s in item.skus.values()
        ]
        return {
            "product_id": item.item_id,
            "out_product_id": item.code or "",
            "title": item.title,
            "sub_title": "",
            "status": self._product_status(item_id),
            "edit_status": self.edit_status.get(item_id, EDIT_AUDIT_PASSED),
            "spu_code": item.code or "",
            "skus": skus,
            "min_price": min((s["sale_price"] for s in skus), default=0),
        }

    def _product_list(self, body: dict[str, Any]) -> dict[str, Any]:
        size = self._int(body, "page_size")
        if not 1 <= size <= PRODUCT_PAGE_MAX:
            raise WxError(PARAM_ERROR, f"invalid parameter: page_size must be 1..{PRODUCT_PAGE_MAX}")
        status = body.get("status")
        if status is not None:
            status = self._int(body, "status")
        after = self._cursor(body.get("next_key"))
        ids = sorted(self.state.items, key=int)
        if status is not None:
            ids = [i for i in ids if self._product_status(i) == status]
        rest = [i for i in ids if after is None or int(i) > int(after)]
        page = rest[:size]
        return {
            "product_ids": page,
            "total_num": len(ids),
            "next_key": self._key(page[-1]) if page else (body.get("next_key") or ""),
        }

    def _product_get(self, body: dict[str, Any]) -> dict[str, Any]:
        product_id = self._id(body, "product_id")
        data_type = self._int(body, "data_type", default=1)
        if data_type not in (1, 2, 3):
            raise WxError(PARAM_ERROR, "invalid parameter: data_type")
        if product_id not in self.state.items:
            raise WxError(PRODUCT_NOT_FOUND, "product not exist")
        product = self._wire_product(product_id)
        out: dict[str, Any] = {}
        if data_type in (1, 3):
            out["product"] = product
        if data_type in (2, 3):
            out["edit_product"] = product
        return out

    def _sku_of(self, body: dict[str, Any]) -> tuple[str, str]:
        product_id, sku_id = self._id(body, "product_id"), self._id(body, "sku_id")
        sku = self.state.skus.get(sku_id)
        if product_id not in self.state.items or sku is None or sku.item_id != product_id:
            raise WxError(PRODUCT_NOT_FOUND, "product or sku not exist")
        return product_id, sku_id

    def _stock_get(self, body: dict[str, Any]) -> dict[str, Any]:
        _, sku_id = self._sku_of(body)
        quantity = self.state.sku(sku_id).quantity
        return {
            "data": {
                "normal_stock_num": quantity,
                "limited_discount_stock_num": 0,
                "warehouse_stocks": [],
                "total_stock_num": quantity,
            }
        }

    def _check_stock_change(self, sku_id: str, change: dict[str, Any]) -> tuple[int, int]:
        diff_type = self._int(change, "diff_type")
        num = self._int(change, "num")
        if diff_type not in (1, 2, 3):
            raise WxError(PARAM_ERROR, "invalid parameter: diff_type must be 1, 2 or 3")
        if num < 0:
            raise WxError(PARAM_ERROR, "invalid parameter: num must not be negative")
        if diff_type == 2 and num > self.state.sku(sku_id).quantity:
            raise WxError(STOCK_NOT_ENOUGH, "stock not enough to subtract")
        return diff_type, num

    def _apply_stock_change(self, sku_id: str, diff_type: int, num: int) -> None:
        if diff_type == 3:
            self.state.set_quantity(sku_id, num)
        else:
            self.state.add_quantity(sku_id, num if diff_type == 1 else -num)

    def _stock_update(self, body: dict[str, Any]) -> dict[str, Any]:
        product_id, sku_id = self._sku_of(body)
        if self.edit_status.get(product_id, EDIT_AUDIT_PASSED) == EDIT_UNDER_AUDIT:
            raise WxError(PRODUCT_UNDER_AUDIT, "product is under audit, cannot update stock")
        diff_type, num = self._check_stock_change(sku_id, body)
        self._apply_stock_change(sku_id, diff_type, num)
        return {}

    def _auditfree(self, body: dict[str, Any]) -> dict[str, Any]:
        product_id = self._id(body, "product_id")
        if product_id not in self.state.items:
            raise WxError(PRODUCT_NOT_FOUND, "product not exist")
        rows = body.get("skus")
        if not isinstance(rows, list) or not rows:
            raise WxError(PARAM_ERROR, "invalid parameter: skus is required")
        planned = []
        for row in rows:  # check every row first: the update is all or nothing
            if not isinstance(row, dict):
                raise WxError(DATA_FORMAT, "data format error: skus")
            _, sku_id = self._sku_of({"product_id": product_id, "sku_id": row.get("sku_id")})
            if row.get("is_delete"):
                raise WxError(PARAM_ERROR, "invalid parameter: is_delete is not supported here")
            price = None
            if "sale_price" in row:
                price = self._int(row, "sale_price")
                if not 0 < price <= PRICE_MAX:
                    raise WxError(PARAM_ERROR, "invalid parameter: sale_price out of range")
            stock = None
            if row.get("stock_info") is not None:
                if not isinstance(row["stock_info"], dict):
                    raise WxError(DATA_FORMAT, "data format error: stock_info")
                stock = self._check_stock_change(sku_id, row["stock_info"])
            planned.append((sku_id, price, stock))
        for sku_id, price, stock in planned:
            if price is not None:
                self.state.set_price(sku_id, price)
            if stock is not None:
                self._apply_stock_change(sku_id, *stock)
        return {}

    # --- orders ----------------------------------------------------------------------------------

    @staticmethod
    def _ts(dt: datetime) -> int:
        return math.floor(dt.timestamp())  # the platform keeps whole seconds

    def _range(self, body: dict[str, Any], name: str) -> tuple[int, int] | None:
        value = body.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise WxError(DATA_FORMAT, f"data format error: {name}")
        start = self._int(value, "start_time", code=ORDER_PARAM_ERROR)
        end = self._int(value, "end_time", code=ORDER_PARAM_ERROR)
        if end < start:
            raise WxError(ORDER_PARAM_ERROR, f"invalid parameter: {name} ends before it starts")
        if end - start > MAX_RANGE:
            raise WxError(ORDER_PARAM_ERROR, f"invalid parameter: {name} exceeds 7 days")
        return start, end

    def _order_list(self, body: dict[str, Any]) -> dict[str, Any]:
        created = self._range(body, "create_time_range")
        updated = self._range(body, "update_time_range")
        if created is None and updated is None:
            raise WxError(
                ORDER_PARAM_ERROR, "invalid parameter: create_time_range or update_time_range is required"
            )
        size = self._int(body, "page_size", code=ORDER_PARAM_ERROR)
        if not 1 <= size <= ORDER_PAGE_MAX:
            raise WxError(ORDER_PARAM_ERROR, f"invalid parameter: page_size must be 1..{ORDER_PAGE_MAX}")
        status = body.get("status")
        if status is not None:
            status = self._int(body, "status", code=ORDER_PARAM_ERROR)

        def sort_key(order: OrderState) -> tuple[int, int]:
            when = order.modified if updated is not None else order.created
            return self._ts(when), int(order.order_id)

        def search() -> list[OrderState]:
            found = []
            for order in self.state.orders.values():
                if created and not created[0] <= self._ts(order.created) <= created[1]:
                    continue  # both ends inclusive (the sandbox's reading; UNCONFIRMED)
                if updated and not updated[0] <= self._ts(order.modified) <= updated[1]:
                    continue
                if status is not None and WIRE_STATUS[order.status] != status:
                    continue
                found.append(order)
            found.sort(key=sort_key)
            return found

        found = self.state.selection(("order/list/get", created, updated, status), search)
        cursor = self._cursor(body.get("next_key"))
        if cursor is not None:
            at, _, last = cursor.partition(":")
            if not (at.isdigit() and last.isdigit()):
                raise WxError(ORDER_PARAM_ERROR, "invalid parameter: next_key")
            found = found[bisect_right(found, (int(at), int(last)), key=sort_key) :]  # sorted by sort_key
        page = found[:size]
        next_key = (
            self._key(f"{sort_key(page[-1])[0]}:{page[-1].order_id}") if page else body.get("next_key") or ""
        )
        return {
            "order_id_list": [o.order_id for o in page],
            "next_key": next_key,
            "has_more": len(found) > size,
        }

    #: after-sale ids per getaftersalelist page (the API takes no page size: UNCONFIRMED)
    aftersale_page_size = 50

    def _after_sale_list(self, body: dict[str, Any]) -> dict[str, Any]:
        """After-sale order ids by create or update time (a pair is required, both ends
        included, at most 24 hours), oldest first, paged by ``next_key``."""
        pair = "update" if "begin_update_time" in body or "end_update_time" in body else "create"
        if pair == "create" and "begin_create_time" not in body:
            raise WxError(
                PARAM_ERROR, "invalid parameter: begin_create_time or begin_update_time is required"
            )
        begin, end = self._int(body, f"begin_{pair}_time"), self._int(body, f"end_{pair}_time")
        if not 0 <= end - begin <= wx_after.MAX_SPAN_HOURS * 3600:
            raise WxError(AFTERSALE_RANGE, "invalid time range: no longer than 24 hours")

        def when(case: Any) -> int:
            return self._ts(case.modified if pair == "update" else case.created)

        self.state.after_sales.advance()
        found = sorted(
            (c for c in self.state.after_sales.cases.values() if begin <= when(c) <= end),
            key=lambda c: (when(c), int(c.case_id)),
        )
        cursor = self._cursor(body.get("next_key"))
        if cursor is not None:
            at, _, last = cursor.partition(":")
            if not (at.isdigit() and last.isdigit()):
                raise WxError(PARAM_ERROR, "invalid parameter: next_key")
            found = [c for c in found if (when(c), int(c.case_id)) > (int(at), int(last))]
        page = found[: self.aftersale_page_size]
        next_key = self._key(f"{when(page[-1])}:{page[-1].case_id}") if page else body.get("next_key") or ""
        return {
            "after_sale_order_id_list": [c.case_id for c in page],
            "has_more": len(found) > len(page),
            "next_key": next_key,
        }

    def _after_sale_get(self, body: dict[str, Any]) -> dict[str, Any]:
        case = self.state.after_sales.case(self._id(body, "after_sale_order_id"))
        return {"after_sale_order": wx_after.wire_case(case)}

    def _delivery_info(self, order: OrderState) -> dict[str, Any]:
        recorded = self.deliveries.get(order.order_id)
        if recorded is None and order.tracking_number:
            # Shipped outside the API (seed, test set-up): one parcel with the shipped lines.
            counts: Counter[tuple[str, str]] = Counter()
            for line in order.lines:
                if line.shipped:
                    counts[(line.item_id, line.sku_id)] += line.quantity
            recorded = [
                {
                    "delivery_id": order.carrier or "",
                    "waybill_id": order.tracking_number,
                    "deliver_type": 1,
                    "delivery_time": self._ts(order.modified),
                    "product_infos": [
                        {"product_id": p, "sku_id": s, "product_cnt": n} for (p, s), n in counts.items()
                    ],
                }
            ]
        return {"delivery_product_info": recorded or [], "deliver_method": 0}

    def _wire_order(self, order: OrderState) -> dict[str, Any]:
        infos = []
        for line in order.lines:
            item = self.state.items.get(line.item_id)
            sku = self.state.skus.get(line.sku_id)
            infos.append(
                {
                    "product_id": line.item_id,
                    "sku_id": line.sku_id,
                    "out_product_id": (item.code or "") if item else "",
                    "out_sku_id": "",
                    "sku_code": line.code or "",
                    "title": item.title if item else line.title,
                    "sku_attrs": self._attrs(sku.spec) if sku else [],
                    "sku_cnt": line.quantity,
                    "sale_price": line.unit_price,
                    "market_price": line.unit_price,
                    "real_price": line.unit_price * line.quantity,
                    "is_discounted": False,
                    "on_aftersale_sku_cnt": 0,
                    "finish_aftersale_sku_cnt": line.quantity if line.refunded else 0,
                }
            )
        product_price = sum(line.unit_price * line.quantity for line in order.lines)
        detail: dict[str, Any] = {
            "product_infos": infos,
            "price_info": {
                "product_price": product_price,
                "order_price": product_price,
                "freight": 0,
                "discounted_price": 0,
                "original_order_price": product_price,
            },
            "pay_info": {"pay_time": self._ts(order.paid_at)} if order.paid_at else {},
            "delivery_info": self._delivery_info(order),
        }
        return {
            "order_id": order.order_id,
            "status": WIRE_STATUS[order.status],
            "create_time": self._ts(order.created),
            "update_time": self._ts(order.modified),
            "openid": f"o_{order.buyer}",
            "order_detail": detail,
            "aftersale_detail": {"on_aftersale_order_cnt": 0, "aftersale_order_list": []},
        }

    def _order_get(self, body: dict[str, Any]) -> dict[str, Any]:
        order_id = self._id(body, "order_id", code=ORDER_PARAM_ERROR)
        if order_id not in self.state.orders:
            raise WxError(ORDER_NOT_FOUND, "order not exist")
        return {"order": self._wire_order(self.state.order(order_id))}

    def _delivery_send(self, body: dict[str, Any]) -> dict[str, Any]:
        order_id = self._id(body, "order_id", code=ORDER_PARAM_ERROR)
        if order_id not in self.state.orders:
            raise WxError(ORDER_NOT_FOUND, "order not exist")
        order = self.state.order(order_id)
        if order.status not in (OrderStatus.AWAITING_SHIPMENT, OrderStatus.PARTLY_SHIPPED):
            raise WxError(ORDER_STATUS_ERROR, "order status does not allow delivery")
        parcels = body.get("delivery_list")
        if not isinstance(parcels, list) or not parcels:
            raise WxError(ORDER_PARAM_ERROR, "invalid parameter: delivery_list is required")
        free = [line for line in order.lines if not line.shipped]
        plan = []
        for parcel in parcels:  # check all parcels first: nothing ships unless all are valid
            if not isinstance(parcel, dict):
                raise WxError(DATA_FORMAT, "data format error: delivery_list")
            carrier, waybill = parcel.get("delivery_id"), parcel.get("waybill_id")
            if not (isinstance(carrier, str) and carrier and isinstance(waybill, str) and waybill):
                raise WxError(ORDER_PARAM_ERROR, "invalid parameter: delivery_id and waybill_id are required")
            products = parcel.get("product_infos")
            if products is None:  # UNCONFIRMED whether required: without it, ship the rest
                products = [
                    {"product_id": ln.item_id, "sku_id": ln.sku_id, "product_cnt": ln.quantity} for ln in free
                ]
            if not isinstance(products, list) or not products:
                raise WxError(ORDER_PARAM_ERROR, "invalid parameter: product_infos")
            lines = []
            for product in products:
                if not isinstance(product, dict):
                    raise WxError(DATA_FORMAT, "data format error: product_infos")
                sku_id = self._id(product, "sku_id", code=ORDER_PARAM_ERROR)
                product_id = self._id(product, "product_id", code=ORDER_PARAM_ERROR)
                count = self._int(product, "product_cnt", code=ORDER_PARAM_ERROR)
                for line in [ln for ln in free if ln.sku_id == sku_id and ln.item_id == product_id]:
                    if count <= 0:
                        break
                    if line.quantity > count:
                        break
                    count -= line.quantity
                    lines.append(line)
                    free.remove(line)
                if count != 0:
                    raise WxError(
                        ORDER_PARAM_ERROR,
                        f"invalid parameter: product_cnt of sku {sku_id} does not match the order",
                    )
            plan.append((parcel, carrier, waybill, lines))
        recorded = self.deliveries.setdefault(order_id, [])
        for parcel, carrier, waybill, lines in plan:
            self.state.ship(order_id, carrier, waybill, [ln.line_id for ln in lines])
            counts: Counter[tuple[str, str]] = Counter()
            for line in lines:
                counts[(line.item_id, line.sku_id)] += line.quantity
            recorded.append(
                {
                    "delivery_id": carrier,
                    "waybill_id": waybill,
                    "deliver_type": parcel.get("deliver_type", 1),
                    "delivery_time": self._now(),
                    "product_infos": [
                        {"product_id": p, "sku_id": s, "product_cnt": n} for (p, s), n in counts.items()
                    ],
                }
            )
        return {}

    # --- limited-time discounts (限时抢购) -------------------------------------------------------

    def _task_add(self, body: dict[str, Any]) -> dict[str, Any]:
        product_id = self._id(body, "product_id")
        if product_id not in self.state.items:
            raise WxError(PRODUCT_NOT_FOUND, "product not exist")
        start, end = self._int(body, "start_time"), self._int(body, "end_time")
        now = self._now()
        year = 365 * 24 * 3600
        if start < now - 600:  # "at or after now, with up to ten minutes of error"
            raise WxError(TASK_RULE, "start_time must not be earlier than now")
        if end <= start or end <= now:
            raise WxError(TASK_RULE, "end_time must be later than now and start_time")
        if start > now + year or end > now + year:
            raise WxError(TASK_RULE, "start_time and end_time must be within one year")
        if end - start > 24 * 3600:
            raise WxError(TASK_RULE, "a limited discount task may last at most 24 hours")
        if any(t.product_id == product_id and t.status(now) != TASK_OVER for t in self.tasks.values()):
            raise WxError(TASK_EXISTS, "product already has an unfinished limited discount task")
        rows = body.get("limited_discount_skus")
        if not isinstance(rows, list) or not rows:
            raise WxError(PARAM_ERROR, "invalid parameter: limited_discount_skus is required")
        prices: dict[str, int] = {}
        skus = []
        for row in rows:
            if not isinstance(row, dict):
                raise WxError(DATA_FORMAT, "data format error: limited_discount_skus")
            _, sku_id = self._sku_of({"product_id": product_id, "sku_id": row.get("sku_id")})
            price, stock = self._int(row, "sale_price"), self._int(row, "sale_stock")
            original = self.state.sku(sku_id).price
            if original <= 1000:
                raise WxError(TASK_RULE, f"sku {sku_id}: the original price must be above 10 yuan")
            if not original * 10 <= price * 100 <= original * 85:
                raise WxError(TASK_RULE, f"sku {sku_id}: the price must be 10%-85% of the original (1-8.5折)")
            if original - price < 1000:
                raise WxError(TASK_RULE, f"sku {sku_id}: the price must be at least 10 yuan off")
            if not 0 <= stock <= self.state.sku(sku_id).quantity:
                raise WxError(TASK_RULE, f"sku {sku_id}: sale_stock exceeds the current stock")
            prices[sku_id] = price
            skus.append({"sku_id": sku_id, "sale_price": price, "sale_stock": stock})
        task_id = self._task_ids()
        promotion = self.state.add_promotion(
            f"限时抢购 {task_id}", "limited_discount", prices, from_unix(start), from_unix(end)
        )
        self.tasks[task_id] = Task(task_id, product_id, promotion.promotion_id, now, start, end, skus)
        return {"task_id": task_id}

    def _task(self, body: dict[str, Any]) -> Task:
        task_id = self._id(body, "task_id")
        if task_id not in self.tasks:
            raise WxError(TASK_NOT_FOUND, "limited discount task not exist")
        return self.tasks[task_id]

    def _task_stop(self, body: dict[str, Any]) -> dict[str, Any]:
        task = self._task(body)
        if task.status(self._now()) == TASK_OVER:
            raise WxError(TASK_ENDED, "limited discount task already ended")
        task.stopped = True
        self.state.end_promotion(task.promotion_id)
        return {}

    def _task_delete(self, body: dict[str, Any]) -> dict[str, Any]:
        task = self._task(body)
        if task.status(self._now()) != TASK_OVER:
            raise WxError(TASK_RULE, "only ended limited discount tasks can be deleted")
        del self.tasks[task.task_id]
        return {}

    def _task_list(self, body: dict[str, Any]) -> dict[str, Any]:
        size = self._int(body, "page_size", default=10)
        if not 1 <= size <= TASK_PAGE_MAX:
            raise WxError(PARAM_ERROR, f"invalid parameter: page_size must be 1..{TASK_PAGE_MAX}")
        status = body.get("status")
        now = self._now()
        tasks = sorted(self.tasks.values(), key=lambda t: int(t.task_id))
        if status is not None:
            status = self._int(body, "status")
            tasks = [t for t in tasks if t.status(now) == status]
        after = self._cursor(body.get("next_key"))
        rest = [t for t in tasks if after is None or int(t.task_id) > int(after)]
        page = rest[:size]
        return {
            "limited_discount_tasks": [
                {
                    "task_id": t.task_id,
                    "product_id": t.product_id,
                    "status": t.status(now),
                    "create_time": t.create_time,
                    "start_time": t.start_time,
                    "end_time": t.end_time,
                    "limited_discount_skus": t.skus,
                }
                for t in page
            ],
            "next_key": self._key(page[-1].task_id) if page else (body.get("next_key") or ""),
            "total_num": len(tasks),
        }

    # --- test knobs ------------------------------------------------------------------------------

    def set_edit_status(self, product_id: str, edit_status: int) -> None:
        """Put a product's draft into ``edit_status`` (2 = under audit blocks stock/update)."""
        self.state.item(product_id)
        self.edit_status[product_id] = edit_status


WechatSandbox.ROUTES = {
    "product/list/get": WechatSandbox._product_list,
    "product/get": WechatSandbox._product_get,
    "product/stock/get": WechatSandbox._stock_get,
    "product/stock/update": WechatSandbox._stock_update,
    "product/auditfree": WechatSandbox._auditfree,
    "order/list/get": WechatSandbox._order_list,
    "order/get": WechatSandbox._order_get,
    "order/delivery/send": WechatSandbox._delivery_send,
    wx_after.LIST_PATH: WechatSandbox._after_sale_list,
    wx_after.GET_PATH: WechatSandbox._after_sale_get,
    "product/limiteddiscounttask/add": WechatSandbox._task_add,
    "product/limiteddiscounttask/list/get": WechatSandbox._task_list,
    "product/limiteddiscounttask/stop": WechatSandbox._task_stop,
    "product/limiteddiscounttask/delete": WechatSandbox._task_delete,
}


# WeChat push events of an order's statuses (its first status: channels_ec_order_new).
_PUSH_EVENTS = {
    OrderStatus.AWAITING_SHIPMENT: "channels_ec_order_pay",
    OrderStatus.PARTLY_SHIPPED: "channels_ec_order_deliver",
    OrderStatus.SHIPPED: "channels_ec_order_deliver",
    OrderStatus.COMPLETED: "channels_ec_order_confirm",
    OrderStatus.CANCELLED: "channels_ec_order_cancel",
    OrderStatus.REFUNDED: "channels_ec_aftersale_update",
}
