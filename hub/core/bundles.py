"""Bundle SKUs (组合商品): a SKU made of other SKUs, with no stock of its own.

A bundle's recipe says how many units of each component go into one bundle
(GIFT-BOX = 2 × CUP-500 + 1 × TEA-100). The hub keeps stock only for the components:

* **sellable** units of a bundle = min over its components of
  ``floor(component sellable / quantity per bundle)``;
* an order line of a bundle holds a reservation on the bundle, which counts as
  ``quantity × units`` reserved on each component; shipping it takes those units off the
  components' on-hand counts (the box is packed from the current recipe when it ships);
  cancelling it releases them;
* a sale of a component lowers the sellable units of every bundle that uses it, so every
  shop's bundle listings follow.

**Allocation.** The listings of a component and of the bundles that use it draw on the
same units, so they are planned together (a *family*: SKUs linked through recipes):

* a bundle listing never shows more than its components can make on that shop (shared
  mode: every listing, component or bundle, shows at most what exists);
* a component's mode (automatic partitioning) counts the bundles' listings as channels
  and their sales, times the quantity per bundle, as its own; a bundle is partitioned
  when one of its components is;
* when a component is partitioned, its sellable units are divided among its own listings
  and the listings of every bundle that uses it, a bundle listing counted in component
  units (a share of ``k`` units lets a bundle of ``q`` per box show ``floor(k / q)``);
  units a bundle cannot use (a remainder, or another component is shorter) go back to
  the component's own listing on that shop. Raises are granted only from the component
  units no listing of the family holds, bundle listings counted ``q`` units each.

So the listings of a component and of its bundles never together promise more units of
the component than it has to sell, whatever the sync delay.

Bundles of bundles are refused, and so is a bundle with stock of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hub.core.allocation import Rule, ShopInput, partitioned_targets, shared_targets
from hub.errors import InputError
from hub.storage import tables as t

if TYPE_CHECKING:
    from hub.core.stock.picture import ListingInfo, Picture, SkuInfo

_PART = re.compile(r"^\s*(?P<code>[^:\s]+)\s*:\s*(?P<qty>[^:]*?)\s*$")


@dataclass(frozen=True)
class Component:
    code: str
    quantity: int


# --- recipes ---------------------------------------------------------------------------------


def parse_component(text: str) -> Component:
    """``CODE:QTY`` (e.g. ``CUP-500:2``) -> a component; QTY is a whole number ≥ 1."""
    match = _PART.match(text)
    if match is None:
        raise InputError(f"component {text!r}: expected CODE:QUANTITY, e.g. CUP-500:2")
    code, qty = match["code"], match["qty"]
    if not re.fullmatch(r"[0-9]+", qty):
        raise InputError(f"component {text!r}: the quantity must be a whole number of at least 1")
    if int(qty) < 1:
        raise InputError(f"component {text!r}: the quantity must be at least 1")
    return Component(code, int(qty))


def parse_recipe(text: str) -> list[Component]:
    """``CUP-500:2;TEA-100:1`` (the bulk file's form) -> components."""
    parts = [p for p in text.split(";") if p.strip()]
    if not parts:
        raise InputError("a bundle needs at least one component, e.g. CUP-500:2")
    return [parse_component(p) for p in parts]


def format_recipe(recipe: Mapping[str, int]) -> str:
    """Components as ``CUP-500:2;TEA-100:1`` (sorted by code)."""
    return ";".join(f"{code}:{qty}" for code, qty in sorted(recipe.items()))


def recipe_of(session: Session, sku_id: int) -> dict[str, int]:
    """A bundle's components, code -> quantity per bundle (empty: not a bundle)."""
    component = t.Sku.__table__.alias("component")
    return dict(
        session.execute(
            select(component.c.code, t.SkuComponent.quantity)
            .join(component, component.c.id == t.SkuComponent.component_id)
            .where(t.SkuComponent.bundle_id == sku_id)
        ).all()
    )


def all_recipes(session: Session) -> dict[str, dict[str, int]]:
    """Every bundle's code -> its components (code -> quantity per bundle)."""
    bundle, component = t.Sku.__table__.alias("bundle"), t.Sku.__table__.alias("component")
    out: dict[str, dict[str, int]] = {}
    for bundle_code, code, qty in session.execute(
        select(bundle.c.code, component.c.code, t.SkuComponent.quantity)
        .join(bundle, bundle.c.id == t.SkuComponent.bundle_id)
        .join(component, component.c.id == t.SkuComponent.component_id)
    ):
        out.setdefault(bundle_code, {})[code] = qty
    return out


def set_recipe(session: Session, bundle: t.Sku, components: Sequence[Component]) -> dict[str, int]:
    """Make ``bundle`` a bundle of ``components`` (replacing any recipe it had); returns the
    old recipe. Refuses, changing nothing: no component or one named twice, an unknown
    component, the bundle itself, a component that is a bundle, a bundle that is a
    component of another bundle (no bundles of bundles), and a SKU with on-hand units of
    its own (a bundle has no stock). Its on-hand rows at 0 are removed."""
    if not components:
        raise InputError(f"bundle {bundle.code}: give at least one component, e.g. --component CUP-500:2")
    seen: set[str] = set()
    for part in components:
        if part.code in seen:
            raise InputError(f"bundle {bundle.code}: component {part.code} is named twice")
        seen.add(part.code)
        if part.code == bundle.code:
            raise InputError(f"bundle {bundle.code}: a bundle cannot be a component of itself")
    ids = dict(session.execute(select(t.Sku.code, t.Sku.id).where(t.Sku.code.in_(sorted(seen)))).all())
    for part in components:
        if part.code not in ids:
            raise InputError(
                f"bundle {bundle.code}: unknown component SKU {part.code!r}; see `hub skus list`"
            )
    nested = session.scalars(
        select(t.Sku.code)
        .join(t.SkuComponent, t.SkuComponent.bundle_id == t.Sku.id)
        .where(t.Sku.id.in_(list(ids.values())))
        .order_by(t.Sku.code)
    ).first()
    if nested:
        raise InputError(
            f"bundle {bundle.code}: component {nested} is itself a bundle; bundles of bundles are refused"
        )
    user = session.scalars(
        select(t.Sku.code)
        .join(t.SkuComponent, t.SkuComponent.bundle_id == t.Sku.id)
        .where(t.SkuComponent.component_id == bundle.id)
        .order_by(t.Sku.code)
    ).first()
    if user:
        raise InputError(f"{bundle.code} is a component of bundle {user}; bundles of bundles are refused")
    own = session.scalar(
        select(func.coalesce(func.sum(t.StockOnHand.quantity), 0)).where(t.StockOnHand.sku_id == bundle.id)
    )
    if own:
        raise InputError(
            f"{bundle.code} has {own} units on hand of its own; a bundle has no stock, so set them "
            f"to 0 first (`hub stock set {bundle.code} 0 --warehouse W`)"
        )
    old = recipe_of(session, bundle.id)
    session.execute(delete(t.StockOnHand).where(t.StockOnHand.sku_id == bundle.id))
    session.execute(delete(t.SkuComponent).where(t.SkuComponent.bundle_id == bundle.id))
    session.add_all(
        t.SkuComponent(bundle_id=bundle.id, component_id=ids[p.code], quantity=p.quantity) for p in components
    )
    session.flush()
    return old


def remove_recipe(session: Session, bundle: t.Sku) -> dict[str, int]:
    """Make ``bundle`` an ordinary SKU again (not counted until someone sets a count);
    returns its old recipe. Refused for a SKU that is not a bundle."""
    old = recipe_of(session, bundle.id)
    if not old:
        raise InputError(f"{bundle.code} is not a bundle")
    session.execute(delete(t.SkuComponent).where(t.SkuComponent.bundle_id == bundle.id))
    return old


def refuse_stock(session: Session, sku: t.Sku) -> None:
    """Raise if ``sku`` is a bundle: its stock is its components'."""
    recipe = recipe_of(session, sku.id)
    if recipe:
        parts = ", ".join(sorted(recipe))
        raise InputError(
            f"{sku.code} is a bundle: it has no stock of its own; count its components ({parts})"
        )


def bundle_ids(session: Session, sku_ids: Iterable[int]) -> set[int]:
    """The bundles among ``sku_ids``."""
    wanted = sorted(set(sku_ids))
    found: set[int] = set()
    for start in range(0, len(wanted), 500):
        found.update(
            session.scalars(
                select(t.SkuComponent.bundle_id).where(
                    t.SkuComponent.bundle_id.in_(wanted[start : start + 500])
                )
            )
        )
    return found


def parts_by_id(session: Session) -> dict[int, dict[int, int]]:
    """Bundle id -> {component id: quantity per bundle}, for every bundle."""
    out: dict[int, dict[int, int]] = {}
    for bundle_id, component_id, qty in session.execute(
        select(t.SkuComponent.bundle_id, t.SkuComponent.component_id, t.SkuComponent.quantity)
    ):
        out.setdefault(bundle_id, {})[component_id] = qty
    return out


# --- the stock picture -----------------------------------------------------------------------


def attach(session: Session, skus: dict[int, SkuInfo], sellable: Callable[[int, int, int], int]) -> None:
    """Fold the recipes into a picture's SKUs (their sellable units already computed):
    a bundle's held units count as reserved on its components, and its sellable units are
    what its components can make. A bundle is counted when all its components are."""
    recipes = parts_by_id(session)
    if not recipes:
        return
    for bundle_id, parts in recipes.items():
        bundle = skus[bundle_id]
        bundle.recipe = dict(sorted(parts.items()))
        bundle.safety = 0  # safety stock is the components'
        for component_id, qty in parts.items():
            component = skus[component_id]
            component.used_by[bundle_id] = qty
            component.reserved += bundle.reserved * qty
    for bundle_id in recipes:
        for component_id in recipes[bundle_id]:
            c = skus[component_id]
            c.sellable = sellable(sum(c.on_hand.values()), c.reserved, c.safety)
    for bundle_id, parts in recipes.items():
        bundle = skus[bundle_id]
        bundle.sellable = min(skus[c].sellable // q for c, q in parts.items())
        bundle.parts_counted = all(skus[c].counted for c in parts)


def family(skus: Mapping[int, SkuInfo], sku_id: int) -> set[int]:
    """``sku_id`` and every SKU linked to it through recipes (components of its bundles,
    bundles of its components, and so on): their listings draw on the same units."""
    out, todo = {sku_id}, [sku_id]
    while todo:
        sku = skus.get(todo.pop())
        if sku is None:
            continue
        for other in (*sku.recipe, *sku.used_by):
            if other not in out:
                out.add(other)
                todo.append(other)
    return out


def widen(skus: Mapping[int, SkuInfo], sku_ids: Iterable[int]) -> set[int]:
    """``sku_ids`` with their families (a change to one member can move the others' plans)."""
    out: set[int] = set()
    for sku_id in sku_ids:
        if sku_id not in out:
            sku = skus.get(sku_id)
            out |= family(skus, sku_id) if sku is not None and (sku.recipe or sku.used_by) else {sku_id}
    return out


def members(skus: Mapping[int, SkuInfo], sku_id: int) -> dict[int, int]:
    """The SKUs whose listings sell units of ``sku_id``, each with the units one of its
    units takes: the SKU itself (1) and every bundle that uses it (its quantity)."""
    return {sku_id: 1, **skus[sku_id].used_by}


def draws(skus: Mapping[int, SkuInfo], sku_id: int) -> dict[int, int]:
    """The partitioned pools a unit shown on a listing of ``sku_id`` draws on, with the
    units it takes from each: a SKU draws on itself; a bundle on its partitioned
    components."""
    sku = skus[sku_id]
    if not sku.recipe:
        return {sku_id: 1}
    return {c: q for c, q in sku.recipe.items() if skus[c].partitioned}


def decide(skus: Mapping[int, SkuInfo], sku_ids: Iterable[int]) -> None:
    """A bundle's mode follows its components: partitioned when one of them is."""
    for sku_id in sku_ids:
        sku = skus.get(sku_id)
        if sku is None or not sku.recipe:
            continue
        tight = [skus[c] for c in sku.recipe if skus[c].partitioned]
        sku.partitioned = bool(tight)
        if tight:
            sku.mode_reason = f"partitioned: its component {tight[0].code} is ({tight[0].mode_reason})"
        else:
            sku.mode_reason = "shared: its components are shared"


def _scaled(shop: ShopInput, qty: int) -> ShopInput:
    """A bundle listing's situation counted in component units."""
    rule = shop.rule
    return ShopInput(
        Rule(rule.share, None if rule.cap is None else rule.cap * qty, rule.floor * qty),
        shop.limit * qty,
        shop.sold_recently * qty,
    )


def _ceiling(shop: ShopInput) -> int:
    return max(0, shop.limit if shop.rule.cap is None else min(shop.limit, shop.rule.cap))


ShopInputs = Callable[["Picture", int, dict[int, int]], tuple[dict[int, "ListingInfo"], dict[int, ShopInput]]]


def targets(picture: Picture, sku_ids: Iterable[int], shop_inputs: ShopInputs) -> dict[int, int]:
    """Listing id -> target for every listing of the families of ``sku_ids`` (see the
    module's docstring). ``shop_inputs(picture, sku_id, out)`` gives a SKU's primary
    listing and situation per shop (and sets its duplicate listings to 0 in ``out``)."""
    skus = picture.skus
    ids = sorted(widen(skus, sku_ids))
    out: dict[int, int] = {}
    primary: dict[int, dict[int, ListingInfo]] = {}
    inputs: dict[int, dict[int, ShopInput]] = {}
    for sku_id in ids:
        primary[sku_id], inputs[sku_id] = shop_inputs(picture, sku_id, out)
    # What each listing may show from its own SKU's sellable units (a bundle's are what
    # its components can make): the whole target of a shared SKU, a bound for a bundle.
    base = {
        sku_id: shared_targets(skus[sku_id].sellable, inputs[sku_id])
        for sku_id in ids
        if skus[sku_id].recipe or not skus[sku_id].partitioned
    }
    splits: dict[int, dict[tuple[int, int], int]] = {}
    for sku_id in ids:
        sku = skus[sku_id]
        if sku.recipe or not sku.partitioned:
            continue
        channels = {(sku_id, shop): x for shop, x in inputs[sku_id].items()}
        for bundle_id, qty in sku.used_by.items():
            channels.update(
                ((bundle_id, shop), _scaled(x, qty)) for shop, x in inputs.get(bundle_id, {}).items()
            )
        splits[sku_id] = _whole_bundles(
            partitioned_targets(sku.sellable, channels), channels, sku_id, sku.used_by
        )
    bundle_targets: dict[tuple[int, int], int] = {}
    for sku_id in ids:
        sku = skus[sku_id]
        if not sku.recipe:
            continue
        for shop, listing in primary[sku_id].items():
            target = base[sku_id][shop]
            for component_id, qty in sku.recipe.items():
                if component_id in splits:
                    target = min(target, splits[component_id].get((sku_id, shop), 0) // qty)
            if target < inputs[sku_id][shop].rule.floor:
                target = 0
            bundle_targets[(sku_id, shop)] = out[listing.id] = target
    for sku_id in ids:
        sku = skus[sku_id]
        if sku.recipe:
            continue
        if sku_id not in splits:
            for shop, listing in primary[sku_id].items():
                out[listing.id] = base[sku_id][shop]
            continue
        split = splits[sku_id]
        own = {shop: split[(sku_id, shop)] for shop in primary[sku_id]}
        spare = sku.sellable - sum(split.values())  # units no channel could take whole
        for (member, shop), units in split.items():
            if member == sku_id:
                continue
            # Units of a bundle's share it cannot use (another component is shorter) go to
            # the component's own listing there, or to its other listings.
            unused = units - bundle_targets.get((member, shop), 0) * sku.used_by[member]
            if unused > 0 and shop in own:
                room = _ceiling(inputs[sku_id][shop]) - own[shop]
                own[shop] += min(room, unused)
                unused -= min(room, unused)
            spare += max(0, unused)
        for shop in sorted(own, key=lambda x: (-inputs[sku_id][x].sold_recently, x)):
            extra = max(0, min(spare, _ceiling(inputs[sku_id][shop]) - own[shop]))
            if own[shop] + extra < inputs[sku_id][shop].rule.floor:
                continue  # below its floor a shop shows nothing
            own[shop] += extra
            spare -= extra
        for shop, listing in primary[sku_id].items():
            out[listing.id] = own[shop]
    return out


def _whole_bundles(
    split: dict[tuple[int, int], int],
    channels: Mapping[tuple[int, int], ShopInput],
    component_id: int,
    used_by: Mapping[int, int],
) -> dict[tuple[int, int], int]:
    """A component's split with each bundle channel's share cut to whole bundles; the cut
    units buy whole bundles for the channels that were closest to one (its listings come
    first if none is). What is left is nobody's (the caller hands it to the component's
    own listings)."""
    out = dict(split)
    cut: dict[tuple[int, int], int] = {}
    for key, units in split.items():
        if key[0] != component_id:
            cut[key] = units % used_by[key[0]]
            out[key] = units - cut[key]
    pool = sum(cut.values())
    for key in sorted(cut, key=lambda k: (-cut[k], -channels[k].sold_recently, k)):
        qty = used_by[key[0]]
        if pool >= qty and out[key] + qty <= _ceiling(channels[key]):
            out[key] += qty
            pool -= qty
    return out


def stale(picture: Picture, sku_id: int, fresh: Callable[[ListingInfo], bool]) -> bool:
    """Whether a listing of ``sku_id``'s family has a model that is not sound (see
    :func:`hub.core.stock.plan._fresh`): the family's free units would be in doubt."""
    sku = picture.skus[sku_id]
    ids = family(picture.skus, sku_id) if sku.recipe or sku.used_by else {sku_id}
    return not all(fresh(x) for i in ids for x in picture.by_sku.get(i, ()))


def reach(skus: Mapping[int, SkuInfo], bundle: SkuInfo, warehouses: Sequence[str]) -> int:
    """The bundles its components' units in ``warehouses`` can make."""
    return min(
        max(0, sum(q for wh, q in skus[c].on_hand.items() if wh in warehouses) - skus[c].safety) // qty
        for c, qty in bundle.recipe.items()
    )
