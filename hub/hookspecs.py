"""Hook specifications: the contract between the hub and its platform plugins.

The marker name, the hook prefix and the entry-point group are all ``hub``. A plugin is
a module with ``@hub.hookimpl`` functions, registered by an entry point in the group
``hub``. Full documentation of every hook, with when it is called and what to return,
is in ``docs/plugin_hooks.md``.

Dispatch rules:

* Data hooks (``firstresult=True``) receive a :class:`~hub.platform.ShopContext`. The
  implementation of the shop's platform returns an awaitable or an async iterator;
  every other plugin returns ``None``. Implementations are plain ``def`` functions —
  an ``async def`` would return a coroutine even when the shop is not theirs.
* Broadcast hooks are called on every plugin; an implementation may return an
  awaitable, which the host awaits.
* Hooks are always called with keyword arguments, so an implementation may accept
  just the arguments it needs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import TYPE_CHECKING

import pluggy

PROJECT = "hub"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

if TYPE_CHECKING:
    import click

    from hub.core.alerts import Alert
    from hub.models import (
        Listing,
        ListingRef,
        Order,
        OrderStatus,
        PriceUpdate,
        PromotionPush,
        PushResult,
        Shipment,
        StockLevel,
        StockUpdate,
        TimeWindow,
    )
    from hub.platform import PlatformRegistry, ShopContext
    from hub.report import SyncReport


# --- registration ------------------------------------------------------------------------


@hookspec(historic=True)
def hub_register_platforms(registry: PlatformRegistry) -> None:
    """Declare the platforms this plugin implements by calling ``registry.add(PlatformInfo)``.

    Historic: a plugin registered after start-up is called at registration.
    """


@hookspec
def hub_register_commands(cli: click.Group) -> None:
    """Add click commands or groups to the ``hub`` command line."""


# --- products / listings -------------------------------------------------------------------


@hookspec(firstresult=True)
def hub_fetch_listings(shop: ShopContext) -> AsyncIterator[Listing] | None:
    """Return an async iterator over every listed SKU of ``shop`` (on and off sale)."""


# --- stock ---------------------------------------------------------------------------------


@hookspec(firstresult=True)
def hub_fetch_stock(shop: ShopContext, refs: Sequence[ListingRef]) -> Awaitable[Sequence[StockLevel]] | None:
    """Return an awaitable of the platform's current quantity for each of ``refs``."""


@hookspec(firstresult=True)
def hub_push_stock(
    shop: ShopContext, updates: Sequence[StockUpdate]
) -> Awaitable[Sequence[PushResult]] | None:
    """Return an awaitable that applies ``updates`` and yields one result per update."""


# --- prices --------------------------------------------------------------------------------


@hookspec(firstresult=True)
def hub_push_prices(
    shop: ShopContext, updates: Sequence[PriceUpdate]
) -> Awaitable[Sequence[PushResult]] | None:
    """Return an awaitable that sets the prices in ``updates``; one result per update."""


# --- orders --------------------------------------------------------------------------------


@hookspec(firstresult=True)
def hub_fetch_orders(shop: ShopContext, window: TimeWindow) -> AsyncIterator[Order] | None:
    """Return an async iterator over orders modified within ``window``."""


@hookspec(firstresult=True)
def hub_ship_order(shop: ShopContext, shipment: Shipment) -> Awaitable[PushResult] | None:
    """Return an awaitable that writes ``shipment`` back to the platform."""


# --- promotions ----------------------------------------------------------------------------


@hookspec(firstresult=True)
def hub_start_promotion(shop: ShopContext, push: PromotionPush) -> Awaitable[PushResult] | None:
    """Return an awaitable that starts ``push`` with the platform's promotion API."""


@hookspec(firstresult=True)
def hub_end_promotion(
    shop: ShopContext, push: PromotionPush, platform_ref: str
) -> Awaitable[PushResult] | None:
    """Return an awaitable that ends the native promotion ``platform_ref``."""


# --- broadcasts ----------------------------------------------------------------------------


@hookspec
def hub_order_stored(shop: str, order: Order, previous_status: OrderStatus | None) -> Awaitable[None] | None:
    """Called after an order is stored or its status changed."""


@hookspec
def hub_push_failed(shop: str, kind: str, key: str, error: str) -> Awaitable[None] | None:
    """Called when an outward write fails permanently."""


@hookspec
def hub_sync_finished(report: SyncReport) -> Awaitable[None] | None:
    """Called once at the end of every ``hub sync`` cycle with its report."""


@hookspec
def hub_stock_alerts(alerts: Sequence[Alert]) -> Awaitable[None] | None:
    """Called after a ``hub sync`` cycle that raised new stock alerts, with those alerts
    (e.g. to notify a WeChat Work group). Not called when nothing new was raised."""


__all__ = [
    "PROJECT",
    "hookimpl",
    "hookspec",
    *[name for name in dir() if name.startswith("hub_")],
]
