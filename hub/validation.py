"""What the hub accepts as a quantity, a price, a code or a percentage: one rule per field.

Every path that takes such a value from a person uses these rules: command-line
arguments, stock and price files, ``hub skus import-from``, promotions and settings. So a
value refused on one path is refused on every other, with the same words.

The rules (README "Bulk changes"):

* **quantity**: a whole number of units, 0 to :data:`MAX_QUANTITY` (1,000,000,000: below
  the 32-bit integer every platform's stock field takes, so whatever the hub pushes, each
  platform can store).
* **price**: yuan with at most two decimals, more than 0 and at most :data:`MAX_PRICE`
  (100,000,000.00 yuan); a leading ¥ and thousands separators as Excel formats currency
  are accepted.
* **digits** are 0-9. Full-width ones (１２, what a Chinese input method types) are read
  as 0-9 *with a notice* (:func:`fullwidth_notice`: a note on the file row, a line on the
  terminal); Arabic-Indic (١٢) and any other digits are refused, never read as numbers.
* **codes** (master SKU codes, warehouse codes): 1 to :data:`CODE_LENGTH` characters, no
  space at either end, no control or invisible characters (zero-width, no-break and
  other unusual spaces, direction marks), no full-width or other compatibility forms,
  and no Latin letters mixed with Cyrillic or Greek look-alikes. Each of those makes a
  code that looks like another and matches nothing on the platforms.
* **titles**: at most :data:`TITLE_LENGTH` characters, no control characters.
* **percentage** limits (``HUB_PRICE_CHANGE_LIMIT``): ``50%``, or a share ``0.5``.

Functions raise :class:`InvalidValue` (an :class:`~hub.errors.InputError`) with a message
that names the value; a file import adds the line it came from.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

from hub.errors import InputError
from hub.units import fen_to_yuan

MAX_QUANTITY = 1_000_000_000
MAX_PRICE = 100_000_000 * 100  # fen: a hundred million yuan
CODE_LENGTH = 64  # the hub's code columns; the platforms' 商家编码 fields take at least as many
TITLE_LENGTH = 256
MAX_PERCENT = 1000  # a price change limit above 1000% guards nothing

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_GROUPED = re.compile(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?")  # 1,299.00 as Excel formats it
_SPACES = {" "}  # the only space allowed inside a code


class InvalidValue(InputError, ValueError):
    """A value breaks its field's rule; the message says which value and why (exit code 2,
    like any bad input; a ``ValueError`` too, so settings validation reports it)."""


def _foreign_digits(text: str) -> str | None:
    """The first digit in ``text`` that is not ASCII 0-9, if any."""
    for char in text:
        if char.isdigit() and not ("0" <= char <= "9"):
            return char
    return None


def _fullwidth(text: str) -> bool:
    return not text.isascii() and any("\uff01" <= char <= "\uff5e" for char in text)


def fullwidth_notice(text: str) -> str | None:
    """The notice to show when a number was typed with full-width characters (None if not)."""
    if not _fullwidth(text):
        return None
    text = text.strip()
    return f"{text!r} has full-width characters: read as {unicodedata.normalize('NFKC', text)!r}"


def _decimal(text: str, what: str) -> Decimal:
    shown = text
    if _fullwidth(text):  # what a Chinese input method types: read as ASCII, with a notice
        text = unicodedata.normalize("NFKC", text)
    foreign = None if text.isascii() else _foreign_digits(text)
    if foreign is not None:
        name = unicodedata.name(foreign, f"U+{ord(foreign):04X}")
        raise InvalidValue(f"{what} {shown!r} has a digit other than 0-9 ({name}); type the digits 0-9")
    if _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    if not _NUMBER.fullmatch(text):
        raise InvalidValue(f"{what} {text!r} is not a number")
    return Decimal(text)


def quantity(value: str | int, what: str = "quantity") -> int:
    """A number of units (text as typed, or an int) -> int, or :class:`InvalidValue`."""
    if isinstance(value, int):
        number = Decimal(value)
        text = str(value)
    else:
        text = value.strip()
        number = _decimal(text, what)
    if number != number.to_integral_value():
        raise InvalidValue(f"{what} {text!r} is not a whole number")
    if number < 0:
        raise InvalidValue(f"{what} {text!r} is negative")
    if number > MAX_QUANTITY:
        raise InvalidValue(f"{what} {text!r} is larger than {MAX_QUANTITY:,}")
    return int(number)


def price(value: str, what: str = "price") -> int:
    """A price typed in yuan (``59.90``, ``¥1,299.00``) -> fen, or :class:`InvalidValue`."""
    text = value.strip()
    number = _decimal(text.lstrip("¥￥").strip(), what)
    fen = number * 100
    if fen != fen.to_integral_value():
        raise InvalidValue(f"{what} {text!r} has more than two decimals")
    if fen <= 0:
        raise InvalidValue(f"{what} {text!r} must be positive")
    return check_price(int(fen), what, text)


def check_price(fen: int, what: str = "price", shown: str | None = None) -> int:
    """A price in fen within the bounds (e.g. one a promotion computes) -> fen."""
    text = shown if shown is not None else fen_to_yuan(fen)
    if fen <= 0:
        raise InvalidValue(f"{what} {text!r} must be positive")
    if fen > MAX_PRICE:
        raise InvalidValue(f"{what} {text!r} is larger than {fen_to_yuan(MAX_PRICE)}")
    return fen


def whole_number(value: str, what: str, low: int, high: int) -> int:
    """A small whole number typed by a person (a percentage off…) within ``low..high``."""
    text = value.strip()
    number = _decimal(text, what)
    if number != number.to_integral_value() or not low <= number <= high:
        raise InvalidValue(f"{what} {text!r} must be a whole number from {low} to {high}")
    return int(number)


def code(value: str, what: str = "SKU code") -> str:
    """A master SKU or warehouse code exactly as stored, or :class:`InvalidValue` naming
    the offending character (see the module docs for the rule)."""
    if not value:
        raise InvalidValue(f"{what} is empty")
    if len(value) > CODE_LENGTH:
        raise InvalidValue(f"{what} {value[:20]!r}… is {len(value)} characters long; at most {CODE_LENGTH}")
    if value.isascii() and value.isprintable() and value.strip() == value:
        return value  # the usual code: nothing below can object (a file checks millions)
    for char in value:
        category = unicodedata.category(char)
        if category[0] in "CZ" and char not in _SPACES:  # controls, invisible formats, odd spaces
            name = unicodedata.name(char, f"U+{ord(char):04X}")
            raise InvalidValue(f"{what} {value!r} contains an invisible or unusual character ({name})")
    if value.strip() != value:
        raise InvalidValue(f"{what} {value!r} starts or ends with a space")
    normal = unicodedata.normalize("NFKC", value)
    if normal != value:
        raise InvalidValue(
            f"{what} {value!r} contains full-width or other look-alike characters; did you mean {normal!r}?"
        )
    scripts = {_script(char) for char in value if char.isalpha()}
    if "LATIN" in scripts and scripts & {"CYRILLIC", "GREEK"}:
        raise InvalidValue(f"{what} {value!r} mixes Latin letters with Cyrillic or Greek look-alikes")
    return value


def text(value: str, what: str = "title", length: int = TITLE_LENGTH) -> str:
    """Free text for people (a title): at most ``length`` characters, no control characters."""
    if len(value) > length:
        raise InvalidValue(f"{what} is {len(value)} characters long; at most {length}")
    for char in value:
        if unicodedata.category(char) == "Cc":
            raise InvalidValue(f"{what} {value[:20]!r} contains a control character (U+{ord(char):04X})")
    return value


def _script(char: str) -> str:
    return unicodedata.name(char, "").split(" ")[0]


def percent_limit(value: str | float | int, what: str = "HUB_PRICE_CHANGE_LIMIT") -> float:
    """A price change limit -> a share of the current price (``50%`` or ``0.5`` -> 0.5).

    A bare number above 1 is refused: ``50`` could mean 50% or 5000%."""
    text = str(value).strip()
    if text.endswith("%"):
        try:
            percent = Decimal(text[:-1].strip())
        except InvalidOperation:
            raise InvalidValue(f"{what}={text!r} is not a percentage; write e.g. 50%") from None
        if not (percent.is_finite() and 0 < percent <= MAX_PERCENT):
            raise InvalidValue(f"{what}={text!r} must be more than 0% and at most {MAX_PERCENT}%")
        return float(percent / 100)
    try:
        share = Decimal(text)
    except InvalidOperation:
        raise InvalidValue(f"{what}={text!r} is not a percentage; write e.g. 50% (or 0.5)") from None
    if not (share.is_finite() and 0 < share <= 1):
        hint = f"; write {text}% if you mean {text}%" if share.is_finite() and share > 1 else ""
        raise InvalidValue(f"{what}={text!r} must be a percentage such as 50% or a share from 0 to 1{hint}")
    return float(share)
