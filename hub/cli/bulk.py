"""``hub price``, ``hub stock import`` and ``hub export``: bulk changes from spreadsheets."""

from __future__ import annotations

import click


@click.group("price")
def price() -> None:
    """Regular prices: one change, or a spreadsheet of them."""


@click.group("export")
def export() -> None:
    """Write current values in the import format (CSV or XLSX), for round trips."""


@click.command("import")
def stock_import() -> None:
    """Set on-hand counts from a spreadsheet."""
    raise click.ClickException("stock import is being built")
