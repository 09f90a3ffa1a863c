"""Slicing incremental reads into the windows a platform allows."""

from __future__ import annotations

from datetime import datetime, timedelta

from hub.models import TimeWindow
from hub.platform import OrderWindowRule

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
