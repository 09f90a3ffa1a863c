"""Fixtures for the JD plugin tests: a seeded sandbox on a fake clock, a shop wired to
it, and a request builder that signs by hand (hashlib), independent of hub_jd.signing."""

from __future__ import annotations

import hashlib
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
from hub.units import CN_TZ
from hub_jd.plugin import INFO
from hub_jd.sandbox import JdSandbox

APP_KEY = "4F2B9C1D7E"
APP_SECRET = "jd-test-app-secret-0001"
TOKEN = "jd-test-access-token-0001"

Build = Callable[..., httpx.Request]
Ask = Callable[[httpx.Request], dict[str, Any]]


clock, saved_tokens, sandbox, shop_factory, shop = sandbox_shop_fixtures(
    INFO,
    lambda clock: JdSandbox(
        SandboxConfig(
            clock=clock, seed=contract_seed(), app_key=APP_KEY, app_secret=APP_SECRET, access_token=TOKEN
        )
    ),
    retry=RetryPolicy(initial_wait=0, max_wait=0, jitter=0),
)


def hand_sign(params: dict[str, str], secret: str) -> str:
    """JD's md5 recipe written out independently of the plugin."""
    text = secret + "".join(k + params[k] for k in sorted(params)) + secret
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


@pytest.fixture
def build(clock: FakeClock) -> Build:
    """``build(method, business, **changes)``: a JD request signed by hand.

    ``business`` is a dict (serialised sorted and compact) or a ready JSON string.
    ``changes`` override system parameters (None removes one); ``sign=`` forces a
    signature, ``secret=`` signs with another secret, ``json_in="query"`` moves
    360buy_param_json to the query string, ``system_in="body"`` moves the system
    parameters into the form body, ``origin=`` targets a served sandbox."""

    def make(
        api: str,
        business: dict[str, Any] | str | None = None,
        *,
        secret: str = APP_SECRET,
        json_in: str = "body",
        system_in: str = "query",
        origin: str = "http://sandbox.test",
        **changes: Any,
    ) -> httpx.Request:
        text = (
            business
            if isinstance(business, str)
            else json.dumps(business or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        )
        now = clock.now().astimezone(CN_TZ)
        system: dict[str, Any] = {
            "method": api,
            "app_key": APP_KEY,
            "access_token": TOKEN,
            "v": "2.0",
            "timestamp": now.strftime("%Y-%m-%d %H:%M:%S") + ".000+0800",
        }
        forced_sign = changes.pop("sign", None)
        system.update(changes)
        system = {k: v for k, v in system.items() if v is not None}
        signed = {**system, "360buy_param_json": text}
        system["sign"] = forced_sign if forced_sign is not None else hand_sign(signed, secret)
        query, form = dict(system), {}
        if json_in == "body":
            form["360buy_param_json"] = text
        else:
            query["360buy_param_json"] = text
        if system_in == "body":
            form.update(
                query if json_in == "body" else {k: v for k, v in query.items() if k != "360buy_param_json"}
            )
            query = {} if json_in == "body" else {"360buy_param_json": text}
        url = f"{origin}/routerjson" + (f"?{urlencode(query)}" if query else "")
        return httpx.Request(
            "POST",
            url,
            content=urlencode(form).encode(),
            headers={"content-type": "application/x-www-form-urlencoded;charset=UTF-8"},
        )

    return make


@pytest.fixture
def ask(sandbox: JdSandbox) -> Ask:
    """Send a request to the sandbox in-process; the JSON answer."""

    def send(request: httpx.Request) -> dict[str, Any]:
        response = sandbox.dispatch(request)
        assert response.status_code == 200, response.text
        return response.json()

    return send
