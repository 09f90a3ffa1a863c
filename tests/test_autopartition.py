"""Automatic partitioning (issue 12): the decision, the measured delay, and the engine
switching a SKU from shared to partitioned without ever raising a listing on the way."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from hub.cli import cli
from hub.core import autopartition as ap
from hub.core import catalog
from hub.simulator.lab import Lab
from tests.test_engine import SHOPS, engine_lab

T0 = datetime(2026, 11, 11, tzinfo=UTC)
async_test = pytest.mark.anyio


# --- the decision ------------------------------------------------------------------------------


def test_a_sku_without_history_is_protected_by_the_floor() -> None:
    mode = ap.decide(9, channels=4, expected=0)
    assert mode == ap.Mode(True, "partitioned: 9 sellable < 40, the floor for 4 channels")
    assert not ap.decide(40, channels=4, expected=0).partitioned


def test_expected_sales_with_the_margin_partition_a_sku_above_the_floor() -> None:
    mode = ap.decide(50, channels=2, expected=30)
    assert mode == ap.Mode(True, "partitioned: 50 sellable < 60 expected sales before the next sync")
    assert ap.decide(60, channels=2, expected=30) == ap.Mode(
        False, "shared: 60 sellable ≥ 60 expected sales before the next sync"
    )


def test_explicit_settings_win_over_the_automatic_rule() -> None:
    assert ap.decide(1000, channels=4, expected=0, marked=True).partitioned
    # the SKU's own threshold wins over the global one, and 0 means always shared
    assert ap.decide(1, channels=4, expected=900, own_threshold=0, global_threshold=50) == ap.Mode(
        False, "shared: 1 sellable ≥ 0 (its --partition-below)"
    )
    assert ap.decide(20, channels=4, expected=0, global_threshold=25) == ap.Mode(
        True, "partitioned: 20 sellable < 25 (HUB_PARTITION_BELOW)"
    )


def test_the_delay_is_the_typical_gap_between_cycles_plus_their_duration() -> None:
    cycles = [(T0 + timedelta(seconds=10 * i), T0 + timedelta(seconds=10 * i + 2)) for i in range(5)]
    assert ap.propagation_delay(cycles) == 12.0
    assert ap.propagation_delay(cycles[:1]) == ap.DEFAULT_DELAY  # nothing measured yet
    days = [(T0, T0), (T0 + timedelta(days=3), T0 + timedelta(days=3))]
    assert ap.propagation_delay(days) == ap.MAX_DELAY


def test_a_burst_counts_at_once_while_a_quiet_hour_does_not_hide_it() -> None:
    short = ap.short_window(12.0, 3600)
    assert short == ap.MIN_SHORT_WINDOW
    burst = ap.velocity(sold_long=30, long_window=3600, sold_short=30, short=short)
    steady = ap.velocity(sold_long=360, long_window=3600, sold_short=0, short=short)
    assert (burst, steady) == (0.5, 0.1)
    assert ap.expected_sales([burst, steady], 12.0) == 8  # 7.2 rounded up


# --- the engine --------------------------------------------------------------------------------


lab = engine_lab(settings=None, on_hand=100)


def stock_show(lab: Lab, code: str) -> dict:
    result = CliRunner().invoke(cli, ["stock", "show", code, "--json"], obj=lab.app, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)[0]


@async_test
async def test_a_selling_sku_is_partitioned_and_its_listings_only_go_down_at_the_switch(lab: Lab) -> None:
    for _ in range(4):  # `hub sync` every minute: the hub measures a delay of 60 s
        report = await lab.sync()
        assert report.exit_code == 0, report.to_dict()
        lab.clock.advance(60)
    shown = stock_show(lab, "CUP")
    assert (shown["mode"], shown["why"]) == ("shared", "shared: 100 sellable ≥ 30, the floor for 3 channels")
    assert lab.shown("CUP") == dict.fromkeys(SHOPS, 100)

    for _ in range(10):  # a rush on shop a: 70 units within the minute
        lab.clock.advance(3)
        lab.sandboxes["a"].state.order_code("CUP", 7)
    # 70 sold in the last 4 minutes at the measured 60 s delay: 18 expected, 36 with the margin
    shown = stock_show(lab, "CUP")
    assert shown["mode"] == "shared"  # the hub has not ingested the rush yet

    seen: list[dict[str, int]] = []
    for box in lab.sandboxes.values():
        box.on_request = lambda: seen.append(lab.shown("CUP"))
    report = await lab.sync()
    for box in lab.sandboxes.values():
        box.on_request = None
    assert report.exit_code == 0, report.to_dict()
    shown = stock_show(lab, "CUP")
    assert (shown["mode"], shown["sellable"]) == ("partitioned", 30)
    assert shown["why"] == "partitioned: 30 sellable < 36 expected sales before the next sync"
    seen.append(lab.shown("CUP"))
    for before, after in itertools.pairwise(seen):
        assert all(after[s] <= before[s] for s in SHOPS), f"raised during the switch: {before} -> {after}"
    assert sum(lab.shown("CUP").values()) <= 30
    assert lab.shown("LID") == dict.fromkeys(SHOPS, 100)  # LID sells nothing: still shared


@async_test
async def test_a_sku_without_sales_history_is_partitioned_from_the_first_sync(lab: Lab) -> None:
    lab.app.db.run_sync(
        lambda s: catalog.set_on_hand(s, catalog.sku_by_code(s, "LID"), 25, None, lab.clock.now())
    )
    report = await lab.sync()
    assert report.exit_code == 0, report.to_dict()
    assert stock_show(lab, "LID")["why"] == "partitioned: 25 sellable < 30, the floor for 3 channels"
    assert 0 < sum(lab.shown("LID").values()) <= 25
    assert lab.shown("CUP") == dict.fromkeys(SHOPS, 100)


def test_the_readme_example() -> None:
    cycles = [(T0 + timedelta(seconds=60 * i), T0 + timedelta(seconds=60 * i + 5)) for i in range(5)]
    delay = ap.propagation_delay(cycles)
    short = ap.short_window(delay, 3600)
    assert (delay, short) == (65.0, 260.0)
    rates = [ap.velocity(110, 3600, 104, short), ap.velocity(36, 3600, 2, short), 0.0, 0.0]
    expected = ap.expected_sales(rates, delay)
    assert expected == 27
    says = {n: ap.decide(n, channels=4, expected=expected).reason for n in (300, 50)}
    assert says == {
        300: "shared: 300 sellable ≥ 54 expected sales before the next sync",
        50: "partitioned: 50 sellable < 54 expected sales before the next sync",
    }
    new_launch = ap.decide(30, channels=4, expected=0).reason
    assert new_launch == "partitioned: 30 sellable < 40, the floor for 4 channels"
