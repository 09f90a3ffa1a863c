"""Bulk stock counts and prices from a spreadsheet: check every row, show the diff, apply.

A file is processed in bounded memory whatever its size:

1. **Check** — the sheet is streamed (:mod:`hub.ops.spreadsheet`); each row is parsed, and
   every :data:`CHUNK` rows the SKUs and their current values are looked up in one short
   read transaction. Each row lands in a private staging database (a temporary SQLite file,
   not the hub's database) with its verdict, old and new value.
2. **Cross-row rules** — duplicates (the same SKU and warehouse/shop twice) and shop prices
   that must be pinned are found with SQL on the staging database.
3. **Report** — counts, the first changes and every bad row come from the staging database.
4. **Apply** (only when asked, and only if no row is bad unless ``partial``) — one
   transaction on the hub's database: current values are re-read, changed rows are written
   with executemany, each with an audit entry whose source is ``FILE:LINE``.

Nothing in the hub's database changes before step 4, and step 4 either commits every change
or none.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from hub import validation
from hub.core import bundles, catalog, outbox, prices
from hub.errors import InputError, Problem
from hub.ops.spreadsheet import Sheet, SheetRow, column_letter, open_sheet, unneutralise
from hub.storage import tables as t
from hub.storage.db import Database
from hub.units import fen_to_yuan

CHUNK = 2000  # rows per database lookup and per write batch: bounds memory, few round trips
SHOW = 50  # changes listed by default
MAX_PROBLEMS = 100_000  # bad rows listed at most (a million wrong rows would not be read anyway)

Progress = Callable[[str, int, float | None], None]
"""progress(phase, rows, fraction): phase "checking" or "applying", rows done so far, and
the share of the work done (0..1) when known."""


def _quiet(phase: str, rows: int, fraction: float | None) -> None:
    return None


# --- columns -----------------------------------------------------------------------------------


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


_TITLE = Column("title", ("title", "名称", "标题", "商品名称"), informational=True)
_NOTE = Column("note", ("note", "备注"), informational=True)
STOCK_COLUMNS = (
    Column("sku", ("sku", "商家编码"), required=True),
    Column("quantity", ("quantity", "库存", "数量"), required=True),
    Column("warehouse", ("warehouse", "仓库")),
    _TITLE,
    _NOTE,
)
PRICE_COLUMNS = (
    Column("sku", ("sku", "商家编码"), required=True),
    Column("price", ("price", "价格"), required=True),
    Column("shop", ("shop", "店铺")),
    _TITLE,
    _NOTE,
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


# --- staging -------------------------------------------------------------------------------------


class Staging:
    """A private temporary SQLite database holding one file's rows and verdicts, so a
    million-row file costs disk pages rather than Python objects."""

    COLUMNS = "line, sku, sku_id, place, place_id, new, old, has_own, changed, problem, fatal, note"

    def __init__(self) -> None:
        # "" = a temporary on-disk database that SQLite deletes on close.
        self.db = sqlite3.connect("")
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("PRAGMA cache_size=-16000")  # 16 MB of page cache, then disk
        self.db.execute(
            """CREATE TABLE rows (
                line INTEGER PRIMARY KEY,  -- the file's line (CSV) or row (XLSX) number
                sku TEXT, sku_id INTEGER,
                place TEXT,                -- warehouse code, or shop name ('' = every shop)
                place_id INTEGER,          -- NULL: a warehouse --create-warehouses will add
                new INTEGER, old INTEGER,
                has_own INTEGER,           -- a stock row exists / the shop has its own price
                changed INTEGER NOT NULL,
                problem TEXT, fatal INTEGER NOT NULL, note TEXT)"""
        )

    def add(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.db.executemany(f"INSERT INTO rows ({self.COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)

    def index(self) -> None:
        self.db.execute("CREATE INDEX rows_key ON rows (sku_id, place)")

    def add_problem(self, line: int, reason: str) -> None:
        self.db.execute(
            "UPDATE rows SET problem = coalesce(problem || '; ', '') || ?, changed = 0 WHERE line = ?",
            (reason, line),
        )

    def query(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.db.execute(sql, params)

    def close(self) -> None:
        self.db.close()


def _fetch_chunks(cursor: sqlite3.Cursor, size: int = CHUNK) -> Iterator[list[tuple[Any, ...]]]:
    while rows := cursor.fetchmany(size):
        yield rows


def _fetch_groups(cursor: sqlite3.Cursor, key: int, size: int = CHUNK) -> Iterator[list[tuple[Any, ...]]]:
    """Chunks of about ``size`` rows that never split a run of equal ``row[key]`` (the
    rows must come sorted by it), so all rows of one SKU are handled together."""
    carry: list[tuple[Any, ...]] = []
    while rows := cursor.fetchmany(size):
        rows = carry + rows
        last = rows[-1][key]
        cut = len(rows)
        while cut > 0 and rows[cut - 1][key] == last:
            cut -= 1
        if cut == 0:  # one key fills the whole chunk: read on
            carry = rows
            continue
        carry = rows[cut:]
        yield rows[:cut]
    if carry:
        yield carry


# --- results ---------------------------------------------------------------------------------


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
class _Record:
    """One parsed row on its way to the staging database (a chunk's worth at a time)."""

    line: int
    sku: str
    place: str
    new: int | None
    problems: list[str]
    fatal: bool
    note: str | None = None  # e.g. full-width digits read as 0-9


# --- the two kinds of file ----------------------------------------------------------------------


class _Kind:
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

    def parse(self, row: SheetRow, layout: Layout) -> _Record:
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
        return _Record(row.line, sku, place, new, problems, row.damage is not None, notice)

    def load(self, session: Session) -> None:
        """Read the small lookup tables (warehouses, shops) once."""

    def resolve(self, session: Session, records: Sequence[_Record]) -> list[tuple[Any, ...]]:
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
        for groups in _fetch_chunks(staging.query("SELECT sku, place, lines FROM dups")):
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


class StockFile(_Kind):
    """On-hand counts: sku, quantity, warehouse (default ``main``)."""

    kind = "stock"
    columns = STOCK_COLUMNS
    value = "quantity"
    place = "warehouse"
    default_place = catalog.DEFAULT_WAREHOUSE
    # A SKU nobody counted is exported with an empty quantity (0 would be a count): such a
    # row leaves it uncounted. For a counted SKU an empty cell is a mistake.
    blank_allowed = True

    def parse_value(self, text: str) -> tuple[int | None, str | None]:
        return parse_quantity(text)

    def describe_place(self, place: str) -> str:
        return f"in warehouse {place!r}"

    def load(self, session: Session) -> None:
        self.warehouses: dict[str, int] = dict(
            session.execute(select(t.Warehouse.code, t.Warehouse.id)).all()
        )

    def resolve(self, session: Session, records: Sequence[_Record]) -> list[tuple[Any, ...]]:
        codes = list({r.sku for r in records if r.sku})
        ids = dict(session.execute(select(t.Sku.code, t.Sku.id).where(t.Sku.code.in_(codes))).all())
        counts = {
            (sku_id, wh_id): qty
            for sku_id, wh_id, qty in session.execute(
                select(t.StockOnHand.sku_id, t.StockOnHand.warehouse_id, t.StockOnHand.quantity).where(
                    t.StockOnHand.sku_id.in_(list(ids.values()))
                )
            )
        }
        counted = {sku_id for sku_id, _ in counts}
        made_of = bundles.bundle_ids(session, ids.values())
        out = []
        for r in records:
            problems = r.problems
            note = r.note
            sku_id = ids.get(r.sku) if r.sku else None
            if r.sku and sku_id is None:
                problems.append(f"unknown SKU {r.sku!r}")
            elif sku_id in made_of and r.new is not None:
                problems.append(f"{r.sku} is a bundle: it has no stock of its own; count its components")
            wh_id = self.warehouses.get(r.place)
            if wh_id is None:
                if problems:
                    pass  # a code breaking the rule is named already
                elif r.place == catalog.DEFAULT_WAREHOUSE:
                    pass  # the default warehouse is created on first use, as `hub stock set` does
                elif self.options.create_warehouses:
                    note = f"{note}; new warehouse" if note else "new warehouse"
                else:
                    problems.append(f"unknown warehouse {r.place!r} (--create-warehouses creates it)")
            current = counts.get((sku_id, wh_id)) if sku_id is not None and wh_id is not None else None
            old = None if sku_id is None else (current or 0)
            first_count = sku_id is not None and sku_id not in counted
            if r.new is None and not problems:
                if sku_id is not None and not first_count:
                    problems.append(
                        "the quantity cell is empty (the SKU is counted: give a number, 0 included)"
                    )
                elif sku_id is not None:
                    note = "not counted; left as it is"
            changed = not problems and r.new is not None and (r.new != old or first_count)
            if changed and first_count and r.new == 0:  # otherwise the diff speaks for itself
                note = f"{note}; first count" if note else "first count (the SKU was not counted)"
            out.append(
                (
                    r.line,
                    r.sku or None,
                    sku_id,
                    r.place,
                    wh_id,
                    r.new,
                    old,
                    int(current is not None),
                    int(changed),
                    "; ".join(problems) or None,
                    int(r.fatal),
                    note,
                )
            )
        return out

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
        table = t.StockOnHand.__table__
        new_codes = [
            code
            for (code,) in staging.query(
                "SELECT DISTINCT place FROM rows WHERE problem IS NULL AND changed = 1 AND place_id IS NULL"
            )
        ]
        created = {code: catalog.warehouse(session, code, create=True).id for code in new_codes}
        set_count = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(quantity=bindparam("b_quantity"), counted_at=now, updated_at=now)
        )
        written = 0
        shops: set[int] = set()
        cursor = staging.query(
            "SELECT line, sku, sku_id, place, place_id, new FROM rows "
            "WHERE problem IS NULL AND changed = 1 ORDER BY line"
        )
        for rows in _fetch_chunks(cursor):
            sku_ids = list({r[2] for r in rows})
            # Re-read inside the transaction: the count the audit log records as "old" is
            # the one this write replaces (a sync may have shipped units meanwhile).
            current = {
                (sku_id, wh_id): (row_id, qty)
                for row_id, sku_id, wh_id, qty in session.execute(
                    select(table.c.id, table.c.sku_id, table.c.warehouse_id, table.c.quantity).where(
                        table.c.sku_id.in_(sku_ids)
                    )
                )
            }
            counted = {sku_id for sku_id, _ in current}
            updates, inserts, audits = [], [], []
            for line, sku, sku_id, place, place_id, new in rows:
                wh_id = place_id if place_id is not None else created[place]
                row_id, old = current.get((sku_id, wh_id), (None, 0))
                if (row_id is not None and old == new) or (row_id is None and new == 0 and sku_id in counted):
                    continue  # became unchanged meanwhile (a 0 is written only as a SKU's first count)
                if row_id is None:
                    inserts.append(
                        {
                            "sku_id": sku_id,
                            "warehouse_id": wh_id,
                            "quantity": new,
                            "counted_at": now,
                            "updated_at": now,
                        }
                    )
                else:
                    updates.append({"b_id": row_id, "b_quantity": new})
                audits.append(
                    self._audit_row(
                        action="stock.set",
                        sku=sku,
                        shop=None,
                        old=old,
                        new=new,
                        source=f"{source}:{line}, warehouse {place}",
                        now=now,
                    )
                )
            if updates:
                session.execute(set_count, updates)
            if inserts:
                session.execute(insert(table), inserts)
            self._audit(session, audits)
            written += len(audits)
            if self.options.collect_shops:
                shops |= self._shops_of(session, sku_ids)
            progress("applying", written, written / total if total else None)
        return written, shops


