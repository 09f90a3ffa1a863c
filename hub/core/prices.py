"""Regular prices: the SKU's price, a shop-specific override, and pushing changes.

A price change is recorded (audit log), guarded, and queued in the outbox for every
listing it affects; the prices stream of ``hub sync`` (or ``--push``) sends it. Prices
are changed only when the hub changes them — the hub never overwrites a price it did not
set. A listing under a promotion applied as a price change keeps its promotion price:
the new regular price is what the promotion restores at its end.

The guard refuses, unless forced, a change of more than a share of the current price
(``HUB_PRICE_CHANGE_LIMIT``, default 50%) and any price under the SKU's floor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from hub.core import audit, outbox
from hub.core.catalog import REMOVED
from hub.storage import tables as t


@dataclass(frozen=True)
class PriceCheck:
    """What the guard says about one change: problems block it unless forced."""

    old: int
    new: int
    problems: tuple[str, ...] = ()


def regular_price(session: Session, sku: t.Sku, shop_id: int | None) -> int:
    """The price a shop charges for a SKU when no promotion runs."""
    if shop_id is not None:
        override = session.scalar(
            select(t.ShopPrice.price).where(t.ShopPrice.sku_id == sku.id, t.ShopPrice.shop_id == shop_id)
        )
        if override is not None:
            return override
    return sku.price


def check(sku: t.Sku, old: int, new: int, *, limit: float) -> PriceCheck:
    """Guard a change from ``old`` to ``new`` fen (``limit``: largest change as a share of ``old``)."""
    problems = []
    if new <= 0:
        problems.append("a price must be positive")
    if sku.price_floor is not None and new < sku.price_floor:
        problems.append(f"below the floor of {sku.price_floor / 100:.2f}")
    if old > 0 and abs(new - old) > old * limit:
        problems.append(
            f"changes the price by {abs(new - old) / old:.0%}, more than {limit:.0%} (use --force)"
        )
    return PriceCheck(old, new, tuple(problems))


def promoted_listing_ids(session: Session, now: datetime) -> set[int]:
    """Listings whose price a running promotion holds (applied as a price change)."""
    rows = session.execute(
        select(t.Listing.id)
        .join(
            t.PromotionTarget,
            (t.PromotionTarget.shop_id == t.Listing.shop_id) & (t.PromotionTarget.sku_id == t.Listing.sku_id),
        )
        .where(t.PromotionTarget.method == "price", t.PromotionTarget.state == "active")
    )
    return set(rows.scalars())


def queue_listing_price(
    session: Session, listing: t.Listing, price: int, now: datetime, reason: str = "price"
) -> t.OutboxEntry:
    """Queue a price write for one listing (replacing a write not yet sent)."""
    return outbox.enqueue(
        session,
        shop_id=listing.shop_id,
        kind="price",
        target=str(listing.id),
        key=outbox.random_key(reason),
        payload={
            "platform_item_id": listing.platform_item_id,
            "platform_sku_id": listing.platform_sku_id,
            "master_code": listing.master_code,
            "price": price,
            "reason": reason,
        },
        now=now,
    )


def set_price(
    session: Session,
    *,
    sku: t.Sku,
    shop: t.Shop | None,
    price: int,
    now: datetime,
    actor: str,
    source: str,
) -> int:
    """Set the regular price of ``sku`` (for every shop, or ``shop`` only), audit it and
    queue the pushes. Returns the number of listings queued. Callers guard first."""
    if shop is None:
        old = sku.price
        sku.price, sku.updated_at = price, now
    else:
        row = session.scalar(
            select(t.ShopPrice).where(t.ShopPrice.sku_id == sku.id, t.ShopPrice.shop_id == shop.id)
        )
        old = row.price if row else sku.price
        if row is None:
            session.add(t.ShopPrice(sku_id=sku.id, shop_id=shop.id, price=price))
        else:
            row.price = price
    audit.record(
        session,
        actor=actor,
        action="price.set",
        now=now,
        sku=sku.code,
        shop=shop.name if shop else None,
        old=old,
        new=price,
        source=source,
    )
    session.flush()
    wide = {sku.id: price} if shop is None else {}
    by_shop = {(sku.id, shop.id): price} if shop is not None else {}
    return len(queue_prices(session, repriced_listings(session, [sku.id], wide, by_shop, now), now))


def repriced_listings(
    session: Session,
    sku_ids: Sequence[int],
    wide: Mapping[int, int],
    by_shop: Mapping[tuple[int, int], int],
    now: datetime,
) -> list[tuple[Any, int]]:
    """The one repricing rule (``hub price set`` and ``hub price import``): which listings
    a change of regular prices rewrites, and at what price. Call after the new prices are
    flushed.

    ``wide``: new price for every shop, by SKU id; ``by_shop``: new shop-specific price, by
    (SKU id, shop id). A shop-specific price wins; a shop with its own price keeps it when
    the price for all shops changes; a listing a running promotion holds is left alone (the
    promotion restores the new regular price when it ends); removed listings are skipped."""
    overridden = {
        (sku_id, shop_id)
        for sku_id, shop_id in session.execute(
            select(t.ShopPrice.sku_id, t.ShopPrice.shop_id).where(t.ShopPrice.sku_id.in_(sku_ids))
        )
    }
    promoted = promoted_listing_ids(session, now)
    listings = session.execute(
        select(
            t.Listing.id,
            t.Listing.shop_id,
            t.Listing.sku_id,
            t.Listing.platform_item_id,
            t.Listing.platform_sku_id,
            t.Listing.master_code,
        ).where(t.Listing.sku_id.in_(sku_ids), t.Listing.status != REMOVED)
    ).all()
    out = []
    for listing in listings:
        if listing.id in promoted:
            continue
        key = (listing.sku_id, listing.shop_id)
        if key in by_shop:
            out.append((listing, by_shop[key]))
        elif listing.sku_id in wide and key not in overridden:
            out.append((listing, wide[listing.sku_id]))
    return out


def queue_prices(session: Session, repriced: Sequence[tuple[Any, int]], now: datetime) -> set[int]:
    """Queue a price write for each (listing, price) of :func:`repriced_listings`, replacing
    writes of the same listing not yet sent; in bulk. Returns the shop ids queued for."""
    entries, superseded = [], []
    for listing, price in repriced:
        key = outbox.random_key("price")
        replaced = f"replaced by {key}"
        superseded.append({"b_shop": listing.shop_id, "b_target": str(listing.id), "b_error": replaced})
        entries.append(
            {
                "shop_id": listing.shop_id,
                "kind": "price",
                "target": str(listing.id),
                "idempotency_key": key,
                "payload": {
                    "platform_item_id": listing.platform_item_id,
                    "platform_sku_id": listing.platform_sku_id,
                    "master_code": listing.master_code,
                    "price": price,
                    "reason": "price",
                },
            }
        )
    if entries:
        table = t.OutboxEntry.__table__
        session.execute(
            update(table)
            .where(
                table.c.shop_id == bindparam("b_shop"),
                table.c.kind == "price",
                table.c.target == bindparam("b_target"),
                # (no IN with executemany)
                or_(*(table.c.state == state for state in outbox.OPEN_STATES)),
            )
            .values(state="superseded", last_error=bindparam("b_error"), updated_at=now),
            superseded,
        )
        outbox.add_many(session, entries, now)
    return {e["shop_id"] for e in entries}
