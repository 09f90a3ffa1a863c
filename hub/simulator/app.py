"""The base of every platform sandbox: knobs, credentials and request dispatch.

A platform sandbox subclasses :class:`SandboxApp` and implements :meth:`handle` (check
the platform's signature/credentials, run the API method against ``self.state``,
answer with the platform's envelope) and :meth:`throttled` (the platform's throttling
answer). Everything else is shared: latency, a per-app QPS limit, fault injection,
token issue and expiry, and the adapters in :mod:`hub.simulator.transport`.
"""

from __future__ import annotations

import json
import random
import secrets
import string
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import formatdate
from typing import Any, ClassVar

import httpx

from hub.core.clock import SYSTEM_CLOCK, Clock
from hub.simulator.aftersales import AfterSaleBook
from hub.simulator.faults import Faults
from hub.simulator.seed import Seed, apply_seed
from hub.simulator.state import ShopState
from hub.simulator.transport import SandboxTransport


@dataclass
class SandboxConfig:
    """How to build a sandbox. Credentials left as None are generated (and printed by
    ``hub sandbox serve``)."""

    app_key: str | None = None
    app_secret: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    clock: Clock = SYSTEM_CLOCK
    seed: Seed | None = None
    rng_seed: int = 0
    qps: float | None = None  # per-app limit; None = unlimited
    latency: float = 0.0  # seconds per request (half before handling, half after)
    latency_jitter: float = 0.0  # +/- seconds, uniform
    token_ttl: float | None = None  # seconds an access token lives; None = no expiry
    faults: Faults | None = None


def random_secret(rng: random.Random, length: int = 32) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(rng.choice(alphabet) for _ in range(length))


@dataclass
class TokenRecord:
    expires_at: datetime | None
    refresh_token: str | None = None
    revoked: bool = False


class Credentials:
    """The app key/secret a sandbox accepts and the tokens it has issued."""

    def __init__(self, app_key: str, app_secret: str, clock: Clock, rng: random.Random):
        self.app_key = app_key
        self.app_secret = app_secret
        self._clock = clock
        self._rng = rng
        self.tokens: dict[str, TokenRecord] = {}
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> current access token
        self.issued = 0

    def issue(
        self, ttl: float | None, access_token: str | None = None, refresh_token: str | None = None
    ) -> tuple[str, str]:
        """A new access token (and its refresh token) valid for ``ttl`` seconds."""
        access = access_token or random_secret(self._rng, 40)
        refresh = refresh_token or random_secret(self._rng, 40)
        expires = self._clock.now() + timedelta(seconds=ttl) if ttl else None
        self.tokens[access] = TokenRecord(expires, refresh)
        self.refresh_tokens[refresh] = access
        self.issued += 1
        return access, refresh

    def check(self, token: str | None) -> str:
        """``ok``, ``missing``, ``invalid`` or ``expired``."""
        if not token:
            return "missing"
        record = self.tokens.get(token)
        if record is None or record.revoked:
            return "invalid"
        if record.expires_at is not None and self._clock.now() >= record.expires_at:
            return "expired"
        return "ok"

    def expires_at(self, token: str) -> datetime | None:
        record = self.tokens.get(token)
        return record.expires_at if record else None

    def expire_all(self) -> None:
        """Every token issued so far expires now (the "token expired mid-sync" knob)."""
        now = self._clock.now()
        for record in self.tokens.values():
            record.expires_at = now

    def revoke(self, token: str) -> None:
        if token in self.tokens:
            self.tokens[token].revoked = True


class QpsGate:
    """The platform's per-app call budget: a bucket of ``qps`` calls refilled every second."""

    def __init__(self, qps: float, clock: Clock):
        self.qps = qps
        self._clock = clock
        self._capacity = max(1.0, qps)
        self._tokens = self._capacity
        self._at = clock.monotonic()
        self.refused = 0

    def admit(self) -> bool:
        now = self._clock.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._at) * self.qps)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        self.refused += 1
        return False


