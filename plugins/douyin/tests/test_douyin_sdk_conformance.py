"""The Douyin sandbox driven over real HTTP by the public ``doudian`` SDK, as a user would.

Only the gateway address is changed: the SDK hard-codes it (production, or
``openapi-sandbox`` with ``test_mode``) and fetches a token in its constructor, so the
tests rewrite that one URL prefix on the way out (:func:`gateway`). What ``doudian``
sends (``doudian/core.py``): ``POST <path>`` with the system parameters in the query,
``timestamp`` as ``yyyy-MM-dd HH:mm:ss`` from ``datetime.now()`` (China time assumed),
hmac-sha256, the sorted compact JSON (ASCII-escaped) as the body and, for token calls,
``param_json`` in the query too. It does not send ``x-open-no-old-err-code: 1`` and reads
the legacy ``err_no``/``message`` fields, so it only adopts a token when they are there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import doudian.core
import pytest
import requests
from doudian import AppType, DouDian

from hub.plugins import PluginHost
from hub.simulator import SandboxConfig, serve_in_thread
from hub.simulator.transport import ServedSandbox
from hub.testing import FakeClock, make_shop
from hub.testing.contract import contract_seed
from hub.testing.sdk import RequestLog, local_time_zone
from hub.units import to_unix
from hub_douyin import signing
from hub_douyin.sandbox import DouyinSandbox

GATEWAYS = ("https://openapi-fxg.jinritemai.com", "https://openapi-sandbox.jinritemai.com")


@pytest.fixture
def served() -> Iterator[ServedSandbox]:
    # Tokens live 30 minutes: under the SDK's 3000-second margin, so its next call refreshes.
    sandbox = DouyinSandbox(SandboxConfig(seed=contract_seed(), rng_seed=9, token_ttl=1800))
    with serve_in_thread(sandbox) as served:
        yield served


@pytest.fixture(autouse=True)
def gateway(served: ServedSandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the SDK's hard-coded gateway at the served sandbox (and nothing else), on
    China time as the SDK assumes."""
    origin = f"http://127.0.0.1:{served.port}"

    def post(url: str, **kwargs: Any) -> requests.Response:
        for gateway in GATEWAYS:
            if url.startswith(gateway):
                url = origin + url[len(gateway) :]
        return requests.post(url, **kwargs)

    monkeypatch.setattr(doudian.core, "requests", SimpleNamespace(post=post))
    with local_time_zone("Asia/Shanghai"):
        yield


def self_app(served: ServedSandbox, **options: Any) -> DouDian:
    """A self-use app (自用型): the constructor calls token.create with the shop's id."""
    sandbox = served.app
    return DouDian(
        sandbox.credentials.app_key,
        sandbox.credentials.app_secret,
        AppType.SELF,
        shop_id=str(sandbox.shop_id),
        **options,
    )


def test_doudian_adopts_the_token_from_token_create(served: ServedSandbox) -> None:
    client = self_app(served)
    token = client._token  # where the SDK keeps what token.create answered
    assert token is not None and served.app.credentials.check(token["access_token"]) == "ok"
    assert token["shop_id"] == served.app.shop_id


def test_doudian_test_mode_self_authorises_with_test_shop(served: ServedSandbox) -> None:
    sandbox = served.app
    client = DouDian(
        sandbox.credentials.app_key,
        sandbox.credentials.app_secret,
        AppType.SELF,
        shop_id="anything",
        test_mode=True,
    )
    assert client._token is not None and sandbox.credentials.check(client._token["access_token"]) == "ok"


