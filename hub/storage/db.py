"""The database handle: engine, transactions, and running them off the event loop.

The engine is synchronous SQLAlchemy. Async code never touches it directly: it calls
:meth:`Database.run`, which executes one transaction in a worker thread, so database
work never blocks HTTP calls in flight. SQLite (the embedded default) gets WAL, a busy
timeout and ``BEGIN IMMEDIATE`` so several processes can share the file safely;
PostgreSQL needs nothing special.

Secrets are stored sealed (:mod:`hub.storage.secretbox`); every session carries the
database's :class:`SecretBox` in ``session.info["secrets"]`` (see :func:`secrets_of`). A new
SQLite file is created readable by its owner only (0600).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from hub.errors import ConfigError, StorageError, StorageRefused
from hub.storage.secretbox import KeySource, SecretBox

T = TypeVar("T")
log = logging.getLogger(__name__)

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
        # Zero a row's old bytes when it is rewritten in place (a re-sealed secret must not
        # leave its previous form behind); FAST costs no extra I/O.
        cursor.execute("PRAGMA secure_delete=FAST")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """One database, by URL (``sqlite:///hub.db``, ``postgresql+psycopg://…``)."""

    def __init__(self, url: str, *, echo: bool = False, secrets: SecretBox | None = None):
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
            _create_private_file(self.engine.url.database)
            _configure_sqlite(self.engine)
        self.secrets = secrets or SecretBox(KeySource.for_database(self.engine.url))
        self.sessions = sessionmaker(self.engine, expire_on_commit=False, info={"secrets": self.secrets})
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

    def scrub(self) -> None:
        """Best effort to drop old row versions after secrets were rewritten (migration,
        rotation): SQLite folds its write-ahead log into the file and truncates it;
        PostgreSQL rewrites the shops table without its dead rows."""
        try:
            with self.engine.connect() as conn:
                if self.is_sqlite:
                    # On the DBAPI connection: no BEGIN, which a checkpoint cannot run inside.
                    raw: Any = conn.connection.dbapi_connection
                    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                elif self.engine.dialect.name == "postgresql":
                    conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                    conn.exec_driver_sql("SET lock_timeout = '5s'")
                    conn.exec_driver_sql("VACUUM FULL shops")
        except Exception as exc:  # the secrets are safe either way; only old copies may linger
            log.warning("could not compact the database after rewriting secrets: %s", exc)

    def dispose(self) -> None:
        self.engine.dispose()


def secrets_of(session: Session) -> SecretBox:
    """The :class:`SecretBox` of the database ``session`` belongs to."""
    box = session.info.get("secrets")
    if not isinstance(box, SecretBox):
        raise StorageError("this session was not opened by hub.storage.db.Database: it has no secret key")
    return box


def dialect_insert(session: Session, table: Any) -> postgresql.Insert | sqlite.Insert:
    """An ``INSERT`` into ``table`` (a table or mapped class) in the session's dialect, so
    it can say ``ON CONFLICT …`` (PostgreSQL and SQLite spell it the same way)."""
    dialects = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
    name = session.get_bind().dialect.name
    if name not in dialects:
        raise ConfigError(f"unsupported database {name!r}: use SQLite or PostgreSQL")
    return dialects[name](table)


def insert_or_ignore(session: Session, table: Table, values: dict[str, Any]) -> None:
    """``INSERT … ON CONFLICT DO NOTHING``: a row another transaction inserted first (and
    committed, or commits while this one waits for it) is kept and no error is raised."""
    session.execute(dialect_insert(session, table).values(**values).on_conflict_do_nothing())


def _create_private_file(database: str | None) -> None:
    """Create a new SQLite file as 0600 before SQLite creates it with the umask's mode
    (SQLite gives its -wal and -shm files the database file's mode)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    # OSError: it exists, or its folder does not (SQLite reports that when it connects).
    with contextlib.suppress(OSError):
        os.close(os.open(Path(database), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


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
