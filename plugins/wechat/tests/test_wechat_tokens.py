"""Access tokens through the plugin's client: first fetch, refresh ahead of expiry, one
refresh on 42001 mid-sync, one refresh for many concurrent failures, no secret in logs."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest

from hub.errors import AuthError
from hub.models import ListingRef
from hub.platform import TokenSet
from hub.plugins import PluginHost
from hub.testing import FakeClock
from hub_wechat.sandbox import WechatSandbox

pytestmark = pytest.mark.anyio


async def listings(host: PluginHost, shop: Any) -> list[Any]:
    return [x async for x in shop.client.iter_listings()]


async def test_a_shop_without_token_fetches_one_first(
    host: PluginHost,
    shop_factory: Any,
    sandbox: WechatSandbox,
    saved_tokens: list[TokenSet],
    clock: FakeClock,
) -> None:
    shop = shop_factory(access_token=None)
    assert len(await listings(host, shop)) == 6
    assert sandbox.calls["cgi-bin/stable_token"] == 1 and not sandbox.errors
    assert [t.access_token for t in saved_tokens] == [sandbox.access_token]
    assert saved_tokens[0].refresh_token is None
    assert saved_tokens[0].expires_at is not None
    assert (saved_tokens[0].expires_at - clock.now()).total_seconds() == pytest.approx(7200, abs=5)


async def test_the_token_is_refreshed_ahead_of_expiry(
    host: PluginHost,
    shop_factory: Any,
    sandbox: WechatSandbox,
    saved_tokens: list[TokenSet],
    clock: FakeClock,
) -> None:
    shop = shop_factory(access_token=None)
    await listings(host, shop)
    first = shop.client.access_token
    clock.advance(3600)  # an hour left: nothing to do
    await listings(host, shop)
    assert sandbox.calls["cgi-bin/stable_token"] == 1
    clock.advance(3600 - 290)  # 290 s left: stable_token would renew, but the margin is 4 min
    await listings(host, shop)
    assert sandbox.calls["cgi-bin/stable_token"] == 1
    clock.advance(90)  # 200 s left: inside the margin, and inside the platform's renewal window
    assert len(await listings(host, shop)) == 6
    assert sandbox.calls["cgi-bin/stable_token"] == 2
    assert shop.client.access_token != first and len(saved_tokens) == 2
    assert sandbox.errors[42001] == 0  # refreshed before any call failed


async def test_an_expired_token_mid_sync_is_refreshed_once(
    host: PluginHost, shop: Any, sandbox: WechatSandbox, saved_tokens: list[TokenSet]
) -> None:
    got = []
    async for listing in shop.client.iter_listings():
        got.append(listing)
        if len(got) == 2:
            sandbox.expire_tokens()  # the platform expires the token between two pages
    assert len(got) == 6
    assert sandbox.errors[42001] == 1 and shop.client.stats.token_refreshes == 1
    assert len(saved_tokens) == 1 and saved_tokens[0].access_token == sandbox.stable_token


async def test_concurrent_failures_share_one_refresh(
    host: PluginHost, shop: Any, sandbox: WechatSandbox, saved_tokens: list[TokenSet]
) -> None:
    refs = [
        ListingRef(platform_item_id=s.item_id, platform_sku_id=s.sku_id) for s in sandbox.state.iter_skus()
    ]
    sandbox.expire_tokens()
    results: list[int] = []

    async def read(ref: ListingRef) -> None:
        results.append(len(await shop.client.fetch_stock([ref])))

    async with anyio.create_task_group() as group:
        for ref in refs:
            group.start_soon(read, ref)
    assert results == [1] * len(refs)
    assert sandbox.errors[42001] >= 2, "several requests failed at the same time"
    assert shop.client.stats.token_refreshes == 1 and len(saved_tokens) == 1
    assert sandbox.calls["cgi-bin/stable_token"] == 1


async def test_the_plain_token_api_can_be_chosen(
    host: PluginHost, shop_factory: Any, sandbox: WechatSandbox, saved_tokens: list[TokenSet]
) -> None:
    shop = shop_factory(access_token=None, token_api="token")
    assert len(await listings(host, shop)) == 6
    assert sandbox.calls["cgi-bin/token"] == 1 and sandbox.calls["cgi-bin/stable_token"] == 0
    assert saved_tokens[0].access_token == sandbox.plain_token


async def test_a_wrong_secret_is_a_clear_auth_error(host: PluginHost, shop_factory: Any) -> None:
    shop = shop_factory(access_token=None, app_secret="definitely-not-the-secret")
    with pytest.raises(AuthError) as caught:
        await listings(host, shop)
    assert not caught.value.refreshable and "AppSecret" in str(caught.value)
    assert "definitely-not-the-secret" not in str(caught.value)


async def test_a_wrong_appid_is_an_auth_error(host: PluginHost, shop_factory: Any) -> None:
    shop = shop_factory(access_token=None, app_key="wx0000000000000000")
    with pytest.raises(AuthError) as caught:
        await listings(host, shop)
    assert caught.value.code == 40013 and not caught.value.refreshable


async def test_no_secret_or_token_in_logs(
    host: PluginHost, shop_factory: Any, sandbox: WechatSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    shop = shop_factory(access_token=None, token_api="token")  # the secret travels in the query here
    await listings(host, shop)
    sandbox.expire_tokens()
    await listings(host, shop)
    text = caplog.text
    assert "cgi-bin/token" in text and "access_token=" in text  # URLs are logged...
    for secret in (sandbox.credentials.app_secret, shop.client.access_token, sandbox.access_token):
        assert secret and secret not in text  # ...masked
