"""Command-line argument types that apply the rules of :mod:`hub.validation`.

click's own ``int`` accepts any Unicode digits and has no upper bound, so every quantity,
code and percentage a command takes goes through these instead: the same value is
refused (or read with a notice) on the command line as in a file.
"""

from __future__ import annotations

from typing import Any

import click

from hub import validation
from hub.cli.output import info


class _Rule(click.ParamType):
    """A click type whose conversion is a :mod:`hub.validation` rule."""

    def check(self, text: str) -> Any:
        raise NotImplementedError

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value  # a default, already converted
        try:
            result = self.check(value)
        except validation.InvalidValue as exc:
            self.fail(str(exc), param, ctx)
        notice = validation.fullwidth_notice(value)
        if notice:
            info(f"note: {notice}")
        return result


class Quantity(_Rule):
    """Units: a whole number from 0 to :data:`hub.validation.MAX_QUANTITY`."""

    name = "quantity"

    def check(self, text: str) -> int:
        return validation.quantity(text)


class Percent(_Rule):
    """A whole percentage within ``low..high``."""

    name = "percent"

    def __init__(self, low: int = 0, high: int = 100):
        self.low, self.high = low, high

    def check(self, text: str) -> int:
        return validation.whole_number(text, "percentage", self.low, self.high)


class Code(_Rule):
    """A master SKU or warehouse code that follows :func:`hub.validation.code`."""

    name = "code"

    def __init__(self, what: str = "SKU code"):
        self.what = what

    def check(self, text: str) -> str:
        return validation.code(text, self.what)


QUANTITY = Quantity()


def parse_price(text: str, what: str = "price") -> int:
    """A price typed by a person, in yuan (e.g. 59.90) -> fen (:func:`hub.validation.price`;
    full-width digits are read with a notice)."""
    fen_value = validation.price(text, what)
    notice = validation.fullwidth_notice(text)
    if notice:
        info(f"note: {notice}")
    return fen_value
