"""WeChat store event callbacks (消息推送), fact sheet §4.7: the URL check, the
``msg_signature`` check, AES decryption and the appid check.

The store allows only secure mode with JSON bodies: ``{"ToUserName", "Encrypt"}``.
``Encrypt`` is base64 of AES-256-CBC (key = base64 of EncodingAESKey + "=", IV = its
first 16 bytes, PKCS#7 padding to 32-byte blocks) over 16 random bytes, a 4-byte
big-endian length, the JSON message and our AppID. The scheme is the one wechatpy and
WxJava implement; the tests check both directions against wechatpy. We answer
``success`` (plain text); anything else makes WeChat retry.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import struct
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from hub.errors import BadPush, ConfigError, PushMalformed, PushSignatureInvalid
from hub.push.events import EventKind, ParsedPush, PushAnswer, PushEvent, PushRequest
from hub_wechat.signing import push_signature, verify_msg_signature, verify_signature

BLOCK = 32  # WeChat pads to 32 bytes, not AES's 16
OK = PushAnswer(200, b"success", "text/plain")

#: Event -> hub event; order events carry ``order_info.order_id``.
EVENTS: dict[str, EventKind] = {
    "channels_ec_order_new": EventKind.ORDER_CREATED,
    "channels_ec_order_pay": EventKind.ORDER_PAID,
    "channels_ec_order_cancel": EventKind.ORDER_CANCELLED,
    "channels_ec_order_deliver": EventKind.ORDER_SHIPPED,
    "channels_ec_order_wait_shipping": EventKind.ORDER_CHANGED,
    "channels_ec_order_confirm": EventKind.ORDER_CHANGED,
    "channels_ec_order_settle": EventKind.ORDER_CHANGED,
    "channels_ec_order_ext_info_update": EventKind.ORDER_CHANGED,
    "product_order_status_update": EventKind.ORDER_CHANGED,
    "channels_ec_aftersale_update": EventKind.ORDER_CHANGED,
    "product_spu_listing": EventKind.PRODUCT_CHANGED,
    "product_spu_update": EventKind.PRODUCT_CHANGED,
    "channels_ec_stock_no_enough": EventKind.STOCK_CHANGED,
}


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key of a 43-character EncodingAESKey."""
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise ConfigError("push_aes_key: an EncodingAESKey is 43 base64 characters (32 bytes)")
    return key


