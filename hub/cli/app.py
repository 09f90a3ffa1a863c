"""What every command shares: settings, the database, the plugin host, the clock.

Built lazily, so ``hub --help`` stays fast and a broken plugin cannot break help. Tests
construct an :class:`App` themselves (sandbox transports, a fake clock) and pass it as
the click ``obj``.
"""

from __future__ import annotations

import getpass
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import anyio

from hub.core.breaker import BreakerPolicy
from hub.core.clock import SYSTEM_CLOCK, Clock
from hub.core.http import RetryPolicy
from hub.core.shops import ShopRuntime, TransportFactory
from hub.errors import ConfigError
from hub.plugins import PluginHost
from hub.secrets import RedactingFilter
from hub.settings import HubSettings
from hub.storage import migrate
from hub.storage.db import Database

T = TypeVar("T")
log = logging.getLogger("hub")


@dataclass
class App:
    settings: HubSettings = field(default_factory=HubSettings)
    clock: Clock = SYSTEM_CLOCK
    transport_for: TransportFactory = lambda shop, platform: None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    host_factory: Callable[[], PluginHost] = PluginHost
    verbose: int = 0
    _db: Database | None = field(default=None, init=False)
    _host: PluginHost | None = field(default=None, init=False)

    @property
    def host(self) -> PluginHost:
        if self._host is None:
            self._host = self.host_factory()
            for error in self._host.load_errors:
                print(f"warning: {error}", file=sys.stderr)
        return self._host

    def database(self, *, migrate_fresh: bool = True) -> Database:
        """The database, schema checked: a fresh database is created at the newest
        revision; one at an older revision must be upgraded with ``hub db upgrade``."""
        if self._db is None:
            db = Database(self.settings.database_url)
            if migrate_fresh:
                current = migrate.current_revision(db)
                head = migrate.head_revision(db)
                if current is None:
                    log.info("creating the database schema")
                    migrate.upgrade(db)
                elif current != head:
                    raise ConfigError(
                        f"the database is at revision {current}, this hub needs {head}: run `hub db upgrade`"
                    )
            self._db = db
        return self._db

    @property
    def db(self) -> Database:
        return self.database()

    def runtime(self) -> ShopRuntime:
        return ShopRuntime(
            host=self.host,
            db=self.db,
            clock=self.clock,
            transport_for=self.transport_for,
            retry=self.retry,
            timeout=self.settings.http_timeout,
            breaker_policy=BreakerPolicy(
                threshold=self.settings.breaker_failures,
                cooldown=self.settings.breaker_cooldown_seconds,
                max_cooldown=self.settings.breaker_cooldown_seconds * 10,
            ),
        )

    @property
    def actor(self) -> str:
        if self.settings.actor:
            return self.settings.actor
        try:
            return getpass.getuser()
        except Exception:
            return "unknown"

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()
            self._db = None


def run_async(fn: Callable[[], Awaitable[T]]) -> T:
    """Run an async function to completion from a (synchronous) click command."""
    return anyio.run(fn)


def configure_logging(verbosity: int, quiet: bool) -> None:
    level = logging.WARNING
    if quiet:
        level = logging.ERROR
    elif verbosity == 1:
        level = logging.INFO
    elif verbosity >= 2:
        level = logging.DEBUG
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_hub", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._hub = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs full URLs (tokens included) at INFO; our client logs masked ones.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
