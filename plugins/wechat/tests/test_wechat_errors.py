"""Error classification, built from the envelopes the fact sheet quotes (§4.1, §4.6)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from hub.errors import (
    AuthError,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    PermissionDenied,
    PlatformError,
    QuotaExhausted,
    RateLimited,
    ServerError,
)
from hub.secrets import register_secret
from hub_wechat.client import classify_error, seconds_to_next_minute

NOW = datetime(2026, 11, 11, 12, 0, 45, 500_000, tzinfo=UTC)


def classify(
    errcode: int,
    errmsg: str = "some error rid: 6629e1e5-0a4c5d7a-3b2f1c0d",
    operation: str = "product/list/get",
) -> PlatformError:
    return classify_error(errcode, errmsg, operation=operation, now=NOW)


@pytest.mark.parametrize("errcode", [40001, 40014, 41001, 42001])
def test_token_problems_are_refreshable_auth_errors(errcode: int) -> None:
    error = classify(errcode)
    assert isinstance(error, AuthError) and error.refreshable
    assert error.code == errcode and error.platform == "wechat"


def test_expired_token_envelope_keeps_the_request_id() -> None:
    error = classify(42001, "access_token expired rid: 6629e1e5-0a4c5d7a-3b2f1c0d")
    assert isinstance(error, AuthError) and error.refreshable
    assert error.request_id == "6629e1e5-0a4c5d7a-3b2f1c0d"
    assert "access_token expired" in str(error)


def test_invalid_appid_is_not_refreshable() -> None:
    error = classify(40013, "invalid appid")  # the cgi-bin/token example of §4.1
    assert isinstance(error, AuthError) and not error.refreshable


@pytest.mark.parametrize("operation", ["cgi-bin/stable_token", "cgi-bin/token"])
def test_wrong_secret_on_the_token_call_is_not_refreshable(operation: str) -> None:
    error = classify(40001, "invalid credential", operation=operation)
    assert isinstance(error, AuthError) and not error.refreshable
    assert "AppSecret" in str(error)


def test_per_minute_limit_waits_for_the_next_minute() -> None:
    error = classify(45011, "api minute-quota reach limit mustslower retry next minute")
    assert isinstance(error, RateLimited) and error.retryable
    assert error.retry_after == pytest.approx(14.5)
    assert seconds_to_next_minute(datetime(2026, 1, 1, 8, 30, tzinfo=UTC)) == 60.0


def test_daily_quota_is_rate_limited_but_not_retried() -> None:
    error = classify(45009, "reach max api daily quota limit")
    assert isinstance(error, RateLimited) and isinstance(error, QuotaExhausted)
    assert not error.retryable and error.retry_after is None
    assert "daily" in str(error) and "clear_quota" in str(error)


def test_system_busy_is_a_server_error() -> None:
    error = classify(-1, "system error")
    assert isinstance(error, ServerError) and error.retryable


@pytest.mark.parametrize("errcode", [48001, 48004, 61007, 50001, 50002, 10020050])
def test_permission_codes(errcode: int) -> None:
    assert isinstance(classify(errcode), PermissionDenied)


@pytest.mark.parametrize("errcode", [45035, 61004])
def test_ip_whitelist_codes_say_so(errcode: int) -> None:
    error = classify(errcode)
    assert isinstance(error, PermissionDenied) and "whitelist" in str(error)


@pytest.mark.parametrize("errcode", [47001, 44002, 43002, 40066])
def test_request_shape_codes_are_invalid_requests(errcode: int) -> None:
    error = classify(errcode)
    assert isinstance(error, InvalidRequest) and not error.retryable


def test_invalid_openid_names_the_parameter() -> None:
    error = classify(40003, "invalid openid")
    assert isinstance(error, InvalidRequest) and error.parameter == "openid"


def test_business_codes_are_invalid_requests_with_the_platform_text() -> None:
    error = classify(10020067, "商品正在上传中 rid: 1-2-3")
    assert isinstance(error, InvalidRequest) and "商品正在上传中" in str(error)
    assert error.code == 10020067


def test_sku_update_frequency_is_rate_limited() -> None:
    error = classify(10020112, "sku update too frequently")
    assert isinstance(error, RateLimited) and error.retryable


def test_missing_product_is_not_found() -> None:
    assert isinstance(classify(10020052, "product not exist"), NotFound)


def test_unknown_code_is_a_plain_platform_error() -> None:
    error = classify(99999, "who knows")
    assert type(error) is PlatformError and "unclassified" in str(error)


def test_registered_secrets_are_masked_in_messages() -> None:
    register_secret("SuperSecretAppSecret42")
    error = classify(40001, "bad secret SuperSecretAppSecret42", operation="cgi-bin/token")
    assert "SuperSecretAppSecret42" not in str(error)


# --- through the client's parse() --------------------------------------------------------------


def response(body: object, status: int = 200) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content)


@pytest.mark.anyio
async def test_parse_returns_the_body_on_success(shop) -> None:  # type: ignore[no-untyped-def]
    body = {"errcode": 0, "errmsg": "ok", "product_ids": ["1"]}
    assert shop.client.parse("product/list/get", response(body)) == body
    token = {"access_token": "ACCESS_TOKEN", "expires_in": 7200}  # §4.1: no errcode
    assert shop.client.parse("cgi-bin/token", response(token)) == token


@pytest.mark.anyio
async def test_parse_raises_the_classified_error(shop) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AuthError) as caught:
        expired = {"errcode": 42001, "errmsg": "access_token expired rid: x-y"}
        shop.client.parse("order/get", response(expired))
    assert caught.value.refreshable and caught.value.operation == "order/get"


@pytest.mark.parametrize(
    ("status", "content", "error"),
    [
        (200, b'{"errcode":0,"errm', MalformedResponse),
        (200, b"<html>oops</html>", MalformedResponse),
        (200, b"[1, 2]", MalformedResponse),
        (200, b'{"errcode": "x"}', MalformedResponse),
        (502, b"<html>502 Bad Gateway</html>", ServerError),
        (403, b"<html>Forbidden</html>", PermissionDenied),
        (429, b"", RateLimited),
    ],
)
@pytest.mark.anyio
async def test_parse_http_level_failures(
    shop,
    status: int,
    content: bytes,  # type: ignore[no-untyped-def]
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        shop.client.parse("product/get", httpx.Response(status, content=content))
