"""The base platform client: pacing, retries, refresh, error wrapping, safe logs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest

from hub.core.http import HttpOptions, PlatformClient, RetryPolicy, parse_retry_after
from hub.core.ratelimit import RateLimit, RateLimiter
from hub.errors import (
    AuthError,
    ConnectFailed,
    InvalidRequest,
    MalformedResponse,
    RateLimited,
    RequestTimeout,
    ServerError,
)
from hub.platform import ShopSettings, TokenSet
from hub.testing import FakeClock

pytestmark = pytest.mark.anyio

Handler = Callable[[httpx.Request], httpx.Response]


class Settings(ShopSettings):
    base_url: str = "https://api.example.test"


class EchoClient(PlatformClient):
    """Understands {"ok": true, "data": …} and {"error": "...", "retry_after": n}."""

    platform = "echo"
    refreshed: int = 0

    def parse(self, operation: str, response: httpx.Response) -> Any:
        body = self.decode_json(operation, response)
        error = body.get("error")
        if error == "throttled":
            raise RateLimited("slow down", retry_after=body.get("retry_after"), platform="echo")
        if error == "busy":
            raise ServerError("busy", platform="echo")
        if error == "expired":
            raise AuthError("token expired", refreshable=True, platform="echo")
        if error == "bad":
            raise InvalidRequest("bad parameter", parameter="x", platform="echo")
        return body["data"]

    async def refresh_credentials(self) -> TokenSet | None:
        self.refreshed += 1
        await self.clock.sleep(1)  # a refresh takes time; concurrent callers must wait for it
        return TokenSet(access_token=f"fresh-token-{self.refreshed}")

    def get(self, *, idempotent: bool = True) -> Any:
        return self.call(
            "get",
            lambda: httpx.Request("GET", f"{self.settings.base_url}/x?access_token={self.access_token}"),
            idempotent=idempotent,
        )


def client(
    handler: Handler, clock: FakeClock, *, qps: float = 1000, saved: list | None = None, **settings: Any
) -> EchoClient:
    async def store(tokens: TokenSet) -> None:
        if saved is not None:
            saved.append(tokens)

    values = {"app_key": "k", "app_secret": "s3cret-value", "access_token": "old-token-value", **settings}
    return EchoClient(
        Settings(**values),
        HttpOptions(
            shop="s1",
            rate_limit=RateLimit(qps=qps, concurrency=4),
            clock=clock,
            transport=httpx.MockTransport(handler),
            retry=RetryPolicy(max_attempts=4),
            token_store=store,
        ),
    )


def sequence(*responses: httpx.Response | Exception) -> Handler:
    queue = list(responses)

    def handle(request: httpx.Request) -> httpx.Response:
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    return handle


OK = httpx.Response(200, json={"data": "hello"})


async def test_retryable_errors_are_retried_with_backoff(fake_clock: FakeClock) -> None:
    c = client(sequence(httpx.Response(503), httpx.Response(200, json={"error": "busy"}), OK), fake_clock)
    assert await c.get() == "hello"
    assert c.stats.retries == 2 and c.stats.calls == 3
    assert fake_clock.slept > 0  # it waited between attempts, on the fake clock


async def test_the_platforms_wait_is_obeyed_and_paces_every_caller(fake_clock: FakeClock) -> None:
    c = client(sequence(httpx.Response(200, json={"error": "throttled", "retry_after": 7}), OK), fake_clock)
    start = fake_clock.monotonic()
    assert await c.get() == "hello"
    assert fake_clock.monotonic() - start >= 7


async def test_retry_after_header_on_429(fake_clock: FakeClock) -> None:
    c = client(sequence(httpx.Response(429, headers={"retry-after": "3"}), OK), fake_clock)
    start = fake_clock.monotonic()
    assert await c.get() == "hello"
    assert fake_clock.monotonic() - start >= 3
    assert parse_retry_after("Wed, 11 Nov 2026 00:00:10 GMT", FakeClock()) == 10
    assert parse_retry_after("soon", fake_clock) is None


async def test_gives_up_after_max_attempts_with_the_typed_error(fake_clock: FakeClock) -> None:
    c = client(sequence(httpx.Response(502)), fake_clock)
    with pytest.raises(ServerError):
        await c.get()
    assert c.stats.calls == 4


async def test_non_retryable_errors_fail_at_once(fake_clock: FakeClock) -> None:
    c = client(sequence(httpx.Response(200, json={"error": "bad"}), OK), fake_clock)
    with pytest.raises(InvalidRequest) as caught:
        await c.get()
    assert caught.value.parameter == "x" and c.stats.calls == 1


async def test_a_write_in_doubt_is_not_resent(fake_clock: FakeClock) -> None:
    timeout = httpx.ReadTimeout("slow")
    c = client(sequence(timeout, OK), fake_clock)
    with pytest.raises(RequestTimeout):
        await c.get(idempotent=False)
    assert c.stats.calls == 1
    # ...but a request that never reached the platform is safe to resend.
    c = client(sequence(httpx.ConnectError("refused"), OK), fake_clock)
    assert await c.get(idempotent=False) == "hello"
    # ...and so is a throttled one (the platform did not execute it).
    c = client(sequence(httpx.Response(200, json={"error": "throttled"}), OK), fake_clock)
    assert await c.get(idempotent=False) == "hello"


async def test_transport_failures_become_hub_errors(fake_clock: FakeClock) -> None:
    c = client(sequence(httpx.ConnectError("refused")), fake_clock)
    with pytest.raises(ConnectFailed):
        await c.get()
    c = client(sequence(httpx.Response(200, content=b"<html>oops")), fake_clock)
    with pytest.raises(MalformedResponse, match="not JSON"):
        await c.get()


async def test_expired_token_is_refreshed_once_for_concurrent_callers(fake_clock: FakeClock) -> None:
    saved: list[TokenSet] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if "fresh-token" in str(request.url):
            return OK
        return httpx.Response(200, json={"error": "expired"})

    c = client(handle, fake_clock, saved=saved)
    results: list[Any] = []

    async def one() -> None:
        results.append(await c.get())

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(one)
    assert results == ["hello"] * 5
    assert c.refreshed == 1 and len(saved) == 1 and c.access_token == "fresh-token-1"


async def test_token_is_refreshed_before_it_expires(fake_clock: FakeClock) -> None:
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return OK

    from datetime import timedelta

    c = client(handle, fake_clock, token_expires_at=fake_clock.now() + timedelta(minutes=3))
    await c.get()
    assert c.refreshed == 1 and "fresh-token-1" in seen[0]


async def test_no_secret_reaches_the_logs(fake_clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    c = client(sequence(httpx.Response(503), OK), fake_clock)
    await c.get()
    assert "old-token-value" not in caplog.text and "s3cret-value" not in caplog.text
    assert "access_token=%2A%2A%2A%2A" in caplog.text or "access_token=****" in caplog.text


async def test_rate_limiter_paces_calls_on_the_clock(fake_clock: FakeClock) -> None:
    limiter = RateLimiter(RateLimit(qps=5, concurrency=2), fake_clock)
    start = fake_clock.monotonic()

    async def call() -> None:
        async with limiter.acquire():
            pass

    async with anyio.create_task_group() as tg:
        for _ in range(11):
            tg.start_soon(call)
    # 11 calls at 5/s: the 11th may start no sooner than 2 s after the first.
    assert fake_clock.monotonic() - start >= 2.0 - 1e-9


async def test_penalize_holds_back_the_next_call(fake_clock: FakeClock) -> None:
    limiter = RateLimiter(RateLimit(qps=100), fake_clock)
    limiter.penalize(5)
    start = fake_clock.monotonic()
    async with limiter.acquire():
        pass
    assert fake_clock.monotonic() - start >= 5


def test_invalid_rate_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        RateLimit(qps=0)


async def test_a_ban_longer_than_the_cap_is_not_waited_out(fake_clock: FakeClock) -> None:
    banned = httpx.Response(200, json={"error": "throttled", "retry_after": 7200})
    c = client(sequence(banned, OK), fake_clock)
    with pytest.raises(RateLimited):
        await c.get()
    assert c.stats.calls == 1 and fake_clock.slept == 0
