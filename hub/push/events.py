"""What a platform plugin turns a raw push into: hub events, and the answer to send.

The core knows nothing of any platform's push format. It hands the plugin a
:class:`PushRequest` (method, headers, query, raw body) through
:meth:`hub.client.ShopClient.parse_push`; the plugin verifies it with the shop's
credentials and returns a :class:`ParsedPush` — the :class:`PushEvent` list and the
:class:`PushAnswer` the platform expects — or raises a :class:`hub.errors.BadPush`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


class EventKind(enum.StrEnum):
    """What a push announces. Order events name an order, product/stock events a listing."""

    ORDER_CREATED = "order_created"
    ORDER_PAID = "order_paid"
    ORDER_CANCELLED = "order_cancelled"
    ORDER_SHIPPED = "order_shipped"
    ORDER_REFUNDED = "order_refunded"
    ORDER_CHANGED = "order_changed"  # any other change of an order (amount, address, completion…)
    PRODUCT_CHANGED = "product_changed"
    STOCK_CHANGED = "stock_changed"

    @property
    def is_order(self) -> bool:
        return self.value.startswith("order_")


@dataclass(frozen=True)
class PushRequest:
    """A raw push as it reached us. ``headers`` keys are lower case."""

    method: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class PushEvent:
    """One announced change.

    ``message_id`` is the platform's id of the message (unique per shop; the inbox key).
    ``topic`` is the platform's own name of the event (tag, topic, Event), for the log.
    Order events carry ``order_id``; product and stock events ``item_id`` and, when the
    platform names it, ``sku_id``."""

    message_id: str
    kind: EventKind
    topic: str = ""
    order_id: str | None = None
    item_id: str | None = None
    sku_id: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class PushAnswer:
    """The HTTP answer the platform expects."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"


@dataclass(frozen=True)
class ParsedPush:
    """A verified push: its events (possibly none: a topic the hub does not use), the
    answer to send once they are stored, and ``sent_at`` when the push carries its own
    timestamp (checked against replays by the core)."""

    events: list[PushEvent]
    answer: PushAnswer
    sent_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)
