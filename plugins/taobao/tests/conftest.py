"""Fixtures of the Taobao plugin tests.

``top_call`` builds and sends requests signed by hand with hashlib/hmac, independently
of :mod:`hub_taobao.signing`, so the sandbox is checked against the documented recipe
and not only against our own client.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from hub.core.http import RetryPolicy
from hub.simulator import SandboxConfig
from hub.testing import FakeClock
from hub.testing.contract import contract_seed
from hub.testing.shops import sandbox_shop_fixtures
from hub.units import format_cn_time
from hub_taobao.plugin import INFO
from hub_taobao.sandbox import TaobaoSandbox

#: no real waiting: retries sleep on the fake clock, without jitter
FAST_RETRY = RetryPolicy(max_attempts=3, initial_wait=0, jitter=0)


def hand_sign(secret: str, params: dict[str, str], method: str) -> str:
    """TOP's recipe written out independently: sorted name+value pairs, then md5 wrapped in
    the secret, or HMAC-MD5 / HMAC-SHA256 keyed with it; upper-case hex."""
    text = "".join(k + v for k, v in sorted(params.items()) if k != "sign")
    if method == "md5":
        return hashlib.md5((secret + text + secret).encode()).hexdigest().upper()
    digest = hashlib.md5 if method == "hmac" else hashlib.sha256
    return hmac.new(secret.encode(), text.encode(), digest).hexdigest().upper()


@pytest.fixture(name="hand_sign")
def hand_sign_fixture() -> Callable[[str, dict[str, str], str], str]:
    return hand_sign


clock, saved_tokens, sandbox, shop_factory, shop = sandbox_shop_fixtures(
    INFO,
    lambda clock: TaobaoSandbox(
        SandboxConfig(
            clock=clock,
            seed=contract_seed(),
            app_key="12345678",
            app_secret="helloworld",
            access_token="sandbox-session-token",
        )
    ),
    retry=FAST_RETRY,
)


@pytest.fixture
def top_params(sandbox: TaobaoSandbox, clock: FakeClock) -> Callable[..., dict[str, str]]:
    """The full, hand-signed parameter set of one call. ``drop``/``override`` tamper with
    the system parameters before signing; ``sign`` replaces the signature after."""

    def build(
        method: str,
        business: dict[str, str] | None = None,
        *,
        sign_method: str = "md5",
        secret: str | None = None,
        drop: tuple[str, ...] = (),
        sign: str | None = None,
        **override: str,
    ) -> dict[str, str]:
        params = {
            "method": method,
            "app_key": sandbox.credentials.app_key,
            "session": sandbox.access_token,
            "timestamp": format_cn_time(clock.now()),
            "v": "2.0",
            "format": "json",
            "sign_method": sign_method,
            **(business or {}),
        }
        params.update(override)
        for name in drop:
            params.pop(name, None)
        params["sign"] = hand_sign(secret or sandbox.credentials.app_secret, params, sign_method)
        if sign is not None:
            params["sign"] = sign
        if "sign" in drop:
            del params["sign"]
        return params

    return build


@pytest.fixture
def top_call(
    sandbox: TaobaoSandbox, top_params: Callable[..., dict[str, str]]
) -> Callable[..., dict[str, Any]]:
    """POST a hand-signed call to the sandbox in-process and return the decoded JSON."""

    def call(method: str, business: dict[str, str] | None = None, **options: Any) -> dict[str, Any]:
        params = top_params(method, business, **options)
        request = httpx.Request(
            "POST",
            sandbox.base_url(),
            content=urlencode(params).encode(),
            headers={"content-type": "application/x-www-form-urlencoded;charset=utf-8"},
        )
        response = sandbox.dispatch(request)
        assert response.status_code == 200
        return json.loads(response.content)

    return call
