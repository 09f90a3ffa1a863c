"""Bulk stock counts and prices from a spreadsheet: check every row, show the diff, apply.

A file is processed in bounded memory whatever its size:

1. **Check** — the sheet is streamed (:mod:`hub.bulk.spreadsheet`); each row is parsed, and
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

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from hub.bulk.columns import Layout
from hub.bulk.kind import Change, FileKind, ImportOptions, ImportResult, Progress, Record, quiet
from hub.bulk.prices import PriceFile
from hub.bulk.spreadsheet import Sheet, open_sheet
from hub.bulk.staging import CHUNK, Staging
from hub.bulk.stock import StockFile
from hub.storage import tables as t
from hub.storage.db import Database

MAX_PROBLEMS = 100_000  # bad rows listed at most (a million wrong rows would not be read anyway)


KINDS: dict[str, type[FileKind]] = {"stock": StockFile, "prices": PriceFile}


def run_import(
    db: Database,
    path: str | Path,
    kind: str,
    options: ImportOptions,
    *,
    now: Callable[[], datetime],
    progress: Progress = quiet,
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
    db: Database, sheet: Sheet, spec: FileKind, layout: Layout, staging: Staging, progress: Progress
) -> ImportResult:
    batch: list[Record] = []

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
