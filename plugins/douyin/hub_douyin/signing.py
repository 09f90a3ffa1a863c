"""Douyin (抖店) request signing, as pure functions (fact sheet §3.2).

Recipe: the business parameters are serialised ONCE as compact JSON with keys sorted at
every level (``param_json``); that exact string is both the POST body and what is signed::

    wrapped = secret + "app_key" + key + "method" + method + "param_json" + param_json
                     + "timestamp" + timestamp + "v" + "2" + secret

then ``hmac-sha256`` (key = the app secret, over ``wrapped``) or ``md5`` (of ``wrapped``),
in lowercase hex. ``access_token`` and ``sign_method`` are not signed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from hub.units import format_cn_time, to_unix

SignMethod = Literal["hmac-sha256", "md5"]
TimestampFormat = Literal["unix", "datetime"]

API_VERSION = "2"
SIGN_METHODS: tuple[str, ...] = ("hmac-sha256", "md5")


def method_for_path(path: str) -> str:
    """``"/order/searchList"`` -> ``"order.searchList"`` (leading slashes dropped, ``/`` -> ``.``)."""
    return path.lstrip("/").replace("/", ".")


def param_json(params: Mapping[str, Any]) -> str:
    """The canonical ``param_json``: compact, keys sorted recursively, Chinese not escaped.

    ``json.dumps(sort_keys=True)`` sorts nested objects too, and never HTML-escapes
    ``<>&`` (the official Go SDK disables that escaping as well)."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def format_timestamp(when: datetime, style: TimestampFormat = "unix") -> str:
    """The ``timestamp`` parameter: Unix seconds (what the official SDKs send) or the
    documented ``yyyy-MM-dd HH:mm:ss`` in GMT+8."""
    if style == "unix":
        return str(to_unix(when))
    if style == "datetime":
        return format_cn_time(when)
    raise ValueError(f"unknown timestamp format {style!r}; use 'unix' or 'datetime'")


def string_to_sign(
    *, app_key: str, method: str, param_json: str, timestamp: str, v: str = API_VERSION
) -> str:
    """The signed parameters in their fixed (alphabetical) order, before wrapping."""
    return f"app_key{app_key}method{method}param_json{param_json}timestamp{timestamp}v{v}"


def sign(
    *,
    app_secret: str,
    app_key: str,
    method: str,
    param_json: str,
    timestamp: str,
    sign_method: str = "hmac-sha256",
    v: str = API_VERSION,
) -> str:
    """The ``sign`` parameter (lowercase hex) for one request."""
    wrapped = (
        app_secret
        + string_to_sign(app_key=app_key, method=method, param_json=param_json, timestamp=timestamp, v=v)
        + app_secret
    )
    if sign_method == "hmac-sha256":
        return hmac.new(app_secret.encode(), wrapped.encode(), hashlib.sha256).hexdigest()
    if sign_method == "md5":
        return hashlib.md5(wrapped.encode()).hexdigest()
    raise ValueError(f"unknown sign_method {sign_method!r}; use one of {', '.join(SIGN_METHODS)}")