def test_doudian_lists_reads_and_writes_stock(served: ServedSandbox) -> None:
    client = self_app(served)
    listed = client.request("/product/listV2", {"page": 1, "size": 10})
    assert listed["err_no"] == 0 and listed["code"] == 10000
    assert listed["data"]["total"] == len([i for i in served.app.state.items.values() if i.on_sale])
    sku = next(s for s in served.app.state.skus.values() if s.code == "TSHIRT-RED-M")
    detail = client.request("/product/detail", {"product_id": sku.item_id})["data"]
    assert detail["product_id_str"] == sku.item_id
    skus = served.app.state.items[sku.item_id].skus
    assert {row["sku_id"] for row in detail["spec_prices"]} == {int(s) for s in skus}
    written = client.request(
        "/sku/syncStock",
        {"product_id": sku.item_id, "sku_id": sku.sku_id, "stock_num": 9, "incremental": False},
    )
    assert written["err_no"] == 0
    read = client.request("/sku/detail", {"sku_id": sku.sku_id})
    assert read["data"]["stock_num"] == 9


def test_doudian_searches_orders_reads_one_and_ships_it(served: ServedSandbox) -> None:
    client = self_app(served)
    order = served.app.state.order_code("TSHIRT-RED-M", 2)
    now = to_unix(order.created)
    found = client.request(
        "/order/searchList",
        {"create_time_start": now - 3600, "create_time_end": now + 60, "page": 0, "size": 10},
    )
    assert [o["order_id"] for o in found["data"]["shop_order_list"]] == [order.order_id]
    detail = client.request("/order/orderDetail", {"shop_order_id": order.order_id})
    assert detail["data"]["shop_order_detail"]["order_status"] == 2
    shipped = client.request(
        "/order/logisticsAdd",
        {"order_id": order.order_id, "company_code": "shunfeng", "logistics_code": "SF0001"},
    )
    assert shipped["err_no"] == 0
    after = client.request("/order/orderDetail", {"shop_order_id": order.order_id})
    after = after["data"]["shop_order_detail"]
    assert after["order_status"] == 3 and after["logistics_info"][0]["tracking_no"] == "SF0001"


def test_doudian_refreshes_its_token_and_uses_the_new_one(served: ServedSandbox) -> None:
    client = self_app(served)
    first = client._token["access_token"]
    listed = client.request("/product/listV2", {"page": 1, "size": 1})  # 30 min left: refresh first
    assert listed["err_no"] == 0
    assert served.app.calls["token.refresh"] == 1
    assert client._token["access_token"] != first
    assert served.app.credentials.check(client._token["access_token"]) == "ok"


def test_doudian_wrong_secret_is_refused_with_the_platforms_code(
    served: ServedSandbox, tmp_path: Path
) -> None:
    token_file = tmp_path / "token.json"
    token_file.write_text(
        json.dumps(
            {
                "access_token": served.app.access_token,
                "refresh_token": served.app.refresh_token,
                "expires_in": int(time.time()) + 86400,
            }
        )
    )
    client = DouDian(
        served.app.credentials.app_key, "not-the-secret", AppType.TOOL, token_file=str(token_file)
    )
    refused = client.request("/product/listV2", {"page": 1, "size": 1})
    assert (refused["code"], refused["sub_code"]) == (40003, "isv.signature-invalid")
    assert refused["err_no"] != 0 and refused["message"]


def test_doudian_signature_equals_the_hubs(served: ServedSandbox) -> None:
    log = RequestLog(served.app)
    client = self_app(served)
    client.request("/product/listV2", {"page": 1, "size": 5})
    sent = log.last
    query = dict(sent.url.params.multi_items())
    assert "x-open-no-old-err-code" not in sent.headers
    assert (
        signing.sign(
            app_secret=served.app.credentials.app_secret,
            app_key=query["app_key"],
            method=query["method"],
            param_json=sent.content.decode(),
            timestamp=query["timestamp"],
            sign_method=query["sign_method"],
        )
        == query["sign"]
    )

    info = PluginHost().platform("douyin")
    shop = make_shop(info, served.app, clock=FakeClock(), sign_method="hmac-sha256")
    body = signing.param_json({"page": 1, "size": 5})
    built = shop.client.build_request("/product/listV2", body)
    params = dict(built.url.params.multi_items())
    ours = params["sign"]
    assert client._sign(method="product.listV2", param_json=body, timestamp=params["timestamp"]) == ours
