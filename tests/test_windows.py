"""Order windows: bounded, contiguous, ending exactly at the signpost."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hub.core.windows import ROUNDING, plan_windows
from hub.platform import OrderWindowRule

NOW = datetime(2026, 11, 11, 12, 0, 0, 700_000, tzinfo=UTC)
DAY = OrderWindowRule(
    max_span=timedelta(days=1),
    max_history=timedelta(days=90),
    lookback=timedelta(minutes=5),
    initial_history=timedelta(days=3),
)


def test_windows_cover_the_range_contiguously_and_end_at_now() -> None:
    windows = plan_windows(None, NOW, DAY)
    assert windows[0].start <= NOW - timedelta(days=3) and windows[-1].end == NOW
    for before, after in itertools.pairwise(windows):
        assert before.end == after.start
    assert all(w.end - w.start <= DAY.max_span - ROUNDING for w in windows)


def test_a_cursor_is_re_read_from_its_lookback() -> None:
    cursor = NOW - timedelta(minutes=1)
    [window] = plan_windows(cursor, NOW, DAY)
    assert window.start == cursor - DAY.lookback and window.end == NOW


def test_history_the_platform_no_longer_serves_is_not_asked_for() -> None:
    windows = plan_windows(NOW - timedelta(days=400), NOW, DAY)
    assert windows[0].start >= NOW - DAY.max_history


def test_no_sliver_windows() -> None:
    rule = OrderWindowRule(max_span=timedelta(hours=1), lookback=timedelta(0))
    windows = plan_windows(NOW - timedelta(milliseconds=300), NOW, rule)
    assert [w.end - w.start for w in windows] == [timedelta(seconds=1)]