class SandboxApp:
    """Base class of platform sandboxes; see the module docstring."""

    platform: ClassVar[str] = ""
    #: path of the gateway below the origin (e.g. "/router/rest"); base URLs end with it
    gateway_path: ClassVar[str] = ""

    def __init__(self, config: SandboxConfig | None = None):
        config = config or SandboxConfig()
        self.config = config
        self.clock = config.clock
        self.rng = random.Random(config.rng_seed)
        self.credentials = Credentials(
            config.app_key or str(self.rng.randrange(10_000_000, 99_999_999)),
            config.app_secret or random_secret(self.rng),
            self.clock,
            self.rng,
        )
        self.token_ttl = config.token_ttl
        self.access_token, self.refresh_token = self.credentials.issue(
            config.token_ttl, config.access_token, config.refresh_token
        )
        self.state = self.new_state()
        self.state.after_sales = AfterSaleBook(self.state)
        if config.seed is not None:
            apply_seed(self.state, config.seed)
        self.faults = config.faults or Faults(rng=random.Random(config.rng_seed + 1))
        self.gate = QpsGate(config.qps, self.clock) if config.qps else None
        self.latency = config.latency
        self.latency_jitter = config.latency_jitter
        self.calls: Counter[str] = Counter()  # per API method
        self.lock = threading.RLock()
        # Called as each request arrives, before the platform handles it: simulated buyers
        # use it to act between any two calls of the hub (see Buyers.race_requests).
        self.on_request: Callable[[], None] | None = None

    # --- what a platform sandbox implements -------------------------------------------------

    def new_state(self) -> ShopState:
        """The shop state, with the platform's id styles (override to change them)."""
        return ShopState(self.clock)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request exactly as the platform would."""
        raise NotImplementedError

    def throttled(self, request: httpx.Request) -> httpx.Response:
        """The platform's answer when the app exceeds its call budget."""
        raise NotImplementedError

    # --- shared -----------------------------------------------------------------------------

    def dispatch(self, request: httpx.Request) -> httpx.Response:
        """Faults, the QPS gate, then :meth:`handle`. Network faults raise httpx errors,
        which is what a client sees when the connection fails."""
        with self.lock:
            if self.on_request is not None:
                self.on_request()
            fault = self.faults.draw(f"{request.url} {request.content.decode('utf-8', 'replace')}")
            if fault == "reset":
                raise httpx.RemoteProtocolError("connection reset by peer (sandbox)", request=request)
            if fault == "timeout":
                raise httpx.ReadTimeout("timed out (sandbox)", request=request)
            if fault == "server_error":
                return httpx.Response(502, text="<html><body>502 Bad Gateway</body></html>", request=request)
            if fault == "throttle" or (self.gate is not None and not self.gate.admit()):
                return self.throttled(request)
            response = self.handle(request)
            if "date" not in response.headers:  # like any web server: the platform's clock
                response.headers["date"] = formatdate(self.clock.now().timestamp(), usegmt=True)
            if fault == "lost_response":
                raise httpx.ReadTimeout("timed out after the platform applied it (sandbox)", request=request)
            if fault == "malformed":
                body = response.content[: len(response.content) // 2] or b"{"
                return httpx.Response(
                    response.status_code,
                    content=body,
                    headers={"content-type": "application/json"},
                    request=request,
                )
            return response

    def draw_latency(self) -> float:
        if not self.latency and not self.latency_jitter:
            return 0.0
        jitter = self.latency_jitter * (2 * self.rng.random() - 1) if self.latency_jitter else 0.0
        return max(0.0, self.latency + jitter)

    def base_url(self, origin: str = "http://sandbox.test") -> str:
        """The URL a shop's ``base_url`` should be set to for this sandbox."""
        return origin.rstrip("/") + self.gateway_path

    def transport(self) -> httpx.AsyncBaseTransport:
        """An httpx transport that answers in-process (no sockets)."""
        return SandboxTransport(self)

    def expire_tokens(self) -> None:
        """Every access token issued so far expires now."""
        self.credentials.expire_all()

    def shop_credentials(self) -> dict[str, str]:
        """What ``hub shops add`` needs to talk to this sandbox."""
        return {
            "app_key": self.credentials.app_key,
            "app_secret": self.credentials.app_secret,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
        }

    def push_request(self, change: Any, url: str) -> httpx.Request | None:
        """The HTTP push announcing ``change`` (a :class:`hub.simulator.pushes.OrderChange`)
        to ``url``, signed as the platform signs it; None when the platform does not push
        to a URL (see :class:`~hub.simulator.pushes.PushSender`)."""
        return None

    def push_accepted(self, response: httpx.Response) -> bool:
        """Whether the receiver's answer acknowledges a push (otherwise it is redelivered)."""
        return response.status_code == 200

    def push_settings(self) -> dict[str, str]:
        """Shop settings the receiver needs to verify this sandbox's pushes (e.g. a push token)."""
        return {}

    def serve_notes(self) -> dict[str, str]:
        """Other facts ``hub sandbox serve`` prints that a client of this platform needs
        (e.g. the shop id that self-authorisation asks for); none by default."""
        return {}

    @staticmethod
    def json_response(
        payload: Any,
        status: int = 200,
        request: httpx.Request | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        return httpx.Response(
            status,
            content=body,
            request=request,
            headers={"content-type": "application/json;charset=UTF-8", **(headers or {})},
        )

    @staticmethod
    def request_id(rng: random.Random | None = None) -> str:
        return secrets.token_hex(6) if rng is None else f"{rng.getrandbits(48):012x}"
