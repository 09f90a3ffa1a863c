"""``hub audit``: who changed what, from where."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
from sqlalchemy.orm import Session

from hub.app import App
from hub.cli.output import emit, fen, json_option, print_table
from hub.core import audit, catalog
from hub.errors import InputError
from hub.units import CN_TZ


@click.group("audit")
def group() -> None:
    """The audit log of manual and bulk changes."""


@group.command("list")
@click.option("--sku", help="Only changes of this SKU.")
@click.option(
    "--since",
    help="Only changes at or after this time (ISO, e.g. 2026-11-11 or 2026-11-11T08:00; "
    "Asia/Shanghai unless an offset is given).",
)
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True)
@json_option
@click.pass_obj
def list_(app: App, sku: str | None, since: str | None, limit: int, as_json: bool) -> None:
    """List audit entries, newest first."""
    when = None
    if since:
        try:
            when = datetime.fromisoformat(since)
        except ValueError:
            raise InputError(f"invalid --since {since!r}: use e.g. 2026-11-11T08:00") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=CN_TZ)

    def read(s: Session) -> list[dict[str, Any]]:
        rows = audit.entries(s, sku=sku, since=when, limit=limit)
        if sku and not rows:
            catalog.sku_by_code(s, sku)  # a code the hub never knew is a typo, not "no entries"
        return rows

    rows = app.db.run_sync(read)
    for row in rows:  # --json keeps the stored value and says its unit
        row["unit"] = "fen" if row["action"] in MONEY_ACTIONS else None
    emit(
        as_json,
        rows,
        lambda: print_table(
            ["at", "who", "action", "sku", "shop", "old", "new", "source"],
            [
                (
                    r["at"],
                    r["actor"],
                    r["action"],
                    r["sku"],
                    r["shop"],
                    _shown(r, "old"),
                    _shown(r, "new"),
                    r["source"],
                )
                for r in rows
            ],
            empty="no audit entries",
        ),
    )


# Actions whose old/new values are amounts of money, stored in fen and shown in yuan.
MONEY_ACTIONS = frozenset({"price.set", "sku.add", "sku.import", "sku.price_floor"})


def _shown(row: dict[str, Any], key: str) -> str | None:
    value = row[key]
    if row["action"] in MONEY_ACTIONS and value is not None and value.lstrip("-").isdigit():
        return fen(int(value))
    return value
