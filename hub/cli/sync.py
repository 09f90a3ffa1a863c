"""``hub sync``: the main job, for cron or continuous use."""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from typing import Any

import anyio
import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from hub.app import App
from hub.cli.app import run_async, verbosity_options
from hub.cli.output import info, json_option, print_json, print_table
from hub.core.engine import SyncEngine
from hub.core.shops import require_shops
from hub.push.inbox import poll_interval
from hub.report import STREAMS, StreamResult, SyncReport


def _status(result: StreamResult) -> str:
    if result.skipped:
        return f"skipped: {result.skipped}"
    return "ok" if result.exit_code == 0 else f"FAILED: {result.error}"


def print_report(report: SyncReport) -> None:
    print_table(
        ["shop", "stream", "fetched", "stored", "pushed", "failed", "seconds", "status"],
        [
            (r.shop, r.stream, r.fetched, r.stored, r.pushed, r.failed, f"{r.seconds:.1f}", _status(r))
            for r in report.results
        ],
        empty="nothing was due",
    )


def uncounted_notice(codes: Sequence[str], shown: int = 10) -> str:
    """One line naming the SKUs whose stock was not pushed because nobody counted them."""
    names = ", ".join(codes[:shown]) + (f" and {len(codes) - shown} more" if len(codes) > shown else "")
    return (
        f"{len(codes)} SKU(s) not counted, so their listings were left as they are: {names}. "
        "Set counts with `hub stock set` or `hub stock import` (0 is a count)."
    )


class TerminalProgress:
    """A live progress display on a terminal (the engine only emits events)."""

    def __init__(self) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed} done"),
            TimeElapsedColumn(),
            console=Console(file=sys.stderr),
            transient=True,
        )
        self.tasks: dict[tuple[str, str], Any] = {}

    def __call__(self, event: str, shop: str, stream: str, data: dict[str, Any]) -> None:
        key = (shop, stream)
        if event == "start" and key not in self.tasks:
            self.tasks[key] = self.progress.add_task(f"{shop} {stream}", total=data.get("total"))
        elif event == "advance" and key in self.tasks:
            self.progress.advance(self.tasks[key], data.get("n", 1))
        elif event == "done" and key in self.tasks:
            self.progress.update(self.tasks[key], total=1, completed=1)


@click.command("sync")
@click.option("--shop", "shops", multiple=True, metavar="NAME", help="Only these shops (repeatable).")
@click.option(
    "--stream",
    "streams",
    multiple=True,
    type=click.Choice(STREAMS),
    help="Only these streams (repeatable). Default: all; listings only when due.",
)
@click.option("--watch", is_flag=True, help="Keep cycling (near-real-time propagation).")
@click.option(
    "--interval",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds between cycles with --watch (default 60; 300 while `hub serve` receives pushes, "
    "polling then being the safety net).",
)
@click.option(
    "--max-cycles",
    type=click.IntRange(min=0),
    default=0,
    help="With --watch, stop after this many cycles (0: until interrupted).",
)
@json_option
@verbosity_options
@click.pass_obj
def sync(
    app: App,
    shops: Sequence[str],
    streams: Sequence[str],
    watch: bool,
    interval: float | None,
    max_cycles: int,
    as_json: bool,
) -> int:
    """Sync listings, orders, stock, prices and promotions of every shop, concurrently.

    \b
    Quiet unless something needs attention: on a terminal it shows progress and a
    summary table; otherwise (cron) it prints only problems and new stock alerts
    (see `hub stock alerts`). --json prints the report, new alerts under "alerts".
    Exit code: 0 all good, 1 some work failed or was skipped because another sync holds
    its lease (retried next run), 2 configuration or authentication needs a human.

    Ctrl-C or SIGTERM once: no new work starts, calls in flight finish; twice: stop now.
    """
    _check_shops(app, shops)
    tty = sys.stderr.isatty() and not as_json
    progress = TerminalProgress() if tty else None
    engine = SyncEngine(app.runtime(), app.settings)
    if progress is not None:
        engine.progress = progress
    verbose = app.verbose

    def show(report: SyncReport) -> None:
        if as_json:
            print_json(report.to_dict(), lines=watch)  # --watch: one object per line (JSON Lines)
        elif tty or verbose or report.exit_code:
            print_report(report)
        if as_json:
            return
        for shop, circuit in report.circuits.items():
            if circuit["state"] != "closed":
                info(f"{shop}: circuit open, calls fail fast; next probe in {circuit['retry_in']:.0f} s")
        skipped = [r for r in report.results if r.skipped and r.exit_code]
        if skipped:
            why = "; ".join(f"{r.shop} {r.stream}: {r.skipped}" for r in skipped)
            info(f"{len(skipped)} stream(s) skipped: {why}")
        if report.interrupted:
            info("stopped by a signal before the run was done; the next run picks up the rest")
        if report.uncounted:
            info(uncounted_notice(report.uncounted))
        for alert in report.alerts:  # new ones only: each is said once while it stands
            info(f"stock alert: {alert.message}")
        if report.unannounced:
            info(f"polling found {report.unannounced} order change(s) that no push announced")
        if report.exit_code:
            failed = [r for r in report.results if r.exit_code]
            info(f"{len(failed)} stream(s) need attention (exit code {report.exit_code})")

    if interval is None:
        interval = default_interval(app)

    async def main() -> int:
        stop = anyio.Event()
        last = 0
        async with anyio.create_task_group() as group:
            group.start_soon(_stop_on_signals, stop, engine)
            cycles = 0
            while True:
                if progress is not None:
                    with progress.progress:
                        report = await engine.run_cycle(list(shops) or None, list(streams) or None)
                else:
                    report = await engine.run_cycle(list(shops) or None, list(streams) or None)
                show(report)
                last = report.exit_code
                cycles += 1
                if not watch or stop.is_set() or (max_cycles and cycles >= max_cycles):
                    break
                await _pause(app, interval, stop)
                if stop.is_set():
                    break
            group.cancel_scope.cancel()
        return last

    code = run_async(main)
    return code


def _check_shops(app: App, names: Sequence[str]) -> None:
    """Refuse, before any work, unknown shop names and a database with no shops."""
    app.db.run_sync(lambda s: require_shops(s, names, app.settings.database_url))


def default_interval(app: App) -> float:
    """Seconds between --watch cycles (see :func:`hub.push.inbox.poll_interval`)."""
    now = app.clock.now()
    return app.db.run_sync(lambda s: poll_interval(s, now))


async def _pause(app: App, seconds: float, stop: anyio.Event) -> None:
    """Sleep on the app's clock, waking early when asked to stop."""
    async with anyio.create_task_group() as group:

        async def wake() -> None:
            await stop.wait()
            group.cancel_scope.cancel()

        group.start_soon(wake)
        await app.clock.sleep(seconds)
        group.cancel_scope.cancel()


async def _stop_on_signals(stop: anyio.Event, engine: SyncEngine) -> None:
    """SIGINT (Ctrl-C) or SIGTERM: the first stops starting new work and lets the calls in
    flight finish (and ends --watch after this cycle); the second stops at once. Leases
    are released either way."""
    try:
        receiver = anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM)
        signals = receiver.__enter__()
    except (ValueError, RuntimeError, NotImplementedError):  # not the main thread, or no signals here
        return
    try:
        async for _ in signals:
            if not stop.is_set():
                info("stopping: no new work; finishing what is in flight (again to stop now)")
                stop.set()
                engine.request_stop()
            else:
                info("stopping now")
                engine.abort()
                return
    finally:
        receiver.__exit__(None, None, None)


group = sync
