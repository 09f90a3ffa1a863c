"""The hub's platform contract, run against the Douyin sandbox through the installed plugin."""

from __future__ import annotations

from hub.models import OrderStatus
from hub.testing.contract import PlatformContract


class TestDouyinContract(PlatformContract):
    platform = "douyin"
    refreshes_tokens = True
    # Douyin distinguishes partial shipment (101) and paid-then-refunded orders.
    statuses = tuple(OrderStatus)
