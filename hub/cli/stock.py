"""``hub stock``: on-hand counts, what each shop shows, allocation rules, drift."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.orm import Session

from hub.app import App
from hub.cli.app import run_async
from hub.cli.fileimport import FILE_RULES, import_options, run_file_import
from hub.cli.output import emit, info, json_option, print_table
from hub.cli.params import QUANTITY, Percent
from hub.core import alerts as alerts_mod
from hub.core import audit, catalog
from hub.core import rules as rules_mod
from hub.core.shops import all_shops, get_shop
from hub.core.stock.drift import Drift, check_drift
from hub.core.stock.show import sku_rows
from hub.errors import InputError


@click.group("stock")
def group() -> None:
    """Stock: on-hand counts, allocation rules, what each shop shows."""


@group.command("set")
@click.argument("sku")
@click.argument("quantity", type=QUANTITY)
@click.option("--warehouse", "-w", help="Warehouse code (default: main).")
@click.option("--create", is_flag=True, help="Create the warehouse if it does not exist.")
@click.pass_obj
def set_(app: App, sku: str, quantity: int, warehouse: str | None, create: bool) -> None:
    """Set the counted on-hand QUANTITY of SKU in a warehouse (pushed by the next sync;
    with HUB_WORKERS=1, a stock job per shop is enqueued with the change).

    QUANTITY is a whole number from 0 to 1,000,000,000; 0 is a count too (a SKU nobody
    counted is never pushed)."""

    def write(s: Session) -> tuple[int, int]:
        row = catalog.sku_by_code(s, sku)
        old, new = catalog.set_on_hand(s, row, quantity, warehouse, app.clock.now(), create_warehouse=create)
        audit.record(
            s,
            actor=app.actor,
            action="stock.set",
            now=app.clock.now(),
            sku=sku,
            old=old,
            new=new,
            source=f"hub stock set --warehouse {warehouse or catalog.DEFAULT_WAREHOUSE}",
        )
        if app.settings.workers:  # the push, as a job committed with the change
            from hub.workers.enqueue import enqueue_stock

            enqueue_stock(s)
        return old, new

    old, new = app.db.run_sync(write)
    info(f"{sku}: on hand {old} -> {new} in {warehouse or catalog.DEFAULT_WAREHOUSE}")


@group.command("show")
@click.argument("sku", required=False)
@json_option
@click.pass_obj
def show(app: App, sku: str | None, as_json: bool) -> None:
    """On hand, reserved, safety, sellable, mode and why, and per shop: shown now and the target.

    \b
    The mode is decided each cycle: a SKU is partitioned (its units divided among the
    shops) when its sellable units fall below what its channels could sell before the
    next sync lands, or below a floor per channel; otherwise shared. A SKU marked
    --partitioned, its --partition-below and HUB_PARTITION_BELOW win.

    \b
    A SKU nobody counted shows "not counted" (JSON: "counted": false, targets null): the
    hub leaves its listings as they are until a count is set, 0 included."""

    def read(s: Session) -> list[dict[str, Any]]:
        rows = sku_rows(s, app.stock_picture(s), code=sku)
        if sku and not rows:
            raise InputError(f"unknown SKU {sku!r}")
        return rows

    rows = app.db.run_sync(read)
    emit(
        as_json,
        rows,
        lambda: print_table(
            ["sku", "on hand", "reserved", "safety", "sellable", "mode (why)", "shops (shown → target)"],
            [
                (
                    r["sku"],
                    _on_hand(r),
                    r["reserved"],
                    r["safety"],
                    r["sellable"] if r["counted"] else "-",
                    r["why"],
                    "  ".join(
                        f"{x['shop']} {x['shown']}→{'not pushed' if x['target'] is None else x['target']}"
                        for x in r["shops"]
                    ),
                )
                for r in rows
            ],
            empty="no SKUs",
        ),
    )


def _on_hand(row: dict[str, Any]) -> str:
    if row["bundle_of"]:
        return "bundle of " + " + ".join(f"{q}×{code}" for code, q in row["bundle_of"].items())
    return str(row["on_hand"]) if row["counted"] else "not counted"


@group.command("alerts")
@click.option(
    "--cover-days",
    type=click.FloatRange(min=0),
    help="Alert below this many days of cover (default: HUB_ALERT_COVER_DAYS, 3).",
)
@click.option(
    "--stuck-days",
    type=click.FloatRange(min=0, min_open=True),
    help="Alert on open orders older than this (default: HUB_ALERT_STUCK_DAYS, 3).",
)
@json_option
@click.pass_obj
def alerts(app: App, cover_days: float | None, stuck_days: float | None, as_json: bool) -> None:
    """Stock alerts (安全库存预警) that stand now, each naming the SKU, shops and numbers.

    \b
    safety_stock             free units (on hand − reserved) at or below safety stock
    low_cover                sellable ÷ daily sales (last HUB_ALERT_SALES_DAYS, 7) under
                             --cover-days
    zero_on_selling_channel  a listing at 0 on a shop that sold the SKU in those days,
                             while units are sellable
    stuck_reservation        open orders older than --stuck-days still holding units

    `hub sync` reports each new alert once, in its summary and --json, and passes it to
    plugins (the hub_stock_alerts hook)."""
    overrides = {"alert_cover_days": cover_days, "alert_stuck_days": stuck_days}
    settings = app.settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    found = app.db.run_sync(lambda s: alerts_mod.find(s, app.clock.now(), settings))
    emit(
        as_json,
        [a.to_dict() for a in found],
        lambda: print_table(
            ["kind", "sku", "shops", "alert"],
            [(a.kind, a.sku, ", ".join(a.shops) or "-", a.message) for a in found],
            empty="no stock alerts",
        ),
    )


@group.command("drift")
@click.option("--shop", "shops", multiple=True, help="Only these shops (repeatable).")
@click.option("--repair", is_flag=True, help="Re-anchor to what the platforms show and push the targets.")
@json_option
@click.pass_obj
def drift(app: App, shops: tuple[str, ...], repair: bool, as_json: bool) -> None:
    """Compare each platform's quantity with what the hub believes it shows.

    Differences mean a change the hub did not make (a manual edit in the back office,
    a lost write). --repair reads the truth and pushes the right quantities.
    Exit code 1 when drift was found and not repaired."""
    runtime = app.runtime()

    async def main() -> list[Drift]:
        rows = app.db.run_sync(lambda s: [get_shop(s, n) for n in shops] if shops else all_shops(s))
        found: list[Drift] = []
        for row in rows:
            ctx = runtime.open(row)
            try:
                found += await check_drift(
                    app.host, app.db, ctx, row.id, repair=repair, settings=app.settings
                )
            finally:
                await ctx.client.aclose()
        if repair and found:
            from hub.core.engine import SyncEngine

            await SyncEngine(runtime, app.settings).run_cycle([r.name for r in rows], ["stock"])
        return found

    found = run_async(main)
    emit(
        as_json,
        [
            {
                "shop": d.shop,
                "sku": d.sku,
                "platform_sku_id": d.platform_sku_id,
                "expected": d.expected,
                "actual": d.actual,
                "difference": d.difference,
            }
            for d in found
        ],
        lambda: print_table(
            ["shop", "sku", "platform SKU", "hub expects", "platform shows", "diff"],
            [(d.shop, d.sku, d.platform_sku_id, d.expected, d.actual, f"{d.difference:+d}") for d in found],
            empty="no drift",
        ),
    )
    if found and repair:
        info(f"repaired {len(found)} listing(s)")
    elif found:
        raise click.exceptions.Exit(1)


@group.group("rules")
def rules() -> None:
    """Allocation rules: how much of each SKU a shop may show."""


@rules.command("set")
@click.argument("shop")
@click.option("--sku", help="Only for this SKU (default: the shop's rule for every SKU).")
@click.option("--share", type=Percent(0, 100), help="Percent of the sellable stock (default 100).")
@click.option("--cap", type=QUANTITY, help="Never show more than this.")
@click.option("--no-cap", is_flag=True, help="Remove the cap.")
@click.option("--floor", type=QUANTITY, help="Show 0 when the allocation falls below this.")
@click.option("--warehouses", help="Comma-separated warehouse codes feeding the shop ('' = all).")
@click.pass_obj
def rules_set(
    app: App,
    shop: str,
    sku: str | None,
    share: int | None,
    cap: int | None,
    no_cap: bool,
    floor: int | None,
    warehouses: str | None,
) -> None:
    """Set SHOP's allocation rule (or its rule for one SKU)."""

    def write(s: Session) -> dict[str, Any]:
        codes = None if warehouses is None else [c.strip() for c in warehouses.split(",") if c.strip()]
        return rules_mod.set_rule(
            s,
            get_shop(s, shop),
            catalog.sku_by_code(s, sku) if sku else None,
            share=share,
            cap=cap,
            no_cap=no_cap,
            floor=floor,
            warehouses=codes,
            actor=app.actor,
            now=app.clock.now(),
        )

    new = app.db.run_sync(write)
    info(f"{shop}{' ' + sku if sku else ''}: {describe_rule(new)}")


