"""JD signing against the official vector (fact sheet §2.3, [J8], VERIFIED) and the
request the client really sends."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import pytest

from hub.platform import ShopContext
from hub_jd.client import JdClient
from hub_jd.mappers import jd_timestamp, parse_jd_timestamp
from hub_jd.signing import business_json, sign, sign_base

# The official example, exactly as the fact sheet quotes it.
OFFICIAL_JSON = (
    '{"end_date":null,"optional_fields":null,"order_state":"WAIT_SELLER_STOCK_OUT",'
    '"page":"1","page_size":"200","start_date":null}'
)
OFFICIAL_PARAMS = {
    "360buy_param_json": OFFICIAL_JSON,
    "access_token": "yourtoken",
    "app_key": "yourappkey",
    "method": "jingdong.pop.order.search",
    "timestamp": "2021-05-07 09:20:39.683+0800",
    "v": "2.0",
}
OFFICIAL_BASE = (
    '360buy_param_json{"end_date":null,"optional_fields":null,"order_state":"WAIT_SELLER_STOCK_OUT",'
    '"page":"1","page_size":"200","start_date":null}access_tokenyourtokenapp_keyyourappkey'
    "methodjingdong.pop.order.searchtimestamp2021-05-07 09:20:39.683+0800v2.0"
)
OFFICIAL_SIGN = "D70825340F4084360B9362B60DFD7930"


def test_official_vector_concatenation() -> None:
    assert sign_base(OFFICIAL_PARAMS) == OFFICIAL_BASE


def test_official_vector_signature() -> None:
    assert sign(OFFICIAL_PARAMS, "yourappSecret") == OFFICIAL_SIGN


def test_official_vector_by_hand() -> None:
    """The vector itself, recomputed with hashlib, so the test data is right."""
    digest = hashlib.md5(f"yourappSecret{OFFICIAL_BASE}yourappSecret".encode()).hexdigest().upper()
    assert digest == OFFICIAL_SIGN


def test_sign_ignores_the_sign_parameter_and_input_order() -> None:
    shuffled = dict(reversed(list(OFFICIAL_PARAMS.items())))
    assert sign({**shuffled, "sign": "ANYTHING"}, "yourappSecret") == OFFICIAL_SIGN


def test_business_json_reproduces_the_official_string() -> None:
    params = {
        "start_date": None,
        "page_size": "200",
        "page": "1",
        "order_state": "WAIT_SELLER_STOCK_OUT",
        "optional_fields": None,
        "end_date": None,
    }
    assert business_json(params) == OFFICIAL_JSON


def test_self_computed_vector_with_chinese_text() -> None:
    """SELF-COMPUTED (not official): UTF-8 bytes of Chinese text, as the Java SDK signs;
    the official Python SDK's latin1 would fail on this input."""
    params = {
        "360buy_param_json": business_json({"wareTitle": "纯棉T恤", "pageNo": 1}),
        "app_key": "k",
        "method": "jingdong.sku.read.searchSkuList",
        "timestamp": "2026-11-11 08:00:00",
        "v": "2.0",
    }
    assert params["360buy_param_json"] == '{"pageNo":1,"wareTitle":"纯棉T恤"}'
    assert sign(params, "s") == "D5E36AA8EBC173FD44DB815FF92744A2"  # regression value
    expected = (
        hashlib.md5(("s" + "".join(k + params[k] for k in sorted(params)) + "s").encode("utf-8"))
        .hexdigest()
        .upper()
    )
    assert sign(params, "s") == expected


@pytest.mark.anyio
async def test_the_signed_set_is_the_sent_set(shop: ShopContext) -> None:
    client: JdClient = shop.client
    request = client.build_request("jingdong.stock.read.findSkuStock", {"skuId": 10020000001})
    query = dict(request.url.params)
    form = dict(parse_qsl(request.content.decode("utf-8")))
    assert set(form) == {"360buy_param_json"}
    assert set(query) == {"app_key", "access_token", "method", "timestamp", "v", "sign"}
    assert form["360buy_param_json"] == '{"skuId":10020000001}'
    sent = {**{k: v for k, v in query.items() if k != "sign"}, **form}
    secret = shop.settings.app_secret.get_secret_value()
    by_hand = (
        hashlib.md5((secret + "".join(k + sent[k] for k in sorted(sent)) + secret).encode("utf-8"))
        .hexdigest()
        .upper()
    )
    assert query["sign"] == by_hand
    assert query["v"] == "2.0" and request.method == "POST"


def test_timestamp_formats_are_asia_shanghai() -> None:
    now = datetime(2021, 5, 7, 1, 20, 39, 683_000, tzinfo=UTC)
    assert jd_timestamp(now, "millis") == "2021-05-07 09:20:39.683+0800"
    assert jd_timestamp(now, "plain") == "2021-05-07 09:20:39"
    assert parse_jd_timestamp("2021-05-07 09:20:39.683+0800") == now
    assert parse_jd_timestamp("2021-05-07 09:20:39") == now.replace(microsecond=0)
    with pytest.raises(ValueError):
        parse_jd_timestamp("2021/05/07 09:20")


@pytest.mark.anyio
async def test_client_timestamp_follows_the_setting(shop: ShopContext, clock) -> None:  # type: ignore[no-untyped-def]
    client: JdClient = shop.client
    millis = client.build_request("jingdong.stock.read.findSkuStock", {}).url.params["timestamp"]
    assert millis == jd_timestamp(clock.now(), "millis") and millis.endswith("+0800")
    client.settings = client.settings.model_copy(update={"timestamp_format": "plain"})
    plain = client.build_request("jingdong.stock.read.findSkuStock", {}).url.params["timestamp"]
    assert plain == jd_timestamp(clock.now(), "plain") and len(plain) == 19


def test_business_json_is_compact_sorted_and_keeps_utf8() -> None:
    text = business_json({"b": 1, "a": {"y": 2, "x": "京东"}})
    assert text == '{"a":{"x":"京东","y":2},"b":1}'
    assert json.loads(text) == {"a": {"x": "京东", "y": 2}, "b": 1}