class PriceFile(_Kind):
    """Regular prices: sku, price (yuan), shop (blank: the SKU's price for every shop)."""

    kind = "prices"
    columns = PRICE_COLUMNS
    value = "price"
    place = "shop"

    def parse_value(self, text: str) -> tuple[int | None, str | None]:
        return parse_price_cell(text)

    def describe_place(self, place: str) -> str:
        return f"in shop {place!r}" if place else "for all shops"

    def load(self, session: Session) -> None:
        self.shops: dict[str, int] = dict(session.execute(select(t.Shop.name, t.Shop.id)).all())

    def guard(self, sku: t.Sku, old: int, new: int) -> str | None:
        """The price guard's verdict as a row problem (None: allowed)."""
        verdict = prices.check(sku, old, new, limit=self.options.price_change_limit)
        if not verdict.problems:
            return None
        reasons = "; ".join(p.replace(" (use --force)", "") for p in verdict.problems)
        return f"price guard: {fen_to_yuan(old)} -> {fen_to_yuan(new)} {reasons} (--force allows it)"

    def resolve(self, session: Session, records: Sequence[_Record]) -> list[tuple[Any, ...]]:
        codes = list({r.sku for r in records if r.sku})
        skus = {s.code: s for s in session.scalars(select(t.Sku).where(t.Sku.code.in_(codes)))}
        own = {
            (sku_id, shop_id): price
            for sku_id, shop_id, price in session.execute(
                select(t.ShopPrice.sku_id, t.ShopPrice.shop_id, t.ShopPrice.price).where(
                    t.ShopPrice.sku_id.in_([s.id for s in skus.values()])
                )
            )
        }
        out = []
        for r in records:
            problems = r.problems
            note = r.note
            sku = skus.get(r.sku) if r.sku else None
            if r.sku and sku is None:
                problems.append(f"unknown SKU {r.sku!r}")
            shop_id = None
            if r.place:
                shop_id = self.shops.get(r.place)
                if shop_id is None:
                    problems.append(f"unknown shop {r.place!r}; see `hub shops list`")
            old = has_own = None
            if sku is not None:
                override = own.get((sku.id, shop_id)) if shop_id is not None else None
                old = override if override is not None else sku.price
                has_own = int(not r.place or override is not None)
            changed = not problems and r.new != old
            if changed and sku is not None and r.new is not None and old is not None:
                refusal = self.guard(sku, old, r.new)
                if refusal and self.options.force:
                    forced = "forced: " + refusal.removeprefix("price guard: ").removesuffix(
                        " (--force allows it)"
                    )
                    note = f"{note}; {forced}" if note else forced
                elif refusal:
                    problems.append(refusal)
                    changed = False
            out.append(
                (
                    r.line,
                    r.sku or None,
                    sku.id if sku is not None else None,
                    r.place,
                    shop_id,
                    r.new,
                    old,
                    has_own,
                    int(changed),
                    "; ".join(problems) or None,
                    int(r.fatal),
                    note,
                )
            )
        return out

    def cross_rows(self, staging: Staging) -> None:
        super().cross_rows(staging)
        # A shop row that equals today's SKU price keeps that price only if it becomes the
        # shop's own price: the file also changes the price for all shops.
        staging.query(
            """UPDATE rows SET changed = 1,
                   note = 'becomes this shop''s own price (the file changes the price for all shops)'
               WHERE place != '' AND has_own = 0 AND changed = 0 AND problem IS NULL
                 AND sku_id IS NOT NULL
                 AND EXISTS (SELECT 1 FROM rows w WHERE w.sku_id = rows.sku_id AND w.place = ''
                             AND w.problem IS NULL AND w.changed = 1)"""
        )

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
        shop_names = {v: k for k, v in self.shops.items()}
        promoted = prices.promoted_listing_ids(session, now)
        written = 0
        shops: set[int] = set()
        conflicts: list[Problem] = []
        cursor = staging.query(
            "SELECT line, sku, sku_id, place_id, new, old, has_own, note FROM rows "
            "WHERE problem IS NULL AND changed = 1 ORDER BY sku_id, line"
        )
        for rows in _fetch_groups(cursor, key=2):
            sku_ids = list({r[2] for r in rows})
            skus = {s.id: s for s in session.scalars(select(t.Sku).where(t.Sku.id.in_(sku_ids)))}
            own = {
                (p.sku_id, p.shop_id): p
                for p in session.scalars(select(t.ShopPrice).where(t.ShopPrice.sku_id.in_(sku_ids)))
            }
            # Check every row against the values of this transaction before writing any:
            # a price someone changed since the file was checked was not guarded.
            for line, _code, sku_id, shop_id, _new, old, _has_own, _note in rows:
                sku = skus.get(sku_id)
                override = own.get((sku_id, shop_id)) if shop_id is not None else None
                now_old = None if sku is None else (override.price if override is not None else sku.price)
                if now_old != old:
                    shown = "gone" if now_old is None else fen_to_yuan(now_old)
                    conflicts.append(
                        Problem(
                            f"line {line}",
                            f"the price changed from {fen_to_yuan(old)} to {shown} while the file was "
                            "being checked; run the import again",
                        )
                    )
            if conflicts:
                continue
            wide: dict[int, int] = {}
            by_shop: dict[tuple[int, int], int] = {}
            audits = []
            for line, code, sku_id, shop_id, new, old, _has_own, note in rows:
                sku = skus[sku_id]
                if shop_id is None:
                    sku.price, sku.updated_at = new, now
                    wide[sku_id] = new
                else:
                    override = own.get((sku_id, shop_id))
                    if override is None:
                        override = t.ShopPrice(sku_id=sku_id, shop_id=shop_id, price=new)
                        session.add(override)
                        own[(sku_id, shop_id)] = override
                    else:
                        override.price = new
                    by_shop[(sku_id, shop_id)] = new
                audits.append(
                    self._audit_row(
                        action="price.set",
                        sku=code,
                        shop=shop_names.get(shop_id) if shop_id is not None else None,
                        old=old,
                        new=new,
                        # A change the price guard refused and --force let through says so.
                        source=f"{source}:{line}" + (" --force" if (note or "").startswith("forced") else ""),
                        now=now,
                    )
                )
            session.flush()
            self._audit(session, audits)
            shops |= self._queue_pushes(session, sku_ids, wide, by_shop, set(own), promoted, now)
            written += len(audits)
            progress("applying", written, written / total if total else None)
        if conflicts:
            raise InputError(
                f"{source}: prices changed while the file was being checked; nothing changed", conflicts
            )
        return written, shops

    def _queue_pushes(
        self,
        session: Session,
        sku_ids: list[int],
        wide: dict[int, int],
        by_shop: dict[tuple[int, int], int],
        overridden: set[tuple[int, int]],
        promoted: set[int],
        now: datetime,
    ) -> set[int]:
        """Queue a price write for every listing a change affects — the rules of
        :func:`hub.core.prices.set_price` in bulk: a shop with its own price keeps it when
        the price for all shops changes, and a listing a running promotion holds is left
        alone (the promotion restores the new regular price when it ends)."""
        listings = session.execute(
            select(
                t.Listing.id,
                t.Listing.shop_id,
                t.Listing.sku_id,
                t.Listing.platform_item_id,
                t.Listing.platform_sku_id,
                t.Listing.master_code,
            ).where(t.Listing.sku_id.in_(sku_ids), t.Listing.status != catalog.REMOVED)
        ).all()
        entries, superseded = [], []
        for listing in listings:
            if listing.id in promoted:
                continue
            key = (listing.sku_id, listing.shop_id)
            if key in by_shop:
                price = by_shop[key]
            elif listing.sku_id in wide and key not in overridden:
                price = wide[listing.sku_id]
            else:
                continue
            idempotency_key = outbox.random_key("price")
            superseded.append(
                {
                    "b_shop": listing.shop_id,
                    "b_target": str(listing.id),
                    "b_error": f"replaced by {idempotency_key}",
                }
            )
            entries.append(
                {
                    "shop_id": listing.shop_id,
                    "kind": "price",
                    "target": str(listing.id),
                    "idempotency_key": idempotency_key,
                    "payload": {
                        "platform_item_id": listing.platform_item_id,
                        "platform_sku_id": listing.platform_sku_id,
                        "master_code": listing.master_code,
                        "price": price,
                        "reason": "price",
                    },
                }
            )
        if entries:
            table = t.OutboxEntry.__table__
            session.execute(
                update(table)
                .where(
                    table.c.shop_id == bindparam("b_shop"),
                    table.c.kind == "price",
                    table.c.target == bindparam("b_target"),
                    or_(*(table.c.state == state for state in outbox.OPEN_STATES)),
                )
                .values(state="superseded", last_error=bindparam("b_error"), updated_at=now),
                superseded,
            )
            outbox.add_many(session, entries, now)
        return {e["shop_id"] for e in entries}


