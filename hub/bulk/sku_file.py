"""The SKU file (``hub skus import``): master SKUs and bundle recipes from a spreadsheet.

Columns (header names compared case-insensitively; the order is free):

* ``sku`` (商家编码), required;
* ``title`` (标题) and ``price`` (价格, yuan): create the SKU when it does not exist yet
  (a price is then required). For a SKU that exists they must be empty or what it has:
  prices change through ``hub price import``, titles through ``hub skus set``;
* ``components`` (组合): the bundle's recipe, ``CUP-500:2;TEA-100:1``, replacing any it had
  (see :mod:`hub.core.bundles` for what is refused). Empty: the SKU is left as it is.

The whole file is checked in one transaction and applied only if every row is good and
``apply`` is asked; otherwise it is rolled back. Each bad row is reported as one line
naming its line and column, and nothing changes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import validation
from hub.bulk.columns import Column, columns_help, header_key, parse_price_cell
from hub.bulk.spreadsheet import open_sheet, unneutralise
from hub.core import audit, bundles, catalog
from hub.errors import InputError, Problem
from hub.storage import tables as t
from hub.storage.db import Database

COLUMNS = (
    Column("sku", ("sku", "商家编码"), required=True),
    Column("title", ("title", "标题", "名称", "商品名称")),
    Column("price", ("price", "价格")),
    Column("components", ("components", "组合", "组合明细")),
)


@dataclass
class SkuFileResult:
    file: str
    rows: int = 0
    created: list[str] = field(default_factory=list)
    bundled: dict[str, str] = field(default_factory=dict)  # bundle code -> its new recipe
    unchanged: int = 0
    applied: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "rows": self.rows,
            "created": self.created,
            "bundles": self.bundled,
            "unchanged": self.unchanged,
            "applied": self.applied,
        }


@dataclass
class _Row:
    line: int
    code: str
    title: str
    price: str
    components: str


class _DryRun(Exception):
    """Rolls the checking transaction back."""


def _read(path: str, encoding: str | None) -> tuple[str, list[_Row]]:
    def score(header: Sequence[str]) -> int:
        known = {header_key(a) for c in COLUMNS for a in c.aliases}
        return sum(header_key(h) in known for h in header)

    with open_sheet(path, encoding=encoding, score=score) as sheet:
        index: dict[str, int] = {}
        for i, text in enumerate(sheet.header):
            key = header_key(text)
            for column in COLUMNS:
                if key in {header_key(a) for a in column.aliases}:
                    index[column.name] = i
        if "sku" not in index:
            raise sheet.error(
                f"no sku (商家编码) column in the header; the columns are: {columns_help(COLUMNS)}"
            )
        rows = []
        for row in sheet.rows():
            if row.damage:
                raise sheet.error(f"line {row.line}: {row.damage}")

            def cell(name: str, cells: tuple[str, ...] = row.cells) -> str:
                at = index.get(name)
                return unneutralise(cells[at]).strip() if at is not None and at < len(cells) else ""

            rows.append(_Row(row.line, cell("sku"), cell("title"), cell("price"), cell("components")))
        return sheet.name, rows


def run_sku_file(
    db: Database, path: str | os.PathLike[str], *, apply: bool, actor: str, now: Callable[[], datetime]
) -> SkuFileResult:
    """Check (and with ``apply``, apply) a SKU file; raises :class:`InputError` listing
    every bad row, changing nothing."""
    name, rows = _read(os.fspath(path), None)
    result = SkuFileResult(name, rows=len(rows))

    def work(s: Session) -> SkuFileResult:
        problems: list[Problem] = []
        at = now()
        seen: dict[str, int] = {}
        recipes: list[tuple[_Row, list[bundles.Component]]] = []
        for row in rows:  # first every SKU, so a recipe may name a SKU created further down
            where = f"{name} line {row.line}"
            if not row.code:
                problems.append(Problem(f"{where}, column sku", "empty"))
                continue
            if row.code in seen:
                problems.append(
                    Problem(f"{where}, column sku", f"{row.code} is also on line {seen[row.code]}")
                )
                continue
            seen[row.code] = row.line
            try:
                problem = _sku(s, row, where, at, actor, name, result)
            except InputError as exc:
                problem = Problem(f"{where}, column sku", str(exc))
            if problem:
                problems.append(problem)
                continue
            if row.components:
                try:
                    recipes.append((row, bundles.parse_recipe(row.components)))
                except InputError as exc:
                    problems.append(Problem(f"{where}, column components", str(exc)))
            elif row.code not in result.created:
                result.unchanged += 1
        for row, parts in recipes:
            sku = catalog.sku_by_code(s, row.code)
            new = bundles.format_recipe({p.code: p.quantity for p in parts})
            try:
                old = bundles.set_recipe(s, sku, parts)
            except InputError as exc:
                problems.append(Problem(f"{name} line {row.line}, column components", str(exc)))
                continue
            if old and bundles.format_recipe(old) == new:
                result.unchanged += 1
                continue
            result.bundled[row.code] = new
            audit.record(
                s,
                actor=actor,
                action="sku.bundle",
                now=at,
                sku=row.code,
                old=bundles.format_recipe(old) if old else None,
                new=new,
                source=f"{name}:{row.line}",
            )
        if problems:
            problems.sort(key=lambda p: int(p.where.split("line ")[1].split(",")[0]))
            raise InputError(f"{name}: {len(problems)} bad row(s); nothing changed", problems)
        if not apply:
            raise _DryRun
        result.applied = True
        return result

    try:
        return db.run_sync(work)
    except _DryRun:
        return result


def _sku(
    s: Session, row: _Row, where: str, now: datetime, actor: str, name: str, result: SkuFileResult
) -> Problem | None:
    """Create the row's SKU if it is new; a problem with its title or price, if any."""
    sku = s.scalar(select(t.Sku).where(t.Sku.code == row.code))
    price: int | None = None
    if row.price:
        price, why = parse_price_cell(row.price)
        if why:
            return Problem(f"{where}, column price", why)
    if sku is None:
        if price is None:
            return Problem(f"{where}, column price", f"{row.code} is a new SKU: give its price")
        try:
            validation.text(row.title)
        except validation.InvalidValue as exc:
            return Problem(f"{where}, column title", str(exc))
        catalog.add_sku(s, code=row.code, title=row.title, price=price, now=now)
        audit.record(
            s, actor=actor, action="sku.add", now=now, sku=row.code, new=price, source=f"{name}:{row.line}"
        )
        result.created.append(row.code)
        return None
    if price is not None and price != sku.price:
        return Problem(
            f"{where}, column price", f"{row.code} exists; change its price with `hub price import`"
        )
    if row.title and row.title != sku.title:
        return Problem(
            f"{where}, column title", f"{row.code} exists; change its title with `hub skus set --title`"
        )
    return None
