"""The outbox: every outward write is recorded before it is sent and ends in an outcome.

Life of an entry: ``pending`` → ``sending`` (committed before the call) → ``done``, or
``retry`` (transient failure; due again after a backoff that grows per attempt), or
``failed`` (the platform refused, or too many attempts; kept with the platform's reason
until ``hub outbox retry``), or ``superseded`` (a newer write to the same target replaced
it). An entry found in ``sending`` by the next holder of its lease was in flight when
its process died: it is *in doubt*. Stock entries in doubt are never resent — the
listing is re-read and the next cycle computes a fresh write — so a relative stock
change is never applied twice; other kinds are absolute or de-duplicated by the
platform and are retried.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.core.stock import anchors
from hub.models import PushResult
from hub.storage import tables as t

KINDS = ("stock", "price", "shipment", "promotion_start", "promotion_end")
OPEN_STATES = ("pending", "retry")
MAX_ATTEMPTS = 8
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=1)


def random_key(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def stable_key(prefix: str, *parts: object) -> str:
    """A key that is the same for the same logical write (so repeating a command is harmless)."""
    digest = hashlib.sha1("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return f"{prefix}-{digest}"


def backoff(attempts: int) -> timedelta:
    return min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** max(0, attempts - 1))


def enqueue(
    session: Session,
    *,
    shop_id: int,
    kind: str,
    target: str,
    key: str,
    payload: dict[str, Any],
    now: datetime,
    supersede: bool = True,
) -> t.OutboxEntry:
    """Record a write; an entry with the same key is returned as it is. Open entries for
    the same target are superseded unless ``supersede`` is False."""
    if kind not in KINDS:
        raise ValueError(f"unknown outbox kind {kind!r}")
    existing = session.scalar(select(t.OutboxEntry).where(t.OutboxEntry.idempotency_key == key))
    if existing is not None:
        return existing
    if supersede:
        session.execute(
            update(t.OutboxEntry)
            .where(
                t.OutboxEntry.shop_id == shop_id,
                t.OutboxEntry.kind == kind,
                t.OutboxEntry.target == target,
                t.OutboxEntry.state.in_(OPEN_STATES),
            )
            .values(state="superseded", last_error=f"replaced by {key}", updated_at=now)
        )
    entry = t.OutboxEntry(
        shop_id=shop_id,
        kind=kind,
        target=target,
        idempotency_key=key,
        payload=payload,
        state="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(entry)
    return entry


def add_many(session: Session, rows: Sequence[dict[str, Any]], now: datetime) -> None:
    """Bulk-record new entries (keys must be fresh) for the hot stock path."""
    if rows:
        session.execute(
            t.OutboxEntry.__table__.insert(),
            [
                {
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                    "last_error": None,
                    "result": None,
                    "done_at": None,
                    **row,
                }
                for row in rows
            ],
        )


def due(
    session: Session, *, shop_id: int, kinds: Iterable[str], now: datetime, limit: int | None = None
) -> list[t.OutboxEntry]:
    query = (
        select(t.OutboxEntry)
        .where(
            t.OutboxEntry.shop_id == shop_id,
            t.OutboxEntry.kind.in_(list(kinds)),
            t.OutboxEntry.state.in_(OPEN_STATES),
            t.OutboxEntry.next_attempt_at <= now,
        )
        .order_by(t.OutboxEntry.id)
    )
    if limit:
        query = query.limit(limit)
    return list(session.scalars(query))


def mark_sending(session: Session, ids: Sequence[int], now: datetime) -> None:
    for start in range(0, len(ids), 500):
        session.execute(
            update(t.OutboxEntry)
            .where(t.OutboxEntry.id.in_(ids[start : start + 500]))
            .values(state="sending", attempts=t.OutboxEntry.attempts + 1, updated_at=now)
        )


def outcome(result: PushResult, attempts: int, now: datetime) -> dict[str, Any]:
    """The column values that record ``result`` for an entry on its ``attempts``-th try."""
    if result.ok:
        return {
            "state": "done",
            "done_at": now,
            "updated_at": now,
            "last_error": None,
            "result": result.model_dump(mode="json", exclude_none=True),
        }
    if result.in_doubt:
        return {
            "state": "retry",
            "next_attempt_at": now,
            "updated_at": now,
            "last_error": f"{result.error or 'no answer'} (in doubt: re-read before any new write)",
        }
    if result.retryable and attempts < MAX_ATTEMPTS:
        return {
            "state": "retry",
            "next_attempt_at": now + backoff(attempts),
            "updated_at": now,
            "last_error": result.error,
        }
    reason = result.error or "failed"
    if result.retryable:
        reason = f"{reason} (gave up after {attempts} attempts)"
    return {"state": "failed", "updated_at": now, "last_error": reason}


def record(session: Session, entry_id: int, result: PushResult, now: datetime) -> str:
    """Record the outcome of one entry; returns its new state."""
    entry = session.get(t.OutboxEntry, entry_id)
    assert entry is not None
    for key, value in outcome(result, entry.attempts, now).items():
        setattr(entry, key, value)
    return entry.state


def recover_in_doubt(
    session: Session,
    *,
    shop_id: int,
    kinds: Iterable[str],
    now: datetime,
    claimed_before: datetime | None = None,
) -> int:
    """Entries left ``sending`` by a dead process (the caller holds their lease), only
    those claimed before ``claimed_before`` if given.

    Stock entries are superseded and their listing marked to be re-read; others are
    made due again. Returns how many were found."""
    query = select(t.OutboxEntry).where(
        t.OutboxEntry.shop_id == shop_id,
        t.OutboxEntry.kind.in_(list(kinds)),
        t.OutboxEntry.state == "sending",
    )
    if claimed_before is not None:
        query = query.where(t.OutboxEntry.updated_at < claimed_before)
    stuck = list(session.scalars(query))
    unread: list[int] = []
    for entry in stuck:
        entry.updated_at = now
        if entry.kind == "stock":
            entry.state = "superseded"
            entry.last_error = "in doubt after an interrupted run: listing re-read instead of resent"
            unread.append(int(entry.target))
        else:
            entry.state = "retry"
            entry.next_attempt_at = now
            entry.last_error = "in doubt after an interrupted run: sending again"
    anchors.mark_unread(session, unread)
    return len(stuck)


def reopen_failed(session: Session, ids: Sequence[int] | None, now: datetime) -> int:
    """Make failed entries (all, or ``ids``) due again; returns how many."""
    query = update(t.OutboxEntry).where(t.OutboxEntry.state == "failed")
    if ids:
        query = query.where(t.OutboxEntry.id.in_(list(ids)))
    result = session.execute(query.values(state="retry", next_attempt_at=now, attempts=0, updated_at=now))
    return result.rowcount or 0


def list_entries(
    s: Session,
    *,
    failed: bool = False,
    open_: bool = False,
    shop_id: int | None = None,
    kind: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Outbox entries newest first, as plain data; ``target_label`` names a listing's SKU
    code and platform SKU id (what people know it by). ``open_``: not yet done, sending
    included."""
    query = (
        select(t.OutboxEntry, t.Shop.name)
        .join(t.Shop, t.Shop.id == t.OutboxEntry.shop_id)
        .order_by(t.OutboxEntry.id.desc())
        .limit(limit)
    )
    if failed:
        query = query.where(t.OutboxEntry.state == "failed")
    if open_:
        query = query.where(t.OutboxEntry.state.in_((*OPEN_STATES, "sending")))
    if shop_id is not None:
        query = query.where(t.OutboxEntry.shop_id == shop_id)
    if kind:
        query = query.where(t.OutboxEntry.kind == kind)
    found = s.execute(query).all()
    labels = _listing_labels(s, [e for e, _ in found])
    return [
        {
            "id": e.id,
            "shop": name,
            "kind": e.kind,
            "target": e.target,
            "target_label": labels.get(e.id, e.target),
            "state": e.state,
            "attempts": e.attempts,
            "key": e.idempotency_key,
            "payload": e.payload,
            "error": e.last_error,
            "created_at": e.created_at,
            "updated_at": e.updated_at,
        }
        for e, name in found
    ]


# Kinds whose target is a listing (its row id); people know it by SKU code and platform SKU id.
LISTING_KINDS = ("stock", "price")


def _listing_labels(s: Session, entries: list[t.OutboxEntry]) -> dict[int, str]:
    """Entry id -> ``CODE (platform SKU id)`` for entries that write one listing."""
    ids = {int(e.target) for e in entries if e.kind in LISTING_KINDS and e.target.isdigit()}
    if not ids:
        return {}
    listings = {
        listing_id: f"{code or master or 'unlinked'} ({platform_sku})"
        for listing_id, platform_sku, master, code in s.execute(
            select(t.Listing.id, t.Listing.platform_sku_id, t.Listing.master_code, t.Sku.code)
            .outerjoin(t.Sku, t.Sku.id == t.Listing.sku_id)
            .where(t.Listing.id.in_(ids))
        )
    }
    return {
        e.id: listings[int(e.target)]
        for e in entries
        if e.kind in LISTING_KINDS and e.target.isdigit() and int(e.target) in listings
    }
