"""The database handle: engine, transactions, and running them off the event loop.

The engine is synchronous SQLAlchemy. Async code never touches it directly: it calls
:meth:`Database.run`, which executes one transaction in a worker thread, so database
work never blocks HTTP calls in flight. SQLite (the embedded default) gets WAL, a busy
timeout and ``BEGIN IMMEDIATE`` so several processes can share the file safely;
PostgreSQL needs nothing special.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from hub.errors import ConfigError, StorageError

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (below); pysqlite's implicit transactions would
        # start them lazily and deadlock two writers instead of queueing them.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """One database, by URL (``sqlite:///hub.db``, ``postgresql+psycopg://…``)."""

    def __init__(self, url: str, *, echo: bool = False):
        self.url = url
        try:
            self.engine = create_engine(url, echo=echo)
        except Exception as exc:  # bad URL or missing driver
            raise ConfigError(f"cannot open database {_safe_url(url)}: {exc}") from None
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # One writer at a time per process on SQLite; a small pool elsewhere.
        self._limiter = anyio.CapacityLimiter(1 if self.is_sqlite else 8)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        try:
            with self.sessions.begin() as session:
                yield session
        except OperationalError as exc:
            raise StorageError(f"database error: {exc.orig}") from exc

    def run_sync(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in one transaction, in this thread."""
        with self.transaction() as session:
            return fn(session)

    async def run(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in one transaction in a worker thread."""
        return await anyio.to_thread.run_sync(self.run_sync, fn, limiter=self._limiter)

    def dispose(self) -> None:
        self.engine.dispose()


def insert_or_ignore(session: Session, table: Table, values: dict[str, Any]) -> None:
    """``INSERT … ON CONFLICT DO NOTHING``: a row another transaction inserted first (and
    committed, or commits while this one waits for it) is kept and no error is raised."""
    dialects = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
    name = session.get_bind().dialect.name
    if name not in dialects:
        raise ConfigError(f"unsupported database {name!r}: use SQLite or PostgreSQL")
    session.execute(dialects[name](table).values(**values).on_conflict_do_nothing())


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"
