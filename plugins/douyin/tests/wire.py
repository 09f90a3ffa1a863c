"""Douyin's wire protocol written out by hand for the tests, independently of
:mod:`hub_douyin.signing` and :mod:`hub_douyin.client`."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import httpx

APP_KEY = "3409409348479354011"
APP_SECRET = "sandbox-app-secret-0123456789abcdef"
ORIGIN = "http://sandbox.test"

RawCall = Callable[..., dict[str, Any]]
"""``raw(path, params, **overrides)`` -> the sandbox's JSON answer (see conftest)."""


def hand_sign(
    secret: str, app_key: str, method: str, body: str, timestamp: str, sign_method: str | None
) -> str:
    """Douyin's recipe written out independently of hub_douyin.signing."""
    wrapped = f"{secret}app_key{app_key}method{method}param_json{body}timestamp{timestamp}v2{secret}"
    if sign_method == "hmac-sha256":
        return hmac.new(secret.encode(), wrapped.encode(), hashlib.sha256).hexdigest()
    return hashlib.md5(wrapped.encode()).hexdigest()


class Recorder(httpx.AsyncBaseTransport):
    """Wraps a transport, keeps every request (body read) and can act after each answer."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        after: Callable[[httpx.Request, httpx.Response], None] | None = None,
    ):
        self.inner = inner
        self.after = after
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        response = await self.inner.handle_async_request(request)
        if self.after is not None:
            await response.aread()
            self.after(request, response)
        return response

    def params(self, api: str) -> list[dict[str, Any]]:
        """The param_json of every request to ``api`` (e.g. "order.searchList")."""
        return [json.loads(r.content) for r in self.requests if r.url.params.get("method") == api]
