"""TOP request signing (fact sheet §1.3), as pure functions.

The string to sign is every sent parameter except ``sign``, sorted by name, written
``name1value1name2value2…`` with raw (not URL-encoded) values. ``md5`` hashes
``secret + string + secret``; ``hmac`` (HMAC-MD5) and ``hmac-sha256`` key the HMAC with
the secret and do not wrap the string. The digest is upper-case hex.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Literal

SIGN_METHODS = ("md5", "hmac", "hmac-sha256")


def string_to_sign(params: Mapping[str, str], *, empty: Literal["refuse", "skip", "keep"] = "refuse") -> str:
    """``params`` without ``sign``, sorted by name and concatenated as name+value.

    Empty values are refused by default rather than skipped: the Java SDK skips them and
    the Python SDK signs them, so the only safe request is one that never carries them.
    A server checking signatures (the sandbox) may ``skip`` or ``keep`` them instead."""
    parts = []
    for name in sorted(params):
        if name == "sign":
            continue
        value = params[name]
        if not isinstance(value, str):
            raise TypeError(f"parameter {name!r} must be a string, got {type(value).__name__}")
        if value == "":
            if empty == "refuse":
                raise ValueError(f"parameter {name!r} is empty; TOP requests never carry empty values")
            if empty == "skip":
                continue
        parts.append(name + value)
    return "".join(parts)


def sign_text(secret: str, text: str, method: str) -> str:
    """Digest an already-built string to sign with ``sign_method`` ``method``."""
    key, data = secret.encode("utf-8"), text.encode("utf-8")
    if method == "md5":
        return hashlib.md5(key + data + key).hexdigest().upper()
    if method == "hmac":
        return hmac.new(key, data, hashlib.md5).hexdigest().upper()
    if method == "hmac-sha256":
        return hmac.new(key, data, hashlib.sha256).hexdigest().upper()
    raise ValueError(f"unknown sign_method {method!r}; use one of {', '.join(SIGN_METHODS)}")


def sign_md5(secret: str, params: Mapping[str, str]) -> str:
    """``sign_method=md5``: MD5 of ``secret + string_to_sign + secret``, upper-case hex."""
    return sign_text(secret, string_to_sign(params), "md5")


def sign_hmac_md5(secret: str, params: Mapping[str, str]) -> str:
    """``sign_method=hmac``: HMAC-MD5 keyed with the secret, upper-case hex."""
    return sign_text(secret, string_to_sign(params), "hmac")


def sign_hmac_sha256(secret: str, params: Mapping[str, str]) -> str:
    """``sign_method=hmac-sha256``: HMAC-SHA256 keyed with the secret, upper-case hex."""
    return sign_text(secret, string_to_sign(params), "hmac-sha256")


def sign(secret: str, params: Mapping[str, str], method: str) -> str:
    """The ``sign`` value for ``params`` with ``sign_method`` ``method``."""
    if method not in SIGN_METHODS:
        raise ValueError(f"unknown sign_method {method!r}; use one of {', '.join(SIGN_METHODS)}")
    return sign_text(secret, string_to_sign(params), method)


def verify(secret: str, params: Mapping[str, str], method: str, given: str) -> bool:
    """Whether ``given`` signs ``params``, as a TOP server would check it.

    Empty parameters are accepted both skipped (Java SDK) and signed (Python SDK);
    the hex comparison ignores case and runs in constant time."""
    if method not in SIGN_METHODS:
        return False
    texts = {string_to_sign(params, empty="skip"), string_to_sign(params, empty="keep")}
    return any(hmac.compare_digest(sign_text(secret, text, method), given.upper()) for text in texts)
