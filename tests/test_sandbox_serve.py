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

from hub.cli import cli
from hub.cli.app import App
from hub.plugins import PluginHost
from hub.settings import HubSettings
from hub.storage import tables as t
from hub.testing.sandbox import SandboxConfig, generate_seed, serve_in_thread
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
    app = App(
        settings=HubSettings(database_url=hub_db_url, listings_interval_minutes=0)
    )
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
