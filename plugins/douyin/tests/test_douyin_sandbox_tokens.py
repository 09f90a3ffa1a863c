"""The sandbox's token endpoints follow Douyin's token lifecycle (fact sheet §3.7); the
requests are built by hand (``raw``). Access tokens live 7 days in these tests."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.testing import FakeClock
from hub_douyin.sandbox import DouyinSandbox

from .wire import RawCall

HOUR = 3600
TTL = 7 * 86400


def refresh(raw: RawCall, token: str) -> dict:
    # token.refresh travels without an access_token, as the Go SDK sends it
    return raw("/token/refresh", {"grant_type": "refresh_token", "refresh_token": token}, token=None)


def listing_ok(raw: RawCall, token: str) -> bool:
    return raw("/product/listV2", {"page": 1, "size": 10}, token=token)["code"] == 10000


def test_refresh_long_before_expiry_returns_the_same_tokens(
    raw: RawCall, sandbox: DouyinSandbox, clock: FakeClock
) -> None:
    clock.advance(TTL - 2 * HOUR)
    data = refresh(raw, sandbox.refresh_token)["data"]
    assert (data["access_token"], data["refresh_token"]) == (sandbox.access_token, sandbox.refresh_token)
    assert data["expires_in"] == 2 * HOUR  # validity unchanged
    assert {"scope", "shop_id", "shop_name", "authority_id", "auth_subject_type"} <= set(data)


def test_refresh_in_the_last_hour_gives_new_tokens_and_the_old_pair_lives_one_more_hour(
    raw: RawCall, sandbox: DouyinSandbox, clock: FakeClock
) -> None:
    clock.advance(TTL - HOUR / 2)
    data = refresh(raw, sandbox.refresh_token)["data"]
    new_access, new_refresh = data["access_token"], data["refresh_token"]
    assert new_access != sandbox.access_token and new_refresh != sandbox.refresh_token
    assert data["expires_in"] == TTL
    clock.advance(HOUR / 2 + 60)  # the old token's own expiry has passed...
    assert listing_ok(raw, sandbox.access_token)  # ...but it has one more hour
    again = refresh(raw, sandbox.refresh_token)["data"]  # the old refresh token still answers
    assert (again["access_token"], again["refresh_token"]) == (new_access, new_refresh)
    clock.advance(HOUR)
    assert not listing_ok(raw, sandbox.access_token)
    assert refresh(raw, sandbox.refresh_token)["sub_code"] == "dop.token-generate-failed:token-invalid"
    assert listing_ok(raw, new_access)


def test_refresh_after_expiry_gives_new_tokens_and_the_old_ones_die(
    raw: RawCall, sandbox: DouyinSandbox, clock: FakeClock
) -> None:
    clock.advance(TTL + 60)
    data = refresh(raw, sandbox.refresh_token)["data"]
    assert data["access_token"] != sandbox.access_token
    assert listing_ok(raw, data["access_token"]) and not listing_ok(raw, sandbox.access_token)
    answer = refresh(raw, sandbox.refresh_token)
    assert (answer["code"], answer["sub_code"]) == (50001, "dop.token-generate-failed:token-invalid")


def test_a_refresh_token_lives_fourteen_days(raw: RawCall, sandbox: DouyinSandbox, clock: FakeClock) -> None:
    clock.advance(14 * 86400)
    answer = refresh(raw, sandbox.refresh_token)
    assert (answer["code"], answer["sub_code"]) == (50001, "dop.token-generate-failed:token-expired")


def test_refresh_errors(raw: RawCall, sandbox: DouyinSandbox) -> None:
    assert refresh(raw, "unknown")["sub_code"] == "dop.token-generate-failed:token-invalid"
    missing = raw("/token/refresh", {"grant_type": "refresh_token"}, token=None)
    assert (missing["code"], missing["sub_code"]) == (50002, "isv.business-failed:31009")
    wrong = raw(
        "/token/refresh", {"grant_type": "password", "refresh_token": sandbox.refresh_token}, token=None
    )
    assert wrong["sub_code"] == "dop.token-generate-failed:grant-type-invalid"


def test_token_endpoints_still_check_the_signature(raw: RawCall, sandbox: DouyinSandbox) -> None:
    answer = raw(
        "/token/refresh",
        {"grant_type": "refresh_token", "refresh_token": sandbox.refresh_token},
        token=None,
        secret="wrong",
    )
    assert answer["sub_code"] == "isv.signature-invalid"


def test_expires_in_as_a_timestamp(raw: RawCall, sandbox: DouyinSandbox, clock: FakeClock) -> None:
    sandbox.expires_in_mode = "timestamp"
    data = refresh(raw, sandbox.refresh_token)["data"]
    assert data["expires_in"] == int((clock.now() + timedelta(seconds=TTL)).timestamp())


def test_token_create_with_an_authorisation_code(
    raw: RawCall, sandbox: DouyinSandbox, clock: FakeClock
) -> None:
    code = sandbox.authorization_code()
    data = raw("/token/create", {"code": code, "grant_type": "authorization_code"}, token=None)["data"]
    assert listing_ok(raw, data["access_token"]) and data["shop_id"] == sandbox.shop_id
    used = raw("/token/create", {"code": code, "grant_type": "authorization_code"}, token=None)
    assert used["sub_code"] == "dop.token-generate-failed:code-invalid"  # single use
    late = sandbox.authorization_code()
    clock.advance(601)
    expired = raw("/token/create", {"code": late, "grant_type": "authorization_code"}, token=None)
    assert expired["sub_code"] == "dop.token-generate-failed:code-expired"


@pytest.mark.parametrize("shop_id,ok", [(DouyinSandbox.shop_id, True), (1, False)])
def test_token_create_for_a_self_use_app(raw: RawCall, shop_id: int, ok: bool) -> None:
    answer = raw(
        "/token/create", {"code": "", "grant_type": "authorization_self", "shop_id": shop_id}, token=None
    )
    assert (answer["code"] == 10000) is ok


def test_an_unconfigured_ttl_still_expires_as_douyin_tokens_do(clock: FakeClock) -> None:
    from hub.simulator import SandboxConfig

    sandbox = DouyinSandbox(SandboxConfig(clock=clock))
    assert sandbox.credentials.expires_at(sandbox.access_token) == clock.now() + timedelta(days=7)
