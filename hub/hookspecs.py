"""Hook specifications: how plugins register with the hub and hear what it does.

The marker name, the hook prefix and the entry-point group are all ``hub``. A plugin is
a module with ``@hub.hookimpl`` functions, registered by an entry point in the group
``hub``. Full documentation of every hook, with when it is called and what to return,
is in ``docs/plugin_hooks.md``.

* A platform plugin implements ``hub_register_platforms`` and registers a
  :class:`~hub.platform.PlatformInfo` naming its client class. The data contract is
  that class (:class:`hub.client.ShopClient`), not hooks: the core calls the client.
* Broadcast hooks are called on every plugin; an implementation may return an
  awaitable, which the host awaits.
* Hooks are always called with keyword arguments, so an implementation may accept
  just the arguments it needs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING

import pluggy

PROJECT = "hub"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

if TYPE_CHECKING:
    import click

    from hub.core.alerts import Alert
    from hub.models import Order, OrderStatus
    from hub.platform import PlatformRegistry
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
