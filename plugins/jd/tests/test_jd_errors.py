"""Every JD answer the fact sheet documents is classified into the right hub error."""

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
from hub_jd.client import JdClient
from hub_jd.sandbox import GATEWAY_TEXT

pytestmark = pytest.mark.anyio

SEARCH = "jingdong.pop.order.enSearch"

# The success example of fact sheet §2.5 (values illustrative there, shape from [J5]).
SUCCESS = {
    "jingdong_pop_order_enSearch_responce": {
        "code": "0",
        "searchorderinfo_result": {
            "apiResult": {"success": True, "englishErrCode": "", "chineseErrCode": "", "numberCode": 0},
            "orderTotal": 1,
            "orderInfoList": [
                {
                    "orderId": "230100000001",
                    "orderState": "WAIT_SELLER_STOCK_OUT",
                    "orderTotalPrice": "99.00",
                    "modified": "2024-01-01 10:00:00",
                    "itemInfoList": [
                        {"skuId": "1", "outerSkuId": "A", "wareId": "2", "jdPrice": "99.00", "itemTotal": "1"}
                    ],
                }
            ],
        },
    }
}


def answer(
    client: JdClient, body: Any, status: int = 200, method: str = SEARCH, params: dict[str, Any] | None = None
) -> Any:
    request = client.build_request(method, params or {"page": "1"})
    content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return client.parse(method, httpx.Response(status, content=content, request=request))


def fails(client: JdClient, body: Any, **kw: Any) -> PlatformError:
    with pytest.raises(PlatformError) as caught:
        answer(client, body, **kw)
    return caught.value


@pytest.mark.parametrize(
    ("code", "cls", "parameter"),
    [
        ("2", RateLimited, None),
        ("4", InvalidRequest, "v"),
        ("5", InvalidRequest, "v"),
        ("7", InvalidRequest, "timestamp"),
        ("8", InvalidRequest, "timestamp"),
        ("11", AuthError, None),
        ("12", AuthError, None),
        ("14", InvalidRequest, "method"),
        ("15", InvalidRequest, "method"),
        ("18", AuthError, None),
        ("19", AuthError, None),
        ("20", AuthError, None),
        ("21", AuthError, None),
        ("24", PermissionDenied, None),
    ],
)
async def test_gateway_codes(
    shop: ShopContext, code: str, cls: type[PlatformError], parameter: str | None
) -> None:
    zh, en = GATEWAY_TEXT[code]
    error = fails(shop.client, {"error_response": {"code": code, "zh_desc": zh, "en_desc": en}})
    assert type(error) is cls
    assert error.code == code and error.platform == "jd" and error.operation == SEARCH
    if isinstance(error, AuthError):
        assert not error.refreshable  # JD's refresh endpoint is UNCONFIRMED
    if isinstance(error, InvalidRequest):
        assert error.parameter == parameter
    if isinstance(error, RateLimited):
        assert error.retryable and error.retry_after is None


async def test_invalid_method_envelope_from_the_fact_sheet(shop: ShopContext) -> None:
    error = fails(
        shop.client,
        {"error_response": {"code": "15", "zh_desc": "不存在的方法名", "en_desc": "Invalid Method"}},
    )
    assert isinstance(error, InvalidRequest) and error.parameter == "method"
    assert "Invalid Method" in str(error)


async def test_invalid_signature_envelope_without_en_desc(shop: ShopContext) -> None:
    error = fails(shop.client, {"error_response": {"code": "12", "zh_desc": "无效签名"}})
    assert isinstance(error, AuthError) and not error.retryable
    assert "无效签名" in str(error) and "app_secret" in str(error)


async def test_timestamp_errors_say_check_the_clock(shop: ShopContext) -> None:
    for code in ("7", "8"):
        error = fails(shop.client, {"error_response": {"code": code, "zh_desc": GATEWAY_TEXT[code][0]}})
        assert "check the clock" in str(error)


async def test_expired_token_says_reauthorise(shop: ShopContext) -> None:
    error = fails(
        shop.client,
        {"error_response": {"code": "19", "zh_desc": "无效access_token", "en_desc": "Invalid access_token"}},
    )
    assert isinstance(error, AuthError) and "re-authorise" in str(error)
    assert error.exit_code == 2


async def test_numeric_codes_are_read_like_strings(shop: ShopContext) -> None:
    error = fails(shop.client, {"error_response": {"code": 24, "zh_desc": "无权调用API"}})
    assert isinstance(error, PermissionDenied) and error.code == "24"


async def test_unknown_gateway_code_is_a_server_error(shop: ShopContext) -> None:
    error = fails(shop.client, {"error_response": {"code": "66", "zh_desc": "平台连接后端服务不可用"}})
    assert isinstance(error, ServerError) and error.retryable and error.code == "66"


