"""--push: applied bulk changes go through the outbox to the platforms at once (fake sandboxes)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from hub.simulator.lab import Lab
from hub.storage import tables as t
from tests.test_bulk_support import hub, lab_fixture, write_text  # noqa: F401  (the "lab" fixture)


def platform_price(lab: Lab, shop: str, code: str) -> int:
    return lab.sandboxes[shop].state.skus_by_code(code)[0].price


def price_outbox_states(lab: Lab) -> list[str]:
    return lab.app.db.run_sync(
        lambda s: sorted(s.scalars(select(t.OutboxEntry.state).where(t.OutboxEntry.kind == "price")))
    )


def test_price_import_push_sends_prices_through_the_outbox(lab: Lab, tmp_path: Path) -> None:
    f = write_text(tmp_path / "p.csv", "sku,price,shop\nCUP,12.00,\nLID,3.50,b\n")
    result = hub(lab.app, "price", "import", str(f), "--apply", "--push")
    assert result.exit_code == 0, result.output
    assert "pushing prices to a, b, c" in result.stderr
    assert {s: platform_price(lab, s, "CUP") for s in "abc"} == {"a": 1200, "b": 1200, "c": 1200}
    assert {s: platform_price(lab, s, "LID") for s in "abc"} == {"a": 300, "b": 350, "c": 300}
    assert price_outbox_states(lab) == ["done"] * 4
    listings = json.loads(hub(lab.app, "listings", "list", "--sku", "LID", "--json").stdout)
    assert {x["shop"]: x["price"] for x in listings} == {"a": 300, "b": 350, "c": 300}


def test_price_import_push_json_has_the_push_report(lab: Lab, tmp_path: Path) -> None:
    f = write_text(tmp_path / "p.csv", "sku,price,shop\nLID,3.20,c\n")
    result = hub(lab.app, "price", "import", str(f), "--apply", "--push", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["shops"] == ["c"]
    pushed = [r for r in data["push"]["results"] if r["stream"] == "prices"]
    assert [(r["shop"], r["pushed"]) for r in pushed] == [("c", 1)]
    assert platform_price(lab, "c", "LID") == 320


def test_without_push_the_next_sync_sends_them(lab: Lab, tmp_path: Path) -> None:
    f = write_text(tmp_path / "p.csv", "sku,price\nCUP,11.00\n")
    assert hub(lab.app, "price", "import", str(f), "--apply").exit_code == 0
    assert platform_price(lab, "a", "CUP") == 1000
    assert hub(lab.app, "sync", "--stream", "prices").exit_code == 0
    assert {s: platform_price(lab, s, "CUP") for s in "abc"} == {"a": 1100, "b": 1100, "c": 1100}


def test_stock_import_push_sends_the_new_sellable_stock(lab: Lab, tmp_path: Path) -> None:
    assert lab.shown("CUP") == {"a": 20, "b": 20, "c": 20}
    f = write_text(tmp_path / "s.csv", "sku,quantity\nCUP,7\nLID,20\n")
    result = hub(lab.app, "stock", "import", str(f), "--apply", "--push")
    assert result.exit_code == 0, result.output
    assert "pushing stock to a, b, c" in result.stderr
    assert lab.shown("CUP") == {"a": 7, "b": 7, "c": 7}
    assert lab.shown("LID") == {"a": 20, "b": 20, "c": 20}


def test_price_set_push(lab: Lab) -> None:
    result = hub(lab.app, "price", "set", "CUP", "9.50", "--shop", "a", "--push")
    assert result.exit_code == 0, result.output
    assert {s: platform_price(lab, s, "CUP") for s in "abc"} == {"a": 950, "b": 1000, "c": 1000}


def test_nothing_to_push_when_no_shop_lists_the_sku(lab: Lab, tmp_path: Path) -> None:
    hub(lab.app, "skus", "add", "NEW", "--price", "5.00")
    f = write_text(tmp_path / "n.csv", "sku,quantity\nNEW,4\n")
    result = hub(lab.app, "stock", "import", str(f), "--apply", "--push")
    assert result.exit_code == 0
    assert "nothing to push: no shop lists the changed SKUs" in result.stderr
