"""``hub skus`` and ``hub listings``: the master catalogue and how shops link to it."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import validation
from hub.cli.app import App, run_async
from hub.cli.output import emit, fen, info, json_option, print_table
from hub.cli.params import QUANTITY
from hub.core import audit, catalog
from hub.core.shops import get_shop
from hub.errors import InputError, SyncError
from hub.storage import tables as t


def parse_price(text: str, what: str = "price") -> int:
    """A price typed by a person, in yuan (e.g. 59.90) -> fen (:func:`hub.validation.price`;
    full-width digits are read with a notice)."""
    fen_value = validation.price(text, what)
    notice = validation.fullwidth_notice(text)
    if notice:
        info(f"note: {notice}")
    return fen_value


# --- skus ------------------------------------------------------------------------------------


@click.group("skus")
def skus() -> None:
    """Master SKUs (商家编码): the merchant's catalogue every listing links to."""


@skus.command("list")
@json_option
@click.pass_obj
def skus_list(app: App, as_json: bool) -> None:
    """List master SKUs with price and stock settings."""

    def read(s: Session) -> list[dict[str, Any]]:
        return [
            {
                "code": k.code,
                "title": k.title,
                "price": k.price,
                "price_floor": k.price_floor,
                "safety_stock": k.safety_stock,
                "partition_below": k.partition_below,
                "partitioned": k.partitioned,
            }
            for k in s.scalars(select(t.Sku).order_by(t.Sku.code))
        ]

    rows = app.db.run_sync(read)
    emit(
        as_json,
        rows,
        lambda: print_table(
            ["code", "title", "price", "floor", "safety", "partition below", "partitioned"],
            [
                (
                    r["code"],
                    r["title"],
                    fen(r["price"]),
                    fen(r["price_floor"]),
                    r["safety_stock"],
                    r["partition_below"],
                    "yes" if r["partitioned"] else "",
                )
                for r in rows
            ],
            empty="no SKUs; add them with `hub skus add` or `hub skus import-from SHOP`",
        ),
    )


@skus.command("add")
@click.argument("code")
@click.option("--price", required=True, help="Regular price in yuan, e.g. 59.90.")
@click.option("--title", default="", help="A title for people.")
@click.pass_obj
def skus_add(app: App, code: str, price: str, title: str) -> None:
    """Add master SKU CODE."""
    fen_price = parse_price(price)

    def write(s: Session) -> None:
        catalog.add_sku(s, code=code, title=title, price=fen_price, now=app.clock.now())
        audit.record(
            s,
            actor=app.actor,
            action="sku.add",
            now=app.clock.now(),
            sku=code,
            new=fen_price,
            source="hub skus add",
        )

    app.db.run_sync(write)
    info(f"added SKU {code}")


