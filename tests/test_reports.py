"""`hub report` against the hand-computed order book in tests/report_data.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from hub.app import App
from hub.core import reports
from hub.storage import tables as t
from tests.conftest import Invoke
from tests.report_data import SECRET, add_returns, seed

PERIOD = ("--since", "2026-11-10", "--until", "2026-11-11")


@pytest.fixture
def seeded(app: App) -> App:
    seed(app)
    return app


def run_json(invoke: Invoke, *args: str) -> dict:
    result = invoke("report", *args, "--json")
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    return json.loads(result.output)


def test_orders_per_day_per_channel_in_shanghai_days(seeded: App, invoke: Invoke) -> None:
    data = run_json(invoke, "orders", *PERIOD)
    assert data["since"] == "2026-11-09T16:00:00+00:00" and data["until"] == "2026-11-11T16:00:00+00:00"
    assert data["rows"] == [
        {"day": "2026-11-10", "channel": "fake", "orders": 3, "gmv": 1400},
        {"day": "2026-11-10", "channel": "fake_abs", "orders": 1, "gmv": 5000},
        {"day": "2026-11-11", "channel": "fake", "orders": 2, "gmv": 3540},
        {"day": "2026-11-11", "channel": "fake_abs", "orders": 0, "gmv": 0},
    ]


def test_one_shop(seeded: App, invoke: Invoke) -> None:
    data = run_json(invoke, "orders", *PERIOD, "--shop", "b")
    assert [(r["day"], r["orders"], r["gmv"]) for r in data["rows"]] == [
        ("2026-11-10", 1, 300),
        ("2026-11-11", 1, 990),
    ]


def test_handling_time_nearest_rank_percentiles(seeded: App, invoke: Invoke) -> None:
    data = run_json(invoke, "handling", *PERIOD)
    assert data["rows"] == [
        {"channel": "fake", "shipped": 3, "p50_seconds": 6 * 3600, "p90_seconds": 10 * 3600},
        {"channel": "fake_abs", "shipped": 1, "p50_seconds": 2 * 3600, "p90_seconds": 2 * 3600},
    ]


def test_channels(seeded: App, invoke: Invoke) -> None:
    fake, fake_abs = run_json(invoke, "channels", *PERIOD)["rows"]
    assert fake == {
        "channel": "fake",
        "shops": 2,
        "orders": 5,
        "gmv": 4940,
        "units": 6,
        "average_order": 988,
        "refunded": 1,
        "awaiting_shipment": 1,
        "p50_seconds": 21600,
        "p90_seconds": 36000,
    }
    assert fake_abs == {
        "channel": "fake_abs",
        "shops": 1,
        "orders": 1,
        "gmv": 5000,
        "units": 1,
        "average_order": 5000,
        "refunded": 0,
        "awaiting_shipment": 0,
        "p50_seconds": 7200,
        "p90_seconds": 7200,
    }


def test_channels_table_shows_yuan_and_hours(seeded: App, invoke: Invoke) -> None:
    result = invoke("report", "channels", *PERIOD)
    assert result.exit_code == 0
    assert "49.40" in result.output and "9.88" in result.output and "6.0" in result.output


def test_stock_summary_and_alerts(seeded: App, invoke: Invoke) -> None:
    rows = {r["sku"]: r for r in run_json(invoke, "stock")["rows"]}
    # S1: 10 counted, the shipped orders (O8, O1×2, O7, O4) took 5 off; O2 (awaiting
    # shipment) and O5 (pending payment) hold one unit each.
    assert (rows["S1"]["on_hand"], rows["S1"]["reserved"], rows["S1"]["sellable"]) == (5, 2, 3)
    assert rows["S1"]["alert"] == ""
    assert rows["S2"]["alert"] == "out"
    assert (rows["S3"]["safety"], rows["S3"]["sellable"], rows["S3"]["alert"]) == (5, 0, "low")


def test_default_period_is_the_last_30_days(seeded: App) -> None:
    period = reports.period_from(seeded.clock.now(), None, None)
    assert period.since == datetime(2026, 10, 12, 16, tzinfo=UTC)
    assert period.until == datetime(2026, 11, 11, 16, tzinfo=UTC)
    assert len(period.days()) == 30


def test_xlsx_has_numbers_in_yuan(seeded: App, invoke: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "channels.xlsx"
    result = invoke("report", "channels", *PERIOD, "--xlsx", str(out))
    assert result.exit_code == 0, result.output
    sheet = openpyxl.load_workbook(out).active
    header, first = [c.value for c in sheet[1]], [c.value for c in sheet[2]]
    assert header[:4] == ["channel", "shops", "orders", "GMV (yuan)"]
    assert first[:4] == ["fake", 2, 5, 49.4] and first[-2:] == [6.0, 10.0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("orders", "--since", "11/10"), "--since '11/10': expected a date like 2026-11-11"),
        (("orders", "--since", "2026-11-12", "--until", "2026-11-10"), "is before --since"),
        (("orders", "--shop", "nope"), "nope"),
        (("bogus",), "Invalid value"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    seeded: App, invoke: Invoke, args: tuple[str, ...], message: str
) -> None:
    result = invoke("report", *args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_shipped_at_is_the_first_shipped_update(seeded: App) -> None:
    query = select(t.Order.platform_order_id, t.Order.shipped_at)
    rows = dict(seeded.db.run_sync(lambda s: s.execute(query).all()))
    assert rows["O4"] == datetime(2026, 11, 10, 12, tzinfo=UTC)
    assert rows["O2"] is None and rows["O3"] is None


def test_return_rate_per_sku_and_channel(seeded: App, invoke: Invoke, tmp_path: Path) -> None:
    add_returns(seeded)
    data = run_json(invoke, "returns", *PERIOD)
    assert data["rows"] == [
        {"channel": "fake", "sku": "S1", "sold": 6, "returned": 1, "return_rate": 16.7},
        {"channel": "fake_abs", "sku": "S1", "sold": 1, "returned": 0, "return_rate": 0.0},
    ]
    table = invoke("report", "returns", *PERIOD, terminal_width=200)
    assert "16.7%" in table.output
    assert invoke("report", "returns", *PERIOD, "--xlsx", str(tmp_path / "r.xlsx")).exit_code == 0
    sheet = openpyxl.load_workbook(tmp_path / "r.xlsx").active
    assert [c.value for c in sheet[2]] == ["fake", "S1", 6, 1, 16.7]
    only_c = run_json(invoke, "returns", *PERIOD, "--shop", "c")
    assert [(r["channel"], r["returned"]) for r in only_c["rows"]] == [("fake_abs", 0)]
