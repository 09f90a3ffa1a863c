"""``hub listings``: shop listings and how they link to master SKUs."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import click
from sqlalchemy.orm import Session

from hub.app import App
from hub.cli.output import emit, fen, info, json_option, print_table
from hub.core import catalog
from hub.core.shops import get_shop
from hub.errors import InputError


@click.group("listings")
def listings() -> None:
    """Shop listings and their links to master SKUs."""


@listings.command("list")
@click.option("--shop", help="Only this shop.")
@click.option("--sku", help="Only listings of this master SKU.")
@json_option
@click.pass_obj
def listings_list(app: App, shop: str | None, sku: str | None, as_json: bool) -> None:
    """List listings with their link, price and platform quantity."""

    def read(s: Session) -> list[dict[str, Any]]:
        if shop:
            get_shop(s, shop)  # an unknown name is an error, not an empty list
        if sku:
            catalog.sku_by_code(s, sku)
        return catalog.listing_rows(s, shop, sku)

    rows = app.db.run_sync(read)
    emit(
        as_json,
        rows,
        lambda: print_table(
            ["shop", "platform SKU", "商家编码", "linked SKU", "title", "price", "qty", "status"],
            [
                (
                    r["shop"],
                    r["platform_sku_id"],
                    r["master_code"],
                    r["sku"],
                    r["title"],
                    fen(r["price"]),
                    r["platform_quantity"],
                    r["status"],
                )
                for r in rows
            ],
            empty="no listings; run `hub sync --stream listings`",
        ),
    )


@listings.command("unmatched")
@click.option("--shop", help="Only this shop.")
@json_option
@click.pass_obj
def listings_unmatched(app: App, shop: str | None, as_json: bool) -> None:
    """Listings that link to no master SKU, and duplicate claims within a shop.

    Exit code 1 when there are any, so scripts can alert on them."""

    def read(s: Session) -> list[catalog.Unmatched]:
        if shop:
            get_shop(s, shop)  # an unknown name is an error, not "every listing is linked"
        return catalog.unmatched(s, shop)

    rows = app.db.run_sync(read)
    emit(
        as_json,
        [asdict(r) for r in rows],
        lambda: print_table(
            ["shop", "platform item", "platform SKU", "商家编码", "title", "problem"],
            [(r.shop, r.platform_item_id, r.platform_sku_id, r.master_code, r.title, r.reason) for r in rows],
            empty="every listing is linked",
        ),
    )
    if rows:
        raise click.exceptions.Exit(1)


@listings.command("map")
@click.argument("shop")
@click.argument("platform_sku_id")
@click.argument("sku_code", required=False)
@click.option("--unlink", is_flag=True, help="Remove the link instead.")
@click.pass_obj
def listings_map(app: App, shop: str, platform_sku_id: str, sku_code: str | None, unlink: bool) -> None:
    """Link SHOP's listing PLATFORM_SKU_ID to master SKU SKU_CODE by hand.

    A hand-made link survives later listing reads; order lines of the listing that
    matched nothing are linked and reserve stock."""
    if not unlink and not sku_code:
        raise InputError("give a SKU code, or --unlink")

    app.db.run_sync(
        lambda s: catalog.link_listing(
            s,
            shop=shop,
            platform_sku_id=platform_sku_id,
            sku_code=None if unlink else sku_code,
            actor=app.actor,
            source="hub listings map",
            now=app.clock.now(),
        )
    )
    info(f"{shop} {platform_sku_id} " + ("unlinked" if unlink else f"linked to {sku_code}"))