@skus.command("set")
@click.argument("code")
@click.option("--safety-stock", type=QUANTITY, help="Units never offered on any channel.")
@click.option(
    "--partition-below",
    type=QUANTITY,
    help="Partition the SKU when its sellable stock falls below this.",
)
@click.option("--partitioned/--shared", default=None, help="Always partition (e.g. a flash-sale SKU).")
@click.option("--price-floor", help="Lowest price (yuan) any change or promotion may set.")
@click.option("--title", help="A new title.")
@click.pass_obj
def skus_set(
    app: App,
    code: str,
    safety_stock: int | None,
    partition_below: int | None,
    partitioned: bool | None,
    price_floor: str | None,
    title: str | None,
) -> None:
    """Change stock and price settings of SKU CODE."""
    changes: dict[str, Any] = {
        "safety_stock": safety_stock,
        "partition_below": partition_below,
        "partitioned": partitioned,
        "price_floor": parse_price(price_floor, "price floor") if price_floor else None,
        "title": validation.text(title) if title is not None else None,
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        raise InputError("nothing to change; see `hub skus set --help`")

    def write(s: Session) -> None:
        sku = catalog.sku_by_code(s, code)
        for name, value in changes.items():
            audit.record(
                s,
                actor=app.actor,
                action=f"sku.{name}",
                now=app.clock.now(),
                sku=code,
                old=getattr(sku, name),
                new=value,
                source="hub skus set",
            )
            setattr(sku, name, value)
        sku.updated_at = app.clock.now()

    app.db.run_sync(write)
    info(f"updated SKU {code}: " + ", ".join(f"{k}={v}" for k, v in changes.items()))


@skus.command("import-from")
@click.argument("shop")
@click.option("--with-stock", is_flag=True, help="Also take the platform quantities as on-hand counts.")
@json_option
@click.pass_obj
def skus_import_from(app: App, shop: str, with_stock: bool, as_json: bool) -> None:
    """Create master SKUs from SHOP's listings (run `hub sync --stream listings` first).

    Listings whose 商家编码 the hub does not know become SKUs with the listing's title and
    price; listings without a code are left for `hub listings map`. Without --with-stock
    the new SKUs are not counted, and the hub leaves their listings alone until they are.

    With --with-stock the count is what is physically there: the hub re-reads those
    listings' quantities and SHOP's orders, and adds the units of open orders (which the
    platform already took off its quantity, and which the hub reserves) to each count."""
    if with_stock:
        _read_for_count(app, shop)

    def write(s: Session) -> list[dict[str, Any]]:
        shop_row = get_shop(s, shop)
        refused: list[tuple[t.Listing, str]] = []
        created = catalog.import_skus_from(
            s, shop_row.id, app.clock.now(), with_stock=with_stock, refused=refused
        )
        # left for a person: fix the code on the platform, or link by hand (`hub listings map`)
        skipped.extend(f"skipped listing {x.platform_sku_id}: {reason}" for x, reason in refused)
        for sku in created:
            audit.record(
                s,
                actor=app.actor,
                action="sku.import",
                now=app.clock.now(),
                sku=sku.code,
                shop=shop,
                new=sku.price,
                source=f"hub skus import-from {shop}",
            )
        return [{"code": k.code, "title": k.title, "price": k.price} for k in created]

    skipped: list[str] = []
    created = app.db.run_sync(write)
    for line in skipped:
        info(line)
    emit(as_json, created, lambda: info(f"created {len(created)} SKU(s) from {shop}"))


def _read_for_count(app: App, shop: str, attempts: int = 3) -> None:
    """Fresh quantities of SHOP's listings with new codes, then SHOP's orders up to after
    that read, so :func:`hub.core.catalog.open_order_units` sees every open order the
    quantities exclude. A listing with an order too close to its read to tell is read
    again a few seconds later (at most ``attempts`` reads). Raises when a read fails
    (nothing is created then)."""
    from hub.core.engine import SyncEngine
    from hub.core.stock.anchors import AMBIGUITY
    from hub.core.stock.picture import ListingInfo
    from hub.core.stock.push import observe

    runtime = app.runtime()

    def pending(s: Session, shop_id: int, wanted: set[int] | None) -> list[ListingInfo]:
        rows = [x for x in catalog.new_code_listings(s, shop_id) if wanted is None or x.id in wanted]
        return [
            ListingInfo(
                x.id,
                x.shop_id,
                0,
                x.platform_item_id,
                x.platform_sku_id,
                x.master_code,
                x.platform_quantity,
                x.quantity_as_of,
                x.needs_read,
            )
            for x in rows
        ]

    async def main() -> None:
        row = app.db.run_sync(lambda s: get_shop(s, shop))
        refs = app.db.run_sync(lambda s: pending(s, row.id, None))
        for attempt in range(attempts):
            if not refs:
                return
            if attempt:
                await app.clock.sleep(AMBIGUITY + 1)  # move the next read clear of them
            ctx = runtime.open(row)
            try:
                await observe(app.host, app.db, ctx, refs)
            finally:
                await ctx.client.aclose()
            report = await SyncEngine(runtime, app.settings).run_cycle([shop], ["orders"])
            for result in report.results:
                if result.skipped or result.exit_code:
                    why = result.skipped or result.error
                    raise SyncError(
                        f"{shop}: could not read its orders ({why}), so the units of open orders cannot "
                        "be counted; nothing created. Try again, or import without --with-stock"
                    )

            def unsure(s: Session) -> list[ListingInfo]:
                rows = catalog.new_code_listings(s, row.id)
                return pending(s, row.id, catalog.open_order_units(s, row.id, rows).unsure)

            refs = app.db.run_sync(unsure)

    run_async(main)


# --- listings --------------------------------------------------------------------------------


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

    def write(s: Session) -> None:
        shop_row = get_shop(s, shop)
        row = catalog.map_listing(s, shop_row.id, platform_sku_id, None if unlink else sku_code)
        audit.record(
            s,
            actor=app.actor,
            action="listing.map",
            now=app.clock.now(),
            sku=sku_code,
            shop=shop,
            new=row.platform_sku_id,
            source="hub listings map",
        )

    app.db.run_sync(write)
    info(f"{shop} {platform_sku_id} " + ("unlinked" if unlink else f"linked to {sku_code}"))
