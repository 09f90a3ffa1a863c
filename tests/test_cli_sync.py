"""The engine's commands, end to end against fake sandboxes (in-process)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result

from hub.cli import cli
from hub.models import OrderStatus
from hub.simulator.lab import Lab
from hub.testing import FakeClock
from tests.conftest import fake_host
from tests.test_engine import SHOPS, seed


@pytest.fixture
def lab(hub_db_url: str, fake_clock: FakeClock) -> Iterator[Lab]:
    lab = Lab.create(
        hub_db_url,
        shops=SHOPS,
        seed=seed(),
        clock=fake_clock,
        host_factory=fake_host,
        settings={"partition_below": 0},  # shared: these tests check its numbers
    )
    yield lab
    lab.close()


def hub(lab: Lab, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj=lab.app, catch_exceptions=False)


def test_bootstrap_catalogue_from_a_shop_and_sync(lab: Lab) -> None:
    assert hub(lab, "sync", "--stream", "listings").exit_code == 0
    created = json.loads(hub(lab, "skus", "import-from", "a", "--with-stock", "--json").output)
    assert {c["code"] for c in created} == {"CUP", "LID", "GHOST"}
    result = hub(lab, "sync", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["exit_code"] == 0
    unmatched = hub(lab, "listings", "unmatched", "--json")
    assert unmatched.exit_code == 1  # the listing without a code, on every shop
    assert {r["shop"] for r in json.loads(unmatched.output)} == {"a", "b", "c"}


def test_map_a_listing_by_hand_and_exceptions_clear(lab: Lab) -> None:
    hub(lab, "skus", "add", "CUP", "--price", "10.00")
    hub(lab, "skus", "add", "NOCODE", "--price", "5.00")
    hub(lab, "stock", "set", "CUP", "30")
    hub(lab, "sync")
    state = lab.sandboxes["a"].state
    nocode = next(s for s in state.skus.values() if s.code is None)
    lab.clock.advance(1)
    state.place_order([(nocode.sku_id, 1)])
    lab.clock.advance(1)
    hub(lab, "sync", "--stream", "orders")
    exceptions = hub(lab, "orders", "exceptions", "--json")
    assert exceptions.exit_code == 1 and json.loads(exceptions.output)[0]["master_code"] is None
    assert hub(lab, "listings", "map", "a", nocode.sku_id, "NOCODE").exit_code == 0
    assert hub(lab, "orders", "exceptions").exit_code == 0
    listings = json.loads(hub(lab, "listings", "list", "--shop", "a", "--json").output)
    assert next(x for x in listings if x["platform_sku_id"] == nocode.sku_id)["sku"] == "NOCODE"


def test_stock_show_drift_and_repair(lab: Lab) -> None:
    hub(lab, "skus", "add", "CUP", "--price", "10.00")
    hub(lab, "stock", "set", "CUP", "12")
    hub(lab, "stock", "rules", "set", "b", "--share", "50")
    hub(lab, "sync")
    shown = json.loads(hub(lab, "stock", "show", "CUP", "--json").output)[0]
    assert shown["sellable"] == 12 and {x["shop"]: x["target"] for x in shown["shops"]} == {
        "a": 12,
        "b": 6,
        "c": 12,
    }
    # Someone edits the quantity in shop c's back office:
    cup_c = lab.sandboxes["c"].state.skus_by_code("CUP")[0]
    lab.sandboxes["c"].state.set_quantity(cup_c.sku_id, 99)
    drift = hub(lab, "stock", "drift", "--json")
    assert drift.exit_code == 1
    assert json.loads(drift.output) == [
        {
            "shop": "c",
            "sku": "CUP",
            "platform_sku_id": cup_c.sku_id,
            "expected": 12,
            "actual": 99,
            "difference": 87,
        }
    ]
    assert hub(lab, "stock", "drift", "--repair").exit_code == 0
    assert lab.shown("CUP")["c"] == 12
    audit = json.loads(hub(lab, "audit", "list", "--sku", "CUP", "--json").output)
    assert {e["action"] for e in audit} >= {"stock.set", "sku.add"}


def test_orders_list_and_ship_through_the_outbox(lab: Lab) -> None:
    hub(lab, "skus", "add", "CUP", "--price", "10.00")
    hub(lab, "stock", "set", "CUP", "5")
    hub(lab, "sync")
    lab.clock.advance(1)
    state = lab.sandboxes["b"].state
    order = state.order_code("CUP", 2)
    lab.clock.advance(1)
    hub(lab, "sync", "--stream", "orders")
    listed = json.loads(hub(lab, "orders", "list", "--shop", "b", "--json").output)
    assert [o["order_id"] for o in listed] == [order.order_id]
    shipped = hub(lab, "orders", "ship", order.order_id, "--carrier", "SF", "--tracking", "SF123")
    assert shipped.exit_code == 0, shipped.output
    assert state.order(order.order_id).status is OrderStatus.SHIPPED
    again = hub(lab, "orders", "ship", order.order_id, "--carrier", "SF", "--tracking", "SF123")
    assert again.exit_code == 0  # the same shipment: recorded once, nothing sent twice
    entries = json.loads(hub(lab, "outbox", "list", "--kind", "shipment", "--json").output)
    assert len(entries) == 1 and entries[0]["state"] == "done"
    unknown = hub(lab, "orders", "ship", "nope", "--carrier", "SF", "--tracking", "1")
    assert unknown.exit_code == 2 and "no order 'nope'" in unknown.stderr


def test_failed_writes_stay_visible_and_can_be_retried(lab: Lab) -> None:
    hub(lab, "skus", "add", "CUP", "--price", "10.00")
    hub(lab, "stock", "set", "CUP", "3")
    hub(lab, "sync")
    lab.clock.advance(1)
    state = lab.sandboxes["a"].state
    order = state.order_code("CUP", paid=False)
    unpaid = hub(lab, "orders", "ship", order.order_id, "--carrier", "SF", "--tracking", "SF1")
    assert unpaid.exit_code == 2  # not known to the hub yet
    hub(lab, "sync", "--stream", "orders")
    assert (
        "pending_payment"
        in hub(lab, "orders", "ship", order.order_id, "--carrier", "SF", "--tracking", "SF1").stderr
    )
    state.set_status(order.order_id, OrderStatus.AWAITING_SHIPMENT)
    lab.clock.advance(1)
    hub(lab, "sync", "--stream", "orders")
    state.ship(order.order_id, "YTO", "OTHER")  # shipped in the back office with another waybill
    result = hub(lab, "orders", "ship", order.order_id, "--carrier", "SF", "--tracking", "SF1")
    assert result.exit_code == 1
    failed = json.loads(hub(lab, "outbox", "list", "--failed", "--json").output)
    assert len(failed) == 1 and "not shippable" in failed[0]["error"]
    assert hub(lab, "outbox", "retry", str(failed[0]["id"])).exit_code == 0
    assert json.loads(hub(lab, "outbox", "list", "--open", "--json").output)[0]["state"] == "retry"


def test_watch_runs_cycles_until_told_to_stop(lab: Lab) -> None:
    result = hub(lab, "sync", "--watch", "--interval", "1", "--max-cycles", "3", "--json")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == 3  # JSON Lines: one compact report per line, readable line by line
    reports = [json.loads(line) for line in lines]
    assert [r["exit_code"] for r in reports] == [0, 0, 0]
