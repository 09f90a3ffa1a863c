"""A count nobody set never drives a stock write (DESIGN invariant 8), and the hub says so.

Also: `skus import-from SHOP --with-stock` counts what is physically there (the platform's
quantity plus the units of its open orders, which the hub reserves again).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hub.cli import cli
from hub.simulator.lab import Lab
from hub.simulator.seed import Seed, SeedProduct, SeedSku
from hub.testing import FakeClock
from tests.conftest import fake_host

SHOPS = {"a": "fake", "b": "fake", "c": "fake_abs"}


def seed() -> Seed:
    return Seed(
        products=[
            SeedProduct(
                title="杯子",
                skus=[SeedSku(code="CUP", price=1990, stock=200), SeedSku(code="LID", price=300, stock=40)],
            ),
        ]
    )


@pytest.fixture
def lab(tmp_path: Path, fake_clock: FakeClock) -> Iterator[Lab]:
    lab = Lab.create(
        f"sqlite:///{tmp_path / 'hub.db'}", shops=SHOPS, seed=seed(), clock=fake_clock, host_factory=fake_host
    )
    yield lab
    lab.close()


def hub(lab: Lab, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj=lab.app, catch_exceptions=False)


def sync_json(lab: Lab, *args: str) -> dict:
    result = hub(lab, "sync", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def pushed(report: dict) -> int:
    return sum(r["pushed"] for r in report["results"] if r["stream"] == "stock")


def test_a_sku_added_without_a_count_leaves_its_listings_alone(lab: Lab) -> None:
    assert hub(lab, "sync", "--stream", "listings").exit_code == 0
    assert hub(lab, "skus", "add", "CUP", "--price", "19.90").exit_code == 0
    # linked to the listings already read, at once
    linked = json.loads(hub(lab, "listings", "list", "--sku", "CUP", "--json").stdout)
    assert {r["shop"] for r in linked} == set(SHOPS)
    report = sync_json(lab)
    assert lab.shown("CUP") == {"a": 200, "b": 200, "c": 200}
    assert pushed(report) == 0
    assert report["uncounted_skus"] == ["CUP"]
    human = hub(lab, "sync")
    assert human.exit_code == 0
    assert "1 SKU(s) not counted, so their listings were left as they are: CUP" in human.stderr


def test_an_explicit_zero_is_a_count(lab: Lab) -> None:
    hub(lab, "sync", "--stream", "listings")
    hub(lab, "skus", "add", "CUP", "--price", "19.90")
    assert hub(lab, "stock", "set", "CUP", "0").exit_code == 0
    report = sync_json(lab)
    assert report["uncounted_skus"] == []
    assert lab.shown("CUP") == {"a": 0, "b": 0, "c": 0}


def test_import_from_without_stock_pushes_nothing(lab: Lab) -> None:
    assert hub(lab, "sync", "--stream", "listings").exit_code == 0
    created = json.loads(hub(lab, "skus", "import-from", "a", "--json").stdout)
    assert {c["code"] for c in created} == {"CUP", "LID"}
    report = sync_json(lab)
    assert pushed(report) == 0
    assert report["uncounted_skus"] == ["CUP", "LID"]
    assert lab.shown("CUP") == {"a": 200, "b": 200, "c": 200}
    assert lab.shown("LID") == {"a": 40, "b": 40, "c": 40}
    # once counted, the SKU is allocated as usual
    hub(lab, "stock", "set", "LID", "30")
    report = sync_json(lab)
    assert report["uncounted_skus"] == ["CUP"]
    assert lab.shown("LID") == {"a": 30, "b": 30, "c": 30}
    assert lab.shown("CUP") == {"a": 200, "b": 200, "c": 200}


def test_stock_show_marks_uncounted_skus(lab: Lab) -> None:
    hub(lab, "sync", "--stream", "listings")
    hub(lab, "skus", "add", "CUP", "--price", "19.90")
    hub(lab, "skus", "add", "LID", "--price", "3.00")
    hub(lab, "stock", "set", "LID", "5")
    hub(lab, "skus", "set", "LID", "--partition-below", "0")  # shared: every shop's target is 5
    rows = {r["sku"]: r for r in json.loads(hub(lab, "stock", "show", "--json").stdout)}
    assert rows["CUP"]["counted"] is False and rows["CUP"]["mode"] == "not counted"
    assert {x["target"] for x in rows["CUP"]["shops"]} == {None}
    assert {x["shown"] for x in rows["CUP"]["shops"]} == {200}
    assert rows["LID"]["counted"] is True and {x["target"] for x in rows["LID"]["shops"]} == {5}
    table = hub(lab, "stock", "show", "CUP").stdout
    assert "not counted" in table and "200→not pushed" in table


def on_hand(lab: Lab, code: str) -> int:
    rows = {r["sku"]: r for r in json.loads(hub(lab, "stock", "show", "--json").stdout)}
    return rows[code]["on_hand"]


def test_import_from_with_stock_counts_what_is_physically_there(lab: Lab) -> None:
    box = lab.sandboxes["a"].state
    for _ in range(2):  # two open orders: the platform shows 38 of the 40 on the shelf
        lab.clock.advance(3)
        box.order_code("LID", 1)
    shipped = box.order_code("LID", 1)  # shipped: gone from the shelf and from the count
    box.ship(shipped.order_id, "SF", "SF1")
    lab.sandboxes["b"].state.order_code("LID", 4)  # another shop's order: not in a's quantity
    lab.clock.advance(3)
    assert hub(lab, "sync", "--stream", "listings").exit_code == 0
    lab.clock.advance(3)
    box.order_code("LID", 1)  # after the listings read: the import re-reads the quantity
    lab.clock.advance(3)
    assert box.quantity_of("LID") == 36
    result = hub(lab, "skus", "import-from", "a", "--with-stock")
    assert result.exit_code == 0, result.output
    assert on_hand(lab, "LID") == 39  # 36 shown + 3 units of open orders on a
    assert on_hand(lab, "CUP") == 200
    report = sync_json(lab)
    assert report["uncounted_skus"] == []
    # 39 on hand, 3 (a) + 4 (b) reserved: 32 sellable, shown everywhere
    assert lab.shown("LID") == {"a": 32, "b": 32, "c": 32}


def test_an_order_in_the_same_second_as_the_read_is_read_again_later(lab: Lab) -> None:
    hub(lab, "sync", "--stream", "listings")
    box = lab.sandboxes["a"].state
    box.order_code("LID", 2)  # at the very instant of the import's read: which side is unknown
    slept = lab.clock.slept  # type: ignore[attr-defined]
    assert hub(lab, "skus", "import-from", "a", "--with-stock").exit_code == 0
    assert lab.clock.slept > slept  # type: ignore[attr-defined]
    assert on_hand(lab, "LID") == 40  # 38 shown + 2, settled by a later read


def test_import_from_with_stock_fails_cleanly_when_orders_cannot_be_read(lab: Lab) -> None:
    hub(lab, "sync", "--stream", "listings")
    lab.sandboxes["a"].faults.inject("server_error", times=100, when="orders.list")
    result = CliRunner().invoke(cli, ["skus", "import-from", "a", "--with-stock"], obj=lab.app)
    assert result.exit_code == 1, result.output
    assert "a: could not read its orders" in result.stderr and "nothing created" in result.stderr
    assert "Traceback" not in result.output
    assert json.loads(hub(lab, "skus", "list", "--json").stdout) == []


def test_import_from_skips_listings_whose_code_breaks_the_code_rule(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    skus = [SeedSku(code="CUP", price=1990, stock=5), SeedSku(code="LID\u200b", price=300, stock=4)]
    bad = Seed(products=[SeedProduct(title="杯子", skus=skus)])
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    lab = Lab.create(url, shops={"a": "fake"}, seed=bad, clock=fake_clock, host_factory=fake_host)
    try:
        hub(lab, "sync", "--stream", "listings")
        result = hub(lab, "skus", "import-from", "a", "--json")
        assert result.exit_code == 0, result.output
        assert [c["code"] for c in json.loads(result.stdout)] == ["CUP"]
        reason = "商家编码 'LID\\u200b' contains an invisible or unusual character (ZERO WIDTH SPACE)"
        assert reason in result.stderr
    finally:
        lab.close()
