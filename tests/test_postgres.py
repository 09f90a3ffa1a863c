"""The engine on PostgreSQL (the scale path). Runs when HUB_TEST_POSTGRES_URL names a
database it may wipe, e.g. postgresql+psycopg://hub:hub@127.0.0.1/hubtest; skipped otherwise."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator

import anyio
import pytest
from sqlalchemy import func, select

from hub.core import catalog
from hub.storage import migrate
from hub.storage import tables as t
from hub.storage.db import Database
from hub.testing import FakeClock
from hub.testing.lab import Lab
from hub.testing.sandbox import Buyers
from tests.conftest import fake_host
from tests.test_engine import SHOPS, buy, seed

URL = os.environ.get("HUB_TEST_POSTGRES_URL")
pytestmark = [pytest.mark.anyio, pytest.mark.skipif(not URL, reason="set HUB_TEST_POSTGRES_URL")]


@pytest.fixture
def lab(fake_clock: FakeClock) -> Iterator[Lab]:
    assert URL
    db = Database(URL)
    with contextlib.suppress(Exception):
        migrate.downgrade(db, "base")
    db.dispose()
    lab = Lab.create(URL, shops=SHOPS, seed=seed(), clock=fake_clock, host_factory=fake_host)
    lab.import_catalogue(on_hand=20, codes=["CUP", "LID"])
    yield lab
    lab.close()


async def test_sales_propagate_and_rereads_are_harmless(lab: Lab) -> None:
    assert lab.app.db.engine.dialect.name == "postgresql"
    await lab.sync()
    buy(lab, "b", "CUP", 3)
    for _ in range(3):
        lab.clock.advance(5)
        report = await lab.sync()
        assert report.exit_code == 0, report.to_dict()
    assert lab.shown("CUP") == {"a": 17, "b": 17, "c": 17}
    orders = lab.app.db.run_sync(lambda s: s.scalar(select(func.count()).select_from(t.Order)))
    assert orders == 1


async def test_partitioned_race_on_postgres(lab: Lab) -> None:
    lab.app.db.run_sync(lambda s: setattr(catalog.sku_by_code(s, "CUP"), "partitioned", True))
    await lab.sync()
    buyers = Buyers(lab.sandboxes, rng=random.Random(3))
    buyers.race_requests(["CUP"], chance=0.4)
    for _ in range(60):
        await lab.sync()
        sold = sum(box.state.units_sold("CUP") for box in lab.sandboxes.values())
        assert sold + sum(lab.shown("CUP").values()) <= 20
        if sold == 20:
            break
        buyers.burst(["CUP"], 2)
        lab.clock.advance(1)
    assert sold >= 19


def test_a_refused_shop_is_one_line_without_its_secrets(lab: Lab) -> None:
    """A constraint violation on PostgreSQL (an app key longer than the column) is answered
    with the database's reason; the INSERT's parameters (secret, token) are never printed."""
    from click.testing import CliRunner

    from hub.cli import cli

    secret, token = "pg-very-secret-app-secret", "pg-very-secret-access-token"
    args = ["shops", "add", "long", "-p", "fake", "--app-key", "k" * 200, "--app-secret", secret]
    result = CliRunner().invoke(cli, [*args, "--access-token", token], obj=lab.app, catch_exceptions=False)
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: the database refused the change: value too long"), line
    assert secret not in result.output and token not in result.output and "INSERT" not in result.output


def test_racing_for_a_missing_lease_never_collides_on_postgres(lab: Lab) -> None:
    from tests.test_leases import race_for_a_lease

    won, errors = race_for_a_lease(URL or "", lab.clock.now())
    assert not errors and len(won) == 1, errors


async def test_per_shop_engines_push_stock_at_once_on_postgres(lab: Lab) -> None:
    from hub.core.engine import SyncEngine

    lab.app.db.run_sync(lambda s: setattr(catalog.sku_by_code(s, "CUP"), "partitioned", True))
    engines = {shop: SyncEngine(lab.app.runtime(), lab.app.settings) for shop in SHOPS}
    for _ in range(4):
        reports: list = []

        async def one(shop: str, reports: list = reports) -> None:
            reports.append(await engines[shop].run_cycle([shop]))

        async with anyio.create_task_group() as group:
            for shop in SHOPS:
                group.start_soon(one, shop)
        assert all(r.exit_code == 0 for r in reports), [r.to_dict() for r in reports]
        sold = sum(box.state.units_sold("CUP") for box in lab.sandboxes.values())
        assert sold + sum(lab.shown("CUP").values()) <= 20
        buy(lab, "a", "CUP", 1)
    assert lab.shown("LID") == {"a": 20, "b": 20, "c": 20}
