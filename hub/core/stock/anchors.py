"""The anchors: the one module that writes a listing's stock anchor.

A listing's model of its platform quantity (see :mod:`hub.core.stock.picture`) is
computed from three columns that guard against overselling — ``platform_quantity`` and
``quantity_as_of`` (the last read or acknowledged write, on the platform's clock) and
``needs_read`` (that figure is in doubt: no relative write until a read settles it) —
plus ``pushed_quantity``/``pushed_at``, the last write made. Every writer of these
columns calls a function here: a stock read (:func:`store_levels`), a full listings read
(:func:`anchor_read`), a write's outcome (:func:`record_writes`), and whatever makes a
figure doubtful (:func:`mark_unread`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from hub.models import PushResult, StockUpdate
from hub.storage import tables as t

# Order times are the platform's whole seconds and anchors our estimate of its clock (to
# within a second): events closer than this to an anchor are on an unknown side of it.
AMBIGUITY = 2


class Written(NamedTuple):
    """One stock write's outcome, as :func:`record_writes` anchors it."""

    listing_id: int
    update: StockUpdate
    result: PushResult
    in_doubt: bool


def store_levels(
    session: Session, levels: dict[str, tuple[int, datetime]], listing_ids: dict[str, int]
) -> None:
    """Anchor listings at what a stock read found: ``levels`` maps a platform SKU id to
    (quantity, observed at), ``listing_ids`` a platform SKU id to its listing."""
    for platform_sku_id, (quantity, observed_at) in levels.items():
        listing_id = listing_ids.get(platform_sku_id)
        if listing_id is not None:
            session.execute(
                update(t.Listing)
                .where(t.Listing.id == listing_id)
                .values(platform_quantity=quantity, quantity_as_of=observed_at, needs_read=False)
            )


def anchor_read(row: t.Listing, quantity: int, at: datetime) -> None:
    """Anchor a listing row at the quantity a full listings read found at ``at``."""
    row.platform_quantity = quantity
    row.quantity_as_of = at
    row.needs_read = False


def moved_since(session: Session, shop_ids: Iterable[int], since: datetime) -> set[int]:
    """The shops in ``shop_ids`` with a listing changed (its anchor, say) at or after
    ``since``, on the clock of the listings' change marks (``tables.change_clock``)."""
    return set(
        session.scalars(
            select(t.Listing.shop_id)
            .where(t.Listing.shop_id.in_(sorted(set(shop_ids))), t.Listing.changed_at >= since)
            .distinct()
        )
    )


def mark_unread(session: Session, listing_ids: Iterable[int]) -> None:
    """The platform quantity of these listings is in doubt: read them before any relative write."""
    ids = sorted(set(listing_ids))
    if ids:
        session.execute(update(t.Listing).where(t.Listing.id.in_(ids)).values(needs_read=True))


def record_writes(session: Session, written: Sequence[Written], now: datetime) -> None:
    """Anchor the listings of a batch of stock writes at their outcome (``now``: the
    platform's time when the answer came). Rows that set the same columns go out as one
    executemany (Core: the session holds none of these rows)."""
    listings: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    relative: list[dict[str, Any]] = []
    for listing_id, update_, result, doubtful in written:
        if result.ok and result.quantity_after is None and update_.delta is not None:
            # A relative write moved the platform's figure by ``delta`` from whatever it
            # was: the anchor stays at the last read, so sales and give-backs since that
            # read keep counting (see picture.model_adjustments). A lowering may have been
            # clamped at 0 by sales not read yet: the listing is re-read before its next write.
            relative.append(
                {
                    "_id": listing_id,
                    "_delta": update_.delta,
                    "_quantity": update_.quantity,
                    "_unsure": update_.delta < 0,
                }
            )
        elif result.ok:
            quantity = result.quantity_after if result.quantity_after is not None else update_.quantity
            row = {
                "_id": listing_id,
                "platform_quantity": quantity,
                "quantity_as_of": now,
                "pushed_quantity": update_.quantity,
                "pushed_at": now,
                # Only a figure from the platform settles a pending re-read.
                **({"needs_read": False} if result.quantity_after is not None else {}),
            }
            listings.setdefault(tuple(row), []).append(row)
        elif doubtful:
            listings.setdefault(("_id", "needs_read"), []).append({"_id": listing_id, "needs_read": True})
    listing_table = t.Listing.__table__
    for rows in listings.values():
        session.execute(update(listing_table).where(listing_table.c.id == bindparam("_id")), rows)
    if relative:
        session.execute(
            update(listing_table)
            .where(listing_table.c.id == bindparam("_id"))
            .values(
                platform_quantity=listing_table.c.platform_quantity + bindparam("_delta"),
                pushed_quantity=bindparam("_quantity"),
                pushed_at=now,
                needs_read=or_(listing_table.c.needs_read, bindparam("_unsure")),
            ),
            relative,
        )
