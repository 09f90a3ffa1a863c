"""The Taobao sandbox driven over real HTTP by public TOP SDKs, exactly as a user would:
only the gateway address is changed; signing, timestamps and serialisation are the SDKs'.

* ``taobao-openapi`` (``top``): the Python SDK the TOP console generates (build
  20210816). It sends ``timestamp`` as epoch milliseconds, ``sign_method=md5``,
  ``partner_id``, the system parameters in the query and the business ones as a form body.
  Methods it ships no request class for are called through a class written the way the
  generated ones are (a :class:`top.api.base.RestApi` subclass naming the method).
* ``taobaopy``: any method by name, ``sign_method=hmac``, ``timestamp`` from
  ``datetime.now()`` (China time assumed), everything in the form body.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import pytest
import top
import top.api
from taobaopy.taobao import TaoBaoAPIClient, TaoBaoAPIError
from top.api.base import RestApi, TopException

from hub.simulator import SandboxConfig, serve_in_thread
from hub.simulator.transport import ServedSandbox
from hub.testing import FakeClock, make_shop
from hub.testing.contract import contract_seed
from hub.testing.sdk import RequestLog, local_time_zone
from hub.units import CN_TZ
from hub_taobao import signing
from hub_taobao.plugin import INFO
from hub_taobao.sandbox import TaobaoSandbox

TRADE_FIELDS = "tid,status,created,modified,payment,orders.oid,orders.sku_id,orders.num,orders.invoice_no"


class ItemQuantityUpdateRequest(RestApi):
    """taobao.item.quantity.update, written as the TOP console writes its request classes."""

    def __init__(self, domain: str = "gw.api.taobao.com", port: int = 80):
        RestApi.__init__(self, domain, port)
        self.num_iid = None
        self.outer_id = None
        self.quantity = None
        self.sku_id = None
        self.type = None

    def getapiname(self) -> str:
        return "taobao.item.quantity.update"


class LogisticsOfflineSendRequest(RestApi):
    """taobao.logistics.offline.send, written as the TOP console writes its request classes."""

    def __init__(self, domain: str = "gw.api.taobao.com", port: int = 80):
        RestApi.__init__(self, domain, port)
        self.company_code = None
        self.out_sid = None
        self.sub_tid = None
        self.tid = None

    def getapiname(self) -> str:
        return "taobao.logistics.offline.send"


@pytest.fixture
def served() -> Iterator[ServedSandbox]:
    sandbox = TaobaoSandbox(SandboxConfig(seed=contract_seed(), rng_seed=11))
    with serve_in_thread(sandbox) as served:
        yield served


def console(served: ServedSandbox, request_class: type, secret: str | None = None, **params: Any) -> Any:
    """One call through the console SDK, pointed at the served sandbox."""
    request = request_class("127.0.0.1", served.port)
    request.set_app_info(
        top.appinfo(served.app.credentials.app_key, secret or served.app.credentials.app_secret)
    )
    for name, value in params.items():
        setattr(request, name, value)
    return request


def sdk_client(served: ServedSandbox, secret: str | None = None) -> TaoBaoAPIClient:
    client = TaoBaoAPIClient(
        served.app.credentials.app_key,
        secret or served.app.credentials.app_secret,
        domain=f"http://127.0.0.1:{served.port}",
        retry_count=1,
    )
    client.set_access_token(served.app.access_token)
    return client


def first_sku(sandbox: TaobaoSandbox) -> tuple[str, str]:
    sku = next(s for s in sandbox.state.skus.values() if s.code == "TSHIRT-RED-M")
    return sku.item_id, sku.sku_id


# --- the console SDK (taobao-openapi) ---------------------------------------------------------------


def test_console_sdk_lists_items(served: ServedSandbox) -> None:
    answer = console(
        served, top.api.ItemsOnsaleGetRequest, fields="num_iid,title,num,price", page_size=10
    ).getResponse(served.app.access_token)
    body = answer["items_onsale_get_response"]
    assert body["total_results"] == len([i for i in served.app.state.items.values() if i.on_sale])
    assert {row["title"] for row in body["items"]["item"]} >= {"纯棉T恤"}


def test_console_sdk_writes_stock_and_reads_it_back(served: ServedSandbox) -> None:
    num_iid, sku_id = first_sku(served.app)
    session = served.app.access_token
    written = console(
        served, ItemQuantityUpdateRequest, num_iid=num_iid, sku_id=sku_id, quantity=7
    ).getResponse(session)
    assert written["item_quantity_update_response"]["item"]["skus"]["sku"][0]["quantity"] == 7
    read = console(
        served, top.api.ItemSkusGetRequest, num_iids=num_iid, fields="sku_id,quantity"
    ).getResponse(session)
    rows = {str(r["sku_id"]): r["quantity"] for r in read["item_skus_get_response"]["skus"]["sku"]}
    assert rows[sku_id] == 7
    one = console(
        served, top.api.ItemSkuGetRequest, sku_id=sku_id, num_iid=num_iid, fields="sku_id,quantity"
    ).getResponse(session)
    assert one["item_sku_get_response"]["sku"] == {"sku_id": int(sku_id), "quantity": 7}


def test_console_sdk_searches_orders_reads_one_and_ships_it(served: ServedSandbox) -> None:
    sandbox = served.app
    order = sandbox.state.order_code("TSHIRT-RED-M", 2)
    other = sandbox.state.order_code("TSHIRT-RED-M", 1)
    session = sandbox.access_token
    now = datetime.now(CN_TZ)
    found = console(
        served,
        top.api.TradesSoldGetRequest,
        fields=TRADE_FIELDS,
        start_created=(now - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"),
        end_created=(now + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S"),
        status="WAIT_SELLER_SEND_GOODS",
    ).getResponse(session)
    trades = found["trades_sold_get_response"]
    assert trades["total_results"] == 2
    assert {t["tid"] for t in trades["trades"]["trade"]} == {int(order.order_id), int(other.order_id)}
    detail = console(
        served, top.api.TradeFullinfoGetRequest, tid=order.order_id, fields=TRADE_FIELDS
    ).getResponse(session)["trade_fullinfo_get_response"]["trade"]
    assert detail["status"] == "WAIT_SELLER_SEND_GOODS"
    assert detail["orders"]["order"][0]["num"] == 2
    shipped = console(
        served, LogisticsOfflineSendRequest, tid=order.order_id, out_sid="SF1234567890", company_code="SF"
    ).getResponse(session)
    assert shipped["logistics_offline_send_response"]["shipping"]["is_success"] is True
    after = console(
        served, top.api.TradeFullinfoGetRequest, tid=order.order_id, fields=TRADE_FIELDS
    ).getResponse(session)["trade_fullinfo_get_response"]["trade"]
    assert after["status"] == "WAIT_BUYER_CONFIRM_GOODS"
    assert after["orders"]["order"][0]["invoice_no"] == "SF1234567890"


def test_console_sdk_refreshes_the_printed_refresh_token(served: ServedSandbox) -> None:
    sandbox = served.app
    answer = console(
        served, top.api.TopAuthTokenRefreshRequest, refresh_token=sandbox.refresh_token
    ).getResponse()
    token = json.loads(answer["top_auth_token_refresh_response"]["token_result"])
    assert token["access_token"] != sandbox.access_token and token["refresh_token"] != sandbox.refresh_token
    listed = console(served, top.api.ItemsOnsaleGetRequest, fields="num_iid").getResponse(
        token["access_token"]
    )
    assert "items_onsale_get_response" in listed
    with pytest.raises(TopException) as used_up:  # a refresh token works once
        console(served, top.api.TopAuthTokenRefreshRequest, refresh_token=sandbox.refresh_token).getResponse()
    assert used_up.value.errorcode == 15


def test_console_sdk_exchanges_an_authorisation_code(served: ServedSandbox) -> None:
    answer = console(
        served, top.api.TopAuthTokenCreateRequest, code=served.app.authorization_code()
    ).getResponse()
    token = json.loads(answer["top_auth_token_create_response"]["token_result"])
    listed = console(served, top.api.ItemsOnsaleGetRequest, fields="num_iid").getResponse(
        token["access_token"]
    )
    assert "items_onsale_get_response" in listed


def test_console_sdk_with_a_wrong_secret_is_refused_with_25(served: ServedSandbox) -> None:
    with pytest.raises(TopException) as refused:
        console(served, top.api.ItemsOnsaleGetRequest, secret="not-the-secret", fields="num_iid").getResponse(
            served.app.access_token
        )
    assert (refused.value.errorcode, refused.value.message) == (25, "Invalid Signature")


def test_console_sdk_unknown_method_is_22(served: ServedSandbox) -> None:
    with pytest.raises(TopException) as refused:
        console(served, top.api.TimeGetRequest).getResponse()
    assert refused.value.errorcode == 22


def test_console_sdk_signature_equals_the_hubs(served: ServedSandbox) -> None:
    """The same request signed by the SDK (as sent) and by the hub's signer; and the hub
    client's own request signed by the SDK's function."""
    log = RequestLog(served.app)
    console(served, top.api.ItemsOnsaleGetRequest, fields="num_iid,title", page_size=5).getResponse(
        served.app.access_token
    )
    sent = dict(log.last.url.params.multi_items())
    sent.update(dict(parse_qsl(log.last.content.decode())))
    assert sent["timestamp"].isdigit() and sent["sign_method"] == "md5"
    unsigned = {k: v for k, v in sent.items() if k != "sign"}
    assert signing.sign(served.app.credentials.app_secret, unsigned, "md5") == sent["sign"]

    shop = make_shop(INFO, served.app, clock=FakeClock(), sign_method="md5")
    built = shop.client.build_params("taobao.items.onsale.get", {"fields": "num_iid,title", "page_size": 5})
    assert (
        top.api.base.sign(served.app.credentials.app_secret, {k: v for k, v in built.items() if k != "sign"})
        == built["sign"]
    )


# --- taobaopy ----------------------------------------------------------------------------------------


@pytest.fixture
def china_time() -> Iterator[None]:
    with local_time_zone("Asia/Shanghai"):
        yield


@pytest.mark.usefixtures("china_time")
def test_taobaopy_covers_listing_stock_orders_shipment_and_refresh(served: ServedSandbox) -> None:
    sandbox = served.app
    client = sdk_client(served)
    listed = client.items_onsale_get(fields="num_iid,title,num", page_size=10)
    assert listed["items_onsale_get_response"]["total_results"] >= 1

    num_iid, sku_id = first_sku(sandbox)
    client.item_quantity_update(num_iid=num_iid, sku_id=sku_id, quantity=3, type=2)  # +3
    read = client.item_sku_get(sku_id=sku_id, num_iid=num_iid, fields="sku_id,quantity")
    assert read["item_sku_get_response"]["sku"]["quantity"] == 43

    order = sandbox.state.order_code("TSHIRT-RED-M")
    now = datetime.now(CN_TZ).replace(tzinfo=None)
    found = client.trades_sold_increment_get(
        fields=TRADE_FIELDS,
        start_modified=now - timedelta(minutes=30),
        end_modified=now + timedelta(minutes=1),
        use_has_next=True,
    )
    trades = found["trades_sold_increment_get_response"]
    assert trades["has_next"] is False
    assert [t["tid"] for t in trades["trades"]["trade"]] == [int(order.order_id)]
    client.logistics_offline_send(tid=order.order_id, out_sid="YT0001", company_code="YTO")
    detail = client.trade_fullinfo_get(tid=order.order_id, fields=TRADE_FIELDS)
    assert detail["trade_fullinfo_get_response"]["trade"]["orders"]["order"][0]["invoice_no"] == "YT0001"

    refreshed = client.top_auth_token_refresh(refresh_token=sandbox.refresh_token)
    token = json.loads(refreshed["top_auth_token_refresh_response"]["token_result"])
    client.set_access_token(token["access_token"])
    assert "items_onsale_get_response" in client.items_onsale_get(fields="num_iid")


@pytest.mark.usefixtures("china_time")
def test_taobaopy_wrong_secret_is_25_and_its_hmac_signature_equals_the_hubs(served: ServedSandbox) -> None:
    with pytest.raises(TaoBaoAPIError) as refused:
        sdk_client(served, secret="not-the-secret").items_onsale_get(fields="num_iid")
    assert refused.value.code == 25
    log = RequestLog(served.app)
    sdk_client(served).items_onsale_get(fields="num_iid,title")
    sent = dict(parse_qsl(log.last.content.decode()))
    assert sent["sign_method"] == "hmac"
    unsigned = {k: v for k, v in sent.items() if k != "sign"}
    assert signing.sign(served.app.credentials.app_secret, unsigned, "hmac") == sent["sign"]
