"""WeChat store event pushes: URL check with the official vector, msg_signature, AES
decryption (both directions against wechatpy's implementation), appid check."""

from __future__ import annotations

import base64
import json

import pytest
from wechatpy.crypto import PrpCrypto

from hub.errors import ConfigError, PushMalformed, PushSignatureInvalid
from hub.push.events import EventKind, PushRequest
from hub_wechat import push

TOKEN, TIMESTAMP, NONCE = "AAAAA", "1714036504", "1514711492"
OFFICIAL = "f464b24fc39322e44b38aa78f5edd27bd1441696"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as the backend generates
APP_ID = "wx1234567890abcdef"


def _post(
    message: dict,
    *,
    token: str = TOKEN,
    key: str = AES_KEY,
    app_id: str = APP_ID,
    timestamp: str = TIMESTAMP,
    random: bytes = bytes(16),
) -> PushRequest:
    encrypted = push.encrypt(json.dumps(message), key, app_id, random=random)
    signature = push.sign_push(token, timestamp, NONCE, encrypted)
    body = json.dumps({"ToUserName": "gh_x", "Encrypt": encrypted}).encode()
    query = {"msg_signature": signature, "timestamp": timestamp, "nonce": NONCE}
    return PushRequest("POST", {}, query, body)


ORDER_NEW = {
    "ToUserName": "gh_x",
    "FromUserName": "OPENID",
    "CreateTime": 1714036504,
    "MsgType": "event",
    "Event": "channels_ec_order_new",
    "order_info": {"order_id": 3705115058471208928},
}


def test_url_check_echoes_with_the_official_vector() -> None:
    request = PushRequest(
        "GET", {}, {"signature": OFFICIAL, "timestamp": TIMESTAMP, "nonce": NONCE, "echostr": "hello"}, b""
    )
    assert push.verify_url(request, TOKEN).body == b"hello"
    with pytest.raises(PushSignatureInvalid):
        push.verify_url(request, "AAAAB")
    with pytest.raises(PushMalformed):
        push.verify_url(PushRequest("GET", {}, {"signature": OFFICIAL}, b""), TOKEN)


def test_our_encryption_is_what_wechatpy_decrypts_and_back() -> None:
    key = base64.b64decode(AES_KEY + "=")
    ours = push.encrypt('{"a":"中文"}', AES_KEY, APP_ID)
    assert PrpCrypto(key).decrypt(ours, APP_ID) == '{"a":"中文"}'
    theirs = PrpCrypto(key).encrypt('{"b":1}', APP_ID)
    assert push.decrypt(theirs.decode(), AES_KEY, APP_ID) == '{"b":1}'


def test_a_32_byte_block_of_padding_round_trips() -> None:
    # 16 random + 4 length + message + appid is a whole number of 32-byte blocks: pad 32.
    message = "x" * (64 - 20 - len(APP_ID))
    assert push.decrypt(push.encrypt(message, AES_KEY, APP_ID), AES_KEY, APP_ID) == message


def test_a_signed_encrypted_order_push_parses() -> None:
    parsed = push.parse(_post(ORDER_NEW), APP_ID, TOKEN, AES_KEY)
    [event] = parsed.events
    assert event.kind is EventKind.ORDER_CREATED
    assert event.order_id == "3705115058471208928"
    assert parsed.answer.body == b"success"
    assert parsed.sent_at is not None and int(parsed.sent_at.timestamp()) == int(TIMESTAMP)


def test_redelivery_of_the_same_event_has_the_same_message_id() -> None:
    first = push.parse(_post(ORDER_NEW), APP_ID, TOKEN, AES_KEY).events[0]
    again = push.parse(_post(ORDER_NEW, random=b"r" * 16), APP_ID, TOKEN, AES_KEY).events[0]
    assert first.message_id == again.message_id


def test_bad_pushes_are_refused() -> None:
    with pytest.raises(PushSignatureInvalid):
        push.parse(_post(ORDER_NEW, token="other"), APP_ID, TOKEN, AES_KEY)
    with pytest.raises(PushSignatureInvalid):  # signed right, encrypted for another app
        push.parse(_post(ORDER_NEW, app_id="wxother"), APP_ID, TOKEN, AES_KEY)
    other_key = "B" * 43
    with pytest.raises(PushSignatureInvalid):
        push.parse(_post(ORDER_NEW, key=other_key), APP_ID, TOKEN, AES_KEY)
    good = _post(ORDER_NEW)
    with pytest.raises(PushMalformed):  # truncated body
        push.parse(PushRequest("POST", {}, good.query, good.body[:-10]), APP_ID, TOKEN, AES_KEY)
    with pytest.raises(PushSignatureInvalid):  # no secrets configured
        push.parse(good, APP_ID, None, None)


def test_a_wrong_key_is_refused_as_such_whatever_the_random_bytes() -> None:
    # Decrypted under a wrong key, about one message in 256 ends in what looks like valid
    # padding; it must still be refused as the wrong key, not as a truncated message.
    for i in range(4096):
        request = _post(ORDER_NEW, key="B" * 43, random=i.to_bytes(16, "big"))
        with pytest.raises(PushSignatureInvalid):
            push.parse(request, APP_ID, TOKEN, AES_KEY)


def test_an_aes_key_of_the_wrong_length_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        push.aes_key("short")


def test_unused_events_are_acknowledged_without_events() -> None:
    parsed = push.parse(_post({**ORDER_NEW, "Event": "channels_ec_coupon_create"}), APP_ID, TOKEN, AES_KEY)
    assert parsed.events == [] and parsed.answer.body == b"success"
