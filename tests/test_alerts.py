"""Stock alerts (安全库存预警, issue 12): what `hub stock alerts` lists, what `hub sync`
reports once as new, and the hook a plugin notifies people from."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from click.testing import CliRunner, Result

import hub
from hub.cli import cli
from hub.core import catalog
from hub.core.alerts import Alert
from hub.simulator.lab import Lab
from tests.test_engine import engine_lab


class Notifier:
    """A plugin that would post to a WeChat Work group."""

    def __init__(self) -> None:
        self.sent: list[list[Alert]] = []

    @hub.hookimpl
    def hub_stock_alerts(self, alerts: Sequence[Alert]) -> None:
        self.sent.append(list(alerts))


lab = engine_lab(settings=None, on_hand=100)


def hub_cli(lab: Lab, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj=lab.app, catch_exceptions=False)


def standing(lab: Lab, *args: str) -> dict[tuple[str, str], dict]:
    result = hub_cli(lab, "stock", "alerts", "--json", *args)
    assert result.exit_code == 0, result.output
    return {(a["kind"], a["sku"]): a for a in json.loads(result.stdout)}


def buy(lab: Lab, shop: str, code: str, qty: int) -> None:
    lab.clock.advance(3)
    lab.sandboxes[shop].state.order_code(code, qty)


@pytest.mark.anyio
async def test_each_kind_of_alert_names_the_sku_the_shops_and_the_numbers(lab: Lab) -> None:
    def safety(session):  # type: ignore[no-untyped-def]
        lid = catalog.sku_by_code(session, "LID")
        lid.safety_stock = 5
        catalog.set_on_hand(session, lid, 6, None, lab.clock.now())

    lab.app.db.run_sync(safety)
    await lab.sync()
    assert standing(lab) == {}

    buy(lab, "a", "CUP", 60)  # 60 sold in a day: 40 sellable last 40 ÷ (60 / 7 days) = 4.7 days
    buy(lab, "b", "CUP", 30)  # 90 sold: 10 sellable ÷ 12.9 a day = 0.8 days of cover
    lid_shop = max(lab.shown("LID").items(), key=lambda x: x[1])[0]  # its 1 sellable unit is there
    buy(lab, lid_shop, "LID", 1)  # LID: 5 free, at its safety stock
    lab.clock.advance(5)
    await lab.sync()
    assert hub_cli(lab, "stock", "rules", "set", "b", "--sku", "CUP", "--share", "0").exit_code == 0
    lab.clock.advance(5)
    await lab.sync()  # b's CUP listing goes to 0 although b is selling it

    found = standing(lab)
    assert set(found) == {
        ("low_cover", "CUP"),
        ("zero_on_selling_channel", "CUP"),
        ("safety_stock", "LID"),
        ("low_cover", "LID"),
    }
    cover = found[("low_cover", "CUP")]
    assert (cover["shops"], cover["sellable"], cover["daily_sales"], cover["days_of_cover"]) == (
        ["a", "b"],
        10,
        12.86,
        0.78,
    )
    assert cover["message"] == "CUP: 0.8 days of cover (10 sellable ÷ 12.9 sold a day over 7 days) < 3"
    zero = found[("zero_on_selling_channel", "CUP")]
    assert (zero["shops"], zero["sold"], zero["sellable"]) == (["b"], 30, 10)
    lid = found[("safety_stock", "LID")]
    assert (lid["shops"], lid["free"], lid["safety"]) == (["a", "b", "c"], 5, 5)
    assert lid["message"] == "LID: 5 free (on hand 6 − reserved 1) at or below safety stock 5"
    assert set(standing(lab, "--cover-days", "0.5")) == set(found) - {("low_cover", "CUP")}

    lab.clock.advance(4 * 86400)  # nobody ships LID's order: it holds its unit for 4 days
    stuck = standing(lab)[("stuck_reservation", "LID")]
    assert (stuck["shops"], stuck["orders"], stuck["units"]) == ([lid_shop], 1, 1)
    assert stuck["message"].startswith(f"LID: 1 open order on {lid_shop} older than 3 days hold 1 units")
    assert ("stuck_reservation", "LID") not in standing(lab, "--stuck-days", "5")


def test_sync_reports_a_new_alert_once_and_passes_it_to_plugins(lab: Lab) -> None:
    notifier = Notifier()
    lab.app.host.register(notifier, name="notifier")
    first = hub_cli(lab, "sync", "--json")
    assert json.loads(first.stdout)["alerts"] == []
    assert notifier.sent == []  # nothing new: the hook is not called

    buy(lab, "a", "CUP", 95)
    lab.clock.advance(5)
    result = hub_cli(lab, "sync")
    assert "stock alert: CUP: 0.4 days of cover (5 sellable ÷ 13.6 sold a day over 7 days) < 3" in (
        result.stderr
    )
    assert [[a.key for a in sent] for sent in notifier.sent] == [["low_cover:CUP"]]

    lab.clock.advance(5)
    again = hub_cli(lab, "sync", "--json")
    assert json.loads(again.stdout)["alerts"] == []  # still standing, already said
    assert "stock alert" not in again.stderr
    assert len(notifier.sent) == 1

    lab.app.db.run_sync(
        lambda s: catalog.set_on_hand(s, catalog.sku_by_code(s, "CUP"), 500, None, lab.clock.now())
    )
    lab.clock.advance(5)
    assert json.loads(hub_cli(lab, "sync", "--json").stdout)["alerts"] == []  # cleared
    buy(lab, "a", "CUP", 400)
    lab.clock.advance(5)
    back = json.loads(hub_cli(lab, "sync", "--json").stdout)["alerts"]
    assert [(a["kind"], a["sku"], a["shops"]) for a in back] == [("low_cover", "CUP", ["a"])]  # new again


class BrokenNotifier:
    @hub.hookimpl
    def hub_stock_alerts(self, alerts: Sequence[Alert]) -> None:
        raise RuntimeError("the work group robot is down")


def test_a_notifier_that_fails_does_not_fail_the_sync(lab: Lab) -> None:
    lab.app.host.register(BrokenNotifier(), name="broken")
    assert hub_cli(lab, "sync").exit_code == 0
    buy(lab, "a", "CUP", 95)
    lab.clock.advance(5)
    result = hub_cli(lab, "sync", "--json")
    assert result.exit_code == 0
    assert [a["kind"] for a in json.loads(result.stdout)["alerts"]] == ["low_cover"]
