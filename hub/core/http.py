"""The base of every platform client: pacing, retries, token refresh, safe logging.

A plugin's client (a :class:`hub.client.ShopClient`, which extends :class:`PlatformClient`
with the data operations) builds signed ``httpx.Request`` objects
and implements :meth:`PlatformClient.parse` to turn a response into a payload or one of
the :mod:`hub.errors` classes. :meth:`PlatformClient.call` does the rest:

* paces every attempt through the shop's :class:`~hub.core.ratelimit.RateLimiter`;
* retries errors whose class is ``retryable`` with exponential backoff and jitter, or
  exactly the wait the platform asked for (Retry-After, "ban will last N seconds");
  a call that is not idempotent is retried only when it surely was not applied;
* on an :class:`~hub.errors.AuthError` marked ``refreshable`` refreshes the token once,
  shared by every request that failed at the same time, and tries again;
* wraps httpx failures into hub errors, and logs without credentials;
* fails fast behind the shop's :class:`~hub.core.breaker.CircuitBreaker` while its
  platform does not answer (connection failures in a row), so it slows nobody else.
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import anyio
import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from hub.core.breaker import BreakerPolicy, CircuitBreaker
from hub.core.clock import SYSTEM_CLOCK, Clock
from hub.core.ratelimit import RateLimit, RateLimiter
from hub.credentials import ShopSettings, TokenLoad, TokenSet, TokenStore
from hub.errors import (
    AuthError,
    CircuitOpen,
    ConnectFailed,
    HubError,
    InvalidRequest,
    MalformedResponse,
    PlatformError,
    RateLimited,
    RequestTimeout,
    ServerError,
    TransportError,
)
from hub.secrets import RedactingFilter, redact, redact_url, register_secret

log = logging.getLogger("hub.http")
# httpx logs every request URL (tokens included) at INFO; mask them at the source, so no
# handler anywhere can print them.
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(RedactingFilter())


@dataclass(frozen=True)
class RetryPolicy:
    """How hard a client tries. Tests pass ``RetryPolicy(initial_wait=0, ...)`` plus a fake
    clock, so retries cost no real time."""

    max_attempts: int = 5
    initial_wait: float = 0.5
    max_wait: float = 30.0
    # A ban longer than this is not waited out: the call fails now and is retried next
    # run, so one throttled shop does not hold up the others' cycle.
    max_retry_after: float = 30.0
    jitter: float = 0.25  # +/- share of each backoff wait, so shops do not retry in lockstep

    def backoff(self, attempt: int, rng: random.Random) -> float:
        base = min(self.max_wait, self.initial_wait * 2 ** max(0, attempt - 1))
        return base * (1 + self.jitter * (2 * rng.random() - 1))


@dataclass
class HttpOptions:
    """What the core hands a plugin's ``client_class`` for one shop."""

    shop: str
    rate_limit: RateLimit
    clock: Clock = SYSTEM_CLOCK
    transport: httpx.AsyncBaseTransport | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float = 30.0
    token_store: TokenStore | None = None
    #: reads the stored tokens again: a refresh refused because another process already
    #: used the (single-use) refresh token adopts what that process stored
    token_load: TokenLoad | None = None
    rng: random.Random = field(default_factory=random.Random)
    clock_offset: timedelta | None = None  # the platform's clock minus ours, if known
    #: the shop's circuit breaker; pass the same one to every client of a shop in one
    #: process (``hub sync --watch`` does) so its state outlives a cycle
    breaker: CircuitBreaker | None = None
    #: the shop's pacing; default a limiter of this process alone (``hub worker`` passes one
    #: shared by every worker through the database, see :mod:`hub.workers.ratelimit_pg`)
    limiter: RateLimiter | None = None


@dataclass
class ClientStats:
    """Counters for one client's lifetime (shown by `hub sync` and the demo)."""

    calls: int = 0
    retries: int = 0
    token_refreshes: int = 0
    errors: Counter[str] = field(default_factory=Counter)


