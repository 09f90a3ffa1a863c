"""``hub export``: current stock and prices in the import format (CSV or XLSX), for round
trips."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from hub.app import App
from hub.bulk import export as export_mod
from hub.bulk.spreadsheet import EXPORT_ENCODINGS
from hub.cli.output import info


@click.group("export")
def export() -> None:
    """Write current values in the import format (CSV or XLSX), for round trips.

    Edit the file and import it again (`hub stock import`, `hub price import`); an
    unchanged file imports as 0 changes. Text cells starting with = + - @ are written with a
    leading ' so the sheet carries no formula; the import removes that quote again."""


def _export_options(func: Any) -> Any:
    for decorator in reversed(
        [
            click.argument("file", type=click.Path(dir_okay=False)),
            click.option(
                "--encoding",
                type=click.Choice(EXPORT_ENCODINGS, case_sensitive=False),
                default="utf-8-sig",
                show_default=True,
                help="CSV only: utf-8-sig is UTF-8 with a BOM, so Excel shows Chinese correctly; "
                "gb18030 for older Excel on Chinese Windows.",
            ),
            click.option(
                "--headers",
                type=click.Choice(["en", "zh"]),
                default="en",
                show_default=True,
                help="Column names: English, or the Chinese ones (商家编码, 库存…).",
            ),
            click.pass_obj,
        ]
    ):
        func = decorator(func)
    return func


@contextmanager
def _export_progress(file: str) -> Iterator[Any]:
    """A row counter on a terminal (cleared at the end); nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return

    def show(rows: int) -> None:
        click.echo(f"\r{file}: {rows:,} rows", err=True, nl=False)

    try:
        yield show
    finally:
        click.echo("\r\x1b[2K", err=True, nl=False)


@export.command("stock")
@_export_options
def export_stock(app: App, file: str, encoding: str, headers: str) -> None:
    """Write on-hand counts to FILE (.csv or .xlsx): sku, title, warehouse, quantity."""
    with _export_progress(file) as progress:
        count = export_mod.export_stock(
            app.db, file, encoding=encoding.lower(), headers=headers, progress=progress
        )
    info(f"wrote {count:,} row(s) to {file}")


@export.command("prices")
@_export_options
def export_prices(app: App, file: str, encoding: str, headers: str) -> None:
    """Write regular prices to FILE (.csv or .xlsx): sku, title, shop, price (yuan).

    One row per SKU with its price for every shop (shop blank), then a row for each
    shop-specific price."""
    with _export_progress(file) as progress:
        count = export_mod.export_prices(
            app.db, file, encoding=encoding.lower(), headers=headers, progress=progress
        )
    info(f"wrote {count:,} row(s) to {file}")
