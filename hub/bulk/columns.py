"""The columns of stock and price files (names in English and Chinese) and how their
number cells are read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub import validation
from hub.bulk.spreadsheet import unneutralise


@dataclass(frozen=True)
class Column:
    """A column a file may have. ``aliases`` are the accepted header names (compared
    case-insensitively); ``informational`` columns (a title for people) are not imported."""

    name: str
    aliases: tuple[str, ...]
    required: bool = False
    informational: bool = False

    @property
    def label(self) -> str:
        other = [a for a in self.aliases if a != self.name]
        return f"{self.name} ({'/'.join(other)})" if other else self.name


TITLE = Column("title", ("title", "名称", "标题", "商品名称"), informational=True)
NOTE = Column("note", ("note", "备注"), informational=True)
STOCK_COLUMNS = (
    Column("sku", ("sku", "商家编码"), required=True),
    Column("quantity", ("quantity", "库存", "数量"), required=True),
    Column("warehouse", ("warehouse", "仓库")),
    TITLE,
    NOTE,
)
PRICE_COLUMNS = (
    Column("sku", ("sku", "商家编码"), required=True),
    Column("price", ("price", "价格"), required=True),
    Column("shop", ("shop", "店铺")),
    TITLE,
    NOTE,
)


def header_key(text: str) -> str:
    """A header cell as compared with column names: trimmed, spaces collapsed, case-folded."""
    return " ".join(unneutralise(text.strip().lstrip("\ufeff").strip()).split()).casefold()


def columns_help(columns: Sequence[Column]) -> str:
    """One line per column for --help and error messages."""
    lines = []
    for column in columns:
        kind = "required" if column.required else ("ignored" if column.informational else "optional")
        lines.append(f"{column.label}: {kind}")
    return "; ".join(lines)


@dataclass(frozen=True)
class Layout:
    """Where each known column sits in the file's rows."""

    index: dict[str, int]
    unnamed: tuple[int, ...]  # columns with an empty header cell: they must stay empty
    width: int


# --- numbers -------------------------------------------------------------------------------------


def parse_quantity(text: str) -> tuple[int | None, str | None]:
    """A quantity cell -> (units, None) or (None, why it is wrong): :func:`hub.validation.quantity`."""
    try:
        return validation.quantity(text), None
    except validation.InvalidValue as exc:
        return None, str(exc)


def parse_price_cell(text: str) -> tuple[int | None, str | None]:
    """A price cell in yuan -> (fen, None) or (None, why it is wrong): :func:`hub.validation.price`."""
    try:
        return validation.price(text), None
    except validation.InvalidValue as exc:
        return None, str(exc)
