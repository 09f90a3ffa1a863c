"""``hub skus``: the master catalogue, and bundle SKUs (组合商品) and their recipes."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.orm import Session

from hub import validation
from hub.app import App
from hub.bulk import sku_file
from hub.cli.app import run_async
from hub.cli.output import emit, fen, info, json_option, print_table
from hub.cli.params import QUANTITY, parse_price
from hub.core import audit, bundles, catalog
from hub.core.shops import get_shop
from hub.errors import InputError, SyncError
from hub.storage import tables as t


@click.group("skus")
def skus() -> None:
    """Master SKUs (商家编码): the merchant's catalogue every listing links to."""


@skus.command("list")
@json_option
@click.pass_obj
def skus_list(app: App, as_json: bool) -> None:
    """List master SKUs with price and stock settings."""

    rows = app.db.run_sync(catalog.sku_rows)
    emit(
        as_json,
        rows,
        lambda: print_table(
            ["code", "title", "price", "floor", "safety", "partition below", "partitioned", "bundle of"],
            [
                (
                    r["code"],
                    r["title"],
                    fen(r["price"]),
                    fen(r["price_floor"]),
                    r["safety_stock"],
                    r["partition_below"],
                    "yes" if r["partitioned"] else "",
                    bundles.format_recipe(r["bundle_of"]),
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


# --- bundles (组合商品) ---------------------------------------------------------------------


@skus.command("bundle")
@click.argument("code")
@click.option(
    "--component",
    "-c",
    "components",
    multiple=True,
    metavar="SKU:QTY",
    help="A component and the units of it in one bundle, e.g. CUP-500:2 (repeat for each).",
)
@json_option
@click.pass_obj
def bundle(app: App, code: str, components: tuple[str, ...], as_json: bool) -> None:
    """Make SKU CODE a bundle of the given components (replacing its recipe if it has one).

    \b
    A bundle has no stock of its own: its sellable units are the minimum, over its
    components, of the component's sellable units divided by the units per bundle.
    Selling one reserves its components; shipping it takes them off their counts.

    \b
    Refused (exit 2, nothing changed): an unknown component, the bundle itself as a
    component, a quantity that is not a whole number of at least 1, a component that is
    a bundle or a bundle that is a component (no bundles of bundles), and a SKU with
    on-hand units of its own (set them to 0 first)."""
    parts = [bundles.parse_component(text) for text in components]

    def write(s: Session) -> dict[str, Any]:
        sku = catalog.sku_by_code(s, code)
        old = bundles.set_recipe(s, sku, parts)
        new = {p.code: p.quantity for p in parts}
        audit.record(
            s,
            actor=app.actor,
            action="sku.bundle",
            now=app.clock.now(),
            sku=code,
            old=bundles.format_recipe(old) if old else None,
            new=bundles.format_recipe(new),
            source="hub skus bundle",
        )
        return {"sku": code, "components": new, "replaced": old or None}

    result = app.db.run_sync(write)
    recipe = " + ".join(f"{q} × {c}" for c, q in result["components"].items())
    emit(as_json, result, lambda: info(f"{code} is a bundle of {recipe}"))


@skus.command("unbundle")
@click.argument("code")
@json_option
@click.pass_obj
def unbundle(app: App, code: str, as_json: bool) -> None:
    """Make bundle CODE an ordinary SKU again: its recipe is removed, and it has no count
    until one is set (its listings are left alone until then)."""

    def write(s: Session) -> dict[str, Any]:
        sku = catalog.sku_by_code(s, code)
        old = bundles.remove_recipe(s, sku)
        audit.record(
            s,
            actor=app.actor,
            action="sku.unbundle",
            now=app.clock.now(),
            sku=code,
            old=bundles.format_recipe(old),
            source="hub skus unbundle",
        )
        return {"sku": code, "components": None, "replaced": old}

    result = app.db.run_sync(write)
    emit(as_json, result, lambda: info(f"{code} is no longer a bundle"))


@skus.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--apply", is_flag=True, help="Apply the file (default: check it and say what would change).")
@json_option
@click.pass_obj
def skus_import(app: App, file: str, apply: bool, as_json: bool) -> None:
    """Create master SKUs and set bundle recipes from a CSV or XLSX FILE.

    \b
    Columns (any order; header names compared case-insensitively):
      sku (商家编码)          required
      title (标题), price (价格, yuan)
                            create the SKU if it is new (a price is then required); for a
                            SKU that exists they must be empty or what it has
      components (组合)      the bundle's recipe, e.g. CUP-500:2;TEA-100:1 (replaces any
                            recipe it had); empty leaves the SKU as it is

    \b
    Every row is checked first; one bad row (each is listed by line and column) and
    nothing changes (exit 2). The same refusals as `hub skus bundle` apply."""
    result = sku_file.run_sku_file(app.db, file, apply=apply, actor=app.actor, now=app.clock.now)

    def table() -> None:
        for code in result.created:
            info(f"new SKU {code}")
        for code, recipe in result.bundled.items():
            info(f"{code} is a bundle of {recipe.replace(';', ' + ')}")
        click.echo(
            f"{result.file}: {result.rows} row(s), {len(result.created)} new SKU(s), "
            f"{len(result.bundled)} recipe(s) set, {result.unchanged} unchanged"
        )
        if not result.applied and (result.created or result.bundled):
            info("dry run: nothing changed; add --apply to apply")

    emit(as_json, result.to_dict(), table)