def describe_rule(rule: dict[str, Any]) -> str:
    """A rule for people: ``share 50%, cap 10, floor 0, warehouses main, east``."""
    cap = "none" if rule["cap"] is None else rule["cap"]
    places = ", ".join(rule["warehouses"] or []) or "all"
    return f"share {rule['share']}%, cap {cap}, floor {rule['floor']}, warehouses {places}"


@rules.command("list")
@json_option
@click.pass_obj
def rules_list(app: App, as_json: bool) -> None:
    """List allocation rules (shops without one show 100% of sellable stock)."""

    rows = app.db.run_sync(rules_mod.list_rules)
    emit(
        as_json,
        rows,
        lambda: print_table(
            ["shop", "sku", "share %", "cap", "floor", "warehouses"],
            [(r["shop"], r["sku"], r["share"], r["cap"], r["floor"], r["warehouses"] or "all") for r in rows],
            empty="no rules: every shop shows 100% of sellable stock",
        ),
    )


STOCK_HELP = (
    """Set counted on-hand quantities from a spreadsheet FILE.

    \b
    Columns:
      sku (商家编码)         required: the master SKU code
      quantity (库存/数量)   required: whole units, 0 or more
      warehouse (仓库)       optional: warehouse code (default: main)
      title (名称), note (备注): for people; not imported
"""
    + FILE_RULES
    + """
    A row equal to the current count is not written. The next `hub sync` pushes the new
    sellable stock to every shop; --push does it now.
    """
)


@group.command("import", help=STOCK_HELP)
@import_options
@click.option("--create-warehouses", is_flag=True, help="Create warehouses the file names that do not exist.")
def stock_import(
    app: App,
    file: str,
    apply: bool,
    partial: bool,
    push: bool,
    encoding: str | None,
    show: int,
    as_json: bool,
    create_warehouses: bool,
) -> int:
    return run_file_import(
        app,
        "stock",
        file,
        apply=apply,
        partial=partial,
        push=push,
        show=show,
        encoding=encoding,
        as_json=as_json,
        create_warehouses=create_warehouses,
    )
