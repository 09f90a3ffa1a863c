"""pytest fixtures for the hub and its plugins (registered through the ``pytest11``
entry point, so every test suite that installs ``hub`` has them).

* ``anyio_backend`` — async tests run on asyncio (mark them ``@pytest.mark.anyio``);
* ``fake_clock`` — a :class:`~hub.testing.FakeClock`;
* ``hub_db`` — a migrated SQLite database in a temporary folder;
* ``hub_host`` — a plugin host that loads no entry points;
* ``fake_platform`` — ``hub_host`` with the fake platform registered.

Every test session keeps the default secret key of non-SQLite databases in a temporary
folder (``XDG_CONFIG_HOME``), never in the user's ``~/.config/hub``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.plugins import PluginHost
from hub.storage import migrate
from hub.storage.db import Database
from hub.testing.clock import FakeClock
from hub.testing.fake import FakePlatformPlugin


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


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hub_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    migrate.upgrade(db)
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
