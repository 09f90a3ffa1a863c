"""The WeChat store sandbox driven over real HTTP by the public ``wechatpy`` SDK, as a
user would: only the gateway address is changed.

wechatpy has no store (channels/ec) API classes; its documented way to call any API is
``client.post(path, data=...)`` under ``API_BASE_URL``, with the access token added to the
query, the body as UTF-8 JSON (``ensure_ascii=False``, no content type) and, on errcode
40001/40014/42001, a new token from ``cgi-bin/token`` and one retry. Its token URL is a
constant in ``fetch_access_token``, so that one address is rewritten (:func:`wechat`).
The store has no refresh token: "refresh" is that re-fetch of the access token.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from hub.core.clock import SYSTEM_CLOCK
from hub.plugins import PluginHost
from hub.simulator import SandboxConfig, serve_in_thread
from hub.simulator.transport import ServedSandbox
from hub.testing import make_shop
from hub.testing.contract import contract_seed
from hub.testing.sdk import RequestLog
from hub_wechat.sandbox import WechatSandbox

TOKEN_URL = "https://api.weixin.qq.com/cgi-bin/token"


@pytest.fixture
def served() -> Iterator[ServedSandbox]:
    sandbox = WechatSandbox(SandboxConfig(seed=contract_seed(), rng_seed=4))
    with serve_in_thread(sandbox) as served:
        yield served


def wechat(served: ServedSandbox, secret: str | None = None) -> WeChatClient:
    """A wechatpy client whose gateway is the served sandbox."""
    origin = f"http://127.0.0.1:{served.port}"
    client = WeChatClient(served.app.credentials.app_key, secret or served.app.credentials.app_secret)
    client.API_BASE_URL = origin + "/"
    fetch = client._fetch_access_token

    def fetch_from_sandbox(url: str, params: dict[str, Any]) -> Any:
        return fetch(url.replace("https://api.weixin.qq.com", origin), params)

    client._fetch_access_token = fetch_from_sandbox  # type: ignore[method-assign]
    return client


def test_wechatpy_fetches_a_token_and_lists_products(served: ServedSandbox) -> None:
    client = wechat(served)
    listed = client.post("channels/ec/product/list/get", data={"page_size": 10, "status": 5})
    assert listed["errcode"] == 0
    assert set(listed["product_ids"]) == {i.item_id for i in served.app.state.items.values() if i.on_sale}
    product = client.post(
        "channels/ec/product/get", data={"product_id": listed["product_ids"][0], "data_type": 1}
    )
    assert product["product"]["product_id"] == listed["product_ids"][0]
    assert served.app.calls["cgi-bin/token"] == 1


def test_wechatpy_writes_stock_and_reads_it_back(served: ServedSandbox) -> None:
    client = wechat(served)
    sku = next(s for s in served.app.state.skus.values() if s.code == "TSHIRT-RED-M")
    ids = {"product_id": sku.item_id, "sku_id": sku.sku_id}
    written = client.post("channels/ec/product/stock/update", data={**ids, "diff_type": 1, "num": 5})
    assert written["errcode"] == 0
    read = client.post("channels/ec/product/stock/get", data=ids)
    assert read["data"]["normal_stock_num"] == 45


def test_wechatpy_lists_orders_reads_one_and_ships_it(served: ServedSandbox) -> None:
    client = wechat(served)
    order = served.app.state.order_code("TSHIRT-RED-M", 2)
    now = int(datetime.now().timestamp())
    listed = client.post(
        "channels/ec/order/list/get",
        data={"create_time_range": {"start_time": now - 3600, "end_time": now + 60}, "page_size": 10},
    )
    assert listed["order_id_list"] == [order.order_id] and listed["has_more"] is False
    detail = client.post("channels/ec/order/get", data={"order_id": order.order_id})["order"]
    assert detail["status"] == 20
    line = detail["order_detail"]["product_infos"][0]
    parcel = {
        "delivery_id": "SF",
        "waybill_id": "SF0001",
        "deliver_type": 1,
        "product_infos": [{"product_id": line["product_id"], "sku_id": line["sku_id"], "product_cnt": 2}],
    }
    sent = client.post(
        "channels/ec/order/delivery/send", data={"order_id": order.order_id, "delivery_list": [parcel]}
    )
    assert sent["errcode"] == 0
    after = client.post("channels/ec/order/get", data={"order_id": order.order_id})["order"]
    assert after["status"] == 30
    waybills = [p["waybill_id"] for p in after["order_detail"]["delivery_info"]["delivery_product_info"]]
    assert waybills == ["SF0001"]


def test_wechatpy_fetches_a_new_token_when_its_token_expires(served: ServedSandbox) -> None:
    client = wechat(served)
    client.post("channels/ec/product/list/get", data={"page_size": 1})
    first = client.access_token
    served.app.expire_tokens()  # the next call answers 42001; wechatpy re-fetches and retries
    assert client.post("channels/ec/product/list/get", data={"page_size": 1})["errcode"] == 0
    assert client.access_token != first and served.app.errors[42001] == 1
    assert served.app.calls["cgi-bin/token"] == 2


def test_wechatpy_wrong_secret_is_40001(served: ServedSandbox) -> None:
    with pytest.raises(WeChatClientException) as refused:
        wechat(served, secret="not-the-secret").post("channels/ec/product/list/get", data={"page_size": 1})
    assert refused.value.errcode == 40001


def test_wechatpy_unknown_path_is_40066(served: ServedSandbox) -> None:
    with pytest.raises(WeChatClientException) as refused:
        wechat(served).post("channels/ec/product/nonexistent", data={"x": 1})
    assert refused.value.errcode == 40066


def test_wechatpy_and_the_hub_send_the_same_request(served: ServedSandbox) -> None:
    """The store's API has no request signature (fact sheet §4.2): what identifies a call is
    its path, the token in the query and the JSON body. The hub's client and wechatpy send
    the same of each for the same call."""
    log = RequestLog(served.app)
    client = wechat(served)
    body = {
        "update_time_range": {"start_time": 1_714_000_000, "end_time": 1_714_000_060},
        "page_size": 1,
        "status": 20,
    }
    client.post("channels/ec/order/list/get", data=body)
    theirs = log.last
    shop = make_shop(
        PluginHost().platform("wechat"),
        served.app,
        clock=SYSTEM_CLOCK,
        transport=None,
        base_url=served.url,
        access_token=client.access_token,
    )

    async def call() -> None:
        try:
            await shop.client.request("order/list/get", body)
        finally:
            await shop.client.aclose()

    asyncio.run(call())
    ours = log.last
    assert ours is not theirs
    assert (ours.method, ours.url.path, dict(ours.url.params)) == (
        theirs.method,
        theirs.url.path,
        dict(theirs.url.params),
    )
    assert json.loads(ours.content) == json.loads(theirs.content) == body
