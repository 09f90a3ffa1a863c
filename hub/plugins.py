"""The plugin host: loads platform plugins and is the only caller of ``pm.hook``.

pluggy does discovery (entry points in the group ``hub``), registration (each plugin's
platforms go into :attr:`PluginHost.registry`), broadcasts (``notify_*``, awaited when a
listener returns an awaitable) and commands. Data does not go through hooks: the core
calls the operations of each shop's client (:class:`hub.client.ShopClient`) directly.

Environment:

* ``HUB_DISABLE_PLUGINS=a,b`` blocks plugins by entry-point name;
* ``HUB_PLUGINS_AUTOLOAD=0`` skips entry-point loading entirely (tests);
* ``HUB_TRACE_PLUGINS=1`` logs every hook call at DEBUG.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from hub import hookspecs
from hub.errors import PluginError, PluginLoadError
from hub.models import Order, OrderStatus
from hub.platform import PlatformInfo, PlatformRegistry

log = logging.getLogger("hub.plugins")

ENV_DISABLE = "HUB_DISABLE_PLUGINS"
ENV_AUTOLOAD = "HUB_PLUGINS_AUTOLOAD"
ENV_TRACE = "HUB_TRACE_PLUGINS"


@dataclass(frozen=True)
class PluginInfo:
    """One registered plugin, as ``hub plugins list`` shows it."""

    name: str
    distribution: str | None
    version: str | None
    platforms: list[str]
    hooks: list[str]


@dataclass
class PluginHost:
    """Loads plugins, holds their platforms and calls the broadcast hooks; see the module docstring."""

    autoload: bool | None = None
    blocked: Iterable[str] | None = None
    pm: pluggy.PluginManager = field(init=False)
    registry: PlatformRegistry = field(init=False, default_factory=PlatformRegistry)
    load_errors: list[PluginLoadError] = field(init=False, default_factory=list)
    _dists: dict[str, tuple[str, str]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        blocked = self.blocked
        if blocked is None:
            blocked = [b for b in os.environ.get(ENV_DISABLE, "").split(",") if b.strip()]
        for name in blocked:
            self.pm.set_blocked(name.strip())
        autoload = self.autoload
        if autoload is None:
            autoload = os.environ.get(ENV_AUTOLOAD, "1").lower() not in ("0", "false", "no")
        if autoload:
            for ep in entry_points(group=hookspecs.PROJECT):
                self._load_entry_point(ep)
        if os.environ.get(ENV_TRACE):
            self.pm.trace.root.setwriter(lambda msg: log.debug("trace: %s", msg.rstrip()))
            self.pm.enable_tracing()

    # --- loading ----------------------------------------------------------------------------

    def _load_entry_point(self, ep: EntryPoint) -> None:
        if self.pm.is_blocked(ep.name) or self.pm.has_plugin(ep.name):
            return
        dist = ep.dist.name if ep.dist is not None else None
        try:
            plugin = ep.load()
            self.register(plugin, name=ep.name)
        except Exception as exc:  # a broken plugin must not take the CLI down
            error = PluginLoadError(ep.name, dist, exc)
            self.load_errors.append(error)
            log.warning("%s", error)
            return
        if ep.dist is not None:
            self._dists[ep.name] = (ep.dist.name, ep.dist.version)

    def register(self, plugin: object, name: str | None = None) -> str:
        """Register a plugin object (module or instance) and its platforms.

        Raises :class:`~hub.errors.PluginError` if it implements unknown hooks or claims
        a platform code another plugin has; nothing of it stays registered then."""
        registered = self.pm.register(plugin, name=name)
        if registered is None:
            raise PluginError(f"plugin {name!r} is blocked")
        try:
            self.pm.check_pending()
            self._register_platforms_of(plugin, registered)
        except Exception:
            self.pm.unregister(plugin)
            raise
        return registered

    def _register_platforms_of(self, plugin: object, name: str) -> None:
        for impl in self.pm.hook.hub_register_platforms.get_hookimpls():
            if impl.plugin is plugin:
                self.registry.current_plugin = name
                try:
                    impl.function(registry=self.registry)
                finally:
                    self.registry.current_plugin = ""

    # --- introspection ------------------------------------------------------------------------

    def platform(self, code: str) -> PlatformInfo:
        """The registered platform ``code`` (UnknownPlatform lists the installed ones)."""
        return self.registry.get(code)

    def list_plugins(self) -> list[PluginInfo]:
        """Every registered plugin with its distribution, version, platforms and hooks."""
        out = []
        for name, plugin in sorted(self.pm.list_name_plugin()):
            if plugin is None:
                continue
            dist, version = self._dists.get(name, (None, None))
            hooks = sorted(h.name for h in (self.pm.get_hookcallers(plugin) or []))
            platforms = [p.code for p in self.registry if p.plugin == name]
            out.append(PluginInfo(name, dist, version, platforms, hooks))
        return out

    # --- broadcasts -----------------------------------------------------------------------------

    async def notify_order_stored(self, shop: str, order: Order, previous_status: OrderStatus | None) -> None:
        await self._broadcast("hub_order_stored", shop=shop, order=order, previous_status=previous_status)

    async def notify_push_failed(self, shop: str, kind: str, key: str, error: str) -> None:
        await self._broadcast("hub_push_failed", shop=shop, kind=kind, key=key, error=error)

    async def notify_sync_finished(self, report: Any) -> None:
        await self._broadcast("hub_sync_finished", report=report)

    async def notify_stock_alerts(self, alerts: Sequence[Any]) -> None:
        await self._broadcast("hub_stock_alerts", alerts=alerts)

    def register_commands(self, cli: Any) -> None:
        self.pm.hook.hub_register_commands(cli=cli)

    def has_listeners(self, hook: str) -> bool:
        return bool(getattr(self.pm.hook, hook).get_hookimpls())

    # --- helpers ---------------------------------------------------------------------------------

    async def _broadcast(self, hook: str, **kwargs: Any) -> None:
        for result in getattr(self.pm.hook, hook)(**kwargs):
            if inspect.isawaitable(result):
                await result
