"""Signatures of the WeChat store's event pushes (消息推送), fact sheet §4.7.

API requests carry no signature on this platform (the access token travels over HTTPS
and the server IP must be whitelisted), so this module covers only what WeChat sends
*to* us:

* URL verification: ``signature`` = SHA1 hex of the lexicographically sorted
  ``[token, timestamp, nonce]`` concatenated;
* event POSTs: ``msg_signature`` = the same over ``[token, timestamp, nonce, Encrypt]``.

:mod:`hub_wechat.push` uses these to verify the pushes `hub serve` receives.
"""

from __future__ import annotations

import hashlib
import hmac


def push_signature(token: str, timestamp: str | int, nonce: str | int, *extra: str) -> str:
    """SHA1 (lowercase hex) of the sorted, concatenated ``token``, ``timestamp``,
    ``nonce`` and any ``extra`` parts (the ``Encrypt`` field for event POSTs)."""
    parts = sorted([str(token), str(timestamp), str(nonce), *extra])
    return hashlib.sha1("".join(parts).encode("utf-8")).hexdigest()


def verify_signature(token: str, timestamp: str | int, nonce: str | int, signature: str) -> bool:
    """True when ``signature`` is the URL-verification signature WeChat computes with
    ``token`` (the Token configured in the store backend)."""
    expected = push_signature(token, timestamp, nonce)
    # Constant-time comparison: the signature proves knowledge of the token.
    return hmac.compare_digest(expected, signature.strip().lower())


def verify_msg_signature(
    token: str, timestamp: str | int, nonce: str | int, encrypt: str, msg_signature: str
) -> bool:
    """True when ``msg_signature`` matches an event POST whose body carries ``encrypt``."""
    expected = push_signature(token, timestamp, nonce, encrypt)
    return hmac.compare_digest(expected, msg_signature.strip().lower())
