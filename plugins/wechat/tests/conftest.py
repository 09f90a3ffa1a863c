"""Fixtures for the WeChat plugin tests: a fake clock, a seeded sandbox and a shop
wired to it in-process (no sockets, no real waiting)."""

from __future__ import annotations

from typing import Any

import pytest

import hub_wechat.plugin as wechat_plugin
from hub.core.http import RetryPolicy
from hub.platform import PlatformInfo
from hub.plugins import PluginHost
from hub.simulator import SandboxConfig
from hub.testing.contract import contract_seed
from hub.testing.shops import sandbox_shop_fixtures
from hub_wechat.sandbox import WechatSandbox


@pytest.fixture
def host() -> PluginHost:
    """A host with only this plugin: the other plugins are not under test here."""
    host = PluginHost(autoload=False, blocked=[])
    host.register(wechat_plugin, name="wechat")
    return host


@pytest.fixture
def info(host: PluginHost) -> PlatformInfo:
    return host.platform("wechat")


clock, saved_tokens, sandbox, shop_factory, shop = sandbox_shop_fixtures(
    wechat_plugin.INFO,
    lambda clock: WechatSandbox(SandboxConfig(clock=clock, seed=contract_seed())),
    retry=RetryPolicy(initial_wait=0.01, jitter=0),
)


def sku_of(sandbox: WechatSandbox, code: str) -> Any:
    return sandbox.state.skus_by_code(code)[0]
