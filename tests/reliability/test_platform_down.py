"""A platform that goes down in the middle of `hub sync` (its server stops: connections
are refused): the shop fails fast behind its circuit breaker instead of retrying every
call (it was 1,204 retries over 155 s), says so, and the other shops finish normally."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.reliability.served import World, build_world, report_of, world_seed

pytestmark = pytest.mark.slow


@pytest.fixture
def world(hub_db_url: str) -> Iterator[World]:
    world = build_world(hub_db_url, world_seed(3), latency=0.01, partition_every=3)
    yield world
    world.stop()


def test_a_platform_going_down_mid_sync_fails_fast_and_slows_no_other_shop(world: World) -> None:
    box = world.served["wx"]
    stopped = threading.Event()

    def stop_the_server() -> None:
        if not stopped.is_set():
            stopped.set()
            threading.Thread(target=box.stop).start()  # from outside the server's own thread

    seen = [0]

    def count() -> None:
        seen[0] += 1
        if seen[0] == 3:  # its third request: the run is under way
            stop_the_server()
        elif seen[0] > 3:
            # The server takes a moment to stop (it answers what reaches it meanwhile), and
            # on a busy machine the run could end in that moment: a request that slips in
            # fails, as through a gateway in front of a stopping server.
            raise httpx.ConnectError("the server is stopping")

    box.app.on_request = count
    done = world.run("sync", "--json", timeout=120)
    report = report_of(done)
    assert stopped.is_set()
    assert done.returncode == 1, done.stderr
    failed = {r["shop"] for r in report["results"] if r["exit_code"]}
    assert failed == {"wx"}, report["results"]
    assert any("circuit open" in (r["error"] or "") for r in report["results"] if r["shop"] == "wx")
    assert report["circuits"]["wx"]["state"] == "open"
    # A handful of tries before the circuit opened, not a retry storm.
    assert report["retries"] <= 10, report["retries"]
    healthy = [r for r in report["results"] if r["shop"] != "wx"]
    assert healthy and all(r["exit_code"] == 0 for r in healthy)
