"""Fixtures for the Douyin plugin tests.

``raw`` sends requests built by hand here (hashlib/hmac, urlencode), independently of the
plugin's own signing and client, so the sandbox is tested against the documented
protocol rather than against our client's habits.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from hub.core.http import RetryPolicy
from hub.platform import PlatformInfo
from hub.plugins import PluginHost
from hub.simulator import SandboxConfig
from hub.testing import FakeClock
from hub.testing.contract import contract_seed
from hub.testing.shops import sandbox_shop_fixtures
from hub_douyin.plugin import INFO
from hub_douyin.sandbox import DouyinSandbox

from .wire import APP_KEY, APP_SECRET, ORIGIN, RawCall, hand_sign


@pytest.fixture
def host() -> PluginHost:
    return PluginHost(autoload=True, blocked=[])


@pytest.fixture
def info(host: PluginHost) -> PlatformInfo:
    return host.platform("douyin")


clock, saved_tokens, sandbox, shop_factory, shop = sandbox_shop_fixtures(
    INFO,
    lambda clock: DouyinSandbox(
        SandboxConfig(
            clock=clock, seed=contract_seed(), app_key=APP_KEY, app_secret=APP_SECRET, token_ttl=7 * 86400
        )
    ),
    retry=RetryPolicy(initial_wait=0, max_wait=0, jitter=0),
)


@pytest.fixture
def raw(sandbox: DouyinSandbox, clock: FakeClock) -> RawCall:
    """``raw(path, params, **overrides)`` -> the sandbox's JSON answer.

    Overrides: ``secret``, ``app_key``, ``method``, ``timestamp``, ``sign_method``
    (None = not sent, md5 is the default), ``token`` (None = not sent), ``sign``,
    ``body`` (raw text instead of the canonical param_json), ``drop`` (query keys to omit),
    ``headers`` (extra request headers)."""

    def call(path: str, params: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        body = kw.get("body")
        if body is None:
            body = json.dumps(params or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        app_key = kw.get("app_key", APP_KEY)
        method = kw.get("method", path.lstrip("/").replace("/", "."))
        timestamp = kw.get("timestamp", str(int(clock.now().timestamp())))
        sign_method = kw.get("sign_method", "hmac-sha256")
        sign = kw.get("sign") or hand_sign(
            kw.get("secret", APP_SECRET), app_key, method, body, timestamp, sign_method
        )
        query = {"app_key": app_key, "method": method, "timestamp": timestamp, "v": "2", "sign": sign}
        if sign_method is not None:
            query["sign_method"] = sign_method
        token = kw.get("token", sandbox.access_token)
        if token is not None:
            query["access_token"] = token
        for name in kw.get("drop", ()):
            query.pop(name, None)
        request = httpx.Request(
            "POST",
            f"{ORIGIN}{path}?{urlencode(query)}",
            content=body.encode(),
            headers={"content-type": "application/json", **kw.get("headers", {})},
        )
        return json.loads(sandbox.dispatch(request).content)

    return call
