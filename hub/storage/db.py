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
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from hub.errors import ConfigError, StorageError, StorageRefused

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
            hint = ""
            if "psycopg" in str(exc):
                hint = " (install the PostgreSQL driver: pip install 'psycopg[binary]')"
            raise ConfigError(f"cannot open database {_safe_url(url)}: {exc}{hint}") from None
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
        except SQLAlchemyError as exc:  # its text carries the SQL and its parameters: never shown
            raise storage_error(exc) from exc
        except OverflowError as exc:  # sqlite3 raises it unwrapped for an integer beyond 64 bits
            raise StorageRefused(f"the database cannot store a value: {exc}") from exc

    def run_sync(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in one transaction, in this thread."""
        with self.transaction() as session:
            return fn(session)

    async def run(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in one transaction in a worker thread."""
        return await anyio.to_thread.run_sync(self.run_sync, fn, limiter=self._limiter)

    def dispose(self) -> None:
        self.engine.dispose()


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"


def reason(exc: BaseException) -> str:
    """What went wrong in a database error, in one line: the driver's first line, never
    the SQL statement or its parameters (they may hold an app secret or a token)."""
    orig = getattr(exc, "orig", None)
    source = orig if isinstance(orig, BaseException) else exc
    if isinstance(source, SQLAlchemyError) and not isinstance(source, DBAPIError):
        # SQLAlchemy's own messages append the statement and parameters after a newline too.
        text = str(source.args[0]) if source.args else type(source).__name__
    else:
        text = str(source)
    first = text.strip().splitlines()[0] if text.strip() else type(source).__name__
    return first.strip()


def storage_error(exc: SQLAlchemyError) -> StorageError:
    """The hub's error for a database error: :class:`StorageRefused` (exit 2) when the data
    broke a constraint, :class:`StorageError` otherwise; either way one safe line."""
    if isinstance(exc, IntegrityError | DataError):
        return StorageRefused(f"the database refused the change: {reason(exc)}")
    if isinstance(exc, StatementError) and isinstance(exc.orig, ValueError | OverflowError | TypeError):
        # A value the driver cannot even send (a number beyond 64 bits): the input's fault.
        return StorageRefused(f"the database cannot store a value: {reason(exc)}")
    return StorageError(f"database error: {reason(exc)}")


def database_exists(url: str) -> bool:
    """False only for a SQLite file that does not exist (connecting would create it).
    Server databases are always assumed to exist; connecting tells."""
    try:
        parsed = make_url(url)
    except Exception:
        return True  # let Database() report the bad URL
    if parsed.get_backend_name() != "sqlite":
        return True
    name = parsed.database or ""
    if name in ("", ":memory:") or name.startswith("file:") or parsed.query.get("mode") == "memory":
        return True
    return Path(name).exists()


def describe_database(url: str) -> str:
    """The database for messages: its URL without password, plus the absolute path of a
    SQLite file (so a cron job run from the wrong folder shows which file it opened)."""
    safe = _safe_url(url)
    try:
        parsed = make_url(url)
    except Exception:
        return safe
    name = parsed.database or ""
    is_file = name not in ("", ":memory:") and not name.startswith("file:")
    if parsed.get_backend_name() == "sqlite" and is_file:
        absolute = str(Path(name).resolve())
        if absolute != name:
            return f"{safe} ({absolute})"
    return safe
