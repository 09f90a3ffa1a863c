"""Taobao Message Channel (TMC) messages, fact sheet §1.10, read by pulling:
``taobao.tmc.messages.consume`` returns waiting messages, ``taobao.tmc.messages.confirm``
removes them once stored, ``taobao.tmc.user.permit`` enables the seller's topics.

Each message has ``id``, ``topic``, ``content`` (a JSON string carrying ids only: ``tid``
for trades and refunds, ``num_iid``/``sku_id`` for items), ``pub_time``, ``user_id``. The
hub re-reads the trade or item the message names.
"""

from __future__ import annotations

import json
from typing import Any

from hub.errors import PushMalformed
from hub.push.events import EventKind, PushEvent

TOPICS: dict[str, EventKind] = {
    "taobao_trade_TradeCreate": EventKind.ORDER_CREATED,
    "taobao_trade_TradeBuyerPay": EventKind.ORDER_PAID,
    "taobao_trade_TradeSellerShip": EventKind.ORDER_SHIPPED,
    "taobao_trade_TradeSuccess": EventKind.ORDER_CHANGED,
    "taobao_trade_TradeClose": EventKind.ORDER_CANCELLED,
    "taobao_trade_TradeModifyFee": EventKind.ORDER_CHANGED,
    "taobao_trade_TradeChanged": EventKind.ORDER_CHANGED,
    "taobao_trade_TradePartlyRefund": EventKind.ORDER_REFUNDED,
    "taobao_refund_RefundCreated": EventKind.ORDER_CHANGED,
    "taobao_refund_RefundSuccess": EventKind.ORDER_REFUNDED,
    "taobao_refund_RefundClosed": EventKind.ORDER_CHANGED,
    "taobao_item_ItemAdd": EventKind.PRODUCT_CHANGED,
    "taobao_item_ItemUpdate": EventKind.PRODUCT_CHANGED,
    "taobao_item_ItemUpshelf": EventKind.PRODUCT_CHANGED,
    "taobao_item_ItemDownshelf": EventKind.PRODUCT_CHANGED,
    "taobao_item_ItemDelete": EventKind.PRODUCT_CHANGED,
    "taobao_item_ItemStockChanged": EventKind.STOCK_CHANGED,
    "taobao_item_ItemZeroStock": EventKind.STOCK_CHANGED,
    "taobao_item_ItemSkuZeroStock": EventKind.STOCK_CHANGED,
}


def messages_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``tmc_message`` rows of a ``tmc_messages_consume_response``."""
    box = payload.get("messages")
    rows = box.get("tmc_message") if isinstance(box, dict) else box
    if rows is None:
        return []
    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, list):
        raise PushMalformed("tmc messages: not a list")
    return rows


def events_of(message: Any) -> tuple[str, list[PushEvent]]:
    """(message id, its events) of one TMC message; unused topics give no event."""
    if not isinstance(message, dict) or message.get("id") in (None, "") or not message.get("topic"):
        raise PushMalformed("a TMC message lacks id or topic")
    msg_id, topic = str(message["id"]), str(message["topic"])
    kind = TOPICS.get(topic)
    if kind is None:
        return msg_id, []
    try:
        content = json.loads(message.get("content") or "{}")
    except (TypeError, ValueError):
        raise PushMalformed(f"TMC message {msg_id}: content is not JSON") from None
    if not isinstance(content, dict):
        raise PushMalformed(f"TMC message {msg_id}: content is not an object")
    if kind.is_order:
        if not content.get("tid"):
            raise PushMalformed(f"TMC message {msg_id} ({topic}): no tid")
        return msg_id, [PushEvent(msg_id, kind, topic=topic, order_id=str(content["tid"]))]
    if not content.get("num_iid"):
        raise PushMalformed(f"TMC message {msg_id} ({topic}): no num_iid")
    sku = str(content["sku_id"]) if content.get("sku_id") else None
    return msg_id, [PushEvent(msg_id, kind, topic=topic, item_id=str(content["num_iid"]), sku_id=sku)]
