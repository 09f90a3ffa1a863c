"""Sandboxes over real HTTP: `hub sandbox serve`, and `hub shops add` + `hub sync` against
a served sandbox of every platform (loopback only)."""

from __future__ import annotations

import hashlib
import json
import random
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from hub.app import App
from hub.cli import cli
from hub.plugins import PluginHost
from hub.settings import HubSettings
from hub.simulator import SandboxConfig, generate_seed, serve_in_thread
from hub.storage import tables as t
from hub.units import CN_TZ


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_hub_sandbox_serve_answers_any_top_client() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hub",
            "sandbox",
            "serve",
            "taobao",
            "--port",
            str(port),
            "--generate",
            "4x2",
            "--app-key",
            "12345678",
            "--app-secret",
            "helloworld",
            "--session",
            "test",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("  hub shops add"):
                break
        text = "".join(lines)
        assert "app_secret: helloworld" in text and f"--base-url http://127.0.0.1:{port}/router/rest" in text
        params = {
            "method": "taobao.items.onsale.get",
            "app_key": "12345678",
            "session": "test",
            "v": "2.0",
            "timestamp": datetime.now(CN_TZ).strftime("%Y-%m-%d %H:%M:%S"),
            "format": "json",
            "sign_method": "md5",
            "fields": "num_iid,title,num",
        }
        digest = "helloworld" + "".join(k + v for k, v in sorted(params.items())) + "helloworld"
        url = f"http://127.0.0.1:{port}/router/rest"
        for _ in range(100):  # the server prints before uvicorn has bound the port
            try:
                ok = httpx.post(
                    url, data={**params, "sign": hashlib.md5(digest.encode()).hexdigest().upper()}
                )
                break
            except httpx.ConnectError:
                import time

                time.sleep(0.05)
        assert ok.json()["items_onsale_get_response"]["total_results"] == 4
        bad = httpx.post(url, data={**params, "sign": "0" * 32}).json()
        assert bad["error_response"]["code"] == 25
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("platform", ["taobao", "jd", "douyin", "wechat"])
def test_shops_add_then_sync_stores_a_generated_shop_exactly_once(platform: str, hub_db_url: str) -> None:
    info = PluginHost().platform(platform)
    now = datetime.now(UTC)
    seed = generate_seed(
        items=60, skus_per_item=3, orders=400, start=now - timedelta(days=3), end=now, rng=random.Random(7)
    )
    sandbox = info.make_sandbox(SandboxConfig(seed=seed))
    app = App(settings=HubSettings(database_url=hub_db_url, listings_interval_minutes=0))
    runner = CliRunner()

    def hub(*args: str) -> str:
        result = runner.invoke(cli, list(args), obj=app, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    with serve_in_thread(sandbox) as served:
        flags = [f"--{k.replace('_', '-')}={v}" for k, v in sandbox.shop_credentials().items()]
        hub(
            "shops", "add", "s1", "--platform", platform, *flags, "--base-url", served.url, "--set", "qps=200"
        )
        first = json.loads(hub("sync", "--shop", "s1", "--json"))
        assert first["exit_code"] == 0
        hub("sync", "--shop", "s1", "--json")  # a second run changes nothing

    def count(session, column):  # type: ignore[no-untyped-def]
        return session.scalar(select(func.count(func.distinct(column))))

    db = app.db
    listings = db.run_sync(lambda s: s.scalar(select(func.count()).select_from(t.Listing)))
    distinct = db.run_sync(lambda s: count(s, t.Listing.platform_sku_id))
    assert listings == distinct == len(sandbox.state.skus)
    visible = {o.order_id for o in sandbox.state.orders.values()}
    stored = db.run_sync(lambda s: s.scalars(select(t.Order.platform_order_id)).all())
    assert len(stored) == len(set(stored))
    # JD lists only paid orders: every order the platform lists is stored, once.
    assert set(stored) <= visible and len(stored) >= 0.8 * len(visible)
    if platform != "jd":
        assert set(stored) == visible
    app.close()


def raw_http(port: int, head: str, body: bytes = b"") -> tuple[str, list[tuple[str, str]], bytes]:
    """One HTTP/1.1 exchange written by hand (for request targets clients won't build):
    the status line, the header fields in order, and the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n\r\n" + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    header_block, _, content = data.partition(b"\r\n\r\n")
    status, *lines = header_block.decode("latin-1").split("\r\n")
    fields = [(name.strip().lower(), value.strip()) for name, _, value in (x.partition(":") for x in lines)]
    return status, fields, content


@pytest.mark.parametrize("platform", ["taobao", "jd", "douyin", "wechat"])
def test_served_sandboxes_take_an_absolute_form_target_and_send_one_date_header(platform: str) -> None:
    """RFC 9112 §3.2.2: a server must accept ``POST http://host/path?query`` (jd-sdk sends
    it); the authority in the target wins over the Host header. Every answer carries one
    Date header, the sandbox's own."""
    sandbox = PluginHost().platform(platform).make_sandbox(SandboxConfig())
    with serve_in_thread(sandbox) as served:
        path = {
            "taobao": "/router/rest",
            "jd": "/routerjson",
            "douyin": "/product/listV2",
            "wechat": "/channels/ec/product/list/get",
        }[platform]
        target = f"http://127.0.0.1{path}?app_key=x&method=y"
        head = (
            f"POST {target} HTTP/1.1\r\nHost: elsewhere.invalid\r\nContent-Length: 2\r\n"
            "Content-Type: application/json\r\nConnection: close"
        )
        status, fields, content = raw_http(served.port, head, b"{}")
    assert status.startswith("HTTP/1.1 200"), (status, content)
    body = json.loads(content)
    assert "error_response" in body or "code" in body or "errcode" in body  # the platform's own refusal
    assert [name for name, _ in fields].count("date") == 1
    assert "server" not in dict(fields)


def test_hub_sandbox_serve_port_0_prints_the_bound_port_and_the_douyin_shop_id() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "sandbox", "serve", "douyin", "--port", "0", "--generate", "2x1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("  hub shops add"):
                break
        text = "".join(lines)
        port = int(text.split("http://127.0.0.1:", 1)[1].split("/", 1)[0].split()[0])
        assert port != 0 and f"--base-url http://127.0.0.1:{port}" in text
        assert "  shop_id: " in text
        for _ in range(200):  # uvicorn starts serving on the bound socket a moment after printing
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/product/listV2", content=b"{}")
                break
            except httpx.ConnectError:
                import time

                time.sleep(0.05)
        assert answer.json()["code"] == 40001  # the platform's missing-parameter answer
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_hub_sandbox_serve_refuses_a_port_in_use_in_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["sandbox", "serve", "taobao", "--port", str(port)])
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.output and "Traceback" not in result.output
