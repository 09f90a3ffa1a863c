"""Shared fixtures for the core tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from click.testing import CliRunner, Result

from hub.app import App
from hub.cli import cli
from hub.core.http import RetryPolicy
from hub.plugins import PluginHost
from hub.settings import HubSettings
from hub.testing import FakeClock
from hub.testing.fake import FakePlatformPlugin

Invoke = Callable[..., Result]


def fake_host() -> PluginHost:
    host = PluginHost(autoload=False, blocked=[])
    host.register(FakePlatformPlugin(), name="fake")
    host.register(FakePlatformPlugin("fake_abs", delta_stock=False), name="fake_abs")
    return host


@pytest.fixture
def app(hub_db_url: str, fake_clock: FakeClock) -> Iterator[App]:
    """An App on a fresh database (SQLite, then PostgreSQL: see ``hub_backend``) with the
    fake platforms and a fake clock."""
    app = App(
        settings=HubSettings(database_url=hub_db_url),
        clock=fake_clock,
        host_factory=fake_host,
        retry=RetryPolicy(initial_wait=0.01),
    )
    app.database(create=True)
    yield app
    app.close()


@pytest.fixture
def invoke(app: App) -> Invoke:
    """Run `hub ARGS…` in-process against ``app``; returns click's Result."""
    runner = CliRunner()

    def run(*args: str, **kw: object) -> Result:
        return runner.invoke(cli, list(args), obj=app, catch_exceptions=False, **kw)  # type: ignore[arg-type]

    return run
