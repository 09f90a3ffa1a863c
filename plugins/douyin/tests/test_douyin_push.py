"""Douyin push messages: app-id and event-sign checks, tags to hub events, answers."""

from __future__ import annotations

import hashlib
import json

import pytest

from hub.errors import PushMalformed, PushSignatureInvalid
from hub.push.events import EventKind, PushRequest
from hub_douyin import push

KEY, SECRET = "7000000000000000001", "s3cret-s3cret"


def _request(
    messages: list, *, key: str = KEY, secret: str = SECRET, body: bytes | None = None
) -> PushRequest:
    raw = body if body is not None else json.dumps(messages).encode()
    sign = hashlib.md5((key + raw.decode("utf-8", "replace") + secret).encode()).hexdigest()
    return PushRequest("POST", {"app-id": key, "event-sign": sign}, {}, raw)


def _msg(tag: str, msg_id: str, **data: object) -> dict:
    return {"tag": tag, "msg_id": msg_id, "data": json.dumps(data)}


def test_messages_become_events_and_the_answer_is_code_0() -> None:
    parsed = push.parse(
        _request(
            [
                _msg("100", "m1", p_id=4781, s_ids=[4782], shop_id=1, order_status=1),
                _msg("106", "m2", p_id=4781),
                _msg("400", "m3", product_id=3601),
                _msg("999", "m4"),  # a tag the hub does not use: acknowledged, no event
            ]
        ),
        KEY,
        SECRET,
    )
    assert [(e.message_id, e.kind, e.order_id, e.item_id) for e in parsed.events] == [
        ("m1", EventKind.ORDER_CREATED, "4781", None),
        ("m2", EventKind.ORDER_CANCELLED, "4781", None),
        ("m3", EventKind.PRODUCT_CHANGED, None, "3601"),
    ]
    assert json.loads(parsed.answer.body) == {"code": 0, "msg": "success"}


def test_wrong_signature_or_app_is_refused_with_a_non_zero_code() -> None:
    with pytest.raises(PushSignatureInvalid) as caught:
        push.parse(_request([_msg("100", "m1", p_id=1)], secret="wrong"), KEY, SECRET)
    assert json.loads(push.error_answer(caught.value).body)["code"] != 0
    with pytest.raises(PushSignatureInvalid):
        push.parse(_request([_msg("100", "m1", p_id=1)], key="other"), KEY, SECRET)
    unsigned = PushRequest("POST", {"app-id": KEY}, {}, b"[]")
    with pytest.raises(PushSignatureInvalid):
        push.parse(unsigned, KEY, SECRET)


def test_malformed_bodies_are_refused() -> None:
    with pytest.raises(PushMalformed):
        push.parse(_request([], body=b'[{"tag":"100","msg_id":"m1","da'), KEY, SECRET)
    with pytest.raises(PushMalformed):
        push.parse(_request([], body=b'{"tag":"100"}'), KEY, SECRET)
    with pytest.raises(PushMalformed):
        push.parse(_request([_msg("100", "m1")]), KEY, SECRET)  # no p_id
    with pytest.raises(PushMalformed):
        push.parse(_request([{"tag": "100", "data": "{}"}]), KEY, SECRET)  # no msg_id
