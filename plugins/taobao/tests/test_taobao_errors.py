"""Classification of TOP answers into hub errors, from the envelopes in the fact sheet (§1.5, §1.6)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

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
from hub.platform import ShopContext
from hub.secrets import register_secret
from hub_taobao.client import ban_seconds, classify_error, response_key

pytestmark = pytest.mark.anyio

# Real bodies quoted by the fact sheet (§1.5).
INVALID_SESSION = (
    '{"error_response":{"code":27,"msg":"Invalid session","sub_code":"invalid-sessionkey",'
    '"request_id":"rxvsf5lo4ufl"}}'
)
EXPIRED_SESSION = (
    '{"error_response":{"code":27,"msg":"Invalid session:session-expired",'
    '"sub_code":"session-expired","request_id":"ze1z2cy8hpd1"}}'
)
APP_CALL_LIMITED = (
    '{"error_response":{"code":7,"msg":"App Call Limited","sub_code":'
    '"accesscontrol.limited-by-api-access-count",'
    '"sub_msg":"This ban will last for 1 more seconds"}}'
)


def parse(
    shop: ShopContext, body: str | bytes, operation: str = "taobao.items.onsale.get", status: int = 200
) -> Any:
    content = body.encode() if isinstance(body, str) else body
    return shop.client.parse(operation, httpx.Response(status, content=content))


def error(
    code: int, msg: str, sub_code: str | None = None, sub_msg: str | None = None, request_id: str = "req123"
) -> str:
    body: dict[str, Any] = {"code": code, "msg": msg, "request_id": request_id}
    if sub_code:
        body["sub_code"] = sub_code
    if sub_msg:
        body["sub_msg"] = sub_msg
    return json.dumps({"error_response": body})


async def test_success_unwraps_the_api_response(shop: ShopContext) -> None:
    body = '{"items_onsale_get_response":{"total_results":1,"items":{"item":[{"num_iid":1}]}}}'
    assert parse(shop, body) == {"total_results": 1, "items": {"item": [{"num_iid": 1}]}}
    assert response_key("taobao.trades.sold.increment.get") == "trades_sold_increment_get_response"


async def test_invalid_session_is_a_non_refreshable_auth_error(shop: ShopContext) -> None:
    with pytest.raises(AuthError) as caught:
        parse(shop, INVALID_SESSION)
    exc = caught.value
    assert not exc.refreshable and not exc.retryable and exc.exit_code == 2
    assert (exc.code, exc.sub_code, exc.request_id) == (27, "invalid-sessionkey", "rxvsf5lo4ufl")
    assert "re-authorise" in str(exc) and "invalid" in str(exc)


async def test_expired_session_says_so(shop: ShopContext) -> None:
    with pytest.raises(AuthError) as caught:
        parse(shop, EXPIRED_SESSION)
    assert caught.value.sub_code == "session-expired" and not caught.value.refreshable
    assert "has expired" in str(caught.value) and caught.value.request_id == "ze1z2cy8hpd1"


async def test_app_call_limited_waits_as_long_as_the_ban(shop: ShopContext) -> None:
    with pytest.raises(RateLimited) as caught:
        parse(shop, APP_CALL_LIMITED)
    assert caught.value.retry_after == 1.0 and caught.value.retryable


@pytest.mark.parametrize("code", [4, 5, 6, 8])
def test_other_call_limits_are_rate_limits(code: int) -> None:
    exc = classify_error(
        {"code": code, "msg": "Call Limited", "sub_msg": "This ban will last for 42 more seconds"}
    )
    assert isinstance(exc, RateLimited) and exc.retry_after == 42.0


def test_accesscontrol_sub_code_is_a_rate_limit_without_a_known_wait() -> None:
    exc = classify_error({"code": 15, "msg": "Remote service error", "sub_code": "accesscontrol.anything"})
    assert isinstance(exc, RateLimited) and exc.retry_after is None


def test_ban_seconds() -> None:
    assert ban_seconds(None, "This ban will last for 17 more seconds") == 17
    assert ban_seconds("no ban here") is None


@pytest.mark.parametrize(
    ("code", "hint"),
    [(24, "app_secret"), (25, "app_secret"), (28, "app_key"), (29, "app_key"), (26, "access_token")],
)
def test_credential_codes_need_a_human(code: int, hint: str) -> None:
    exc = classify_error({"code": code, "msg": "x"})
    assert isinstance(exc, AuthError) and not exc.refreshable and hint in str(exc)


@pytest.mark.parametrize(
    "body",
    [
        {"code": 11, "msg": "Insufficient ISV Permissions"},
        {"code": 12, "msg": "Insufficient User Permissions"},
        {"code": 13, "msg": "Insufficient Partner Permissions"},
        {"code": 15, "msg": "Remote service error", "sub_code": "isv.invalid-permission"},
    ],
)
def test_permissions(body: dict[str, Any]) -> None:
    assert isinstance(classify_error(body, operation="taobao.trade.fullinfo.get"), PermissionDenied)


async def test_invalid_timestamp_says_to_check_the_clock(shop: ShopContext) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse(shop, error(31, "Invalid Timestamp"))
    assert caught.value.parameter == "timestamp" and "clock" in str(caught.value)


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        (
            {"code": 41, "msg": "Invalid Arguments:num_iid", "sub_code": "isv.invalid-parameter:num_iid"},
            "num_iid",
        ),
        (
            {
                "code": 40,
                "msg": "Missing Required Arguments:fields",
                "sub_code": "isv.missing-parameter:fields",
            },
            "fields",
        ),
        ({"code": 40, "msg": "Missing Required Arguments:tid"}, "tid"),
        ({"code": 43, "msg": "Parameter Error"}, None),
        ({"code": 15, "msg": "Remote service error", "sub_code": "isv.item-price-out-of-sku-range"}, None),
    ],
)
def test_caller_errors_name_the_parameter(body: dict[str, Any], parameter: str | None) -> None:
    exc = classify_error(body)
    assert type(exc) is InvalidRequest and exc.parameter == parameter and not exc.retryable


@pytest.mark.parametrize(
    "body",
    [
        {"code": 15, "msg": "Remote service error", "sub_code": "isp.top-remote-connection-timeout"},
        {"code": 15, "msg": "Remote service error", "sub_code": "isp.runtime-max-limit"},
        {"code": 10, "msg": "Service Currently Unavailable"},
        {"code": 15, "msg": "Remote service error"},
    ],
)
def test_service_side_faults_are_retryable(body: dict[str, Any]) -> None:
    exc = classify_error(body)
    assert isinstance(exc, ServerError) and exc.retryable


def test_missing_records_are_not_found() -> None:
    exc = classify_error(
        {"code": 15, "msg": "Remote service error", "sub_code": "isv.item-not-exist:invalid-numIid"}
    )
    assert isinstance(exc, NotFound) and not exc.retryable


def test_unknown_codes_are_rejected_requests_not_retried() -> None:
    exc = classify_error({"code": 99, "msg": "Something New"})
    assert type(exc) is InvalidRequest and not exc.retryable and "unrecognised" in str(exc)


@pytest.mark.parametrize("code", [21, 22, 23, 32, 33, 34, 9])
def test_protocol_errors_are_rejected_requests(code: int) -> None:
    assert type(classify_error({"code": code, "msg": "x"})) is InvalidRequest


async def test_the_operation_and_platform_are_on_the_error(shop: ShopContext) -> None:
    with pytest.raises(PlatformError) as caught:
        parse(
            shop,
            error(41, "Invalid Arguments:page_size", "isv.invalid-parameter:page_size"),
            operation="taobao.trades.sold.increment.get",
        )
    text = str(caught.value)
    assert caught.value.platform == "taobao" and "[taobao:taobao.trades.sold.increment.get]" in text
    assert "41/isv.invalid-parameter:page_size" in text and "request_id=req123" in text


async def test_unreadable_bodies_are_malformed(shop: ShopContext) -> None:
    with pytest.raises(MalformedResponse):
        parse(shop, '{"items_onsale_get_response":{"total_res')
    with pytest.raises(MalformedResponse, match="expected items_onsale_get_response"):
        parse(shop, '{"something_else_response":{}}')
    with pytest.raises(MalformedResponse):
        parse(shop, "<html>maintenance</html>")


async def test_http_failures_are_classified_by_the_base(shop: ShopContext) -> None:
    with pytest.raises(ServerError):
        parse(shop, "<html>502</html>", status=502)
    with pytest.raises(RateLimited):
        parse(shop, "", status=429)


def test_secrets_in_platform_text_are_masked() -> None:
    register_secret("super-secret-session-value")
    exc = classify_error(
        {"code": 27, "msg": "Invalid session", "sub_msg": "session super-secret-session-value is unknown"}
    )
    assert "super-secret-session-value" not in str(exc) and "****" in str(exc)
