"""Conversions plugins use at the platform edge.

Inside the hub money is integer fen and time is timezone-aware UTC. Platforms speak
yuan strings ("19.90"), fen integers, Asia/Shanghai wall-clock strings and Unix
seconds; each plugin converts with these helpers and nowhere else.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

CN_TZ = ZoneInfo("Asia/Shanghai")
CN_FORMAT = "%Y-%m-%d %H:%M:%S"
_CN_EXACT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")


def yuan_to_fen(value: str | int | float | Decimal) -> int:
    """``"19.90"`` -> ``1990``. Refuses more than two decimals rather than rounding money."""
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not a money amount: {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not a money amount: {value!r}")
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise ValueError(f"more than two decimals: {value!r}")
    return int(fen)


def fen_to_yuan(fen: int) -> str:
    """``1990`` -> ``"19.90"`` (the string form TOP and JD expect)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{whole}.{cents:02d}"


def utc(dt: datetime) -> datetime:
    """Return ``dt`` in UTC; refuses naive datetimes, which are ambiguous."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()}: a time zone is required")
    return dt.astimezone(UTC)


def parse_cn_time(text: str) -> datetime:
    """``"2024-01-01 12:00:00"`` (Asia/Shanghai wall clock) -> aware UTC datetime."""
    text = text.strip()
    local = None
    if _CN_EXACT.fullmatch(text):  # the usual shape, read without strptime's overhead
        try:
            local = datetime(
                int(text[0:4]),
                int(text[5:7]),
                int(text[8:10]),
                int(text[11:13]),
                int(text[14:16]),
                int(text[17:19]),
            )
        except ValueError:
            local = None  # out of range: strptime below raises its own message
    if local is None:
        local = datetime.strptime(text, CN_FORMAT)
    return local.replace(tzinfo=CN_TZ).astimezone(UTC)


def format_cn_time(dt: datetime) -> str:
    """Aware datetime -> ``"yyyy-MM-dd HH:mm:ss"`` in Asia/Shanghai, as TOP/JD/Douyin expect."""
    return utc(dt).astimezone(CN_TZ).strftime(CN_FORMAT)


def from_unix(seconds: int | float | str) -> datetime:
    """Unix seconds -> aware UTC datetime."""
    return datetime.fromtimestamp(float(seconds), UTC)


def to_unix(dt: datetime) -> int:
    """Aware datetime -> whole Unix seconds."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()}: a time zone is required")
    return int(dt.timestamp())  # the same instant in any zone: no conversion needed