def encrypt(message: str, encoding_aes_key: str, app_id: str, *, random: bytes | None = None) -> str:
    """``Encrypt`` of ``message`` as WeChat computes it (the sandbox's pushes, the tests)."""
    key = aes_key(encoding_aes_key)
    text = message.encode()
    plain = (random or os.urandom(16)) + struct.pack(">I", len(text)) + text + app_id.encode()
    pad = BLOCK - len(plain) % BLOCK
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def decrypt(encrypted: str, encoding_aes_key: str, app_id: str) -> str:
    """The message inside ``Encrypt``; :class:`BadPush` if it does not decrypt to a
    message for ``app_id``."""
    key = aes_key(encoding_aes_key)
    try:
        data = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError):
        raise PushMalformed("Encrypt is not base64") from None
    if not data or len(data) % 16:
        raise PushMalformed("Encrypt is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    # Under a wrong key the plaintext is noise, whose padding and length now and then look
    # right by chance; any of these checks failing means the key, not the message, is wrong
    # (msg_signature has already vouched for the ciphertext).
    pad = plain[-1]
    wrong_key = PushSignatureInvalid("Encrypt does not decrypt with the shop's EncodingAESKey")
    if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad or len(plain) < 20 + pad:
        raise wrong_key
    content = plain[16:-pad]
    (length,) = struct.unpack(">I", content[:4])
    if length > len(content) - 4:
        raise wrong_key
    if content[4 + length :].decode("utf-8", "replace") != app_id:
        raise PushSignatureInvalid("the decrypted message is for another AppID")
    try:
        return content[4 : 4 + length].decode()
    except UnicodeDecodeError:
        raise PushMalformed("the decrypted message is not UTF-8") from None


def _secrets(token: str | None, encoding_aes_key: str | None) -> tuple[str, str]:
    if not token or not encoding_aes_key:
        raise PushSignatureInvalid("the shop has no push_token/push_aes_key: pushes cannot be verified")
    return token, encoding_aes_key


def verify_url(request: PushRequest, token: str | None) -> PushAnswer:
    """The GET URL check: echo ``echostr`` when ``signature`` is right."""
    q = request.query
    if not token:
        raise PushSignatureInvalid("the shop has no push_token: the URL check cannot be answered")
    if not all(q.get(k) for k in ("signature", "timestamp", "nonce", "echostr")):
        raise PushMalformed("URL check without signature, timestamp, nonce and echostr")
    if not verify_signature(token, q["timestamp"], q["nonce"], q["signature"]):
        raise PushSignatureInvalid("signature does not match the shop's push_token")
    return PushAnswer(200, q["echostr"].encode(), "text/plain")


def sign_push(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """The ``msg_signature`` of a push (the sandbox's pushes)."""
    return push_signature(token, timestamp, nonce, encrypted)


def parse(request: PushRequest, app_id: str, token: str | None, encoding_aes_key: str | None) -> ParsedPush:
    """Verify, decrypt and parse an event POST."""
    token, encoding_aes_key = _secrets(token, encoding_aes_key)
    q = request.query
    if not all(q.get(k) for k in ("msg_signature", "timestamp", "nonce")):
        raise PushMalformed("push without msg_signature, timestamp and nonce in the query")
    try:
        envelope = json.loads(request.body)
    except (UnicodeDecodeError, ValueError):
        raise PushMalformed("body is not JSON") from None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("Encrypt"), str):
        raise PushMalformed("body has no Encrypt field")
    if not verify_msg_signature(token, q["timestamp"], q["nonce"], envelope["Encrypt"], q["msg_signature"]):
        raise PushSignatureInvalid("msg_signature does not match the shop's push_token")
    try:
        sent_at = datetime.fromtimestamp(int(q["timestamp"]), UTC)
    except (ValueError, OverflowError):
        raise PushMalformed("timestamp is not a Unix time") from None
    try:
        message = json.loads(decrypt(envelope["Encrypt"], encoding_aes_key, app_id))
    except ValueError as exc:
        if isinstance(exc, BadPush):
            raise
        raise PushMalformed("the decrypted message is not JSON") from None
    if not isinstance(message, dict):
        raise PushMalformed("the decrypted message is not an object")
    event = _event(message)
    return ParsedPush([event] if event else [], OK, sent_at=sent_at)


def _find(message: dict[str, Any], key: str) -> Any:
    """``key`` at the top level or one level down (the store nests ids in per-event objects)."""
    if message.get(key):
        return message[key]
    for value in message.values():
        if isinstance(value, dict) and value.get(key):
            return value[key]
    return None


def _event(message: dict[str, Any]) -> PushEvent | None:
    name = str(message.get("Event") or "")
    kind = EVENTS.get(name)
    if kind is None:
        return None
    created = str(message.get("CreateTime") or "")
    if kind.is_order:
        order_id = _find(message, "order_id")
        if not order_id:
            raise PushMalformed(f"event {name}: no order_id")
        # Events carry no message id; a redelivery repeats event, time and order.
        return PushEvent(f"{name}:{order_id}:{created}", kind, topic=name, order_id=str(order_id))
    product_id = _find(message, "product_id")
    if not product_id:
        raise PushMalformed(f"event {name}: no product_id")
    sku_id = _find(message, "sku_id")
    return PushEvent(
        f"{name}:{product_id}:{sku_id or ''}:{created}",
        kind,
        topic=name,
        item_id=str(product_id),
        sku_id=str(sku_id) if sku_id else None,
    )


def error_answer(error: BadPush) -> PushAnswer:
    """Anything but ``success``: WeChat retries."""
    return PushAnswer(400, b"fail", "text/plain")