KINDS: dict[str, type[_Kind]] = {"stock": StockFile, "prices": PriceFile}


# --- the whole run -----------------------------------------------------------------------------


def run_import(
    db: Database,
    path: str | Path,
    kind: str,
    options: ImportOptions,
    *,
    now: Callable[[], datetime],
    progress: Progress = _quiet,
) -> ImportResult:
    """Check ``path`` as a ``kind`` ("stock" or "prices") file and, if ``options.apply``,
    apply it in one transaction. Raises :class:`InputError` for a file that cannot be read
    at all; bad rows are reported in the result (the caller decides how to fail)."""
    spec = KINDS[kind](options)
    path = Path(path)
    with open_sheet(path, encoding=options.encoding, score=spec.score) as sheet:
        layout = spec.layout(sheet)
        db.run_sync(spec.load)
        staging = Staging()
        try:
            result = _check(db, sheet, spec, layout, staging, progress)
            if (
                options.apply
                and result.changes
                and not result.damaged
                and (options.partial or not result.bad)
            ):
                written, shop_ids = db.run_sync(
                    lambda s: spec.apply(
                        s, staging, now=now(), source=path.name, progress=progress, total=result.changes
                    )
                )
                result.applied = written
                if shop_ids:
                    names = db.run_sync(
                        lambda s: list(s.scalars(select(t.Shop.name).where(t.Shop.id.in_(shop_ids))))
                    )
                    result.shops = sorted(names)
            elif options.apply and not result.changes and not result.damaged:
                result.applied = 0 if (options.partial or not result.bad) else None
        finally:
            staging.close()
    return result


