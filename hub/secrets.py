"""Keeping secrets out of logs, errors and output.

Every secret the hub loads (app secrets, access and refresh tokens) is registered here.
:func:`redact` replaces any registered secret in a text, :func:`redact_url` blanks
credential query parameters, and :class:`RedactingFilter` applies both to log records
as a second line of defence behind code that never formats a secret in the first place.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "****"
# Query/form parameters that carry credentials or values derived from them, on any platform.
SECRET_PARAMS = frozenset(
    {"sign", "session", "access_token", "refresh_token", "secret", "app_secret", "appsecret"}
)

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register_secret(value: object) -> None:
    """Remember ``value`` (a str or pydantic SecretStr) so it is masked wherever it appears."""
    raw = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    if not isinstance(raw, str) or len(raw) < 4:  # too short to mask without mangling text
        return
    global _pattern
    with _lock:
        if raw not in _secrets:
            _secrets.add(raw)
            alternatives = sorted(_secrets, key=len, reverse=True)
            _pattern = re.compile("|".join(re.escape(s) for s in alternatives))


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``****``."""
    pattern = _pattern
    return pattern.sub(MASK, text) if pattern is not None and text else text


def redact_url(url: str) -> str:
    """``url`` with credential query parameters (sign, session, access_token…) masked."""
    parts = urlsplit(url)
    if not parts.query:
        return redact(url)
    query = [
        (k, MASK if k.lower() in SECRET_PARAMS else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return redact(urlunsplit(parts._replace(query=urlencode(query, safe=":*"))))


def mask(value: object) -> str:
    """What output shows in place of a secret: ``****`` if set, empty if not."""
    if value is None:
        return ""
    raw = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    return MASK if raw else ""


class RedactingFilter(logging.Filter):
    """A handler filter that masks registered secrets in the final message text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            if redact(str(exc)) != str(exc):
                # Drop a traceback that would print a secret; keep the masked summary.
                record.msg = f"{cleaned} ({type(exc).__name__}: {redact(str(exc))})"
                record.exc_info = None
                record.exc_text = None
        return True
