"""JD JOS request signing (fact sheet §2.3): pure functions, no I/O.

The recipe: take every parameter that is sent except ``sign`` (``360buy_param_json``,
``access_token``, ``app_key``, ``method``, ``timestamp``, ``v`` and any optional
``format``/``sign_method`` actually sent), sort them by name in ASCII order
(``360buy_param_json`` starts with a digit, so it comes first), concatenate ``name`` and
``value`` with no separators, wrap the result in the app secret on both sides, take the
MD5 of its UTF-8 bytes and write it as 32 uppercase hex digits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

PARAM_JSON = "360buy_param_json"
SIGN = "sign"


def business_json(params: Mapping[str, Any]) -> str:
    """``params`` as the one JSON string JD expects in ``360buy_param_json``.

    Keys are sorted (JD's rule: "按照字母先后顺序排序") and the output is compact. Non-ASCII
    text stays as UTF-8 characters, as the Java SDK sends it; the signature covers these
    exact characters, so the string must be built once and sent unchanged."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sign_base(params: Mapping[str, str]) -> str:
    """The concatenation ``name1value1name2value2…`` over the parameters sorted by name,
    ``sign`` itself excluded (the string JD wraps in the secret before hashing)."""
    return "".join(f"{name}{params[name]}" for name in sorted(params) if name != SIGN)


def sign(params: Mapping[str, str], app_secret: str) -> str:
    """The JD md5 signature of ``params`` (every parameter sent, except ``sign``)."""
    payload = f"{app_secret}{sign_base(params)}{app_secret}"
    return hashlib.md5(payload.encode("utf-8")).hexdigest().upper()


__all__ = ["PARAM_JSON", "SIGN", "business_json", "sign", "sign_base"]
