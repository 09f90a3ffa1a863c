"""``hub demo``: the product working, in one command."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from hub.app import App
from hub.cli.app import run_async
from hub.cli.output import json_option, print_json
from hub.simulator.demo import DemoOptions, DemoResult, run_demo


@click.command("demo")
@click.option(
    "--folder",
    type=click.Path(path_type=Path, file_okay=False),
    default="hub-demo",
    show_default=True,
    help="Where the demo database goes (recreated each run).",
)
@click.option("--seed", type=int, default=11, show_default=True, help="Makes the run repeatable.")
@click.option("--faults", is_flag=True, help="Inject throttling, 5xx, timeouts, resets, bad bodies.")
@click.option("--skus", type=click.IntRange(min=10), default=200, show_default=True)
@click.option(
    "--seconds",
    type=click.FloatRange(min=1),
    default=15.0,
    show_default=True,
    help="Length of the flash sale.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=1),
    default=150.0,
    show_default=True,
    help="Buyer attempts per second, all channels together.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0),
    default=0.5,
    show_default=True,
    help="Seconds between sync cycles during the sale.",
)
@click.option(
    "--push",
    is_flag=True,
    help="Run the sale on push messages (Douyin, WeChat store: signed pushes; Taobao: TMC), "
    "polling only as the safety net.",
)
@json_option
@click.pass_obj
def demo(
    app: App,
    folder: Path,
    seed: int,
    faults: bool,
    skus: int,
    seconds: float,
    rate: float,
    interval: float,
    push: bool,
    as_json: bool,
) -> int:
    """Run a flash sale across Taobao, JD, Douyin and WeChat sandboxes, in-process.

    \b
    A fresh SQLite database is synced with four platform sandboxes sharing one
    catalogue; then buyers on all four channels race for a few scarce SKUs while the
    hub syncs continuously. No SKU is marked: the hub partitions the scarce ones by
    itself. Exit code 1 when a unit was oversold or nothing was sold. Explore the
    result afterwards with the commands printed at the end."""
    err = Console(file=sys.stderr)
    options = DemoOptions(
        folder=folder,
        seed=seed,
        skus=skus,
        seconds=seconds,
        rate=rate,
        interval=interval,
        faults=faults,
        push=push,
    )
    result = run_async(lambda: run_demo(options, say=lambda m: err.print(f"[bold]{m}[/bold]")))
    if as_json:
        print_json(result.to_dict())
    else:
        show(result)
    return 1 if result.problems else 0


def show(r: DemoResult) -> None:
    out = Console()
    table = Table(title="Flash sale across four channels", show_header=True, header_style="bold")
    for column in ("channel", "listings", "orders in the sale", "units sold"):
        table.add_column(column, justify="right" if column != "channel" else "left")
    for shop in r.units_sold:
        table.add_row(
            shop, str(r.listings.get(shop, "-")), str(r.orders.get(shop, 0)), str(r.units_sold[shop])
        )
    out.print(table)
    verdict = "[green]0 — nothing oversold[/green]" if r.oversold == 0 else f"[red]{r.oversold}[/red]"
    p50 = "-" if r.propagation_p50 is None else f"{r.propagation_p50:.2f}s"
    p99 = "-" if r.propagation_p99 is None else f"{r.propagation_p99:.2f}s"
    lines = [
        f"first sync: {r.skus} SKUs x 4 shops in {r.first_sync_seconds:.1f}s "
        f"({r.first_sync_pushes} stock pushes)",
        f"units sold vs stock: {r.sold} / {r.stock}   sell-through: {r.sell_through:.1%}",
        f"oversold units: {verdict}",
        f"sale -> new quantity on every other channel: p50 {p50}, p99 {p99}"
        + (f" ({r.unpropagated} sales still pending)" if r.unpropagated else ""),
        f"sync cycles: {r.cycles}   pushes: {r.pushes}   retries: {r.retries}   "
        f"failed writes: {r.failed_writes}",
    ]
    lines.append(
        f"mode: {r.mode}   idle API calls per hour: "
        + ", ".join(f"{shop} {calls:.0f}" for shop, calls in r.idle_calls_per_hour.items())
    )
    if r.faults_injected:
        lines.append(
            "injected faults survived: " + ", ".join(f"{k} {v}" for k, v in sorted(r.faults_injected.items()))
        )
    lines += [f"[red]FAILED: {problem}[/red]" for problem in r.problems]
    for line in lines:
        out.print(line)
    db = f"sqlite:///{r.database}"
    out.print("\nExplore the result:")
    for command in NEXT_COMMANDS:
        out.print(f"  {_hub_command()} --database-url {db} {command}", soft_wrap=True)  # copyable whole
    out.print(
        "The four sandboxes ran inside this demo and are gone, so `hub sync` on this database cannot "
        "reach them. To sync with a sandbox yourself: `hub sandbox serve taobao` (see docs/sandbox.md).",
        soft_wrap=True,
    )


# What the demo suggests next: commands that read the demo's database, so they work after
# it ended (tests/test_demo.py runs each of them).
NEXT_COMMANDS = (
    "orders list --shop douyin-live",
    "stock show",
    "outbox list",
    "listings unmatched",
    "aftersales list",
    "audit list",
)


def _hub_command() -> str:
    """How to call the hub again: ``hub`` when it is on PATH, else the path this run was
    started by (``.venv/bin/hub`` right after the README's first command)."""
    started = sys.argv[0]
    if shutil.which("hub") is None and Path(started).name == "hub":
        return started
    return "hub"
