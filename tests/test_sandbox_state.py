"""The sandbox toolkit's shop state: the shortcuts tests and buyers use to place orders."""

from __future__ import annotations

import pytest

from hub.models import OrderStatus
from hub.simulator import SandboxError, ShopState
from hub.testing import FakeClock


def shop() -> ShopState:
    state = ShopState(FakeClock())
    item = state.add_item("Cup")
    state.add_sku(item, code="CUP", spec="red", price=1_000, quantity=5)
    state.add_sku(item, code="CUP", spec="blue", price=1_000, quantity=5)
    return state


def test_an_order_by_master_code_takes_the_first_sku_with_that_code() -> None:
    state = shop()
    first = state.skus_by_code("CUP")[0]
    order = state.order_code("CUP", 2)
    assert [(line.sku_id, line.quantity) for line in order.lines] == [(first.sku_id, 2)]
    assert order.status is OrderStatus.AWAITING_SHIPMENT and first.quantity == 3
    assert state.order_code("CUP", paid=False).status is OrderStatus.PENDING_PAYMENT


def test_an_order_for_an_unknown_master_code_names_it() -> None:
    state = shop()
    with pytest.raises(SandboxError, match="'TEA'"):
        state.order_code("TEA")
    assert state.orders == {}
