"""Douyin's wire protocol written out by hand for the tests, independently of
:mod:`hub_douyin.signing` and :mod:`hub_douyin.client`."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

APP_KEY = "3409409348479354011"
APP_SECRET = "sandbox-app-secret-0123456789abcdef"
ORIGIN = "http://sandbox.test"

RawCall = Callable[..., dict[str, Any]]
"""``raw(path, params, **overrides)`` -> the sandbox's JSON answer (see conftest)."""


def hand_sign(secret: str, app_key: str, method: str, body: str, timestamp: str,
              sign_method: str | None) -> str:
    """Douyin's recipe written out independently of hub_douyin.signing."""
    wrapped = (f"{secret}app_key{app_key}method{method}param_json{body}"
               f"timestamp{timestamp}v2{secret}")
    if sign_method == "hmac-sha256":
        return hmac.new(secret.encode(), wrapped.encode(), hashlib.sha256).hexdigest()
    return hashlib.md5(wrapped.encode()).hexdigest()