class PlatformClient:
    """Base class of platform clients; see the module docstring."""

    platform: str = ""  # the platform code errors are tagged with
    #: refresh a token this long before it expires (plugins that refresh may override)
    token_refresh_margin: ClassVar[timedelta] = timedelta(minutes=5)
    #: fetch a token through refresh_credentials() when the shop has none (WeChat-style)
    fetches_missing_token: ClassVar[bool] = False

    def __init__(self, settings: ShopSettings, http: HttpOptions):
        self.settings = settings
        self.shop = http.shop
        self.clock = http.clock
        self.retry_policy = http.retry
        self.limiter = http.limiter or RateLimiter(http.rate_limit, http.clock)
        self.breaker = http.breaker or CircuitBreaker(http.shop, http.clock, BreakerPolicy())
        self.stats = ClientStats()
        self._rng = http.rng
        self._token_store = http.token_store
        self._token_load = http.token_load
        self._http = httpx.AsyncClient(transport=http.transport, timeout=http.timeout)
        self._refresh_lock = anyio.Lock()
        self._token_generation = 0
        self.access_token = settings.access_token.get_secret_value() if settings.access_token else None
        self.refresh_token = settings.refresh_token.get_secret_value() if settings.refresh_token else None
        self.token_expires_at: datetime | None = settings.token_expires_at
        # The platform's clock minus ours, learnt from the Date header of its answers (None
        # until the first one). Times compared with the platform's timestamps are taken on
        # the platform's clock: order windows, stock anchors.
        self.clock_offset: timedelta | None = http.clock_offset
        for secret in settings.secret_values():
            register_secret(secret)

    # --- what a plugin implements ---------------------------------------------------------

    def parse(self, operation: str, response: httpx.Response) -> Any:
        """Return the payload of a successful response, or raise the matching hub error."""
        raise NotImplementedError

    async def refresh_credentials(self) -> TokenSet | None:
        """Obtain fresh credentials (and return them), or None if this platform cannot.

        Called at most once at a time; the base class stores and persists the result."""
        return None

    # --- what a plugin calls -----------------------------------------------------------------

    async def call(
        self,
        operation: str,
        build: Callable[[], httpx.Request],
        *,
        idempotent: bool = True,
        authenticated: bool = True,
    ) -> Any:
        """Send the request ``build()`` makes (rebuilt per attempt, so timestamps and
        signatures are fresh) and return :meth:`parse`'s payload.

        ``authenticated=False`` is for calls that obtain tokens (made from
        :meth:`refresh_credentials`): no token check and no refresh on AuthError."""
        if not authenticated:
            return await self._call_with_retries(operation, build, idempotent)
        await self.ensure_token()
        generation = self._token_generation
        try:
            return await self._call_with_retries(operation, build, idempotent)
        except AuthError as exc:
            if not exc.refreshable or not await self._refresh(since_generation=generation):
                raise
        return await self._call_with_retries(operation, build, idempotent)

    async def ensure_token(self) -> None:
        """Fetch a missing token (if the platform allows), and refresh ahead of expiry when
        the platform told us when the token expires."""
        expires = self.token_expires_at
        missing = self.access_token is None and self.fetches_missing_token
        if missing or (expires is not None and self.clock.now() >= expires - self.token_refresh_margin):
            await self._refresh(since_generation=self._token_generation)

    def decode_json(self, operation: str, response: httpx.Response) -> Any:
        """Common first step of :meth:`parse`: HTTP-level failures, then the JSON body."""
        status = response.status_code
        if status == 429:
            raise RateLimited(
                "HTTP 429 Too Many Requests",
                retry_after=parse_retry_after(response.headers.get("retry-after"), self.clock),
                **self._where(operation),
            )
        if status >= 500:
            raise ServerError(f"HTTP {status}", **self._where(operation))
        try:
            body = json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            snippet = redact(response.content[:80].decode("utf-8", "replace"))
            if status >= 400:
                raise InvalidRequest(f"HTTP {status}: {snippet!r}", **self._where(operation)) from None
            raise MalformedResponse(
                f"response is not JSON (HTTP {status}): {snippet!r}", **self._where(operation)
            ) from None
        if not isinstance(body, dict):
            raise MalformedResponse(
                f"expected a JSON object, got {type(body).__name__}", **self._where(operation)
            )
        return body

    def _where(self, operation: str) -> dict[str, str]:
        return {"platform": self.platform, "operation": operation}

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> PlatformClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- internals ------------------------------------------------------------------------------

    async def _call_with_retries(
        self, operation: str, build: Callable[[], httpx.Request], idempotent: bool
    ) -> Any:
        def should_retry(exc: BaseException) -> bool:
            if not (isinstance(exc, HubError) and exc.retryable):
                return False
            if self.breaker.state == "open":
                return False  # the platform stopped answering: fail now, not after a backoff
            if isinstance(exc, RateLimited) and (exc.retry_after or 0) > self.retry_policy.max_retry_after:
                return False  # a ban of hours (a quota): waiting inside this run will not help
            # A write that may have been applied must not be sent again blindly.
            return idempotent or isinstance(exc, ConnectFailed | RateLimited)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, RateLimited) and exc.retry_after is not None:
                return min(exc.retry_after, self.retry_policy.max_retry_after)
            return self.retry_policy.backoff(state.attempt_number, self._rng)

        def before_sleep(state: RetryCallState) -> None:
            self.stats.retries += 1
            exc = state.outcome.exception() if state.outcome else None
            log.info(
                "%s %s: retrying after %s (attempt %d)",
                self.shop,
                operation,
                redact(str(exc)),
                state.attempt_number,
            )

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry_policy.max_attempts),
            wait=wait,
            retry=retry_if_exception(should_retry),
            sleep=self.clock.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._send_once(operation, build)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_once(self, operation: str, build: Callable[[], httpx.Request]) -> Any:
        try:
            self.breaker.before_call()
        except CircuitOpen as exc:
            exc.platform, exc.operation = self.platform, operation
            self.stats.errors["CircuitOpen"] += 1
            raise
        request = build()
        self.stats.calls += 1
        start = self.clock.monotonic()
        settled = False
        try:
            async with self.limiter.acquire():
                try:
                    response = await self._http.send(request)
                except httpx.HTTPError as exc:
                    error = _transport_error(exc, **self._where(operation))
                    self.stats.errors[type(error).__name__] += 1
                    self.breaker.failed(str(error))
                    settled = True
                    if log.isEnabledFor(logging.DEBUG):  # masking the URL is not free: only when shown
                        log.debug(
                            "%s %s %s -> %s", self.shop, request.method, redact_url(str(request.url)), error
                        )
                    raise error from None
            self.breaker.succeeded()
            settled = True
        finally:
            if not settled:  # cancelled before an outcome
                self.breaker.abandoned()
        self._learn_clock(response)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s %s -> HTTP %d in %.3fs",
                self.shop,
                request.method,
                redact_url(str(request.url)),
                response.status_code,
                self.clock.monotonic() - start,
            )
        try:
            return self.parse(operation, response)
        except PlatformError as error:
            self.stats.errors[type(error).__name__] += 1
            if isinstance(error, RateLimited) and error.retry_after:
                self.limiter.penalize(min(error.retry_after, self.retry_policy.max_retry_after))
            raise

    def _learn_clock(self, response: httpx.Response) -> None:
        header = response.headers.get("date")
        if not header:
            return
        try:
            when = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        # A Date header is truncated to the second and read after it was written, so every
        # sample is a little early: the largest is the best.
        sample = when - self.clock.now()
        if self.clock_offset is None or sample > self.clock_offset:
            self.clock_offset = sample

    def platform_time(self, moment: datetime | None = None) -> datetime:
        """``moment`` (default: now) on the platform's clock, as far as we know it."""
        return (moment or self.clock.now()) + (self.clock_offset or timedelta(0))

    async def _refresh(self, *, since_generation: int) -> bool:
        async with self._refresh_lock:
            if self._token_generation != since_generation:
                return True  # another request refreshed while we waited
            try:
                tokens = await self.refresh_credentials()
            except AuthError:
                if await self._adopt_stored_tokens():
                    return True
                raise
            if tokens is None:
                return False
            register_secret(tokens.access_token)
            register_secret(tokens.refresh_token)
            self.access_token = tokens.access_token
            self.refresh_token = tokens.refresh_token or self.refresh_token
            self.token_expires_at = tokens.expires_at
            self._token_generation += 1
            self.stats.token_refreshes += 1
            if self._token_store is not None:
                await self._token_store(tokens)
            log.info("%s: access token refreshed", self.shop)
            return True

    async def _adopt_stored_tokens(self) -> bool:
        """Take the stored tokens if they are not the ones this client holds: another
        process refreshed (and stored) them first, which spent our refresh token."""
        if self._token_load is None:
            return False
        stored = await self._token_load()
        if stored is None or stored.access_token == self.access_token:
            return False
        register_secret(stored.access_token)
        register_secret(stored.refresh_token)
        self.access_token = stored.access_token
        self.refresh_token = stored.refresh_token or self.refresh_token
        self.token_expires_at = stored.expires_at
        self._token_generation += 1
        log.info("%s: adopted the access token another process refreshed", self.shop)
        return True


def _transport_error(exc: httpx.HTTPError, **where: str) -> PlatformError:
    message = f"{type(exc).__name__}: {redact(str(exc)) or 'no detail'}"
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return ConnectFailed(message, **where)
    if isinstance(exc, httpx.TimeoutException):
        return RequestTimeout(message, **where)
    return TransportError(message, **where)


def parse_retry_after(value: str | None, clock: Clock) -> float | None:
    """A Retry-After header (seconds or an HTTP date) as seconds from now."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - clock.now()).total_seconds())
