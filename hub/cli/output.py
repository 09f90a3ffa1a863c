"""Output: data to stdout (a table, or JSON with ``--json``), messages to stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from hub.secrets import redact
from hub.units import CN_TZ, fen_to_yuan

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def print_json(data: Any, *, lines: bool = False) -> None:
    """``data`` as JSON on stdout: indented for people, or with ``lines`` one compact
    object per line (JSON Lines, for a stream of documents such as `hub sync --watch --json`)."""
    if lines:
        text = json.dumps(data, default=_default, ensure_ascii=False, separators=(",", ":"))
    else:
        text = json.dumps(data, default=_default, ensure_ascii=False, indent=2)
    click.echo(redact(text))


def stdout_console() -> Console:
    return Console(file=sys.stdout, soft_wrap=False, width=None if sys.stdout.isatty() else 200)


def print_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str | None = None,
    empty: str = "nothing to show",
) -> None:
    rows = list(rows)
    if not rows:
        info(empty)
        return
    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(redact(_cell(v)) for v in row))
    stdout_console().print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):  # people read Beijing time; --json keeps ISO UTC
        local = value.astimezone(CN_TZ) if value.tzinfo else value
        return local.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def info(message: str) -> None:
    click.echo(redact(message), err=True)


def emit(as_json: bool, data: Any, table: Callable[[], None]) -> None:
    """Print ``data`` as JSON, or call ``table`` to print it for people."""
    if as_json:
        print_json(data)
    else:
        table()


def fen(amount: int | None) -> str:
    """Fen as a yuan string for display."""
    return "-" if amount is None else fen_to_yuan(amount)
