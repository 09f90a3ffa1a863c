"""``hub price``: set regular prices, one change or a spreadsheet of them (the file
import is shared with ``hub stock import``: :mod:`hub.cli.fileimport`)."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.orm import Session

from hub.app import App
from hub.cli.fileimport import FILE_RULES, import_options, push_now, run_file_import
from hub.cli.output import fen, info, json_option, print_json
from hub.cli.params import parse_price
from hub.core import catalog, prices
from hub.core.shops import get_shop
from hub.errors import InputError, Problem

PRICE_HELP = (
    """Set regular prices from a spreadsheet FILE.

    \b
    Columns:
      sku (商家编码)   required: the master SKU code
      price (价格)     required: yuan, at most two decimals (59.90; ¥ and 1,299.00 accepted)
      shop (店铺)      optional: a shop name for a shop-specific price; blank = every shop
      title (名称), note (备注): for people; not imported
"""
    + FILE_RULES
    + """
    The price guard refuses a change of more than HUB_PRICE_CHANGE_LIMIT (default 50%) of
    the current price, and any price under the SKU's floor; those rows are bad rows unless
    --force. Listings a running promotion holds keep the promotion price. The next
    `hub sync` pushes the prices; --push does it now.
    """
)


@click.group("price")
def price() -> None:
    """Regular prices: one change, or a spreadsheet of them."""


@price.command("import", help=PRICE_HELP)
@import_options
@click.option(
    "--force", is_flag=True, help="Allow changes the price guard refuses (too large, under the floor)."
)
def price_import(
    app: App,
    file: str,
    apply: bool,
    partial: bool,
    push: bool,
    encoding: str | None,
    show: int,
    as_json: bool,
    force: bool,
) -> int:
    return run_file_import(
        app,
        "prices",
        file,
        apply=apply,
        partial=partial,
        push=push,
        show=show,
        encoding=encoding,
        as_json=as_json,
        force=force,
    )


@price.command("set")
@click.argument("sku")
@click.argument("amount", metavar="PRICE")
@click.option("--shop", metavar="NAME", help="Only this shop (a shop-specific price).")
@click.option("--force", is_flag=True, help="Allow a change the price guard refuses.")
@click.option("--push", is_flag=True, help="Push the price to the shops now.")
@json_option
@click.pass_obj
def price_set(
    app: App, sku: str, amount: str, shop: str | None, force: bool, push: bool, as_json: bool
) -> int:
    """Set the regular price of SKU to PRICE yuan, for every shop or --shop only.

    PRICE is in yuan with at most two decimals, e.g. 59.90.
    The same guard, audit log and outbox as `hub price import`: a change of more than
    HUB_PRICE_CHANGE_LIMIT (default 50%) or under the SKU's floor needs --force."""
    new = parse_price(amount)
    now = app.clock.now()

    def write(s: Session) -> dict[str, Any]:
        row = catalog.sku_by_code(s, sku)
        shop_row = get_shop(s, shop) if shop else None
        old = prices.regular_price(s, row, shop_row.id if shop_row else None)
        verdict = prices.check(row, old, new, limit=app.settings.price_change_limit)
        if old != new and verdict.problems and not force:
            raise InputError(
                f"refused: {sku} {fen(old)} -> {fen(new)}; nothing changed",
                [
                    Problem("price guard", p.replace(" (use --force)", "") + " (--force allows it)")
                    for p in verdict.problems
                ],
            )
        queued = 0
        if old != new:
            source = "hub price set --force" if verdict.problems else "hub price set"
            queued = prices.set_price(
                s, sku=row, shop=shop_row, price=new, now=now, actor=app.actor, source=source
            )
        shops = catalog.shops_listing(s, row.id)
        if shop_row is not None:
            shops = [n for n in shops if n == shop_row.name]
        return {
            "sku": sku,
            "shop": shop,
            "old": old,
            "new": new,
            "changed": old != new,
            "queued": queued,
            "shops": shops,
        }

    data = app.db.run_sync(write)
    if not as_json:
        where = f"in {shop}" if shop else "for every shop"
        if data["changed"]:
            info(
                f"{sku}: {fen(data['old'])} -> {fen(data['new'])} {where}; "
                f"{data['queued']} listing push(es) queued"
                + ("" if push else " for the next `hub sync` (or use --push)")
            )
        else:
            info(f"{sku}: already {fen(new)} {where}; nothing changed")
    report = None
    if push and data["changed"]:
        report = push_now(app, data["shops"], "prices", as_json=as_json)
        data["push"] = report.to_dict() if report is not None else None
    if as_json:
        print_json(data)
    return report.exit_code if report is not None else 0
