"""The hub's platform contract, run against the JD sandbox through the installed plugin."""

from __future__ import annotations

from typing import ClassVar

from hub.models import OrderStatus
from hub.testing.contract import PlatformContract


class TestJdContract(PlatformContract):
    platform = "jd"
    # JD's token refresh endpoint is UNCONFIRMED: an expired token needs re-authorisation.
    refreshes_tokens = False
    # JD's POP order search lists no unpaid orders, so PENDING_PAYMENT cannot round-trip.
    # A paid-then-refunded order is TRADE_CANCELED with a payment time: REFUNDED.
    statuses: ClassVar[tuple[OrderStatus, ...]] = (
        OrderStatus.AWAITING_SHIPMENT,
        OrderStatus.SHIPPED,
        OrderStatus.COMPLETED,
        OrderStatus.CANCELLED,
        OrderStatus.REFUNDED,
    )
