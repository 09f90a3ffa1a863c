"""`hub demo`, the README's first command, end to end on a small catalogue.

The demo races real buyers against real sync cycles, so it runs on real time (a few
seconds) and sits with the slow tests. It asserts what must hold whatever the timing:
nothing oversold, every listing linked, every sale stored, and a report a user can act on.
SQLite only: `hub demo` always makes its own SQLite file in ``--folder``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import anyio
import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from hub.cli import cli
from hub.cli.demo import NEXT_COMMANDS
from hub.report import StreamResult, SyncReport
from hub.simulator.demo_push import deliver, wrote_every_shop
from hub.storage import tables as t
from hub.storage.db import Database
from hub.testing import FakeClock

SHOPS = {"taobao-main", "jd-pop", "douyin-live", "wechat-store"}


def run_demo(folder: Path, *extra: str) -> dict:
    result = CliRunner().invoke(
        cli,
        ["demo", "--folder", str(folder), "--skus", "20", "--seconds", "3", "--rate", "60", "--json", *extra],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("faults", "seed"), [(False, 11), (True, 11), (True, 24)], ids=["calm", "faults", "faults-seed-24"]
)
def test_the_demo_sells_without_overselling_and_stores_every_sale(
    tmp_path: Path, faults: bool, seed: int
) -> None:
    report = run_demo(tmp_path, "--seed", str(seed), *(["--faults"] if faults else []))
    assert report["oversold"] == 0
    assert report["listings"] == dict.fromkeys(SHOPS, 20)
    assert 0 < report["sold"] <= report["stock"] == 10 * 25
    assert report["problems"] == []
    # nothing marked partitioned: the 25-unit SKUs on four shops are partitioned by the hub
    shows = db_stock_show(tmp_path)
    assert {r["mode"] for r in shows if r["on_hand"] <= 25} == {"partitioned"}
    assert sum(report["units_sold"].values()) == report["sold"]
    assert report["unpropagated"] == 0 and report["failed_writes"] == 0
    if faults:
        assert sum(report["faults_injected"].values()) > 0
    db = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        stored = db.run_sync(lambda s: s.scalar(select(func.count()).select_from(t.Order)))
    finally:
        db.dispose()
    assert stored >= sum(report["orders"].values())  # every sale of the race, and any before it


@pytest.mark.slow
def test_the_demo_report_names_the_outcome_and_what_to_run_next(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["demo", "--folder", str(tmp_path), "--skus", "20", "--seconds", "2"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "oversold units: 0" in result.stdout
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    assert f"--database-url {db} orders list" in result.stdout
    # Every command the demo suggests works on its database after it ended…
    suggested = [line.split() for line in result.stdout.splitlines() if f"--database-url {db} " in line]
    assert len(suggested) == len(NEXT_COMMANDS)
    for words in suggested:
        ran = CliRunner().invoke(cli, words[1:], catch_exceptions=False)
        assert ran.exit_code == 0, (words, ran.output)
    # …and a sync, which needs the sandboxes that lived inside the demo, says so at once.
    assert "sandboxes ran inside this demo and are gone" in result.stdout
    sync = CliRunner().invoke(cli, ["--database-url", db, "sync", "--stream", "orders", "--json"])
    assert sync.exit_code == 2
    setup = [r for r in json.loads(sync.stdout)["results"] if r["stream"] == "setup"]
    assert len(setup) == 4 and all("a sandbox that ran inside `hub demo`" in r["error"] for r in setup)


@pytest.mark.parametrize(
    ("argv0", "on_path", "shown"),
    [
        (".venv/bin/hub", None, ".venv/bin/hub"),
        (".venv/bin/hub", "/usr/bin/hub", "hub"),
        ("pytest", None, "hub"),
    ],
)
def test_the_next_commands_call_the_hub_the_way_it_was_started(
    monkeypatch: pytest.MonkeyPatch, argv0: str, on_path: str | None, shown: str
) -> None:
    from hub.cli import demo as demo_cli

    monkeypatch.setattr(demo_cli.sys, "argv", [argv0, "demo"])
    monkeypatch.setattr(demo_cli.shutil, "which", lambda name: on_path)
    assert demo_cli._hub_command() == shown


def db_stock_show(folder: Path) -> list[dict]:
    result = CliRunner().invoke(
        cli, ["--database-url", f"sqlite:///{folder / 'hub.db'}", "stock", "show", "--json"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_demo_that_sells_nothing_is_a_failure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from hub.cli import demo as demo_cli
    from hub.simulator.demo import DemoResult

    def nothing_sold(options, say):  # type: ignore[no-untyped-def]
        async def run() -> DemoResult:
            return DemoResult(
                skus=20,
                listings=dict.fromkeys(SHOPS, 20),
                first_sync_seconds=1.0,
                first_sync_pushes=80,
                orders={},
                units_sold=dict.fromkeys(SHOPS, 0),
                stock=250,
                sold=0,
                oversold=0,
                sell_through=0.0,
                propagation_p50=None,
                propagation_p99=None,
                unpropagated=0,
                cycles=9,
                pushes=80,
                retries=0,
                faults_injected={},
                failed_writes=0,
                database=str(tmp_path / "hub.db"),
            )

        return run()

    monkeypatch.setattr(demo_cli, "run_demo", nothing_sold)
    result = CliRunner().invoke(cli, ["demo", "--folder", str(tmp_path)])
    assert result.exit_code == 1
    assert "FAILED: nothing sold of 250 units" in result.stdout
    assert "oversold units: 0" in result.stdout


@pytest.mark.slow
def test_the_demo_on_pushes_stores_every_sale_and_polls_far_less_when_idle(tmp_path: Path) -> None:
    polled = run_demo(tmp_path / "polling")
    pushed = run_demo(tmp_path / "push", "--push")
    assert pushed["mode"] == "push" and pushed["oversold"] == 0
    assert 0 < pushed["sold"] <= pushed["stock"]
    assert pushed["unpropagated"] == 0 and pushed["failed_writes"] == 0
    db = Database(f"sqlite:///{tmp_path / 'push' / 'hub.db'}")
    try:
        inbox = db.run_sync(lambda s: s.scalar(select(func.count()).select_from(t.PushInboxEntry)))
    finally:
        db.dispose()
    assert inbox > 0  # the sale did run on pushes
    # Every pushed shop polls far less when nothing happens (JD has no push: safety net only).
    for shop in ("douyin-live", "wechat-store", "taobao-main"):
        assert pushed["idle_calls_per_hour"][shop] * 5 <= polled["idle_calls_per_hour"][shop]


def test_the_push_demo_counts_a_cycle_that_wrote_every_shops_stock() -> None:
    # Its writes carry every order stored before its plan, whatever its other streams did
    # (hub serve polling JD's orders makes the cycle skip them); a shop's stock skipped or
    # failed, or no stock phase at all, means some channel may still show the old figure.
    start = datetime(2026, 11, 11, tzinfo=UTC)

    def cycle(*results: StreamResult, planned: bool = True) -> SyncReport:
        report = SyncReport(started_at=start, results=list(results), finished_at=start)
        report.stock_planned_at = report.stock_written_at = start if planned else None
        return report

    ok = [StreamResult(shop, "stock") for shop in ("a", "b")]
    orders_skipped = StreamResult("b", "orders", skipped="another sync holds the lease", exit_code=1)
    assert wrote_every_shop(cycle(*ok, orders_skipped), 2)
    assert not wrote_every_shop(cycle(*ok, planned=False), 2)
    assert not wrote_every_shop(cycle(ok[0]), 2)
    failed = StreamResult("b", "stock", exit_code=1, error="1 stock writes failed")
    assert not wrote_every_shop(cycle(ok[0], failed), 2)


class _Feed:
    """One new change, once (an OrderFeed's interface)."""

    def __init__(self, change: str):
        self.changes = [change]

    def new(self) -> list[str]:
        out, self.changes = self.changes, []
        return out


class _Box:
    """A sandbox that pushes a change as a POST to the URL it is given."""

    def push_request(self, change: str, url: str) -> httpx.Request:
        return httpx.Request("POST", url, content=change.encode())

    def push_accepted(self, response: httpx.Response) -> bool:
        return response.status_code == 200


@pytest.mark.anyio
async def test_each_platform_delivers_its_pushes_without_waiting_for_anothers_answers() -> None:
    # The WeChat store's receiver answers only once Douyin's push has arrived: delivered
    # one platform after the other, the WeChat answer would hold Douyin's push back.
    douyin_arrived, done = anyio.Event(), anyio.Event()
    wechat_waited: list[bool] = []
    received: list[str] = []

    async def receiver(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/push/wechat":
            with anyio.move_on_after(5) as waiting:  # only ever waits when deliveries queue
                await douyin_arrived.wait()
            wechat_waited.append(waiting.cancelled_caught)
        else:
            douyin_arrived.set()
        received.append(request.content.decode())
        if len(received) == 2:
            done.set()
        return httpx.Response(200)

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as http,
        anyio.create_task_group() as group,
    ):
        for name in ("wechat", "douyin"):
            group.start_soon(deliver, http, f"http://hub/push/{name}", _Box(), _Feed(name), done, FakeClock())
    assert sorted(received) == ["douyin", "wechat"]
    assert wechat_waited == [False]
