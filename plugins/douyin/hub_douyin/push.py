"""Douyin shop push messages (消息推送), fact sheet §3.8.

A push is ``POST`` with headers ``app-id`` (our app key) and ``event-sign`` = lowercase hex
MD5 of ``app_key + raw_body + app_secret``; the body is a JSON array of
``{"tag", "msg_id", "data": "<JSON string>"}``. We answer ``{"code":0,"msg":"success"}``;
any other answer makes the platform redeliver. Order payloads carry ``p_id`` (the parent
order id, the one ``order.orderDetail`` takes); product payloads ``product_id``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from hub.errors import BadPush, PushMalformed, PushSignatureInvalid
from hub.push.events import EventKind, ParsedPush, PushAnswer, PushEvent, PushRequest

OK = PushAnswer(200, b'{"code":0,"msg":"success"}')

#: Tag -> hub event (tags the hub has no use for are acknowledged and ignored).
TAGS: dict[str, EventKind] = {
    "100": EventKind.ORDER_CREATED,
    "101": EventKind.ORDER_PAID,
    "102": EventKind.ORDER_SHIPPED,
    "103": EventKind.ORDER_CHANGED,  # trade completed
    "106": EventKind.ORDER_CANCELLED,
    "109": EventKind.ORDER_CHANGED,  # amount modified
    "200": EventKind.ORDER_CHANGED,  # after-sale opened
    "206": EventKind.ORDER_REFUNDED,
    "207": EventKind.ORDER_CHANGED,  # after-sale closed
    "400": EventKind.PRODUCT_CHANGED,
}


def event_sign(app_key: str, body: bytes, app_secret: str) -> str:
    """The ``event-sign`` of ``body``: MD5 hex of app key + raw body + app secret."""
    return hashlib.md5(app_key.encode() + body + app_secret.encode()).hexdigest()


def error_answer(error: BadPush) -> PushAnswer:
    """A non-zero code: the platform redelivers the push later."""
    return PushAnswer(200, json.dumps({"code": 40000, "msg": error.reason}).encode())


def parse(request: PushRequest, app_key: str, app_secret: str) -> ParsedPush:
    """Verify and parse one push; :class:`~hub.errors.BadPush` when it is not acceptable."""
    if request.headers.get("app-id", "") != app_key:
        raise PushSignatureInvalid("app-id header does not name this shop's app")
    sign = request.headers.get("event-sign", "").strip().lower()
    if not sign or not hmac.compare_digest(sign, event_sign(app_key, request.body, app_secret)):
        raise PushSignatureInvalid("event-sign does not match the body")
    try:
        messages = json.loads(request.body)
    except (UnicodeDecodeError, ValueError):
        raise PushMalformed("body is not JSON") from None
    if not isinstance(messages, list):
        raise PushMalformed("body is not a JSON array of messages")
    return ParsedPush([e for m in messages if (e := _event(m)) is not None], OK)


def _event(message: Any) -> PushEvent | None:
    if not isinstance(message, dict) or not message.get("msg_id") or "tag" not in message:
        raise PushMalformed("a message lacks msg_id or tag")
    tag = str(message["tag"])
    kind = TAGS.get(tag)
    if kind is None:
        return None
    try:
        data = json.loads(message.get("data") or "{}")
    except (TypeError, ValueError):
        raise PushMalformed(f"message {message['msg_id']}: data is not a JSON string") from None
    if not isinstance(data, dict):
        raise PushMalformed(f"message {message['msg_id']}: data is not an object")
    msg_id = str(message["msg_id"])
    if kind.is_order:
        order_id = data.get("p_id") or data.get("order_id")
        if not order_id:
            raise PushMalformed(f"message {msg_id} (tag {tag}): no p_id")
        return PushEvent(msg_id, kind, topic=tag, order_id=str(order_id))
    product_id = data.get("product_id")
    if not product_id:
        raise PushMalformed(f"message {msg_id} (tag {tag}): no product_id")
    return PushEvent(msg_id, kind, topic=tag, item_id=str(product_id))
