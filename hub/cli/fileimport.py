"""What ``hub stock import`` and ``hub price import`` share: the file options, progress,
the diff table and ``--push``.

The work happens in :mod:`hub.bulk`; these helpers turn flags into options, show
progress and print results.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from hub.app import App
from hub.bulk.imports import run_import
from hub.bulk.kind import SHOW, ImportOptions, ImportResult
from hub.cli.app import run_async
from hub.cli.output import fen, info, json_option, print_json, print_table
from hub.cli.sync import TerminalProgress, print_report
from hub.core import engine
from hub.errors import InputError, Problem
from hub.report import SyncReport

PLAIN_PROGRESS_FROM = 50_000  # rows; smaller files finish before a progress line would help


# --- progress ----------------------------------------------------------------------------------


class ImportProgress:
    """Progress of a long import on stderr: a live bar on a terminal, otherwise a plain
    line every tenth of the file (only for big files, so cron mail stays short)."""

    def __init__(self, label: str, *, live: bool, quiet: bool = False):
        self.label = label
        self.quiet = quiet
        self.live: Progress | None = None
        if live and not quiet:
            self.live = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[rows]:,} rows"),
                TimeElapsedColumn(),
                console=Console(file=sys.stderr),
                transient=True,
            )
        self.tasks: dict[str, TaskID] = {}
        self.printed: dict[str, int] = {}

    def __call__(self, phase: str, rows: int, fraction: float | None) -> None:
        if self.quiet:
            return
        if self.live is not None:
            if phase not in self.tasks:
                total = 1.0 if fraction is not None else None
                self.tasks[phase] = self.live.add_task(f"{phase} {self.label}", total=total, rows=0)
            self.live.update(self.tasks[phase], completed=fraction or 0, rows=rows)
            return
        # Judge the file by its size, not by the rows done so far: a 60,000-row file must print
        # from its first tenth, not only once 50,000 rows are behind it.
        total = rows / fraction if fraction else rows
        if total < PLAIN_PROGRESS_FROM:
            return
        step = int((fraction or 0) * 10) if fraction is not None else rows // 100_000
        if step > self.printed.get(phase, 0):
            self.printed[phase] = step
            share = f"{fraction:.0%}, " if fraction is not None else ""
            info(f"{phase} {self.label}: {share}{rows:,} rows")

    @contextmanager
    def running(self) -> Iterator[ImportProgress]:
        if self.live is None:
            yield self
            return
        with self.live:
            yield self


# --- pushing -----------------------------------------------------------------------------------


def push_now(app: App, shops: list[str], stream: str, *, as_json: bool) -> SyncReport | None:
    """Run the engine's ``stream`` ("prices" or "stock") for ``shops`` right away, with
    progress on a terminal; returns the report (None when no shop is affected)."""
    if not shops:
        if not as_json:
            info("nothing to push: no shop lists the changed SKUs")
        return None
    live = TerminalProgress() if sys.stderr.isatty() and not as_json else None
    if live is None and not as_json:
        info(f"pushing {stream} to {', '.join(shops)}…")

    async def main() -> SyncReport:
        if live is None:
            return await engine.push_now(app.runtime(), app.settings, shops, stream)
        with live.progress:
            return await engine.push_now(app.runtime(), app.settings, shops, stream, live)

    report = run_async(main)
    if not as_json:
        print_report(report)
        if report.exit_code:
            info(
                "some pushes failed; the changes are saved and queued, and the next `hub sync` "
                "retries them (see `hub outbox list --failed`)"
            )
    return report


# --- imports ----------------------------------------------------------------------------------


def _changes_table(result: ImportResult) -> None:
    if not result.listed:
        return  # the summary line says "0 change(s)"
    shown = len(result.listed)
    title = f"changes (first {shown:,} of {result.changes:,})" if result.not_listed else "changes"
    if result.kind == "prices":
        print_table(
            ["line", "sku", "shop", "old", "new", "note"],
            [
                (c.line, c.sku, c.place or "(all shops)", fen(c.old), fen(c.new), c.note)
                for c in result.listed
            ],
            title=title,
            empty="no changes",
        )
    else:
        print_table(
            ["line", "sku", "warehouse", "old", "new", "note"],
            [(c.line, c.sku, c.place, c.old, c.new, c.note) for c in result.listed],
            title=title,
            empty="no changes",
        )
    if result.not_listed:
        info(f"… and {result.not_listed:,} more change(s) (--show 0 lists them all)")


def _summary(result: ImportResult) -> str:
    text = (
        f"{result.file}: {result.rows:,} row(s), {result.changes:,} change(s), "
        f"{result.unchanged:,} unchanged, {result.bad:,} bad"
    )
    if result.applied is not None:
        text += f"; applied {result.applied:,}"
    return text


def _problems(result: ImportResult) -> list[Problem]:
    problems = result.problems
    if result.problems_not_listed:
        problems.append(Problem("…", f"and {result.problems_not_listed:,} more bad row(s)"))
    return problems


def run_file_import(
    app: App,
    kind: str,
    file: str,
    *,
    apply: bool,
    partial: bool,
    push: bool,
    show: int,
    encoding: str | None,
    as_json: bool,
    force: bool = False,
    create_warehouses: bool = False,
) -> int:
    """The body of ``hub stock import`` and ``hub price import``; returns the exit code."""
    if push and not apply:
        raise click.UsageError("--push needs --apply")
    options = ImportOptions(
        apply=apply,
        partial=partial,
        force=force,
        create_warehouses=create_warehouses,
        encoding=encoding,
        show=show,
        price_change_limit=app.settings.price_change_limit,
        actor=app.actor,
        collect_shops=push,
    )
    progress = ImportProgress(Path(file).name, live=sys.stderr.isatty(), quiet=as_json)
    with progress.running():
        result = run_import(app.db, file, kind, options, now=app.clock.now, progress=progress)
    if not as_json:
        for notice in result.notices:
            info(f"note: {notice}")

    if result.damaged:
        if as_json:
            print_json(result.to_dict())
        raise InputError(
            f"{result.file} looks damaged or half-written; nothing changed",
            [] if as_json else _problems(result),
        )
    refused = bool(result.bad) and not partial
    data = result.to_dict()
    if not as_json:
        _changes_table(result)
        click.echo(_summary(result))

    report = None
    if result.applied is not None:
        if not as_json and not result.applied:
            info("nothing to change")
        elif not as_json:
            info(
                f"applied {result.applied:,} change(s) in one transaction (audit source {result.file}:LINE)"
                + ("" if push else "; the next `hub sync` pushes them, or use --push")
            )
        if push and result.applied:
            report = push_now(app, result.shops, "prices" if kind == "prices" else "stock", as_json=as_json)
            data["push"] = report.to_dict() if report is not None else None
    elif not refused and not as_json:
        if not result.changes:
            info("nothing to change")
        else:
            hint = "--apply --partial applies the good rows" if result.bad else "add --apply to apply them"
            info(f"dry run: nothing changed; {hint}")

    if as_json:
        print_json(data)
    if refused:
        hint = (
            "fix them and run again, or apply the good rows with --apply --partial"
            if result.changes
            else "fix them and run again"
        )
        message = f"{result.file}: {result.bad:,} bad row(s); nothing changed ({hint})"
        raise InputError(message, [] if as_json else _problems(result))
    if result.bad:  # --partial: the good rows went in (or would), the bad ones are listed
        if not as_json:
            what = "not applied" if result.applied is not None else "would not be applied"
            info(f"{result.bad:,} bad row(s) {what}:")
            for problem in _problems(result):
                info(f"  {problem}")
        return 1
    return report.exit_code if report is not None else 0


def import_options(func: Any) -> Any:
    for decorator in reversed(
        [
            click.argument("file", type=click.Path(dir_okay=False)),
            click.option(
                "--apply", is_flag=True, help="Apply the file (default: a dry run that shows the diff)."
            ),
            click.option(
                "--partial",
                is_flag=True,
                help="Do not reject the file for bad rows: with --apply, apply the good rows and list "
                "the bad ones (exit code 1). Without --partial one bad row rejects the whole file.",
            ),
            click.option("--push", is_flag=True, help="With --apply: push the changes to the shops now."),
            click.option(
                "--encoding",
                metavar="NAME",
                help="CSV encoding (default: detected: UTF-8 with or without BOM, else GB18030/GBK).",
            ),
            click.option(
                "--show",
                type=click.IntRange(min=0),
                default=SHOW,
                show_default=True,
                help="How many changes to list (0: all).",
            ),
            json_option,
            click.pass_obj,
        ]
    ):
        func = decorator(func)
    return func


FILE_RULES = """
    \b
    Files: .csv or .xlsx (first worksheet); a header row, names case-insensitive.
    CSV: UTF-8 with or without BOM, or GB18030/GBK (detected; --encoding overrides);
    comma-separated (tab or semicolon when the header shows it, or a `sep=;` line).
    Other columns are refused, so a misspelt one cannot be silently ignored.

    \b
    Default is a dry run: the diff (old -> new, first --show rows) and counts.
    --apply applies the whole file in one transaction, and only if no row is bad;
    every bad row is listed with its line number (header = line 1), exit code 2.
    Each change is audited with source FILE:LINE.
"""
