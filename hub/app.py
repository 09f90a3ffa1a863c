"""What every entry point shares (the CLI, the console, the simulator): settings, the
database, the plugin host, the clock.

Built lazily, so ``hub --help`` stays fast and a broken plugin cannot break help. Tests
construct an :class:`App` themselves (sandbox transports, a fake clock) and pass it as
the click ``obj``.
"""

from __future__ import annotations

import getpass
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from hub.core.breaker import BreakerPolicy
from hub.core.clock import SYSTEM_CLOCK, Clock
from hub.core.http import RetryPolicy
from hub.core.shops import ShopRuntime, TransportFactory
from hub.core.stock.picture import Picture, load_picture
from hub.errors import ConfigError
from hub.plugins import PluginHost
from hub.settings import HubSettings, load_settings
from hub.storage import migrate
from hub.storage.db import Database, database_exists, describe_database, reason

log = logging.getLogger("hub")

_START_HINT = (
    "start one with `hub shops add` (or `hub db upgrade`), or point --database-url / "
    "HUB_DATABASE_URL at your hub's database"
)


class InvalidSettings:
    """Stands in for settings the environment got wrong, so that ``--help`` still works:
    reading any setting raises the one-line :class:`ConfigError` naming the variable."""

    def __init__(self, error: ConfigError):
        self.error = error

    def __getattr__(self, name: str) -> Any:
        raise ConfigError(str(self.error))


def settings_from_environment() -> HubSettings:
    """The ``HUB_*`` settings, or an :class:`InvalidSettings` that raises when first read."""
    try:
        return load_settings()
    except ConfigError as exc:
        return cast(HubSettings, InvalidSettings(exc))


@dataclass
class App:
    settings: HubSettings = field(default_factory=settings_from_environment)
    clock: Clock = SYSTEM_CLOCK
    transport_for: TransportFactory = lambda shop, platform: None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    host_factory: Callable[[], PluginHost] = PluginHost
    verbose: int = 0
    quiet: bool = False
    _db: Database | None = field(default=None, init=False)
    _host: PluginHost | None = field(default=None, init=False)

    @property
    def host(self) -> PluginHost:
        if self._host is None:
            self._host = self.host_factory()
            for error in self._host.load_errors:
                print(f"warning: {error}", file=sys.stderr)
        return self._host

    def database(self, *, migrate_fresh: bool = True, create: bool = False) -> Database:
        """The database, schema checked. Only ``create=True`` (``hub shops add``, ``hub db
        upgrade``, the demo) may start a new one: elsewhere a missing database is an error
        naming it, so a job run from the wrong folder fails loudly instead of syncing an
        empty hub. One at an older revision must be upgraded with ``hub db upgrade``.
        ``migrate_fresh=False`` skips the schema check (the ``hub db`` commands)."""
        if self._db is None:
            url = self.settings.database_url
            where = describe_database(url)
            if not create and not database_exists(url):
                raise ConfigError(f"no hub database at {where}; {_START_HINT}")
            db = Database(url)
            try:
                if migrate_fresh:
                    current = migrate.current_revision(db)
                    head = migrate.head_revision(db)
                    if current is None:
                        if not create:
                            raise ConfigError(f"{where} holds no hub database; {_START_HINT}")
                        log.info("creating the database schema")
                        migrate.upgrade(db)
                    elif current != head:
                        raise ConfigError(
                            f"the database is at revision {current}, this hub needs {head}: "
                            "run `hub db upgrade`"
                        )
                else:
                    with db.engine.connect():  # fail here, in one line, if it cannot be opened
                        pass
            except SQLAlchemyError as exc:
                db.dispose()
                raise ConfigError(f"cannot open database {where}: {reason(exc)}") from None
            except ConfigError:
                db.dispose()
                raise
            self._db = db
        return self._db

    @property
    def db(self) -> Database:
        return self.database()

    def stock_picture(self, session: Session) -> Picture:
        """The stock picture now, under this hub's settings (what ``hub stock show``, the
        stock report and the console show)."""
        return load_picture(
            session,
            self.clock.now(),
            safety_default=self.settings.safety_stock,
            partition_below=self.settings.partition_below,
            sales_window=timedelta(minutes=self.settings.sales_window_minutes),
        )

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
