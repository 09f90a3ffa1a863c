"""The JD plugin driven by the hub's sync engine (the lab harness): two JD shops on their
own sandboxes share one stock."""

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
        shops={"a": "jd", "b": "jd"},
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


async def test_a_jd_sale_reaches_the_other_shop_and_a_refund_returns_it(lab: Lab) -> None:
    report = await lab.sync()
    assert report.exit_code == 0, report.to_dict()
    assert lab.shown("CUP-500") == {"a": 20, "b": 20}

    order_id = buy(lab, "a", "CUP-500", 3)
    lab.clock.advance(5)
    assert (await lab.sync()).exit_code == 0
    assert lab.shown("CUP-500") == {"a": 17, "b": 17}

    lab.sandboxes["a"].state.set_status(order_id, OrderStatus.REFUNDED)  # TRADE_CANCELED, paid
    lab.clock.advance(5)
    assert (await lab.sync()).exit_code == 0
    assert lab.shown("CUP-500") == {"a": 20, "b": 20}
    assert lab.sandboxes["b"].calls["jingdong.stock.write.updateSkuStock"] >= 2
