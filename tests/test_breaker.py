"""The per-shop circuit breaker (invariant 9): a platform that does not answer fails
fast after a few tries, is probed again later, and never slows another shop."""

from __future__ import annotations

from collections import Counter

import anyio
import httpx
import pytest

from hub.core.breaker import BreakerPolicy, CircuitBreaker
from hub.core.http import HttpOptions, RetryPolicy
from hub.core.ratelimit import RateLimit
from hub.errors import CircuitOpen, ConnectFailed, ServerError
from hub.simulator.lab import Lab
from hub.testing import FakeClock
from tests.reliability.support import failures
from tests.test_engine import SHARED, engine_lab
from tests.test_http import EchoClient, Settings

pytestmark = pytest.mark.anyio


class Down(httpx.AsyncBaseTransport):
    """A platform whose server is down (connection refused), or up again (then ``inner``
    answers); counts the requests that reached it."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.inner = inner or httpx.MockTransport(lambda request: httpx.Response(200, json={"data": "ok"}))
        self.down = True
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


def client(transport: httpx.AsyncBaseTransport, clock: FakeClock, policy: BreakerPolicy) -> EchoClient:
    return EchoClient(
        Settings(app_key="k", app_secret="s3cret-value", access_token="t"),
        HttpOptions(
            shop="s1",
            rate_limit=RateLimit(qps=1000, concurrency=4),
            clock=clock,
            transport=transport,
            retry=RetryPolicy(max_attempts=4, initial_wait=1),
            breaker=CircuitBreaker("s1", clock, policy),
        ),
    )


async def test_a_platform_that_does_not_answer_fails_fast_then_is_probed(fake_clock: FakeClock) -> None:
    server = Down()
    c = client(server, fake_clock, BreakerPolicy(threshold=3, cooldown=30, max_cooldown=120))
    with pytest.raises(ConnectFailed):  # 3 tries, retried as usual: the third opens the circuit
        await c.get()
    assert server.requests == 3 and c.breaker.state == "open"
    slept = fake_clock.slept
    for _ in range(50):  # every further call fails at once: no request, no backoff wait
        with pytest.raises(CircuitOpen, match="circuit open after 3 connection failures"):
            await c.get()
    assert server.requests == 3 and fake_clock.slept == slept
    assert c.breaker.snapshot()["state"] == "open" and c.breaker.snapshot()["retry_in"] == 30

    fake_clock.advance(30)  # half-open: one probe; it fails, so open again for twice as long
    with pytest.raises(ConnectFailed):
        await c.get()
    assert server.requests == 4 and c.breaker.state == "open" and c.breaker.retry_in() == 60
    fake_clock.advance(59)
    with pytest.raises(CircuitOpen):
        await c.get()
    assert server.requests == 4

    server.down = False
    fake_clock.advance(1)
    assert await c.get() == "ok"  # the probe gets through: closed again
    assert c.breaker.state == "closed" and c.breaker.failures == 0
    assert await c.get() == "ok"
    assert server.requests == 6


async def test_only_one_probe_goes_out_while_half_open(fake_clock: FakeClock) -> None:
    breaker = CircuitBreaker("s1", fake_clock, BreakerPolicy(threshold=1, cooldown=10))
    breaker.failed("refused")
    fake_clock.advance(10)
    breaker.before_call()  # the probe
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # everyone else still fails fast
    breaker.abandoned()  # the probe was cancelled: another may go
    breaker.before_call()
    breaker.succeeded()
    breaker.before_call()
    assert breaker.state == "closed"


async def test_answers_that_are_errors_do_not_open_the_circuit(fake_clock: FakeClock) -> None:
    calls = Counter[str]()

    def busy(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return httpx.Response(502)

    c = client(httpx.MockTransport(busy), fake_clock, BreakerPolicy(threshold=2, cooldown=30))
    for _ in range(3):
        with pytest.raises(ServerError):
            await c.get()
    assert c.breaker.state == "closed" and calls["n"] == 12  # every try went out


def test_a_policy_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError):
        BreakerPolicy(threshold=0)
    with pytest.raises(ValueError):
        BreakerPolicy(cooldown=30, max_cooldown=10)


# --- one shop down in a sync ------------------------------------------------------------------


lab = engine_lab(settings={"breaker_failures": 3, "breaker_cooldown_seconds": 60, **SHARED})


async def test_a_shop_that_is_down_fails_fast_and_the_others_sync_as_usual(lab: Lab) -> None:
    boxes = lab.sandboxes
    server = Down(boxes["b"].transport())
    lab.app.transport_for = lambda shop, platform: server if shop == "b" else boxes[shop].transport()
    first = await lab.sync()
    assert {r.shop for r in first.results if r.exit_code} == {"b"}
    assert server.requests == 3, "three connection failures, then every call of shop b fails fast"
    assert first.circuits["b"]["state"] == "open" and set(first.circuits) == {"b"}
    assert lab.shown("CUP")["a"] == 20 and lab.shown("CUP")["c"] == 20  # the healthy shops got their stock
    assert first.to_dict()["circuits"]["b"]["failures"] == 3  # shown by --json

    lab.clock.advance(5)  # --watch's next cycle: b is still down and is not even tried
    slept = lab.clock.slept  # type: ignore[attr-defined]
    second = await lab.sync()
    assert server.requests == 3
    # No retry wait for the shop that is down (the healthy shops' pacing waits are ms).
    shortest_backoff = RetryPolicy().initial_wait * (1 - RetryPolicy().jitter)
    assert lab.clock.slept - slept < shortest_backoff  # type: ignore[attr-defined]
    healthy = [r for r in second.results if r.shop in ("a", "c")]
    assert healthy and all(r.exit_code == 0 for r in healthy)
    errors = [r.error for r in second.results if r.shop == "b" and r.error]
    assert errors and all("circuit open" in e for e in errors)

    server.down = False
    lab.clock.advance(60)  # the cooldown is over: a probe gets through and b catches up
    third = await lab.sync()
    assert third.exit_code == 0, failures(third)
    assert third.circuits == {}
    assert lab.shown("CUP") == {"a": 20, "b": 20, "c": 20}


async def test_breaker_state_outlives_a_cycle_but_not_the_process(lab: Lab) -> None:
    boxes = lab.sandboxes
    server = Down(boxes["b"].transport())
    lab.app.transport_for = lambda shop, platform: server if shop == "b" else boxes[shop].transport()
    await lab.sync(["b"])
    assert server.requests == 3
    await anyio.sleep(0)
    fresh = Lab(lab.app, lab.sandboxes, lab.seed)  # a new process (cron's next run) probes again
    await fresh.sync(["b"])
    assert server.requests == 6