def _check(
    db: Database, sheet: Sheet, spec: _Kind, layout: Layout, staging: Staging, progress: Progress
) -> ImportResult:
    batch: list[_Record] = []

    def flush() -> None:
        staging.add(db.run_sync(lambda s: spec.resolve(s, batch)))
        batch.clear()
        progress("checking", sheet.rows_read, sheet.fraction())

    for row in sheet.rows():
        batch.append(spec.parse(row, layout))
        if len(batch) >= CHUNK:
            flush()
    if batch:
        flush()
    staging.index()
    spec.cross_rows(staging)

    result = ImportResult(
        spec.kind, sheet.name, sheet.format, sheet.encoding, place_name=spec.place, notices=sheet.notices
    )
    rows, changes, unchanged, bad, fatal = staging.query(
        "SELECT count(*), "
        "coalesce(sum(problem IS NULL AND changed = 1), 0), "
        "coalesce(sum(problem IS NULL AND changed = 0), 0), "
        "coalesce(sum(problem IS NOT NULL), 0), "
        "coalesce(max(fatal), 0) FROM rows"
    ).fetchone()
    result.rows, result.changes, result.unchanged, result.bad = rows, changes, unchanged, bad
    result.damaged = bool(fatal)
    limit = spec.options.show if spec.options.show > 0 else -1
    result.listed = [
        Change(line, sku, place, old, new, note)
        for line, sku, place, old, new, note in staging.query(
            "SELECT line, sku, place, old, new, note FROM rows WHERE problem IS NULL AND changed = 1 "
            "ORDER BY line LIMIT ?",
            (limit,),
        )
    ]
    result.bad_rows = list(
        staging.query(
            "SELECT line, problem FROM rows WHERE problem IS NOT NULL ORDER BY line LIMIT ?", (MAX_PROBLEMS,)
        )
    )
    return result
