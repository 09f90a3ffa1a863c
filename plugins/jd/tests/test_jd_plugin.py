"""Registration and settings of the JD plugin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from hub.plugins import PluginHost
from hub.simulator import SandboxConfig
from hub.testing import FakeClock
from hub_jd import PLATFORM, plugin
from hub_jd.sandbox import JdSandbox
from hub_jd.settings import ALL_ORDER_STATES, JdSettings


def test_registered_through_the_entry_point() -> None:
    host = PluginHost(autoload=True, blocked=[])
    info = host.platform("jd")
    assert info.code == PLATFORM == "jd" and info.plugin == "jd"
    caps = info.capabilities
    assert not caps.delta_stock and not caps.idempotent_stock and caps.shipment
    assert caps.native_promotions == frozenset()  # JD marketing APIs are not researched
    assert 1 <= caps.stock_batch_size <= 20
    assert info.order_window.max_span <= timedelta(days=28)  # under JD's one-month limit
    assert info.rate_limit.qps == 10 and info.rate_limit.concurrency == 4
    assert info.settings_model is JdSettings
    assert JdSettings.model_fields["base_url"].default == "https://api.jd.com/routerjson"


def test_make_sandbox_builds_the_jd_sandbox() -> None:
    clock = FakeClock()
    app = plugin.INFO.make_sandbox(SandboxConfig(clock=clock))
    assert isinstance(app, JdSandbox) and app.base_url() == "http://sandbox.test/routerjson"


def test_settings_defaults_and_validation() -> None:
    base = {"app_key": "k", "app_secret": "s"}
    settings = JdSettings(**base)
    assert settings.timestamp_format == "millis" and settings.sku_page_size == 50
    assert settings.order_page_size == 100 and settings.order_states == ALL_ORDER_STATES
    assert settings.order_search_method == "jingdong.pop.order.search"
    with pytest.raises(ValidationError, match="WAIT_PAY"):
        JdSettings(**base, order_states=("WAIT_PAY",))
    with pytest.raises(ValidationError):
        JdSettings(**base, order_page_size=101)
    with pytest.raises(ValidationError):
        JdSettings(**base, timestamp_format="unix")
    assert "very-secret" not in repr(JdSettings(**{**base, "app_secret": "very-secret"}))
