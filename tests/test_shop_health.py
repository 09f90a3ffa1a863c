"""Each shop's circuit breaker, persisted by the engine when it changes (the breaker itself
lives in the syncing process's memory), and shown by `hub shops list` and the console."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hub.cli import cli
from hub.core import health, reports
from hub.core.breaker import BreakerPolicy, CircuitBreaker
from hub.secrets import register_secret
from hub.simulator.lab import Lab
from hub.storage import tables as t
from hub.testing import FakeClock
from tests.conftest import fake_host
from tests.console_kit import Console, add_users
from tests.test_breaker import Down
from tests.test_engine import SHOPS, seed

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture
def lab(hub_db_url: str, fake_clock: FakeClock) -> Iterator[Lab]:
    lab = Lab.create(
        hub_db_url,
        shops=SHOPS,
        seed=seed(),
        clock=fake_clock,
        host_factory=fake_host,
        settings={"breaker_failures": 3, "breaker_cooldown_seconds": 60, "partition_below": 0},
    )
    lab.import_catalogue(on_hand=20, codes=["CUP", "LID"])
    yield lab
    lab.close()


def stored(lab: Lab) -> dict[str, dict]:
    return lab.app.db.run_sync(health.circuits)


def shops_json(lab: Lab) -> dict[str, dict]:
    result = CliRunner().invoke(cli, ["shops", "list", "--json"], obj=lab.app, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return {s["name"]: s["health"] for s in json.loads(result.output)}


async def test_an_open_circuit_is_recorded_shown_and_cleared(lab: Lab) -> None:
    boxes = lab.sandboxes
    server = Down(boxes["b"].transport())
    lab.app.transport_for = lambda shop, platform: server if shop == "b" else boxes[shop].transport()
    opened = lab.clock.now()
    await lab.sync()

    rows = stored(lab)
    assert rows["b"]["state"] == "open" and rows["b"]["consecutive_failures"] == 3
    assert rows["b"]["opened_at"] is not None and abs(rows["b"]["opened_at"] - opened) < timedelta(minutes=1)
    assert "ConnectError" in rows["b"]["last_failure"]
    assert rows["a"]["state"] == rows["c"]["state"] == "closed"  # they answered: recorded as healthy

    listed = shops_json(lab)
    assert listed["b"]["circuit"] == "open" and listed["b"]["consecutive_failures"] == 3
    assert listed["b"]["circuit_opened_at"].startswith(rows["b"]["opened_at"].isoformat()[:16])
    assert listed["a"] == {
        "circuit": "closed",
        "circuit_opened_at": None,
        "consecutive_failures": 0,
        "last_failure": None,
    }
    table = CliRunner().invoke(cli, ["shops", "list"], obj=lab.app, catch_exceptions=False).output
    assert "open since" in table and "3 failure(s)" in table

    server.down = False
    lab.clock.advance(60)  # the probe gets through: the circuit closes, and the row says so
    await lab.sync()
    assert stored(lab)["b"]["state"] == "closed" and stored(lab)["b"]["consecutive_failures"] == 0
    assert shops_json(lab)["b"]["circuit"] == "closed"


async def test_an_unchanged_breaker_is_not_written_again(lab: Lab) -> None:
    await lab.sync()
    first = stored(lab)["a"]["updated_at"]
    lab.clock.advance(30)
    await lab.sync()  # every call answered again: nothing changed, nothing written
    assert stored(lab)["a"]["updated_at"] == first


def test_a_failure_reason_is_recorded_without_secrets(app, fake_clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    secret = "tok-secret-value-123"
    register_secret(secret)
    now = fake_clock.now()
    app.db.run_sync(
        lambda s: s.add(
            t.Shop(name="x", platform="fake", app_key="k", app_secret="s", options={}, created_at=now)
        )
    )
    breaker = CircuitBreaker("x", fake_clock, BreakerPolicy(threshold=1))
    breaker.failed(f"ConnectError: refused for {secret}" + "!" * 1000)
    assert app.db.run_sync(lambda s: health.record_changes(s, {"x": breaker, "gone": breaker}, now)) == 1
    row = app.db.run_sync(lambda s: s.scalar(select(t.ShopHealth)))
    assert row.state == "open" and row.consecutive_failures == 1
    assert secret not in row.last_failure and "****" in row.last_failure
    assert len(row.last_failure) == health.MAX_REASON
    assert app.db.run_sync(lambda s: health.record_changes(s, {"x": breaker}, now)) == 0  # recorded already


def test_breaker_versions_count_changes_only() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("s", clock, BreakerPolicy(threshold=2, cooldown=10, max_cooldown=20))
    breaker.succeeded()
    assert breaker.version == 1  # the first outcome is news
    breaker.succeeded()
    assert breaker.version == 1  # still closed, nothing new
    breaker.failed("refused")
    breaker.failed("refused")
    assert (breaker.state, breaker.version, breaker.opened_wall) == ("open", 3, clock.now())
    clock.advance(10)
    breaker.before_call()  # half-open: the probe goes out
    assert (breaker.state, breaker.version) == ("half_open", 4)
    breaker.succeeded()
    assert (breaker.state, breaker.version) == ("closed", 5)


def test_the_overview_shows_an_open_circuit(app, fake_clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    now = fake_clock.now()

    def write(s):  # type: ignore[no-untyped-def]
        for name in ("a", "b"):
            s.add(t.Shop(name=name, platform="fake", app_key="k", app_secret="s", options={}, created_at=now))
        s.flush()
        b = s.scalar(select(t.Shop.id).where(t.Shop.name == "b"))
        s.add(
            t.ShopHealth(
                shop_id=b,
                state="open",
                opened_at=now,
                last_failure="ConnectError: connection refused",
                consecutive_failures=5,
                updated_at=now,
            )
        )

    app.db.run_sync(write)
    health_rows = {r["shop"]: r for r in app.db.run_sync(reports.sync_health)}
    assert health_rows["b"]["circuit"] == "open" and health_rows["b"]["consecutive_failures"] == 5
    assert health_rows["a"]["circuit"] == "closed"
    add_users(app)
    console = Console(app)
    console.login("vic")
    html = console.get("/").text
    row_b = html.split('data-shop="b"')[1].split("</tr>")[0]
    assert "open since" in row_b and "5 connection failure(s)" in row_b and "connection refused" in row_b
    assert 'class="bad"' in html.split('data-shop="b"')[1][:20]
    row_a = html.split('data-shop="a"')[1].split("</tr>")[0]
    assert "circuit-closed" in row_a and "open since" not in row_a
