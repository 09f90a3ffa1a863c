"""`hub promo create` against the four platform sandboxes: native limits decided at create,
no failed outbox row left behind by a fallback, and --push failures in the exit code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hub.cli import cli
from hub.core.http import RetryPolicy
from hub.simulator.lab import Lab
from hub.testing import FakeClock
from hub.units import CN_TZ
from tests.test_platforms import SHOPS, catalogue


@pytest.fixture
def lab(tmp_path: Path, fake_clock: FakeClock) -> Iterator[Lab]:
    lab = Lab.create(
        f"sqlite:///{tmp_path / 'hub.db'}",
        shops=SHOPS,
        seed=catalogue(),
        clock=fake_clock,
        retry=RetryPolicy(initial_wait=0),
    )
    lab.import_catalogue(on_hand=20)
    yield lab
    lab.close()


def hub(lab: Lab, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj=lab.app, catch_exceptions=False)


def when(lab: Lab, hours: float) -> str:
    from datetime import timedelta

    return (lab.clock.now() + timedelta(hours=hours)).astimezone(CN_TZ).strftime("%Y-%m-%d %H:%M")


def price_of(lab: Lab, shop: str, code: str) -> int:
    box = lab.sandboxes[shop]
    return box.state.effective_price(box.state.skus_by_code(code)[0].sku_id)


def create(lab: Lab, *args: str, hours: float = 2) -> Result:
    return hub(
        lab, "promo", "create", "--name", "sale", "--sku", "CUP-500", *[f"--shop={s}" for s in SHOPS],
        "--start", when(lab, 0), "--end", when(lab, hours), *args,
    )  # fmt: skip


def test_a_promotion_longer_than_wechat_allows_is_a_price_change_there_from_the_start(lab: Lab) -> None:
    assert hub(lab, "sync").exit_code == 0
    result = create(lab, "--kind", "percent_discount", "--percent-off", "20", "--json", hours=72)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    [note] = data["notes"]
    assert note["shop"] == "wx" and note["sku"] == "CUP-500"
    assert (
        note["note"]
        == "applied as a price change: lasts longer than 24 h (wechat's limit for native promotions)"
    )
    shown = {
        x["shop"]: x
        for x in json.loads(hub(lab, "promo", "show", str(data["created"][0]), "--json").output)["targets"]
    }
    assert shown["wx"]["method"] == "price" and "24 h" in shown["wx"]["error"]
    report = hub(lab, "sync", "--stream", "promotions", "--json")
    assert report.exit_code == 0, report.output
    lab.clock.advance(5)
    assert price_of(lab, "wx", "CUP-500") == 10320
    assert not lab.sandboxes["wx"].tasks  # no native task was ever attempted
    assert json.loads(hub(lab, "outbox", "list", "--failed", "--json").output) == []
    said = create(lab, "--kind", "percent_discount", "--percent-off", "20", hours=100)
    assert said.exit_code == 2 and "overlaps promotion" in said.stderr


def test_a_discount_outside_wechats_range_is_decided_at_create(lab: Lab) -> None:
    result = create(lab, "--kind", "percent_discount", "--percent-off", "5", "--json")
    [note] = json.loads(result.output)["notes"]
    assert note["shop"] == "wx"
    assert (
        "122.55 is over 85% of the regular 129.00" in note["note"] and "saves less than 10.00" in note["note"]
    )
    within = create(lab, "--kind", "flash_price", "--flash-price", "99.00", "--json", hours=30)
    assert within.exit_code == 2 and "overlaps" in within.stderr


def test_a_refused_native_start_falls_back_without_a_failed_row(lab: Lab) -> None:
    assert hub(lab, "sync").exit_code == 0
    box = lab.sandboxes["wx"]
    sku = box.state.skus_by_code("CUP-500")[0]
    now = int(lab.clock.now().timestamp())
    # Someone started a flash sale on this product in the WeChat back office.
    offer = [{"sku_id": sku.sku_id, "sale_price": 10000, "sale_stock": 1}]
    box._task_add(
        {"product_id": sku.item_id, "start_time": now, "end_time": now + 3600, "limited_discount_skus": offer}
    )
    result = create(lab, "--kind", "flash_price", "--flash-price", "99.00", "--push")
    assert result.exit_code == 0, result.output
    lab.clock.advance(5)
    assert box.state.skus_by_code("CUP-500")[0].price == 9900  # the fallback price change
    assert json.loads(hub(lab, "outbox", "list", "--failed", "--json").output) == []
    entries = json.loads(hub(lab, "outbox", "list", "--json").output)
    [start] = [e for e in entries if e["kind"] == "promotion_start" and e["shop"] == "wx"]
    assert start["state"] == "superseded" and "applied as price changes instead" in start["error"]
    assert "0 entries will be retried" in hub(lab, "outbox", "retry", "--all-failed").stderr


def test_push_with_a_failed_shop_exits_non_zero(lab: Lab) -> None:
    assert hub(lab, "sync").exit_code == 0
    lab.sandboxes["jd"].faults.set_rate("reset", 1.0)
    result = create(lab, "--kind", "flash_price", "--flash-price", "99.00", "--push")
    assert result.exit_code == 1, result.output
    assert "1 shop(s) failed: jd:" in result.stderr and "the next `hub sync` retries" in result.stderr
    lab.sandboxes["jd"].faults.clear()
    lab.clock.advance(3600)
    assert hub(lab, "sync", "--stream", "promotions").exit_code == 0
    lab.clock.advance(5)
    assert price_of(lab, "jd", "CUP-500") == 9900
