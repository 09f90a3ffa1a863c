"""Fixtures for the WeChat plugin tests: a fake clock, a seeded sandbox and a shop
wired to it in-process (no sockets, no real waiting)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

import hub_wechat.plugin as wechat_plugin
from hub.core.http import RetryPolicy
from hub.platform import PlatformInfo, ShopContext, TokenSet
from hub.plugins import PluginHost
from hub.simulator import SandboxConfig
from hub.testing import FakeClock, make_shop
from hub.testing.contract import contract_seed
from hub_wechat.sandbox import WechatSandbox


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def host() -> PluginHost:
    """A host with only this plugin: the other plugins are not under test here."""
    host = PluginHost(autoload=False, blocked=[])
    host.register(wechat_plugin, name="wechat")
    return host


@pytest.fixture
def info(host: PluginHost) -> PlatformInfo:
    return host.platform("wechat")


@pytest.fixture
def sandbox(clock: FakeClock) -> WechatSandbox:
    return WechatSandbox(SandboxConfig(clock=clock, seed=contract_seed()))


@pytest.fixture
def saved_tokens() -> list[TokenSet]:
    return []


@pytest.fixture
async def make(
    info: PlatformInfo, sandbox: WechatSandbox, clock: FakeClock, saved_tokens: list[TokenSet]
) -> AsyncIterator[Any]:
    """Build shops on the sandbox (settings override by keyword); closed at teardown."""
    made: list[ShopContext] = []

    def build(**settings: Any) -> ShopContext:
        retry = settings.pop("retry", RetryPolicy(initial_wait=0.01, jitter=0))
        shop = make_shop(info, sandbox, clock=clock, saved_tokens=saved_tokens, retry=retry, **settings)
        made.append(shop)
        return shop

    yield build
    for shop in made:
        await shop.client.aclose()


@pytest.fixture
def shop(make: Any) -> ShopContext:
    return make()


def sku_of(sandbox: WechatSandbox, code: str) -> Any:
    return sandbox.state.skus_by_code(code)[0]
