"""Registration: what the plugin declares."""

from __future__ import annotations

from datetime import timedelta
from importlib.metadata import entry_points

import pytest

import hub_wechat.plugin as plugin
from hub.models import PromotionKind
from hub.platform import PlatformInfo
from hub.simulator import SandboxConfig
from hub.testing import FakeClock
from hub_wechat.sandbox import WechatSandbox
from hub_wechat.settings import WechatSettings


def test_the_entry_point_names_the_plugin_module() -> None:
    [ep] = [ep for ep in entry_points(group="hub") if ep.name == "wechat"]
    assert ep.value == "hub_wechat.plugin" and ep.dist is not None and ep.dist.name == "hub-wechat"


def test_declarations(info: PlatformInfo) -> None:
    assert info.code == "wechat" and info.settings_model is WechatSettings
    assert WechatSettings.model_fields["base_url"].default == "https://api.weixin.qq.com"
    caps = info.capabilities
    assert caps.delta_stock and not caps.idempotent_stock and caps.shipment
    assert caps.native_promotions == frozenset({PromotionKind.FLASH_PRICE, PromotionKind.PERCENT_DISCOUNT})
    assert info.order_window.max_span == timedelta(days=7)
    assert info.rate_limit.qps == 10 and info.rate_limit.concurrency == 4


def test_make_sandbox_builds_a_wechat_sandbox() -> None:
    sandbox = plugin.INFO.make_sandbox(SandboxConfig(clock=FakeClock()))
    assert isinstance(sandbox, WechatSandbox) and sandbox.base_url() == "http://sandbox.test"


def test_settings_validate_page_sizes_and_token_api() -> None:
    base = {"app_key": "wx1", "app_secret": "s"}
    assert WechatSettings(**base).token_api == "stable_token"
    for bad in (
        {"order_page_size": 101},
        {"product_page_size": 0},
        {"token_api": "oauth"},
        {"master_code_source": "title"},
        {"base_url": "api.weixin.qq.com"},
    ):
        with pytest.raises(ValueError):
            WechatSettings(**base, **bad)
