"""The contract tests, run against the fake platform (which proves the contract and the
sandbox toolkit work before any real platform plugin uses them)."""

from __future__ import annotations

import pytest

from hub.plugins import PluginHost
from hub.testing.contract import PlatformContract
from hub.testing.fake import FakePlatformPlugin


class TestFakeContract(PlatformContract):
    platform = "fake"
    refreshes_tokens = True

    @pytest.fixture
    def host(self) -> PluginHost:
        host = PluginHost(autoload=False, blocked=[])
        host.register(FakePlatformPlugin(), name="fake")
        return host

    def test_platform_is_registered(self, host, info) -> None:  # type: ignore[no-untyped-def]
        # The fake is registered by hand, not installed, so it has no distribution version.
        assert info.code == "fake" and info.make_sandbox is not None


class TestFakeAbsoluteContract(TestFakeContract):
    platform = "fake_abs"

    @pytest.fixture
    def host(self) -> PluginHost:
        host = PluginHost(autoload=False, blocked=[])
        host.register(FakePlatformPlugin("fake_abs", delta_stock=False), name="fake_abs")
        return host

    def test_platform_is_registered(self, host, info) -> None:  # type: ignore[no-untyped-def]
        assert info.code == "fake_abs" and not info.capabilities.delta_stock
