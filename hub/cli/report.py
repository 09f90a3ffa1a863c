"""``hub report``: orders per day, handling time, per-channel figures, stock (报表)."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.orm import Session

from hub.app import App
from hub.bulk.spreadsheet import OutColumn, write_sheet
from hub.cli.output import emit, info, json_option, print_table
from hub.core import reports
from hub.core.stock.show import sku_rows


def build(app: App, s: Session, name: str, period: reports.Period, shop: str | None) -> reports.Report:
    """The report ``name`` for ``period`` (the stock report is as of now)."""
    if name == "orders":
        return reports.orders_by_day(s, period, shop)
    if name == "handling":
        return reports.handling(s, period, shop)
    if name == "channels":
        return reports.channels(s, period, shop)
    if name == "returns":
        return reports.returns(s, period, shop)
    return reports.stock(sku_rows(s, app.stock_picture(s)))


def write_xlsx(report: reports.Report, path: Path) -> int:
    """Write a report as a spreadsheet: money in yuan and durations in hours, as numbers."""
    formats = {"money": "0.00", "hours": "0.0", "int": "0", "percent": "0.0"}
    columns = [
        OutColumn(c.header, text=c.kind == "text", number_format=formats.get(c.kind)) for c in report.columns
    ]

    def value(row: dict, column: reports.Column) -> object:
        raw = row.get(column.key)
        if raw is None or column.kind in ("text", "int", "percent"):
            return raw
        return raw / 100 if column.kind == "money" else round(raw / 3600, 1)

    return write_sheet(
        path, columns, ([value(r, c) for c in report.columns] for r in report.rows), sheet_title=report.name
    )


@click.command("report")
@click.argument("name", type=click.Choice(reports.REPORTS))
@click.option("--since", help="First day (Asia/Shanghai date, e.g. 2026-11-01); default 29 days ago.")
@click.option("--until", help="Last day, included (Asia/Shanghai date); default today.")
@click.option("--shop", help="Only this shop.")
@click.option(
    "--xlsx", "xlsx", type=click.Path(dir_okay=False, path_type=Path), help="Write it to FILE (.xlsx)."
)
@json_option
@click.pass_obj
def report(
    app: App,
    name: str,
    since: str | None,
    until: str | None,
    shop: str | None,
    xlsx: Path | None,
    as_json: bool,
) -> None:
    """Print report NAME: orders (per day and channel, with GMV), handling (paid → shipped
    p50/p90 per channel), channels (per-channel figures), returns (return rate per SKU and
    channel) or stock (per SKU, with alerts).

    The console's overview shows the same numbers. Money is shown in yuan (fen in --json)."""
    if as_json and xlsx:
        raise click.UsageError("choose one of --json and --xlsx")
    period = reports.period_from(app.clock.now(), since, until)
    result = app.db.run_sync(lambda s: build(app, s, name, period, shop))
    if xlsx:
        count = write_xlsx(result, xlsx)
        info(f"wrote {count} rows to {xlsx}")
        return
    emit(
        as_json,
        {"report": name, "since": period.since, "until": period.until, "rows": result.rows},
        lambda: print_table([c.header for c in result.columns], result.table(), title=result.title),
    )
