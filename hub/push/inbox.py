"""The push inbox: every announced event is stored before it is acknowledged.

A message is keyed by (shop, platform message id): a redelivery inserts nothing, so a
duplicate is harmless. Rows wait with ``processed_at`` unset until the work they trigger
is done (:mod:`hub.push.process`); a crash in between leaves them to be picked up again.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.push.events import PushEvent
from hub.storage import tables as t
from hub.storage.db import dialect_insert


def store(
    session: Session, shop_id: int, events: Sequence[PushEvent], now: datetime, source: str = "push"
) -> int:
    """Insert ``events`` of one shop, skipping message ids already stored; returns how many
    were new. Runs in the caller's transaction: the caller acknowledges after commit."""
    if not events:
        return 0
    rows = [
        {
            "shop_id": shop_id,
            "message_id": e.message_id[:128],
            "kind": e.kind.value,
            "topic": e.topic[:64],
            "order_id": e.order_id,
            "item_id": e.item_id,
            "sku_id": e.sku_id,
            "source": source,
            "received_at": now,
            "attempts": 0,
        }
        for e in {e.message_id: e for e in events}.values()
    ]
    known = set(
        session.scalars(
            select(t.PushInboxEntry.message_id).where(
                t.PushInboxEntry.shop_id == shop_id,
                t.PushInboxEntry.message_id.in_([r["message_id"] for r in rows]),
            )
        )
    )
    rows = [r for r in rows if r["message_id"] not in known]
    if rows:  # a concurrent receiver may still have stored one since: the conflict is ignored
        session.execute(
            dialect_insert(session, t.PushInboxEntry).on_conflict_do_nothing(
                index_elements=["shop_id", "message_id"]
            ),
            rows,
        )
    return len(rows)


def pending(session: Session, limit: int = 500, exclude: Collection[int] = ()) -> list[t.PushInboxEntry]:
    """Unprocessed entries, oldest first; ``exclude``: ids already being processed."""
    query = select(t.PushInboxEntry).where(t.PushInboxEntry.processed_at.is_(None))
    if exclude:
        query = query.where(t.PushInboxEntry.id.not_in(list(exclude)))
    return list(session.scalars(query.order_by(t.PushInboxEntry.id).limit(limit)))


def has_fresh_pending(session: Session, since: datetime) -> bool:
    """Whether an entry received at ``since`` or later waits for processing (failed ones,
    which wait for a later round, do not count)."""
    query = select(t.PushInboxEntry.id).where(
        t.PushInboxEntry.processed_at.is_(None),
        t.PushInboxEntry.error.is_(None),
        t.PushInboxEntry.received_at >= since,
    )
    return session.scalar(query.limit(1)) is not None


def mark_done(session: Session, ids: Sequence[int], now: datetime) -> None:
    if ids:
        session.execute(
            update(t.PushInboxEntry)
            .where(t.PushInboxEntry.id.in_(list(ids)))
            .values(processed_at=now, attempts=t.PushInboxEntry.attempts + 1, error=None)
        )


def mark_failed(session: Session, ids: Sequence[int], error: str) -> None:
    """Leave the entries pending (retried next round) and say why."""
    if ids:
        session.execute(
            update(t.PushInboxEntry)
            .where(t.PushInboxEntry.id.in_(list(ids)))
            .values(attempts=t.PushInboxEntry.attempts + 1, error=error[:1000])
        )


def unannounced(session: Session, shop_id: int, order_ids: Sequence[str]) -> int:
    """How many of ``order_ids`` (orders polling just stored or changed) no push announced;
    0 for a shop that has never received a push (it is simply polled)."""
    if not order_ids:
        return 0
    any_push = select(t.PushInboxEntry.id).where(t.PushInboxEntry.shop_id == shop_id).limit(1)
    if session.scalar(any_push) is None:
        return 0
    wanted = sorted(set(order_ids))
    announced: set[str] = set()
    for start in range(0, len(wanted), 400):  # under SQLite's parameter limit
        announced.update(
            session.scalars(
                select(t.PushInboxEntry.order_id).where(
                    t.PushInboxEntry.shop_id == shop_id,
                    t.PushInboxEntry.order_id.in_(wanted[start : start + 400]),
                )
            )
        )
    return len(set(wanted) - announced)


# Seconds between `hub sync --watch` cycles: polling alone, and as the safety net while pushes arrive.
POLL_INTERVAL = 60.0
POLL_INTERVAL_WITH_PUSH = 300.0


def poll_interval(session: Session, now: datetime) -> float:
    """Seconds between --watch cycles: longer while pushes arrive (one reached the hub in
    the last hour), since polling is then only the safety net."""
    last = last_received(session)
    recent = last is not None and now - last < timedelta(hours=1)
    return POLL_INTERVAL_WITH_PUSH if recent else POLL_INTERVAL


def last_received(session: Session) -> datetime | None:
    """When the newest inbox entry arrived (None: pushes never reached this hub)."""
    newest = select(t.PushInboxEntry.received_at).order_by(t.PushInboxEntry.id.desc()).limit(1)
    return session.scalar(newest)
