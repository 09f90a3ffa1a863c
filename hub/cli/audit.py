"""``hub audit``: who changed what, from where."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
from sqlalchemy.orm import Session

from hub.cli.app import App
from hub.cli.output import emit, json_option, print_table
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
    emit(
        as_json,
        rows,
        lambda: print_table(
            ["at", "who", "action", "sku", "shop", "old", "new", "source"],
            [
                (r["at"], r["actor"], r["action"], r["sku"], r["shop"], r["old"], r["new"], r["source"])
                for r in rows
            ],
            empty="no audit entries",
        ),
    )