async def test_error_code_inside_the_responce_envelope(shop: ShopContext) -> None:
    error = fails(
        shop.client, {"jingdong_pop_order_enSearch_responce": {"code": "19", "zh_desc": "无效access_token"}}
    )
    assert isinstance(error, AuthError)


async def test_success_returns_the_result(shop: ShopContext) -> None:
    result = answer(shop.client, SUCCESS)
    assert result["searchorderinfo_result"]["orderTotal"] == 1


async def test_correct_spelling_response_is_accepted(shop: ShopContext) -> None:
    # The fact sheet quotes jingdong_stock_write_updateSkuStock_response for this API.
    method = "jingdong.stock.write.updateSkuStock"
    result = answer(
        shop.client,
        {"jingdong_stock_write_updateSkuStock_response": {"code": "0", "success": True}},
        method=method,
    )
    assert result["success"] is True


def _business(**api: Any) -> dict[str, Any]:
    return {
        "jingdong_pop_order_enSearch_responce": {
            "code": "0",
            "searchorderinfo_result": {
                "apiResult": {"success": False, **api},
                "orderTotal": 0,
                "orderInfoList": [],
            },
        }
    }


async def test_business_failure_inside_a_successful_envelope(shop: ShopContext) -> None:
    error = fails(
        shop.client,
        _business(
            englishErrCode="page_size must be between 1 and 100",
            chineseErrCode="page_size超出范围",
            numberCode=10100001,
        ),
        params={"page": "1", "page_size": "500"},
    )
    assert isinstance(error, InvalidRequest) and not error.retryable
    assert error.parameter == "page_size" and error.code == "10100001"
    assert "page_size超出范围" in str(error)


async def test_success_false_as_a_string(shop: ShopContext) -> None:
    method = "jingdong.stock.write.updateSkuStock"
    error = fails(
        shop.client,
        {
            "jingdong_stock_write_updateSkuStock_responce": {
                "code": "0",
                "success": "false",
                "englishErrCode": "stockNum invalid",
            }
        },
        method=method,
        params={"skuId": 1, "stockNum": -1},
    )
    assert isinstance(error, InvalidRequest) and error.parameter == "stockNum"


async def test_business_failure_not_found(shop: ShopContext) -> None:
    error = fails(
        shop.client, _business(englishErrCode="order not exist", chineseErrCode="订单不存在", numberCode=1)
    )
    assert isinstance(error, NotFound)


async def test_business_failure_system_error_is_retryable(shop: ShopContext) -> None:
    error = fails(
        shop.client, _business(englishErrCode="", chineseErrCode="系统异常，请稍后重试", numberCode=2)
    )
    assert isinstance(error, ServerError) and error.retryable


async def test_business_failure_permission(shop: ShopContext) -> None:
    error = fails(shop.client, _business(chineseErrCode="无权操作该订单"))
    assert isinstance(error, PermissionDenied)


async def test_write_api_failure_flag(shop: ShopContext) -> None:
    method = "jingdong.price.write.updateSkuJdPrice"
    error = fails(
        shop.client,
        {
            "jingdong_price_write_updateSkuJdPrice_responce": {
                "code": "0",
                "success": False,
                "englishErrCode": "jdPrice must be positive",
            }
        },
        method=method,
        params={"skuId": 1, "jdPrice": "0.00"},
    )
    assert isinstance(error, InvalidRequest) and error.parameter == "jdPrice"


@pytest.mark.parametrize(("status", "cls"), [(502, ServerError), (503, ServerError), (429, RateLimited)])
async def test_http_failures(shop: ShopContext, status: int, cls: type[PlatformError]) -> None:
    assert type(fails(shop.client, b"<html>busy</html>", status=status)) is cls


async def test_unreadable_bodies_are_malformed(shop: ShopContext) -> None:
    assert isinstance(fails(shop.client, b'{"jingdong_pop_order_enSearch_responce": {"co'), MalformedResponse)
    assert isinstance(fails(shop.client, {"something_else": {}}), MalformedResponse)
    assert isinstance(fails(shop.client, {"jingdong_pop_order_enSearch_responce": "text"}), MalformedResponse)


async def test_errors_carry_no_secrets(shop: ShopContext) -> None:
    client: JdClient = shop.client
    secret = shop.settings.app_secret.get_secret_value()
    token = client.access_token or ""
    request = client.build_request(SEARCH, {"page": "1"})
    signature = request.url.params["sign"]
    for body in (
        {"error_response": {"code": "12", "zh_desc": f"无效签名 {signature}"}},
        {"error_response": {"code": "19", "en_desc": f"Invalid access_token {token}"}},
        _business(englishErrCode=f"bad app_secret {secret}"),
    ):
        error = fails(client, body)
        text = f"{error} {error!r}"
        assert secret not in text and token not in text and signature not in text
