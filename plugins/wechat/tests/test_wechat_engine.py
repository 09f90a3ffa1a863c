"""The WeChat plugin driven by the hub's sync engine (the lab harness): two WeChat stores
on their own sandboxes share one stock, and tokens are renewed across cycles."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.models import OrderStatus
from hub.simulator.lab import Lab
from hub.testing import FakeClock
from hub.testing.contract import contract_seed

pytestmark = pytest.mark.anyio


@pytest.fixture
def lab(hub_db_url: str, clock: FakeClock) -> Iterator[Lab]:
    lab = Lab.create(
        hub_db_url,
        shops={"a": "wechat", "b": "wechat"},
        seed=contract_seed(),
        clock=clock,
        settings={"partition_below": 0},
    )  # shared
    lab.import_catalogue(on_hand=20, codes=["CUP-500", "CABLE-1M"])
    yield lab
    lab.close()


def buy(lab: Lab, shop: str, code: str, quantity: int = 1) -> str:
    lab.clock.advance(3)  # buyers act a few seconds after the hub's last write
    return lab.sandboxes[shop].state.order_code(code, quantity).order_id


async def test_a_wechat_sale_reaches_the_other_store_and_a_refund_returns_it(lab: Lab) -> None:
    report = await lab.sync()
    assert report.exit_code == 0, report.to_dict()
    assert lab.shown("CUP-500") == {"a": 20, "b": 20}

    order_id = buy(lab, "a", "CUP-500", 3)
    lab.clock.advance(5)
    assert (await lab.sync()).exit_code == 0
    assert lab.shown("CUP-500") == {"a": 17, "b": 17}

    lab.clock.advance(3)
    lab.sandboxes["a"].state.set_status(order_id, OrderStatus.REFUNDED)  # status 200
    lab.clock.advance(5)
    assert (await lab.sync()).exit_code == 0
    assert lab.shown("CUP-500") == {"a": 20, "b": 20}
    assert lab.sandboxes["b"].calls["product/stock/update"] >= 2


async def test_tokens_are_renewed_between_cycles(lab: Lab) -> None:
    assert (await lab.sync()).exit_code == 0
    lab.clock.advance(3 * 3600)  # every token the stores handed out has expired
    buy(lab, "b", "CABLE-1M", 2)
    lab.clock.advance(5)
    report = await lab.sync()
    assert report.exit_code == 0, report.to_dict()
    assert lab.shown("CABLE-1M") == {"a": 18, "b": 18}
    renewals = {name: box.calls["cgi-bin/stable_token"] for name, box in lab.sandboxes.items()}
    assert all(count >= 1 for count in renewals.values())
    lab.clock.advance(60)
    assert (await lab.sync()).exit_code == 0
    # The renewed token was kept (stored for the shop): the next cycle needs no new one.
    assert {name: box.calls["cgi-bin/stable_token"] for name, box in lab.sandboxes.items()} == renewals
