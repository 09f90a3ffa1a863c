"""Incremental reads: the cursors that say how far a shop's stream was read, and the
windows a platform allows from there."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import TimeWindow
from hub.platform import OrderWindowRule
from hub.storage import tables as t

# Platforms take whole seconds, so a plugin rounds a window's start down and its end up;
# windows are planned this much shorter than the platform's maximum to leave room for it.
ROUNDING = timedelta(seconds=2)
MIN_WINDOW = timedelta(seconds=1)


def plan_windows(cursor: datetime | None, now: datetime, rule: OrderWindowRule) -> list[TimeWindow]:
    """Windows covering ``[cursor - lookback, now)``, oldest first, none longer than the
    platform allows. The last one ends exactly at ``now``, so a cursor set to it says
    every order placed before ``now`` was read.

    With no cursor the read starts ``rule.initial_history`` ago. The start is clamped to
    what the platform still serves (``rule.max_history``, less a minute of margin)."""
    start = now - rule.initial_history if cursor is None else cursor - rule.lookback
    if rule.max_history is not None:
        start = max(start, now - rule.max_history + timedelta(minutes=1))
    step = max(MIN_WINDOW, rule.max_span - ROUNDING)
    windows = []
    end = now
    while end > start:
        begin = max(start, end - step)
        if end - begin < MIN_WINDOW:  # never a sliver: read a moment more instead
            begin = end - MIN_WINDOW
        windows.append(TimeWindow(start=begin, end=end))
        end = begin
    windows.reverse()
    return windows


# --- cursors ---------------------------------------------------------------------------------


def get_cursor(session: Session, shop_id: int, stream: str) -> datetime | None:
    """How far the shop's ``stream`` was read (None: never)."""
    return session.scalar(
        select(t.SyncCursor.position).where(t.SyncCursor.shop_id == shop_id, t.SyncCursor.stream == stream)
    )


def set_cursor(session: Session, shop_id: int, stream: str, position: datetime, now: datetime) -> None:
    """Move the shop's ``stream`` cursor to ``position`` (never backwards)."""
    row = session.scalar(
        select(t.SyncCursor).where(t.SyncCursor.shop_id == shop_id, t.SyncCursor.stream == stream)
    )
    if row is None:
        session.add(t.SyncCursor(shop_id=shop_id, stream=stream, position=position, updated_at=now))
    elif position > row.position:
        row.position, row.updated_at = position, now
