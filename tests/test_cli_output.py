"""What people read: yuan in the audit log, readable echoes, Beijing times, honest statuses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hub.cli import cli
from hub.simulator.lab import Lab
from hub.testing import FakeClock
from tests.conftest import Invoke
from tests.test_cli_shops import add
from tests.test_platforms import catalogue


@pytest.fixture
def lab(tmp_path: Path, fake_clock: FakeClock) -> Iterator[Lab]:
    lab = Lab.create(
        f"sqlite:///{tmp_path / 'hub.db'}", shops={"wx": "wechat"}, seed=catalogue(), clock=fake_clock
    )
    lab.import_catalogue(on_hand=20)
    yield lab
    lab.close()


def hub(lab: Lab, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj=lab.app, catch_exceptions=False)


def test_audit_shows_yuan_the_warehouse_and_force(invoke: Invoke, tmp_path: Path) -> None:
    add(invoke)
    assert invoke("skus", "add", "CUP", "--price", "75.50").exit_code == 0
    assert invoke("stock", "set", "CUP", "7", "--warehouse", "east", "--create").exit_code == 0
    assert invoke("price", "set", "CUP", "500", "--force").exit_code == 0
    sheet = tmp_path / "stock.csv"
    sheet.write_text("sku,quantity,warehouse\nCUP,9,east\n", encoding="utf-8")
    assert invoke("stock", "import", str(sheet), "--apply").exit_code == 0
    table = invoke("audit", "list").output
    assert "75.50" in table and "500.00" in table and "7550" not in table and "50000" not in table
    assert "hub price set --force" in table
    assert "hub stock set --warehouse east" in table and "stock.csv:2, warehouse east" in table
    rows = json.loads(invoke("audit", "list", "--json").output)
    price = next(r for r in rows if r["action"] == "price.set")
    assert (price["old"], price["new"], price["unit"]) == ("7550", "50000", "fen")
    assert next(r for r in rows if r["action"] == "stock.set")["unit"] is None


def test_a_price_import_forced_past_the_guard_says_so_in_the_audit(invoke: Invoke, tmp_path: Path) -> None:
    add(invoke)
    invoke("skus", "add", "CUP", "--price", "10.00")
    invoke("skus", "add", "LID", "--price", "10.00")
    sheet = tmp_path / "prices.csv"
    sheet.write_text("sku,price\nCUP,99.00\nLID,11.00\n", encoding="utf-8")
    assert invoke("price", "import", str(sheet), "--apply", "--force").exit_code == 0
    rows = json.loads(invoke("audit", "list", "--json").output)
    sources = {r["sku"]: r["source"] for r in rows if r["action"] == "price.set"}
    assert sources["CUP"] == "prices.csv:2 --force" and sources["LID"] == "prices.csv:3"


def test_rules_set_echoes_words_not_a_dict(invoke: Invoke) -> None:
    add(invoke)
    result = invoke("stock", "rules", "set", "s1", "--share", "50", "--cap", "10")
    assert result.stderr.strip() == "s1: share 50%, cap 10, floor 0, warehouses all"
    result = invoke("stock", "rules", "set", "s1", "--no-cap", "--warehouses", "main")
    assert result.stderr.strip() == "s1: share 50%, cap none, floor 0, warehouses main"


def test_shops_list_shows_expiry_in_beijing_time_without_microseconds(invoke: Invoke) -> None:
    add(invoke, "s1", "--set", "token_expires_at=2026-11-11T01:02:03.456789+00:00")
    table = invoke("shops", "list").output
    assert "2026-11-11 09:02:03" in table and ".456789" not in table
    [shop] = json.loads(invoke("shops", "list", "--json").output)
    assert datetime.fromisoformat(shop["token_expires_at"]) == datetime(2026, 11, 11, 1, 2, 3, 456789, UTC)


def test_a_failed_wechat_price_write_is_not_reported_ok(lab: Lab) -> None:
    assert hub(lab, "sync").exit_code == 0
    assert hub(lab, "price", "set", "CUP-500", "139.00").exit_code == 0
    lab.sandboxes["wx"].faults.inject("server_error", times=50, when="auditfree")
    result = hub(lab, "sync", "--stream", "prices", "--json")
    assert result.exit_code == 1, result.output
    [prices] = [r for r in json.loads(result.output)["results"] if r["stream"] == "prices"]
    assert prices["failed"] == 1 and prices["exit_code"] == 1 and "retried next run" in prices["error"]
    lab.clock.advance(3600)  # the retry is due
    table = hub(lab, "-v", "sync", "--stream", "prices")
    [row] = [line for line in table.output.splitlines() if " prices " in line]
    assert "FAILED" in row and " ok " not in row, row
    lab.sandboxes["wx"].faults.clear()
    lab.clock.advance(3600)
    assert hub(lab, "sync", "--stream", "prices").exit_code == 0


def test_outbox_names_the_listing_not_its_row_id(lab: Lab) -> None:
    hub(lab, "sync")
    hub(lab, "price", "set", "CUP-500", "139.00")
    [entry] = json.loads(hub(lab, "outbox", "list", "--open", "--json").output)
    [sku] = lab.sandboxes["wx"].state.skus_by_code("CUP-500")
    sku_id = sku.sku_id
    assert entry["target_label"] == f"CUP-500 ({sku_id})" and entry["target"].isdigit()
    assert f"CUP-500 ({sku_id})" in hub(lab, "outbox", "list").output
