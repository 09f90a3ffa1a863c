"""Push messages end to end (no sockets): a platform push reaches ``POST /push/<shop>``,
is stored in the inbox before it is acknowledged, and triggers the least work — that
order read, its SKUs recomputed and pushed on every shop."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from hub.core import leases
from hub.core.engine import PUSH_FRESH, PUSH_YIELD
from hub.errors import StorageError
from hub.push import inbox
from hub.push.app import PushService, create_app
from hub.push.events import EventKind, PushEvent
from hub.push.process import PushProcessor
from hub.simulator.lab import Lab
from hub.storage import tables as t
from hub.testing import FakeClock
from hub_wechat import push as wechat_push

from .test_platforms import SHOPS, catalogue

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
PUSH_TOKEN = "PushToken1"


@pytest.fixture
def lab(tmp_path: Path, fake_clock: FakeClock) -> Iterator[Lab]:
    lab = Lab.create(
        f"sqlite:///{tmp_path / 'hub.db'}",
        shops=SHOPS,
        seed=catalogue(),
        clock=fake_clock,
        shop_settings={"push_token": PUSH_TOKEN, "push_aes_key": AES_KEY},
        settings={"partition_below": 0},  # shared mode: every shop shows what exists
    )
    lab.import_catalogue(on_hand=20)
    yield lab
    lab.close()


@pytest.fixture
async def service(lab: Lab) -> AsyncIterator[PushService]:
    service = PushService(PushProcessor.open(lab.app.runtime(), lab.app.settings))
    yield service
    await service.processor.aclose()


@pytest.fixture
async def http(service: PushService) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(service, background=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
        yield client


def inbox_rows(lab: Lab) -> int:
    return lab.app.db.run_sync(lambda s: s.scalar(select(func.count()).select_from(t.PushInboxEntry)))


def douyin_push(lab: Lab, messages: list[dict], *, secret: str | None = None) -> tuple[bytes, dict]:
    creds = lab.sandboxes["dy"].shop_credentials()
    body = json.dumps(messages).encode()
    sign = hashlib.md5(
        creds["app_key"].encode() + body + (secret or creds["app_secret"]).encode()
    ).hexdigest()
    return body, {"app-id": creds["app_key"], "event-sign": sign, "content-type": "application/json"}


def order_message(msg_id: str, order_id: str, tag: str = "100") -> dict:
    return {"tag": tag, "msg_id": msg_id, "data": json.dumps({"p_id": int(order_id), "order_status": 2})}


@pytest.mark.anyio
async def test_a_douyin_sale_pushed_lowers_every_other_shop_without_a_cycle(
    lab: Lab, service: PushService, http: httpx.AsyncClient
) -> None:
    assert (await lab.sync()).exit_code == 0
    assert lab.shown("CUP-500") == dict.fromkeys(SHOPS, 20)
    lab.clock.advance(3)
    order = lab.sandboxes["dy"].state.order_code("CUP-500", 3)
    body, headers = douyin_push(lab, [order_message("m1", order.order_id)])
    answer = await http.post("/push/dy", content=body, headers=headers)
    assert (answer.status_code, answer.json()) == (200, {"code": 0, "msg": "success"})
    assert inbox_rows(lab) == 1
    calls_before = service.processor.calls
    result = await service.processor.run_once()
    assert (result.events, result.orders_fetched, result.skus, result.failed) == (1, 1, 1, 0)
    assert lab.shown("CUP-500") == dict.fromkeys(SHOPS, 17)
    assert lab.shown("CUP-750") == dict.fromkeys(SHOPS, 20)  # untouched SKUs are not written
    # One detail read plus one write per other shop (WeChat may fetch a token first).
    assert service.processor.calls - calls_before <= 6
    assert result.pushed == 3


@pytest.mark.anyio
async def test_a_burst_of_announced_orders_is_read_with_one_list_call(
    lab: Lab, service: PushService, http: httpx.AsyncClient
) -> None:
    """Douyin's order list gives whole orders: five sales announced together cost one
    order.searchList, not five order.orderDetail calls; one announced long after its change
    (outside the list's recent window) is still read, by its detail."""
    assert (await lab.sync()).exit_code == 0
    state = lab.sandboxes["dy"].state
    old = state.order_code("CUP-750", 1)
    lab.clock.advance(3600)  # an hour later: a redelivered message names it
    orders = [state.order_code("CUP-500", 1) for _ in range(5)]
    messages = [order_message(f"m{i}", o.order_id) for i, o in enumerate([*orders, old])]
    body, headers = douyin_push(lab, messages)
    assert (await http.post("/push/dy", content=body, headers=headers)).json()["code"] == 0
    calls = lab.sandboxes["dy"].calls
    before = calls.copy()
    result = await service.processor.run_once()
    assert (result.events, result.orders_fetched, result.failed) == (6, 6, 0)
    assert calls["order.searchList"] - before["order.searchList"] == 1
    assert calls["order.orderDetail"] - before["order.orderDetail"] == 1  # the old one
    assert lab.shown("CUP-500") == dict.fromkeys(SHOPS, 15)
    assert lab.shown("CUP-750") == dict.fromkeys(SHOPS, 19)


@pytest.mark.anyio
async def test_a_shop_whose_stock_a_cycle_holds_is_pushed_once_the_cycle_lets_go(
    lab: Lab, service: PushService, http: httpx.AsyncClient
) -> None:
    """A cycle pushing JD's stock (it holds JD's stock lease) may have planned before the
    announced order was stored: the targeted push tries JD again until the lease is free,
    rather than leave JD showing the old figure until that cycle's next run."""
    assert (await lab.sync()).exit_code == 0
    lab.clock.advance(3)
    order = lab.sandboxes["dy"].state.order_code("CUP-500", 3)
    body, headers = douyin_push(lab, [order_message("m1", order.order_id)])
    assert (await http.post("/push/dy", content=body, headers=headers)).json()["code"] == 0
    now = lab.clock.now()
    assert lab.app.db.run_sync(lambda s: leases.acquire(s, "jd:stock", "a cycle", now, 1.0))
    result = await service.processor.run_once()  # the lease runs out while the push waits
    assert result.failed == 0
    assert lab.shown("CUP-500") == dict.fromkeys(SHOPS, 17)


@pytest.mark.anyio
async def test_duplicates_and_out_of_order_messages_are_harmless(
    lab: Lab, service: PushService, http: httpx.AsyncClient
) -> None:
    await lab.sync()
    lab.clock.advance(3)
    order = lab.sandboxes["dy"].state.order_code("CUP-500", 2)
    paid, headers = douyin_push(lab, [order_message("m2", order.order_id, "101")])
    created, headers2 = douyin_push(lab, [order_message("m1", order.order_id, "100")])
    for body, h in ((paid, headers), (paid, headers), (created, headers2)):  # redelivered, then late
        assert (await http.post("/push/dy", content=body, headers=h)).json()["code"] == 0
    assert inbox_rows(lab) == 2
    await service.processor.run_once()
    assert (await http.post("/push/dy", content=paid, headers=headers)).json()["code"] == 0
    assert inbox_rows(lab) == 2  # already stored: acknowledged, not stored again
    again = await service.processor.run_once()
    assert again.events == 0
    assert lab.shown("CUP-500") == dict.fromkeys(SHOPS, 18)
    reserved = lab.app.db.run_sync(
        lambda s: s.scalar(select(func.sum(t.Reservation.quantity)).where(t.Reservation.state == "held"))
    )
    assert reserved == 2


@pytest.mark.anyio
async def test_bad_pushes_get_the_error_answer_and_store_nothing(
    lab: Lab, service: PushService, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    good, headers = douyin_push(lab, [order_message("m1", "3000000000000001")])
    _, bad_sign = douyin_push(lab, [order_message("m1", "3000000000000001")], secret="wrong-secret")
    secret = lab.sandboxes["dy"].shop_credentials()["app_secret"]
    cases = [
        ("/push/dy", good, bad_sign),  # wrong signature
        ("/push/nope", good, headers),  # unknown shop
        (
            "/push/dy",
            good[:-7],
            douyin_push(lab, [])[1]
            | {
                "event-sign": hashlib.md5(
                    lab.sandboxes["dy"].shop_credentials()["app_key"].encode() + good[:-7] + secret.encode()
                ).hexdigest()
            },
        ),  # truncated, yet signed
        ("/push/dy", b"[" + b" " * (service.max_body + 10) + b"]", headers),  # oversized
    ]
    for path, body, h in cases:
        answer = await http.post(path, content=body, headers=h)
        assert answer.status_code == 404 or answer.json()["code"] != 0, (path, answer.text)
    assert inbox_rows(lab) == 0
    assert secret not in caplog.text
    assert caplog.text.count("refused") == len(cases)


def wechat_request(lab: Lab, message: dict, timestamp: int) -> tuple[bytes, dict]:
    app_id = lab.sandboxes["wx"].shop_credentials()["app_key"]
    encrypted = wechat_push.encrypt(json.dumps(message), AES_KEY, app_id)
    query = {
        "timestamp": str(timestamp),
        "nonce": "42",
        "msg_signature": wechat_push.sign_push(PUSH_TOKEN, str(timestamp), "42", encrypted),
    }
    return json.dumps({"ToUserName": "gh", "Encrypt": encrypted}).encode(), query


@pytest.mark.anyio
async def test_a_wechat_push_is_verified_decrypted_and_processed(
    lab: Lab, service: PushService, http: httpx.AsyncClient
) -> None:
    await lab.sync()
    lab.clock.advance(3)
    order = lab.sandboxes["wx"].state.order_code("FLASH", 4)
    now = int(lab.clock.now().timestamp())
    event = {"Event": "channels_ec_order_new", "CreateTime": now, "order_info": {"order_id": order.order_id}}
    body, query = wechat_request(lab, event, now)
    answer = await http.post("/push/wx", content=body, params=query)
    assert (answer.status_code, answer.text) == (200, "success")
    await service.processor.run_once()
    assert lab.shown("FLASH") == dict.fromkeys(SHOPS, 16)
    # A replay of an old push is refused, even correctly signed.
    old = now - 3600
    body, query = wechat_request(lab, {**event, "CreateTime": old}, old)
    answer = await http.post("/push/wx", content=body, params=query)
    assert answer.status_code == 400 and answer.text != "success"
    assert inbox_rows(lab) == 1


@pytest.mark.anyio
async def test_the_wechat_url_check(http: httpx.AsyncClient) -> None:
    signature = hashlib.sha1("".join(sorted([PUSH_TOKEN, "1714036504", "7"])).encode()).hexdigest()
    ok = await http.get(
        "/push/wx",
        params={"signature": signature, "timestamp": "1714036504", "nonce": "7", "echostr": "echo-me"},
    )
    assert (ok.status_code, ok.text) == (200, "echo-me")
    bad = await http.get(
        "/push/wx",
        params={"signature": "0" * 40, "timestamp": "1714036504", "nonce": "7", "echostr": "echo-me"},
    )
    assert bad.status_code == 400 and "echo-me" not in bad.text


@pytest.mark.anyio
async def test_a_push_is_acknowledged_only_after_it_is_stored(
    lab: Lab, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> int:
        raise StorageError("database is locked")

    monkeypatch.setattr(inbox, "store", broken)
    body, headers = douyin_push(lab, [order_message("m1", "3000000000000001")])
    answer = await http.post("/push/dy", content=body, headers=headers)
    assert answer.status_code == 503  # not success: the platform redelivers


@pytest.mark.anyio
async def test_pulled_messages_are_confirmed_only_after_they_are_stored(
    lab: Lab, service: PushService, monkeypatch: pytest.MonkeyPatch
) -> None:
    [shop] = service.pulled_shops()
    assert shop.name == "tb"
    seen: list[str] = []

    async def consume(quantity: int) -> list[tuple[str, list[PushEvent]]]:
        return [("77", [PushEvent("77", EventKind.ORDER_PAID, order_id="1")]), ("78", [])]

    async def confirm(ids: list[str]) -> None:
        seen.append(f"confirm {ids} after {inbox_rows(lab)} stored")

    monkeypatch.setattr(shop.ctx.client, "consume_pushes", consume)
    monkeypatch.setattr(shop.ctx.client, "confirm_pushes", confirm)
    assert await service.pull_once(shop) == 2
    assert seen == ["confirm ['77', '78'] after 1 stored"]

    def failing(*args: object, **kwargs: object) -> int:
        raise StorageError("disk full")

    monkeypatch.setattr(inbox, "store", failing)
    with pytest.raises(StorageError):
        await service.pull_once(shop)
    assert len(seen) == 1  # nothing confirmed


def test_hub_serve_refuses_a_port_in_use_in_one_line(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        result = invoke("serve", "--port", str(taken.getsockname()[1]))
    finally:
        taken.close()
    assert result.exit_code == 2
    assert "cannot listen on 127.0.0.1" in result.output and "Traceback" not in result.output


@pytest.mark.anyio
async def test_taobao_tmc_messages_are_consumed_stored_confirmed_and_processed(
    lab: Lab, service: PushService
) -> None:
    await lab.sync()
    [shop] = service.pulled_shops()
    client = shop.ctx.client
    await client.enable_pushes()
    lab.clock.advance(3)
    order = lab.sandboxes["tb"].state.order_code("CUP-750", 5)
    pairs = await client.consume_pushes(10)  # consumed, not confirmed: delivered again
    assert [e.order_id for _, events in pairs for e in events] == [order.order_id]
    assert await service.pull_once(shop) == 1
    assert inbox_rows(lab) == 1 and lab.sandboxes["tb"].tmc_queue == {}
    assert await service.pull_once(shop) == 0
    result = await service.processor.run_once()
    assert result.orders_fetched == 1
    assert lab.shown("CUP-750") == dict.fromkeys(SHOPS, 15)


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["dy", "wx"])
async def test_sandboxes_push_signed_messages_and_redeliver_until_accepted(
    lab: Lab, service: PushService, http: httpx.AsyncClient, name: str
) -> None:
    from hub.simulator.pushes import OrderFeed, PushSender

    await lab.sync()
    box = lab.sandboxes[name]
    if name == "wx":  # the shop is configured with the sandbox's Token and EncodingAESKey
        box.push_token, box.push_aes_key = PUSH_TOKEN, AES_KEY
    sent: list[httpx.Request] = []
    answers = iter([httpx.Response(500), httpx.Response(200, text="busy")])

    def receiver(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return next(answers, None) or forward[0]

    forward: list[httpx.Response] = []
    sender = PushSender(
        OrderFeed(box.state),
        "http://hub/push/" + name,
        lambda change: box.push_request(change, "http://hub/push/" + name),
        box.push_accepted,
        client=httpx.Client(transport=httpx.MockTransport(receiver)),
    )
    lab.clock.advance(3)
    order = box.state.order_code("CUP-500", 2)
    assert sender.pump() == 0 and sender.pump() == 0  # refused twice: kept for redelivery
    # The third delivery reaches the hub, which verifies it with the shop's credentials.
    request = box.push_request(sender._pending[0][0], "http://hub/push/" + name)
    answer = await http.post(
        "/push/" + name,
        content=request.content,
        headers=dict(request.headers),
        params=dict(request.url.params),
    )
    forward.append(httpx.Response(answer.status_code, content=answer.content))
    assert box.push_accepted(forward[0])
    assert sender.pump() == 1 and sender.delivered == 1 and len(sent) == 3
    assert sender.pump() == 0 and len(sent) == 3  # accepted: not sent again
    await service.processor.run_once()
    assert lab.shown("CUP-500") == dict.fromkeys(SHOPS, 18)
    assert order.order_id in {
        e for (e,) in lab.app.db.run_sync(lambda s: s.execute(select(t.PushInboxEntry.order_id)).all())
    }


def test_sandbox_serve_push_to_is_refused_where_the_platform_does_not_push_to_a_url(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hub.app import App
    from hub.cli import cli
    from hub.settings import HubSettings

    app = App(settings=HubSettings(database_url=f"sqlite:///{tmp_path / 'hub.db'}"))
    runner = CliRunner()
    args = ["sandbox", "serve", "taobao", "--port", "0", "--push-to", "http://127.0.0.1:9/push/tb"]
    result = runner.invoke(cli, args, obj=app)
    assert result.exit_code == 2 and "does not push to a URL" in result.output, result.output
    args = ["sandbox", "serve", "douyin", "--port", "0", "--push-to", "ftp://x"]
    result = runner.invoke(cli, args, obj=app)
    assert result.exit_code == 2 and "--push-to must be an http(s) URL" in result.output, result.output


@pytest.mark.anyio
async def test_polling_reports_the_changes_no_push_announced_and_slows_down_while_pushes_arrive(
    lab: Lab, service: PushService, http: httpx.AsyncClient
) -> None:
    from hub.cli.sync import default_interval
    from hub.push.inbox import POLL_INTERVAL, POLL_INTERVAL_WITH_PUSH

    await lab.sync()
    assert default_interval(lab.app) == POLL_INTERVAL
    lab.clock.advance(3)
    pushed = lab.sandboxes["dy"].state.order_code("CUP-500", 1)
    lab.sandboxes["dy"].state.order_code("CUP-750", 1)  # its push was lost
    lab.sandboxes["jd"].state.order_code("CUP-750", 1)  # JD is polled: nothing to report
    body, headers = douyin_push(lab, [order_message("m1", pushed.order_id)])
    assert (await http.post("/push/dy", content=body, headers=headers)).json()["code"] == 0
    await service.processor.run_once()
    lab.clock.advance(5)
    report = await lab.sync()
    orders = {r.shop: r for r in report.results if r.stream == "orders"}
    assert (orders["dy"].unannounced, orders["jd"].unannounced) == (1, 0)
    assert report.to_dict()["unannounced"] == 1
    assert lab.shown("CUP-750") == dict.fromkeys(SHOPS, 18)  # the safety net caught both
    assert default_interval(lab.app) == POLL_INTERVAL_WITH_PUSH
    lab.clock.advance(2 * 3600)
    assert default_interval(lab.app) == POLL_INTERVAL


@pytest.mark.anyio
async def test_a_shop_without_pushes_is_polled_and_its_skus_pushed_at_once(
    lab: Lab, service: PushService
) -> None:
    await lab.sync()
    assert [s.name for s in service.polled_shops()] == ["jd"]
    lab.clock.advance(3)
    lab.sandboxes["jd"].state.order_code("CUP-500", 4)
    lab.clock.advance(3)
    assert await service.processor.poll_orders(service.polled_shops()[0]) == 1
    assert lab.shown("CUP-500") == dict.fromkeys(SHOPS, 16)
    assert lab.shown("CUP-750") == dict.fromkeys(SHOPS, 20)


def _announce_pending(lab: Lab, message_id: str, received_at: datetime, error: str | None = None) -> None:
    """An inbox entry the push processor has not processed yet."""
    shop_id = lab.app.db.run_sync(lambda s: s.scalar(select(t.Shop.id).where(t.Shop.name == "dy")))
    row = t.PushInboxEntry(
        shop_id=shop_id,
        message_id=message_id,
        kind=EventKind.ORDER_CREATED.value,
        order_id="1",
        received_at=received_at,
        error=error,
    )
    lab.app.db.run_sync(lambda s: s.add(row))


@pytest.mark.anyio
async def test_a_cycle_lets_announced_orders_go_first_for_a_moment(lab: Lab) -> None:
    """While the processor has announced orders to push, a cycle waits (up to
    PUSH_YIELD) before it takes the shops' stock leases and holds them through its reads:
    the pushes in flight would wait for that hold."""
    assert (await lab.sync()).exit_code == 0
    lab.clock.advance(3)
    _announce_pending(lab, "m1", lab.clock.now())
    started = lab.clock.monotonic()
    report = await lab.sync()
    assert report.exit_code == 0
    assert report.stock_planned_at is not None
    waited = lab.clock.monotonic() - started
    assert PUSH_YIELD <= waited < PUSH_YIELD + 1  # then it goes ahead: never starved


@pytest.mark.anyio
async def test_a_cycle_does_not_wait_for_stale_or_failed_inbox_entries(lab: Lab) -> None:
    assert (await lab.sync()).exit_code == 0
    lab.clock.advance(60)
    _announce_pending(lab, "old", lab.clock.now() - PUSH_FRESH - timedelta(seconds=1))
    _announce_pending(lab, "failed", lab.clock.now(), error="dy: platform down")
    started = lab.clock.monotonic()
    assert (await lab.sync()).exit_code == 0
    assert lab.clock.monotonic() - started < PUSH_YIELD
