"""`hub price import` and `hub price set`: validation, the price guard, shop prices, audit, outbox."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.bulk.imports import run_import
from hub.bulk.kind import ImportOptions
from hub.errors import InputError
from hub.simulator.lab import Lab
from hub.storage import tables as t
from tests.test_bulk_support import (
    audit_rows,
    hub,
    lab_fixture,  # noqa: F401  (the "lab" fixture)
    problem_lines,
    sku_price,
    snapshot,
    write_text,
    write_xlsx,
)


def queued(lab: Lab) -> list[tuple[str, str, int]]:
    """Open price writes: (shop, master code, price), sorted."""

    def read(s: Session) -> list[tuple[str, str, int]]:
        rows = s.execute(
            select(t.Shop.name, t.OutboxEntry.payload)
            .join(t.Shop, t.Shop.id == t.OutboxEntry.shop_id)
            .where(t.OutboxEntry.kind == "price", t.OutboxEntry.state.in_(["pending", "retry"]))
        )
        return sorted((shop, p["master_code"], p["price"]) for shop, p in rows)

    return lab.app.db.run_sync(read)


def set_floor(lab: Lab, code: str, floor: int) -> None:
    lab.app.db.run_sync(
        lambda s: s.execute(update(t.Sku).where(t.Sku.code == code).values(price_floor=floor))
    )


def test_dry_run_shows_yuan_and_changes_nothing(lab: Lab, tmp_path: Path) -> None:
    f = write_text(tmp_path / "p.csv", "sku,price,shop\nCUP,12.00,\nLID,3.5,a\nLID,3.00,\n")
    before = snapshot(lab.app)
    result = hub(lab.app, "price", "import", str(f))
    assert result.exit_code == 0, result.output
    assert "p.csv: 3 row(s), 2 change(s), 1 unchanged, 0 bad" in result.stdout
    table = [line for line in result.stdout.splitlines() if "│" in line]
    assert any("CUP" in x and "(all shops)" in x and "10.00" in x and "12.00" in x for x in table)
    assert any("LID" in x and " a " in x and "3.00" in x and "3.50" in x for x in table)
    assert snapshot(lab.app) == before


def test_apply_sets_prices_audits_rows_and_queues_every_listing(lab: Lab, tmp_path: Path) -> None:
    f = write_text(tmp_path / "p.csv", "sku,price\nCUP,12.00\nLID,3.30\n")
    result = hub(lab.app, "price", "import", str(f), "--apply")
    assert result.exit_code == 0, result.output
    assert (sku_price(lab.app, "CUP"), sku_price(lab.app, "LID")) == (1200, 330)
    assert queued(lab) == [(s, code, p) for s in "abc" for code, p in (("CUP", 1200), ("LID", 330))]
    entries = [e for e in audit_rows(lab.app) if e["action"] == "price.set"]
    assert [(e["sku"], e["shop"], e["old"], e["new"], e["source"]) for e in entries] == [
        ("CUP", None, "1000", "1200", "p.csv:2"),
        ("LID", None, "300", "330", "p.csv:3"),
    ]
    assert {(e["actor"], e["at"]) for e in entries} == {(lab.app.actor, lab.clock.now())}
    assert "the next `hub sync` pushes them" in result.stderr


def test_shop_specific_prices_and_shops_that_keep_their_own(lab: Lab, tmp_path: Path) -> None:
    f = write_text(tmp_path / "own.csv", "sku,price,shop\nCUP,11.00,a\n")
    assert hub(lab.app, "price", "import", str(f), "--apply").exit_code == 0
    assert sku_price(lab.app, "CUP", "a") == 1100 and sku_price(lab.app, "CUP") == 1000
    assert queued(lab) == [("a", "CUP", 1100)]
    g = write_text(tmp_path / "all.csv", "sku,price\nCUP,12.00\n")
    assert hub(lab.app, "price", "import", str(g), "--apply").exit_code == 0
    # Shop a keeps its own price; its earlier queued write stays the open one.
    assert queued(lab) == [("a", "CUP", 1100), ("b", "CUP", 1200), ("c", "CUP", 1200)]
    h = write_text(tmp_path / "upd.csv", "sku,price,shop\nCUP,11.50,a\n")
    assert hub(lab.app, "price", "import", str(h), "--apply").exit_code == 0
    assert sku_price(lab.app, "CUP", "a") == 1150
    assert queued(lab) == [("a", "CUP", 1150), ("b", "CUP", 1200), ("c", "CUP", 1200)]  # superseded


def test_a_shop_row_at_todays_price_is_pinned_when_the_file_moves_the_price(lab: Lab, tmp_path: Path) -> None:
    f = write_text(tmp_path / "pin.csv", "sku,price,shop\nCUP,12.00,\nCUP,10.00,a\n")
    result = hub(lab.app, "price", "import", str(f), "--apply", "--json")
    assert result.exit_code == 0, result.output
    changes = json.loads(result.stdout)["changes"]
    assert changes[1]["shop"] == "a" and changes[1]["old"] == changes[1]["new"] == 1000
    assert "becomes this shop's own price" in changes[1]["note"]
    assert (sku_price(lab.app, "CUP"), sku_price(lab.app, "CUP", "a")) == (1200, 1000)
    assert queued(lab) == [("a", "CUP", 1000), ("b", "CUP", 1200), ("c", "CUP", 1200)]
    # Alone, the same shop row changes nothing.
    again = write_text(tmp_path / "same.csv", "sku,price,shop\nLID,3.00,a\n")
    assert "1 unchanged" in hub(lab.app, "price", "import", str(again)).stdout


BAD_PRICES = [
    ("CUP,abc,", "price 'abc' is not a number"),
    ("CUP,9.999,", "price '9.999' has more than two decimals"),
    ("CUP,-1,", "price '-1' must be positive"),
    ("CUP,0,", "price '0' must be positive"),
    ("CUP,,", "the price cell is empty"),
    (",9.00,", "the sku cell is empty"),
    ("NOPE,9.00,", "unknown SKU 'NOPE'"),
    ("CUP,9.00,nowhere", "unknown shop 'nowhere'"),
    ("CUP,16.00,", "price guard: 10.00 -> 16.00 changes the price by 60%, more than 50% (--force allows it)"),
]


@pytest.mark.parametrize(("row", "reason"), BAD_PRICES, ids=[r for _, r in BAD_PRICES])
def test_each_price_rule_names_the_line_and_reason(lab: Lab, tmp_path: Path, row: str, reason: str) -> None:
    f = write_text(tmp_path / "bad.csv", f"sku,price,shop\nLID,3.10,\n{row}\n")
    before = snapshot(lab.app)
    result = hub(lab.app, "price", "import", str(f), "--apply")
    assert result.exit_code == 2
    assert reason in problem_lines(result.stderr)[3]
    assert snapshot(lab.app) == before


def test_all_bad_price_rows_listed_at_once(lab: Lab, tmp_path: Path) -> None:
    rows = [row for row, _ in BAD_PRICES]
    f = write_text(tmp_path / "bad.csv", "sku,price,shop\n" + "\n".join(rows) + "\n")
    result = hub(lab.app, "price", "import", str(f), "--apply")
    assert result.exit_code == 2
    assert sorted(problem_lines(result.stderr)) == list(range(2, 2 + len(rows)))


def test_duplicates_are_per_sku_and_shop(lab: Lab, tmp_path: Path) -> None:
    f = write_text(
        tmp_path / "d.csv",
        "sku,price,shop\nCUP,10.50,\nCUP,10.60,a\nCUP,10.70,b\nCUP,10.80,a\nLID,3.1,\nLID,3.2,\n",
    )
    result = hub(lab.app, "price", "import", str(f))
    problems = problem_lines(result.stderr)
    assert set(problems) == {3, 5, 6, 7}
    assert problems[3] == "duplicate: SKU 'CUP' in shop 'a' is also on line 5"
    assert problems[6] == "duplicate: SKU 'LID' for all shops is also on line 7"


def test_price_formats_excel_writes_are_accepted(lab: Lab, tmp_path: Path) -> None:
    f = write_text(tmp_path / "fmt.csv", 'sku,price\nCUP,¥10.90\nLID,"3.20"\n')
    assert hub(lab.app, "price", "import", str(f), "--apply").exit_code == 0
    assert (sku_price(lab.app, "CUP"), sku_price(lab.app, "LID")) == (1090, 320)
    x = write_xlsx(
        tmp_path / "p.xlsx", [["商家编码", "价格", "店铺"], ["CUP", 10.9 * 1.1, "b"], ["LID", "3.30", None]]
    )
    result = hub(lab.app, "price", "import", str(x), "--apply", "--json")
    assert result.exit_code == 0, result.output  # 11.990000000000002 is the 11.99 Excel shows
    assert (sku_price(lab.app, "CUP", "b"), sku_price(lab.app, "LID")) == (1199, 330)
    grouped = write_text(tmp_path / "g.csv", 'sku,price\nCUP,"1,000.00"\n')
    assert hub(lab.app, "price", "import", str(grouped), "--apply", "--force").exit_code == 0
    assert sku_price(lab.app, "CUP") == 100000


def test_the_guard_refuses_big_changes_and_prices_under_the_floor_unless_forced(
    lab: Lab, tmp_path: Path
) -> None:
    set_floor(lab, "LID", 250)
    f = write_text(tmp_path / "g.csv", "sku,price\nCUP,16.00\nLID,2.40\n")
    result = hub(lab.app, "price", "import", str(f), "--apply")
    assert result.exit_code == 2
    problems = problem_lines(result.stderr)
    assert "more than 50% (--force allows it)" in problems[2]
    assert "below the floor of 2.50 (--force allows it)" in problems[3]
    assert sku_price(lab.app, "CUP") == 1000
    forced = hub(lab.app, "price", "import", str(f), "--apply", "--force", "--json")
    assert forced.exit_code == 0, forced.output
    notes = [c["note"] for c in json.loads(forced.stdout)["changes"]]
    assert notes[0].startswith("forced: 10.00 -> 16.00 changes the price by 60%")
    assert (sku_price(lab.app, "CUP"), sku_price(lab.app, "LID")) == (1600, 240)


def test_the_guard_uses_the_configured_limit(lab: Lab, tmp_path: Path) -> None:
    lab.app.settings = lab.app.settings.model_copy(update={"price_change_limit": 0.1})
    f = write_text(tmp_path / "g.csv", "sku,price\nCUP,11.50\n")
    result = hub(lab.app, "price", "import", str(f))
    assert result.exit_code == 2 and "more than 10%" in result.stderr


def test_partial_price_import(lab: Lab, tmp_path: Path) -> None:
    f = write_text(tmp_path / "p.csv", "sku,price\nCUP,20.00\nLID,3.60\n")
    result = hub(lab.app, "price", "import", str(f), "--apply", "--partial")
    assert result.exit_code == 1
    assert set(problem_lines(result.stderr)) == {2}
    assert (sku_price(lab.app, "CUP"), sku_price(lab.app, "LID")) == (1000, 360)
    assert queued(lab) == [(s, "LID", 360) for s in "abc"]


def test_listings_a_running_promotion_holds_keep_their_price(lab: Lab, tmp_path: Path) -> None:
    now = lab.clock.now()

    def promote(s: Session) -> None:
        promo = t.Promotion(
            name="flash", kind="flash_price", params={}, starts_at=now, ends_at=now + timedelta(hours=1),
            state="active", created_at=now,
        )  # fmt: skip
        s.add(promo)
        s.flush()
        shop_a = s.scalar(select(t.Shop.id).where(t.Shop.name == "a"))
        cup = s.scalar(select(t.Sku.id).where(t.Sku.code == "CUP"))
        s.add(
            t.PromotionTarget(
                promotion_id=promo.id, shop_id=shop_a, sku_id=cup, method="price", state="active",
                promo_price=800, updated_at=now,
            )
        )  # fmt: skip

    lab.app.db.run_sync(promote)
    f = write_text(tmp_path / "p.csv", "sku,price\nCUP,12.00\n")
    assert hub(lab.app, "price", "import", str(f), "--apply").exit_code == 0
    assert queued(lab) == [("b", "CUP", 1200), ("c", "CUP", 1200)]
    assert sku_price(lab.app, "CUP") == 1200  # what the promotion restores at its end


def test_a_price_changed_while_the_file_was_checked_stops_the_apply(lab: Lab, tmp_path: Path) -> None:
    f = write_text(tmp_path / "race.csv", "sku,price\nCUP,12.00\nLID,3.30\n")
    before = snapshot(lab.app)

    def meanwhile(phase: str, rows: int, fraction: float | None) -> None:
        if phase == "checking":  # someone else changes CUP between the check and the apply
            lab.app.db.run_sync(
                lambda s: s.execute(update(t.Sku).where(t.Sku.code == "CUP").values(price=1500))
            )

    options = ImportOptions(apply=True, actor="ops")
    with pytest.raises(InputError) as caught:
        run_import(lab.app.db, f, "prices", options, now=lab.clock.now, progress=meanwhile)
    assert "line 2: the price changed from 10.00 to 15.00" in str(caught.value)
    after = snapshot(lab.app)
    assert after["audit"] == before["audit"] and after["outbox"] == before["outbox"]
    assert sku_price(lab.app, "LID") == 300  # the other row did not go in either


# --- hub price set ---------------------------------------------------------------------------------


def test_price_set_for_every_shop_and_for_one(lab: Lab) -> None:
    result = hub(lab.app, "price", "set", "CUP", "12.00")
    assert result.exit_code == 0, result.output
    assert "CUP: 10.00 -> 12.00 for every shop; 3 listing push(es) queued" in result.stderr
    assert sku_price(lab.app, "CUP") == 1200
    assert queued(lab) == [("a", "CUP", 1200), ("b", "CUP", 1200), ("c", "CUP", 1200)]
    one = hub(lab.app, "price", "set", "CUP", "11.00", "--shop", "b", "--json")
    assert one.exit_code == 0
    data: dict[str, Any] = json.loads(one.stdout)
    assert data == {
        "sku": "CUP", "shop": "b", "old": 1200, "new": 1100, "changed": True, "queued": 1, "shops": ["b"],
    }  # fmt: skip
    assert queued(lab) == [("a", "CUP", 1200), ("b", "CUP", 1100), ("c", "CUP", 1200)]
    entries = [e for e in audit_rows(lab.app) if e["action"] == "price.set"]
    assert [(e["shop"], e["old"], e["new"], e["source"]) for e in entries] == [
        (None, "1000", "1200", "hub price set"),
        ("b", "1200", "1100", "hub price set"),
    ]


def test_price_set_and_import_queue_the_same_writes(lab: Lab, tmp_path: Path) -> None:
    def payloads(s: Session) -> list[dict[str, Any]]:
        return [e.payload for e in s.scalars(select(t.OutboxEntry).where(t.OutboxEntry.state == "pending"))]

    hub(lab.app, "price", "set", "LID", "3.30")
    by_command = sorted(lab.app.db.run_sync(payloads), key=lambda p: p["platform_sku_id"])
    f = write_text(tmp_path / "p.csv", "sku,price\nLID,3.40\n")
    hub(lab.app, "price", "import", str(f), "--apply")
    by_file = sorted(lab.app.db.run_sync(payloads), key=lambda p: p["platform_sku_id"])
    assert [{**p, "price": 0} for p in by_command] == [{**p, "price": 0} for p in by_file]
    assert {p["price"] for p in by_file} == {340}


def test_price_set_guard_and_errors(lab: Lab) -> None:
    before = snapshot(lab.app)
    refused = hub(lab.app, "price", "set", "CUP", "30.00")
    assert refused.exit_code == 2
    assert "refused: CUP 10.00 -> 30.00; nothing changed" in refused.stderr
    assert "more than 50% (--force allows it)" in refused.stderr
    set_floor(lab, "LID", 250)
    assert "below the floor of 2.50" in hub(lab.app, "price", "set", "LID", "2.00").stderr
    for args, message in [
        (("NOPE", "1.00"), "unknown SKU 'NOPE'"),
        (("CUP", "1.234"), "more than two decimals"),
        (("CUP", "abc"), "price 'abc' is not a number"),
        (("CUP", "11.00", "--shop", "zz"), "unknown shop 'zz'"),
    ]:
        result = hub(lab.app, "price", "set", *args)
        assert result.exit_code == 2 and message in result.stderr, (args, result.stderr)
    same = hub(lab.app, "price", "set", "CUP", "10.00")
    assert same.exit_code == 0 and "already 10.00" in same.stderr
    assert snapshot(lab.app)["outbox"] == before["outbox"] and sku_price(lab.app, "CUP") == 1000
    forced = hub(lab.app, "price", "set", "CUP", "30.00", "--force")
    assert forced.exit_code == 0 and sku_price(lab.app, "CUP") == 3000


def test_price_import_help_documents_the_columns(lab: Lab) -> None:
    text = hub(lab.app, "price", "import", "--help").output
    for word in ("商家编码", "价格", "店铺", "--force", "--partial", "two decimals", "FILE:LINE"):
        assert word in text
