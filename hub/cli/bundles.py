"""``hub skus bundle`` and ``hub skus unbundle``: bundle SKUs (组合商品) and their recipes."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.orm import Session

from hub.cli.app import App
from hub.cli.output import emit, info, json_option
from hub.core import audit, bundles, catalog


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
