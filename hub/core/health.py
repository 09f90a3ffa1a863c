"""Each shop's circuit breaker, persisted: the breaker lives in the memory of the process
that syncs, so the engine writes a shop's state here whenever its breaker changed, and the
console and ``hub shops list`` read it from here.

The row is the latest observation of any process: a process that called the shop and got
an answer writes ``closed``, one whose calls went unanswered writes the failures and,
once the circuit opened, ``open`` with the time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.breaker import CircuitBreaker
from hub.secrets import redact
from hub.storage import tables as t
from hub.storage.db import insert_or_ignore

MAX_REASON = 500  # characters of the last failure kept


def unrecorded(breakers: Mapping[str, CircuitBreaker]) -> bool:
    """Whether any breaker changed since it was last written."""
    return any(b.version != b.recorded for b in breakers.values())


def record_changes(session: Session, breakers: Mapping[str, CircuitBreaker], now: datetime) -> int:
    """Write the state of every breaker (by shop name) that changed since it was last
    written; returns how many rows were written. Shops that no longer exist are skipped."""
    changed = {name: b for name, b in breakers.items() if b.version != b.recorded}
    if not changed:
        return 0
    ids = dict(session.execute(select(t.Shop.name, t.Shop.id).where(t.Shop.name.in_(changed))).all())
    written = 0
    for name, breaker in changed.items():
        version = breaker.version
        if name not in ids:
            breaker.recorded = version
            continue
        # Created if missing without a race: two processes (or two jobs of one worker)
        # recording the same shop at once must not collide on its key.
        blank = {"shop_id": ids[name], "state": "closed", "consecutive_failures": 0, "updated_at": now}
        insert_or_ignore(session, t.ShopHealth.__table__, blank)
        row = session.get(t.ShopHealth, ids[name], populate_existing=True)
        assert row is not None
        row.state = breaker.state
        row.opened_at = breaker.opened_wall if breaker.state != "closed" else None
        row.consecutive_failures = breaker.failures
        row.last_failure = redact(breaker.last_error)[:MAX_REASON] if breaker.last_error else None
        row.updated_at = now
        session.add(row)
        breaker.recorded = version
        written += 1
    session.flush()
    return written


def circuits(session: Session) -> dict[str, dict[str, Any]]:
    """Shop name -> its last recorded circuit: ``state`` (closed, open, half_open),
    ``opened_at``, ``consecutive_failures``, ``last_failure`` and ``updated_at``. Shops no
    process has called yet are absent (their circuit is closed)."""
    rows = session.execute(select(t.ShopHealth, t.Shop.name).join(t.Shop, t.Shop.id == t.ShopHealth.shop_id))
    return {
        name: {
            "state": h.state,
            "opened_at": h.opened_at,
            "consecutive_failures": h.consecutive_failures,
            "last_failure": h.last_failure,
            "updated_at": h.updated_at,
        }
        for h, name in rows
    }
