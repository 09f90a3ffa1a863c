"""Error classification, from the envelopes of the fact sheet (§3.4) and its code table."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from hub.core.http import HttpOptions
from hub.errors import (
    AuthError,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    PermissionDenied,
    PlatformError,
    RateLimited,
    ServerError,
)
from hub.platform import RateLimit
from hub.testing import FakeClock
from hub_douyin.client import DouyinClient, IdempotentReplay, InsufficientStock, classify, parameter_in
from hub_douyin.settings import DouyinSettings

# The fact sheet's error envelope, verbatim.
EXPIRED = {
    "code": 40003,
    "msg": "非法的参数",
    "sub_code": "isv.access-token-expired",
    "sub_msg": "access_token已过期",
    "log_id": "2023...",
}


def envelope(code: int, sub_code: str = "", sub_msg: str = "", msg: str = "error") -> dict[str, Any]:
    return {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg, "log_id": "20261111LOG"}


def test_expired_token_envelope_is_a_refreshable_auth_error() -> None:
    error = classify(EXPIRED, operation="product.listV2")
    assert isinstance(error, AuthError) and error.refreshable
    assert error.code == 40003 and error.sub_code == "isv.access-token-expired"
    assert error.request_id == "2023..." and error.platform == "douyin"


def test_unknown_token_is_refreshable_too() -> None:
    error = classify(envelope(40003, "isv.access-token-no-existed"), operation="sku.list")
    assert isinstance(error, AuthError) and error.refreshable


@pytest.mark.parametrize(
    "code,sub_code",
    [
        (40003, "isv.access-token-invalid"),
        (40001, "isv.access-token-missing"),
        (40003, "isv.signature-invalid"),
        (40001, "isv.signature-missing"),
        (40003, "isv.app-id-invalid"),
        (40003, "isv.app-id-expired"),
        (40001, "isv.app-id-missing"),
    ],
)
def test_credential_errors_are_not_refreshable(code: int, sub_code: str) -> None:
    error = classify(envelope(code, sub_code), operation="sku.list")
    assert isinstance(error, AuthError) and not error.refreshable


@pytest.mark.parametrize(
    "sub_code,hint",
    [
        ("isv.signature-invalid", "check the shop's app_secret and sign_method"),
        ("isv.app-id-invalid", "check the shop's app_key"),
    ],
)
def test_credential_errors_say_what_to_check(sub_code: str, hint: str) -> None:
    error = classify(envelope(40003, sub_code, sub_msg="签名校验失败"), operation="sku.list")
    assert hint in str(error) and "签名校验失败" in str(error)


def test_throttling_is_rate_limited() -> None:
    error = classify(envelope(60000, sub_msg="调用频率超过限制"), operation="order.searchList")
    assert isinstance(error, RateLimited) and error.retryable and error.retry_after is None


@pytest.mark.parametrize(
    "code,sub_code",
    [
        (20000, "dop.service-error"),
        (20000, "isp.service-error:500"),
        (20001, ""),
        (50000, ""),
        (90000, "isp.unknown-error"),
        (90000, "dop.unknown-error"),
        (50001, ""),
    ],
)
def test_server_side_failures_are_retryable(code: int, sub_code: str) -> None:
    error = classify(envelope(code, sub_code), operation="sku.list")
    assert isinstance(error, ServerError) and error.retryable


@pytest.mark.parametrize(
    "code,sub_code",
    [
        (30001, "isv.app-permissions-insufficient"),
        (30001, "dop.authorization-no-existed"),
        (30001, "dop.app-forbidden"),
        (30001, "dop.authorization-closed"),
        (30002, ""),
        (80000, ""),
    ],
)
def test_permission_errors(code: int, sub_code: str) -> None:
    assert isinstance(classify(envelope(code, sub_code), operation="sku.list"), PermissionDenied)


def test_api_offline_says_so() -> None:
    error = classify(envelope(70000, "isp.api-service-off", "接口已下线"), operation="sku.list")
    assert isinstance(error, PermissionDenied) and "offline" in str(error)


@pytest.mark.parametrize("sub_code", ["isv.timestamp-invalid", "isv.timestamp-format-error"])
def test_timestamp_errors_point_at_the_clock(sub_code: str) -> None:
    error = classify(envelope(40003, sub_code, "timestamp错误"), operation="sku.list")
    assert isinstance(error, InvalidRequest) and not isinstance(error, AuthError)
    assert error.parameter == "timestamp" and "clock" in str(error)


@pytest.mark.parametrize("code", [30000, 40001, 40002, 40003, 40004, 50002])
def test_request_errors_name_the_parameter(code: int) -> None:
    error = classify(envelope(code, "isv.parameter-invalid", "size取值范围为1~100"), operation="x")
    assert type(error) is InvalidRequest and error.parameter == "size" and not error.retryable


def test_parameter_names_are_found_in_messages() -> None:
    assert parameter_in("缺少必选参数stock_num") == "stock_num"
    assert parameter_in("page*size不能超过10000") == "page"
    assert parameter_in("param_json格式错误") is None


def test_does_not_exist_is_not_found() -> None:
    error = classify(envelope(50002, "isv.business-failed", "SKU不存在"), operation="sku.editPrice")
    assert isinstance(error, NotFound)


def test_idempotent_replay_and_insufficient_stock_have_their_own_classes() -> None:
    replay = classify(envelope(40003, "isv.idempotent-id-existed"), operation="sku.syncStock")
    assert isinstance(replay, IdempotentReplay) and replay.parameter == "idempotent_id"
    short = classify(
        envelope(50002, "isv.business-failed:31055", "更新库存数失败: 库存不足"), operation="sku.syncStock"
    )
    assert isinstance(short, InsufficientStock) and short.parameter == "stock_num"


@pytest.mark.parametrize(
    "code,sub_code",
    [
        (50001, "dop.token-generate-failed:token-expired"),
        (50001, "dop.token-generate-failed:token-invalid"),
        (50001, "dop.token-generate-failed:code-expired"),
        (50002, "isv.business-failed:31009"),
    ],
)
def test_failed_token_calls_need_a_new_authorisation(code: int, sub_code: str) -> None:
    error = classify(envelope(code, sub_code), operation="token.refresh")
    assert isinstance(error, AuthError) and not error.refreshable
    assert "authorise" in str(error)


def test_an_unknown_code_is_a_plain_platform_error() -> None:
    error = classify(envelope(12345), operation="sku.list")
    assert type(error) is PlatformError and not error.retryable


# --- parse(): the HTTP layer -------------------------------------------------------------


@pytest.fixture
def client() -> DouyinClient:
    settings = DouyinSettings(app_key="k", app_secret="s3cr3t-app-secret", access_token="t0ken-value")
    return DouyinClient(settings, HttpOptions(shop="s", rate_limit=RateLimit(qps=10), clock=FakeClock()))


def response(payload: Any, status: int = 200) -> httpx.Response:
    content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return httpx.Response(status, content=content)


def test_parse_returns_data_of_a_success_envelope(client: DouyinClient) -> None:
    body = {
        "code": 10000,
        "msg": "success",
        "sub_code": "",
        "sub_msg": "",
        "log_id": "x",
        "data": {"total": 1, "page": 0, "size": 20, "shop_order_list": []},
    }
    assert client.parse("order.searchList", response(body))["total"] == 1


def test_parse_raises_the_classified_error(client: DouyinClient) -> None:
    with pytest.raises(AuthError) as caught:
        client.parse("sku.list", response(EXPIRED))
    assert caught.value.refreshable


def test_parse_handles_the_legacy_envelope(client: DouyinClient) -> None:
    assert client.parse("sku.list", response({"err_no": 0, "message": "success", "data": [1]})) == [1]
    with pytest.raises(PlatformError):
        client.parse("sku.list", response({"err_no": 30001, "message": "no permission"}))


@pytest.mark.parametrize("body", [b"<html>bad gateway", b'{"code": 100', b"[1, 2]", b'{"msg": "x"}'])
def test_unreadable_bodies_are_malformed(client: DouyinClient, body: bytes) -> None:
    with pytest.raises(MalformedResponse):
        client.parse("sku.list", response(body))


def test_http_level_failures(client: DouyinClient) -> None:
    with pytest.raises(ServerError):
        client.parse("sku.list", response(b"oops", 502))
    with pytest.raises(RateLimited):
        client.parse("sku.list", response(b"", 429))


def test_error_messages_never_carry_secrets(client: DouyinClient) -> None:
    leaky = envelope(40004, "isv.parameter-invalid", "bad token t0ken-value / s3cr3t-app-secret")
    with pytest.raises(InvalidRequest) as caught:
        client.parse("sku.list", response(leaky))
    assert "t0ken-value" not in str(caught.value) and "s3cr3t-app-secret" not in str(caught.value)
