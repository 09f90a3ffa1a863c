"""The JD sandbox driven over real HTTP by the public ``jd-sdk`` (JOS Python SDK), as a
user would: only the gateway address is changed.

What ``jd-sdk`` sends (``jd/api/base.py``): ``POST`` with an absolute-form target
(``POST http://host/routerjson?…``, RFC 9112 §3.2.2) and an empty body; every parameter,
``360buy_param_json`` included, in the query; ``timestamp`` as
``yyyy-MM-dd HH:mm:ss.000+zzzz`` in the machine's local zone; md5 over the sorted
name+value pairs wrapped in the secret. The request classes it ships are for JD's
international APIs; domestic methods are called through classes written the same way
(a :class:`jd.api.base.RestApi` subclass naming the method).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import jd
import jd.api
import pytest
from jd.api.base import RestApi

from hub.simulator import SandboxConfig, serve_in_thread
from hub.simulator.transport import ServedSandbox
from hub.testing import FakeClock, make_shop
from hub.testing.contract import contract_seed
from hub.testing.sdk import RequestLog
from hub.units import CN_TZ
from hub_jd.plugin import INFO
from hub_jd.sandbox import JdSandbox
from hub_jd.signing import PARAM_JSON, sign


def request_class(method: str) -> type[RestApi]:
    """A JOS request class as jd-sdk's generated ones are written."""

    class Request(RestApi):
        def getapiname(self) -> str:
            return method

    return Request


SearchSkuList = request_class("jingdong.sku.read.searchSkuList")
FindWareById = request_class("jingdong.ware.read.findWareById")
UpdateSkuStock = request_class("jingdong.stock.write.updateSkuStock")
FindSkuStock = request_class("jingdong.stock.read.findSkuStock")
OrderSearch = request_class("jingdong.pop.order.search")
OrderGet = request_class("jingdong.pop.order.get")
OrderShipment = request_class("jingdong.pop.order.shipment")


@pytest.fixture
def served() -> Iterator[ServedSandbox]:
    sandbox = JdSandbox(SandboxConfig(seed=contract_seed(), rng_seed=5))
    with serve_in_thread(sandbox) as served:
        yield served


def call(served: ServedSandbox, cls: type[RestApi], secret: str | None = None, **params: Any) -> Any:
    """One jd-sdk call against the served sandbox; the decoded answer."""
    request = cls("127.0.0.1", served.port)
    credentials = served.app.credentials
    request.set_app_info(jd.appinfo(credentials.app_key, secret or credentials.app_secret))
    for name, value in params.items():
        setattr(request, name, value)
    return request.getResponse(served.app.access_token)


def test_jd_sdk_lists_skus_and_reads_a_ware(served: ServedSandbox) -> None:
    answer = call(served, SearchSkuList, pageNo=1, pageSize=20)
    page = answer["jingdong_sku_read_searchSkuList_responce"]["page"]
    assert page["totalItem"] == len(served.app.state.skus)
    ware_id = page["data"][0]["wareId"]
    ware = call(served, FindWareById, wareId=ware_id)["jingdong_ware_read_findWareById_responce"]
    assert ware["code"] == "0" and ware["ware"]["wareId"] == ware_id
    assert {s["skuId"] for s in ware["ware"]["skus"]} == set(served.app.state.items[ware_id].skus)
    narrowed = call(served, FindWareById, wareId=ware_id, field="title")
    assert set(narrowed["jingdong_ware_read_findWareById_responce"]["ware"]) == {"wareId", "title"}


def test_jd_sdk_writes_stock_and_reads_it_back(served: ServedSandbox) -> None:
    sku = next(s for s in served.app.state.skus.values() if s.code == "TSHIRT-RED-M")
    written = call(served, UpdateSkuStock, skuId=sku.sku_id, stockNum=12)
    assert written["jingdong_stock_write_updateSkuStock_responce"]["success"] is True
    read = call(served, FindSkuStock, skuId=sku.sku_id)
    assert read["jingdong_stock_read_findSkuStock_responce"]["skuStocks"][0]["stockNum"] == 12


def test_jd_sdk_searches_orders_reads_one_and_ships_it(served: ServedSandbox) -> None:
    order = served.app.state.order_code("TSHIRT-RED-M", 2)
    now = datetime.now(CN_TZ)
    found = call(
        served,
        OrderSearch,
        order_state="WAIT_SELLER_STOCK_OUT",
        page="1",
        page_size="20",
        optional_fields="orderId,orderState,itemInfoList",
        start_date=(now - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"),
        end_date=(now + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S"),
    )
    result = found["jingdong_pop_order_search_responce"]["searchorderinfo_result"]
    assert result["apiResult"]["success"] is True
    assert [o["orderId"] for o in result["orderInfoList"]] == [order.order_id]
    detail = call(
        served, OrderGet, order_id=order.order_id, optional_fields="orderId,orderState,itemInfoList"
    )
    info = detail["jingdong_pop_order_get_responce"]["orderDetailInfo"]["orderInfo"]
    assert info["orderState"] == "WAIT_SELLER_STOCK_OUT" and info["itemInfoList"][0]["itemTotal"] == "2"
    shipped = call(served, OrderShipment, order_id=order.order_id, logiCoprId="463", logiNo="JDV0001")
    assert shipped["jingdong_pop_order_shipment_responce"]["sopjosshipment_result"]["success"] is True
    after = call(served, OrderGet, order_id=order.order_id, optional_fields="orderState,waybill")
    info = after["jingdong_pop_order_get_responce"]["orderDetailInfo"]["orderInfo"]
    assert info == {"orderState": "WAIT_GOODS_RECEIVE_CONFIRM", "waybill": "JDV0001"}


def test_jd_sdk_wrong_secret_is_12_and_methods_jos_lacks_are_15(served: ServedSandbox) -> None:
    refused = call(served, SearchSkuList, secret="not-the-secret", pageNo=1)
    assert refused == {
        "error_response": {"code": "12", "zh_desc": "无效签名", "en_desc": "Invalid Signature"}
    }
    # jd-sdk's own classes are JD's international APIs, which JOS's router does not know.
    unknown = call(served, jd.api.StockUpdateSkuStockRequest, skuId=1, stockNum=1)
    assert unknown["error_response"]["code"] == "15"


def test_jd_sdk_signature_equals_the_hubs(served: ServedSandbox) -> None:
    log = RequestLog(served.app)
    call(served, SearchSkuList, pageNo=1, pageSize=5)
    sent = dict(log.last.url.params.multi_items())
    assert sent["timestamp"].endswith(datetime.now().astimezone().strftime("%z"))
    unsigned = {k: v for k, v in sent.items() if k != "sign"}
    assert sign(unsigned, served.app.credentials.app_secret) == sent["sign"]

    shop = make_shop(INFO, served.app, clock=FakeClock())
    built = shop.client.build_request("jingdong.sku.read.searchSkuList", {"pageNo": 1, "pageSize": 5})
    params = {**dict(built.url.params.multi_items()), **dict(parse_qsl(built.content.decode()))}
    assert PARAM_JSON in params
    unsigned = {k: v for k, v in params.items() if k != "sign"}
    assert jd.api.base.sign(served.app.credentials.app_secret, unsigned) == params["sign"]
