"""The hub's platform contract, run against the Taobao plugin and its sandbox."""

from __future__ import annotations

from hub.models import OrderStatus
from hub.testing.contract import PlatformContract


class TestTaobaoContract(PlatformContract):
    platform = "taobao"
    # A TOP session is renewed by re-authorising the shop, not by the hub.
    refreshes_tokens = False
    statuses = (
        OrderStatus.PENDING_PAYMENT,
        OrderStatus.AWAITING_SHIPMENT,
        OrderStatus.PARTLY_SHIPPED,
        OrderStatus.SHIPPED,
        OrderStatus.COMPLETED,
        OrderStatus.CANCELLED,
        OrderStatus.REFUNDED,
    )
