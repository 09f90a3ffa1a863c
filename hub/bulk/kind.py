"""What every kind of import file shares: options, results, parsed rows, and the base
class a kind (:mod:`hub.bulk.stock`, :mod:`hub.bulk.prices`) fills in."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hub import validation
from hub.bulk.columns import Column, Layout, columns_help, header_key
from hub.bulk.spreadsheet import Sheet, SheetRow, column_letter, unneutralise
from hub.bulk.staging import Staging, fetch_chunks
from hub.core import catalog
from hub.errors import InputError, Problem
from hub.storage import tables as t

SHOW = 50  # changes listed by default

Progress = Callable[[str, int, float | None], None]
"""progress(phase, rows, fraction): phase "checking" or "applying", rows done so far, and
the share of the work done (0..1) when known."""


def quiet(phase: str, rows: int, fraction: float | None) -> None:
    return None


@dataclass(frozen=True)
class ImportOptions:
    """What the user asked for (the CLI flags)."""

    apply: bool = False
    partial: bool = False
    force: bool = False
    create_warehouses: bool = False
    encoding: str | None = None
    show: int = SHOW  # changes listed; 0 = all
    price_change_limit: float = 0.5
    actor: str = "unknown"
    collect_shops: bool = False  # find the shops whose listings the applied changes affect


@dataclass(frozen=True)
class Change:
    """One row that changes a value (old/new: units or fen)."""

    line: int
    sku: str
    place: str
    old: int
    new: int
    note: str | None = None


@dataclass
class ImportResult:
    """What an import found and did."""

    kind: str
    file: str
    format: str
    encoding: str | None
    rows: int = 0
    changes: int = 0
    unchanged: int = 0
    bad: int = 0
    damaged: bool = False
    listed: list[Change] = field(default_factory=list)
    bad_rows: list[tuple[int, str]] = field(default_factory=list)  # (line, reason), in line order
    applied: int | None = None  # None: nothing applied (dry run or refused)
    shops: list[str] = field(default_factory=list)
    place_name: str = "warehouse"
    notices: list[str] = field(default_factory=list)  # how the file was read (e.g. its encoding)

    @property
    def not_listed(self) -> int:
        return max(0, self.changes - len(self.listed))

    @property
    def problems(self) -> list[Problem]:
        """The bad rows as :class:`Problem` objects (for :class:`InputError`)."""
        return [Problem(f"line {line}", reason) for line, reason in self.bad_rows]

    @property
    def problems_not_listed(self) -> int:
        return max(0, self.bad - len(self.bad_rows))

    def to_dict(self) -> dict[str, Any]:
        """The result for ``--json`` (prices in fen)."""
        return {
            "file": self.file,
            "kind": self.kind,
            "format": self.format,
            "encoding": self.encoding,
            "applied": self.applied is not None,
            "counts": {
                "rows": self.rows,
                "changes": self.changes,
                "unchanged": self.unchanged,
                "bad": self.bad,
                "applied": self.applied or 0,
            },
            "changes": [
                {
                    "line": c.line,
                    "sku": c.sku,
                    self.place_name: c.place or None,
                    "old": c.old,
                    "new": c.new,
                    "note": c.note,
                }
                for c in self.listed
            ],
            "changes_not_listed": self.not_listed,
            "problems": [{"line": line, "reason": reason} for line, reason in self.bad_rows],
            "problems_not_listed": self.problems_not_listed,
            "damaged": self.damaged,
            "shops": self.shops,
            "notices": self.notices,
        }


@dataclass(slots=True)
class Record:
    """One parsed row on its way to the staging database (a chunk's worth at a time)."""

    line: int
    sku: str
    place: str
    new: int | None
    problems: list[str]
    fatal: bool
    note: str | None = None  # e.g. full-width digits read as 0-9


class FileKind:
    kind: ClassVar[str]
    columns: ClassVar[tuple[Column, ...]]
    value: ClassVar[str]
    place: ClassVar[str]
    default_place: ClassVar[str] = ""
    blank_allowed: ClassVar[bool] = False  # an empty value cell may mean "leave as it is"

    def __init__(self, options: ImportOptions):
        self.options = options
        self.aliases = {a.casefold(): c for c in self.columns for a in c.aliases}

    def score(self, header: Sequence[str]) -> int:
        """How many cells of a candidate header name one of this file's columns."""
        return sum(1 for cell in header if header_key(cell) in self.aliases)

    def layout(self, sheet: Sheet) -> Layout:
        index: dict[str, int] = {}
        unnamed: list[int] = []
        problems: list[Problem] = []
        for i, raw in enumerate(sheet.header):
            key = header_key(raw)
            if not key:
                unnamed.append(i)
                continue
            column = self.aliases.get(key)
            where = f"column {column_letter(i)}"
            if column is None:
                problems.append(Problem(where, f"unknown column {raw.strip()!r}"))
            elif column.name in index:
                first = column_letter(index[column.name])
                problems.append(Problem(where, f"{raw.strip()!r} repeats the {column.name} column ({first})"))
            else:
                index[column.name] = i
        for column in self.columns:
            if column.required and column.name not in index:
                problems.append(
                    Problem(f"line {sheet.header_line}", f"missing required column {column.label}")
                )
        if problems:
            raise InputError(
                f"{sheet.name}: the header row (line {sheet.header_line}) does not fit a {self.kind} file; "
                f"nothing changed. Columns: {columns_help(self.columns)}",
                problems,
            )
        return Layout(index, tuple(unnamed), len(sheet.header))

    def parse_value(self, text: str) -> tuple[int | None, str | None]:
        raise NotImplementedError

    def parse(self, row: SheetRow, layout: Layout) -> Record:
        """One row's own checks (the cells alone; nothing looked up yet)."""
        problems: list[str] = []
        cells = row.cells
        if row.damage:
            problems.append(row.damage)
        else:
            for i, text in enumerate(cells):
                if text.strip() and (i >= layout.width or i in layout.unnamed):
                    problems.append(
                        f"a value ({text.strip()[:20]!r}) in column {column_letter(i)}, which has no header"
                    )

        def cell(name: str) -> str:
            i = layout.index.get(name)
            return cells[i].strip() if i is not None and i < len(cells) else ""

        def empty(name: str) -> str:
            i = layout.index.get(name)
            if i is not None and i in row.uncached:
                return (
                    f"the {name} cell (column {column_letter(i)}) is a formula with no saved value; "
                    "open and save the file in Excel or WPS, or paste the values"
                )
            return f"the {name} cell is empty"

        sku = unneutralise(cell("sku"))
        if not sku:
            problems.append(empty("sku"))
        else:
            try:
                validation.code(sku)
            except validation.InvalidValue as exc:
                problems.append(str(exc))
                sku = ""
        text = cell(self.value)
        new = None
        if not text:
            # A formula with no saved value is never a deliberate blank.
            if not self.blank_allowed or layout.index.get(self.value) in row.uncached:
                problems.append(empty(self.value))
        else:
            new, error = self.parse_value(text)
            if error:
                problems.append(error)
        notice = validation.fullwidth_notice(text) if new is not None else None
        place = unneutralise(cell(self.place)) or self.default_place
        if self.place == "warehouse" and place:
            try:
                validation.code(place, "warehouse code")
            except validation.InvalidValue as exc:
                problems.append(str(exc))
        return Record(row.line, sku, place, new, problems, row.damage is not None, notice)

    def load(self, session: Session) -> None:
        """Read the small lookup tables (warehouses, shops) once."""

    def resolve(self, session: Session, records: Sequence[Record]) -> list[tuple[Any, ...]]:
        """Look a chunk of rows up in the database; staging rows in :attr:`Staging.COLUMNS` order."""
        raise NotImplementedError

    def cross_rows(self, staging: Staging) -> None:
        """Rules across rows, run on the staging database after the last row."""
        # Duplicates: the same SKU and warehouse/shop twice. Every one of them is bad (which
        # value was meant is unknowable), so --partial applies none. The groups go to their
        # own table first, so marking rows never runs under an open read of the same table.
        staging.query(
            "CREATE TEMP TABLE dups AS SELECT min(sku) AS sku, place, group_concat(line) AS lines "
            "FROM rows WHERE sku_id IS NOT NULL GROUP BY sku_id, place HAVING count(*) > 1"
        )
        for groups in fetch_chunks(staging.query("SELECT sku, place, lines FROM dups")):
            for sku, place, lines_text in groups:
                lines = sorted(int(x) for x in lines_text.split(","))
                for line in lines:
                    others = [x for x in lines if x != line]
                    shown = ", ".join(str(x) for x in others[:10]) + (" …" if len(others) > 10 else "")
                    staging.add_problem(
                        line, f"duplicate: SKU {sku!r} {self.describe_place(place)} is also on line {shown}"
                    )

    def describe_place(self, place: str) -> str:
        raise NotImplementedError

    def apply(
        self,
        session: Session,
        staging: Staging,
        *,
        now: datetime,
        source: str,
        progress: Progress,
        total: int,
    ) -> tuple[int, set[int]]:
        """Write the good, changed rows; returns (changes written, shop ids affected)."""
        raise NotImplementedError

    def _audit(self, session: Session, rows: list[dict[str, Any]]) -> None:
        if rows:
            session.execute(insert(t.AuditEntry.__table__), rows)

    def _audit_row(
        self, *, action: str, sku: str, shop: str | None, old: int, new: int, source: str, now: datetime
    ) -> dict[str, Any]:
        # The same fields hub.core.audit.record writes, in bulk.
        return {
            "at": now,
            "actor": self.options.actor[:64],
            "action": action,
            "sku_code": sku,
            "shop": shop,
            "old": str(old),
            "new": str(new),
            "source": source[:256],
        }

    def _shops_of(self, session: Session, sku_ids: Iterable[int]) -> set[int]:
        return set(
            session.scalars(
                select(t.Listing.shop_id)
                .where(t.Listing.sku_id.in_(list(sku_ids)), t.Listing.status != catalog.REMOVED)
                .distinct()
            )
        )
