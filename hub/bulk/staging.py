"""The staging database of one import: a private temporary SQLite file holding every row
and its verdict, so a million-row file costs disk pages rather than Python objects."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

CHUNK = 2000  # rows per database lookup and per write batch: bounds memory, few round trips


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


def fetch_chunks(cursor: sqlite3.Cursor, size: int = CHUNK) -> Iterator[list[tuple[Any, ...]]]:
    while rows := cursor.fetchmany(size):
        yield rows


def fetch_groups(cursor: sqlite3.Cursor, key: int, size: int = CHUNK) -> Iterator[list[tuple[Any, ...]]]:
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
