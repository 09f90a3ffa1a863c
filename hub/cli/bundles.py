"""``hub skus bundle``, ``unbundle`` and ``import``: bundle SKUs (组合商品) and their recipes."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.orm import Session

from hub.cli.app import App
from hub.cli.output import emit, info, json_option
from hub.core import audit, bundles, catalog
from hub.ops import sku_file


@click.command("bundle")
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


@click.command("unbundle")
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


@click.command("import")
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
