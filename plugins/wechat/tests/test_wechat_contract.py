"""The hub's platform contract, run against the WeChat sandbox through the installed
entry point."""

from __future__ import annotations

from hub.models import OrderStatus
from hub.testing.contract import PlatformContract


class TestWechatContract(PlatformContract):
    platform = "wechat"
    refreshes_tokens = True
    statuses = (
        OrderStatus.PENDING_PAYMENT,
        OrderStatus.AWAITING_SHIPMENT,
        OrderStatus.PARTLY_SHIPPED,
        OrderStatus.SHIPPED,
        OrderStatus.COMPLETED,
        OrderStatus.CANCELLED,
        OrderStatus.REFUNDED,
    )
