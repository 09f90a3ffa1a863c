"""Taobao TMC messages: consume-response rows to hub events."""

from __future__ import annotations

import json

import pytest

from hub.errors import PushMalformed
from hub.push.events import EventKind
from hub_taobao import push


def _row(msg_id: int, topic: str, **content: object) -> dict:
    return {"id": msg_id, "topic": topic, "content": json.dumps(content), "user_id": 1, "pub_time": "x"}


def test_trade_and_item_messages() -> None:
    payload = {
        "messages": {
            "tmc_message": [
                _row(11, "taobao_trade_TradeBuyerPay", tid=1001, seller_nick="s"),
                _row(12, "taobao_item_ItemSkuZeroStock", num_iid=501, sku_id=9),
                _row(13, "taobao_trade_TradeMemoModified", tid=1001),
            ]
        }
    }
    parsed = [push.events_of(r) for r in push.messages_of(payload)]
    assert parsed[0][0] == "11" and parsed[0][1][0].kind is EventKind.ORDER_PAID
    assert parsed[0][1][0].order_id == "1001"
    assert (parsed[1][1][0].kind, parsed[1][1][0].item_id, parsed[1][1][0].sku_id) == (
        EventKind.STOCK_CHANGED,
        "501",
        "9",
    )
    assert parsed[2] == ("13", [])  # unused topic: confirmed, no event


def test_empty_and_single_row_shapes() -> None:
    assert push.messages_of({}) == []
    assert len(push.messages_of({"messages": {"tmc_message": _row(1, "x")}})) == 1


def test_malformed_messages() -> None:
    with pytest.raises(PushMalformed):
        push.events_of({"topic": "taobao_trade_TradeCreate", "content": "{}"})
    with pytest.raises(PushMalformed):
        push.events_of(_row(1, "taobao_trade_TradeCreate"))  # no tid
    with pytest.raises(PushMalformed):
        push.events_of({"id": 1, "topic": "taobao_trade_TradeCreate", "content": "{not json"})
