"""pytest fixtures for the hub and its plugins (registered through the ``pytest11``
entry point, so every test suite that installs ``hub`` has them).

* ``anyio_backend`` — async tests run on asyncio (mark them ``@pytest.mark.anyio``);
* ``fake_clock`` — a :class:`~hub.testing.FakeClock`;
* ``hub_backend`` — ``"sqlite"`` or ``"postgres"``: every test that asks for a database
  (``hub_db``, ``hub_db_url``) runs once on each, with ``[sqlite]`` / ``[postgres]`` in its
  id; ``-m "not postgres"`` runs the SQLite half only;
* ``hub_db_url`` — the URL of a fresh database at the newest schema revision, on the test's
  backend;
* ``hub_empty_db_url`` — a new database with no tables yet, on the test's backend;
* ``hub_db`` — a :class:`~hub.storage.db.Database` on ``hub_db_url``;
* ``hub_postgres`` — the session's PostgreSQL server (see :mod:`hub.testing.postgres`);
* ``hub_host`` — a plugin host that loads no entry points;
* ``fake_platform`` — ``hub_host`` with the fake platform registered.

Every test session keeps the default secret key of non-SQLite databases in a temporary
folder (``XDG_CONFIG_HOME``), never in the user's ``~/.config/hub``.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.plugins import PluginHost
from hub.storage import migrate
from hub.storage.db import Database
from hub.testing.clock import FakeClock
from hub.testing.fake import FakePlatformPlugin
from hub.testing.postgres import PostgresForTests

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "postgres: runs on PostgreSQL (the session starts a throwaway server on first use)"
    )


@pytest.fixture(scope="session", autouse=True)
def _hub_secret_key_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Databases without a file of their own (PostgreSQL) keep their key under
    ``$XDG_CONFIG_HOME/hub``: a temporary one, shared by the session like such a database."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
        patch.delenv("HUB_SECRET_KEY", raising=False)
        patch.delenv("HUB_SECRET_KEY_FILE", raising=False)
        patch.delenv("HUB_NEW_SECRET_KEY", raising=False)
        yield


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A ``hub`` command run in a test configures the root logger (level, handler), as it
    does in a process of its own; put it back, so no later test's log capture depends on
    which commands ran before it."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.setLevel(level)
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def hub_postgres() -> Iterator[PostgresForTests]:
    """One PostgreSQL server for the whole session, started on first use."""
    pg = PostgresForTests.start()
    yield pg
    pg.close()


@pytest.fixture(scope="session")
def _hub_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (the migrations run once)."""
    path = tmp_path_factory.mktemp("hub-template") / "hub.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    db.dispose()  # the last connection out folds the WAL back into the file
    return path


@pytest.fixture(params=BACKENDS)
def hub_backend(request: pytest.FixtureRequest) -> str:
    """The database backend of this test: ``"sqlite"`` or ``"postgres"``."""
    return request.param


@pytest.fixture
def hub_db_url(hub_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database at the newest revision on the test's backend, by URL."""
    if hub_backend == "sqlite":
        path = tmp_path / "hub.db"
        shutil.copyfile(request.getfixturevalue("_hub_sqlite_template"), path)
        path.chmod(0o600)  # as the hub creates a database file: readable by its owner only
        yield f"sqlite:///{path}"
        return
    pg: PostgresForTests = request.getfixturevalue("hub_postgres")
    url = pg.migrated_database()
    yield url
    pg.release(url)


@pytest.fixture
def hub_empty_db_url(hub_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new database with no tables (for the migrations themselves), on the test's backend."""
    if hub_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    pg: PostgresForTests = request.getfixturevalue("hub_postgres")
    url = pg.empty_database()
    yield url
    pg.drop(url)


@pytest.fixture
def hub_db(hub_db_url: str) -> Iterator[Database]:
    db = Database(hub_db_url)
    yield db
    db.dispose()


@pytest.fixture
def hub_host() -> PluginHost:
    return PluginHost(autoload=False, blocked=[])


@pytest.fixture
def fake_platform(hub_host: PluginHost) -> FakePlatformPlugin:
    plugin = FakePlatformPlugin()
    hub_host.register(plugin, name="fake")
    return plugin
