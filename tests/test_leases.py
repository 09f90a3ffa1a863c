"""Leases whose holder can be proven dead, taken without a race, listed and released by
hand; runs that crash leave a row; a stream skipped for a lease is never a silent 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from typing import Any

import anyio
import pytest
from click.testing import CliRunner
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from hub.app import App
from hub.cli import cli
from hub.core import leases
from hub.core.engine import LEASE_PATIENCE, SyncEngine
from hub.simulator.lab import Lab
from hub.storage import tables as t
from hub.storage.db import Database
from hub.testing import FakeClock
from tests.conftest import Invoke
from tests.test_engine import engine_lab


def dead_pid() -> int:
    """The id of a process that has ended (and was reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def put_lease(db: Database, name: str, holder: str, host: str | None, pid: int | None, expires: Any) -> None:
    db.run_sync(lambda s: s.add(t.Lease(name=name, holder=holder, host=host, pid=pid, expires_at=expires)))


def test_a_lease_of_a_process_gone_from_this_machine_is_taken_over_at_once(
    hub_db: Database, fake_clock: FakeClock
) -> None:
    now = fake_clock.now()
    gone = dead_pid()
    put_lease(hub_db, "a:orders", f"x:{gone}:1", leases.this_host(), gone, now + timedelta(minutes=5))
    assert hub_db.run_sync(lambda s: leases.acquire(s, "a:orders", "me", now, 60))
    row = hub_db.run_sync(lambda s: s.get(t.Lease, "a:orders"))
    assert (row.holder, row.pid, row.host) == ("me", os.getpid(), leases.this_host())


def test_a_live_holder_keeps_its_lease_until_its_heartbeat_stops(
    hub_db: Database, fake_clock: FakeClock
) -> None:
    now = fake_clock.now()
    # Alive on this machine (this very process, another engine):
    put_lease(hub_db, "a:orders", "other", leases.this_host(), os.getpid(), now + timedelta(seconds=60))
    # On another machine (its pid means nothing here):
    put_lease(hub_db, "b:orders", "far", "elsewhere", dead_pid(), now + timedelta(seconds=60))
    assert not hub_db.run_sync(lambda s: leases.acquire(s, "a:orders", "me", now, 60))
    assert not hub_db.run_sync(lambda s: leases.acquire(s, "b:orders", "me", now, 60))
    later = now + timedelta(seconds=61)  # no heartbeat for a lease time: dead
    assert hub_db.run_sync(lambda s: leases.acquire(s, "b:orders", "me", later, 60))
    # Renewing one's own lease keeps the time it was first taken.
    assert hub_db.run_sync(lambda s: leases.acquire(s, "b:orders", "me", later + timedelta(seconds=20), 60))
    row = hub_db.run_sync(lambda s: s.get(t.Lease, "b:orders"))
    assert row.acquired_at == later and row.expires_at == later + timedelta(seconds=80)


def test_several_leases_are_taken_in_two_statements_whatever_their_number(
    hub_db: Database, fake_clock: FakeClock
) -> None:
    # A cycle polls for all its shops' stock leases while a push holds some: each try is one
    # short transaction on the database's one writer (SQLite), not two statements a lease.
    now = fake_clock.now()
    acquired_at = now - timedelta(seconds=30)
    hub_db.run_sync(
        lambda s: s.add(t.Lease(name="a:stock", holder="me", acquired_at=acquired_at, expires_at=now))
    )
    put_lease(hub_db, "b:stock", "other", leases.this_host(), os.getpid(), now + timedelta(seconds=60))
    put_lease(hub_db, "c:stock", "late", "elsewhere", 1, now - timedelta(seconds=1))  # expired
    statements: list[str] = []
    listen = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(hub_db.engine, "before_cursor_execute", listen)
    try:
        names = ["e:stock", "d:stock", "c:stock", "b:stock", "a:stock"]
        taken = hub_db.run_sync(lambda s: leases.acquire_many(s, names, "me", now, 60))
    finally:
        event.remove(hub_db.engine, "before_cursor_execute", listen)
    assert taken == {"a:stock", "c:stock", "d:stock", "e:stock"}
    assert [x.split()[0].upper() for x in statements if not x.upper().startswith(("BEGIN", "SAVEPOINT"))] == [
        "INSERT",
        "SELECT",
    ]
    rows = hub_db.run_sync(lambda s: {x.name: (x.holder, x.acquired_at) for x in s.scalars(select(t.Lease))})
    assert rows["b:stock"][0] == "other"
    assert rows["a:stock"] == ("me", acquired_at.replace(tzinfo=rows["a:stock"][1].tzinfo))  # renewed
    assert {rows[n][0] for n in ("c:stock", "d:stock", "e:stock")} == {"me"}


def test_many_processes_racing_for_a_missing_lease_get_it_once_without_an_error(
    hub_db: Database, fake_clock: FakeClock
) -> None:
    won, errors = race_for_a_lease(hub_db.url, fake_clock.now())
    assert not errors, errors
    assert len(won) == 1
    assert hub_db.run_sync(lambda s: s.get(t.Lease, "race").holder) == won[0]


def race_for_a_lease(url: str, now: datetime, racers: int = 8) -> tuple[list[str], list[BaseException]]:
    """``racers`` connections (like processes) take the missing lease "race" at once;
    returns who won and what was raised."""
    won: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(racers)

    def race(number: int) -> None:
        db = Database(url)  # a connection of its own, like another process
        try:
            start.wait()
            if db.run_sync(lambda s: leases.acquire(s, "race", f"h{number}", now, 60)):
                won.append(f"h{number}")
        except BaseException as exc:  # collected and asserted by the caller
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=race, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won, errors


# --- the engine and the CLI ----------------------------------------------------------------------


lab = engine_lab()


def test_a_sync_after_a_kill_9_does_the_work_and_marks_the_killed_run_crashed(lab: Lab) -> None:
    gone = dead_pid()
    holder = f"{leases.this_host()}:{gone}:dead0001"
    now = lab.clock.now()

    def killed_run(s: Session) -> None:
        for name in ("a:orders", "a:stock", "b:stock"):
            expires = now + timedelta(minutes=5)
            s.add(t.Lease(name=name, holder=holder, host=leases.this_host(), pid=gone, expires_at=expires))
        s.add(t.SyncRun(stream="cycle", started_at=now, status="running", holder=holder))

    lab.app.db.run_sync(killed_run)
    report = anyio.run(lab.sync)
    assert report.exit_code == 0, report.to_dict()
    assert not [r for r in report.results if r.skipped and "lease" in r.skipped]
    assert lab.shown("CUP") == {"a": 20, "b": 20, "c": 20}
    statuses = lab.app.db.run_sync(
        lambda s: dict(
            s.execute(select(t.SyncRun.holder, t.SyncRun.status).where(t.SyncRun.stream == "cycle")).all()
        )
    )
    assert statuses[holder] == "crashed"
    assert set(statuses.values()) == {"crashed", "ok"}
    assert lab.app.db.run_sync(lambda s: s.scalars(select(t.Lease.name)).all()) == []


def test_a_stream_skipped_for_a_live_holders_lease_is_exit_1_and_says_who(lab: Lab) -> None:
    other = SyncEngine(lab.app.runtime(), lab.app.settings)  # another live process, in effect
    lab.app.db.run_sync(lambda s: leases.acquire(s, "b:orders", other.holder, lab.clock.now(), 60))
    report = anyio.run(lab.sync)
    skipped = [(r.shop, r.stream, r.exit_code) for r in report.results if r.skipped]
    assert skipped == [("b", "orders", 1)]
    assert report.exit_code == 1
    assert other.holder in next(r.skipped for r in report.results if r.skipped)


def test_leases_list_and_release(app: App, invoke: Invoke) -> None:
    invoke("shops", "list")  # creates the database
    now = app.clock.now()
    gone = dead_pid()
    later = now + timedelta(minutes=5)
    put_lease(app.db, "a:orders", f"h:{gone}:1", leases.this_host(), gone, later)
    put_lease(app.db, "a:stock", "alive", leases.this_host(), os.getpid(), later)
    put_lease(app.db, "b:stock", "far", "elsewhere", 1, now - timedelta(seconds=1))
    holder = f"{leases.this_host()}:{gone}:1"
    crashed = t.SyncRun(stream="cycle", started_at=now, status="running", holder=holder)
    app.db.run_sync(lambda s: s.add(crashed))

    listed = invoke("leases", "list", "--json")
    assert listed.exit_code == 0, listed.output
    states = {row["name"]: row["state"] for row in json.loads(listed.stdout)}
    assert states == {"a:orders": "dead", "a:stock": "live", "b:stock": "expired"}
    assert app.db.run_sync(lambda s: s.scalar(select(t.SyncRun.status))) == "crashed"
    table = invoke("leases", "list")
    assert "dead (process gone)" in table.stdout and "dead (no heartbeat)" in table.stdout

    refused = invoke("leases", "release", "a:stock")
    assert refused.exit_code == 2 and "live process" in refused.stderr
    unknown = invoke("leases", "release", "nope")
    assert unknown.exit_code == 2 and "no lease named 'nope'" in unknown.stderr
    assert invoke("leases", "release").exit_code == 2  # neither names nor --all-dead

    freed = invoke("leases", "release", "--all-dead", "--json")
    assert freed.exit_code == 0 and sorted(json.loads(freed.stdout)["released"]) == ["a:orders", "b:stock"]
    assert invoke("leases", "release", "a:stock", "--force").exit_code == 0
    assert app.db.run_sync(lambda s: s.scalars(select(t.Lease.name)).all()) == []


def test_hub_sync_says_which_stream_it_skipped_and_exits_1(lab: Lab) -> None:
    other = SyncEngine(lab.app.runtime(), lab.app.settings)
    lab.app.db.run_sync(lambda s: leases.acquire(s, "a:stock", other.holder, lab.clock.now(), 60))
    result = CliRunner().invoke(cli, ["sync"], obj=lab.app, catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "1 stream(s) skipped: a stock: another sync holds the lease 'a:stock'" in result.stderr
    assert other.holder in result.stderr


@pytest.mark.parametrize("stream", ["orders", "stock"])
def test_a_cycle_waits_for_a_shops_lease_that_hub_serve_holds_for_a_moment(lab: Lab, stream: str) -> None:
    # hub serve holds a shop's stock lease for a push's write round, and its orders lease
    # for a poll: the cycle takes it once that is over instead of skipping the shop. While
    # it waits it holds none of the stream's leases: hub serve's rounds on the other
    # shops go on (were they held up, they would take the waited-for lease again).
    pusher = SyncEngine(lab.app.runtime(), lab.app.settings)
    lab.app.db.run_sync(lambda s: leases.acquire(s, f"b:{stream}", pusher.holder, lab.clock.now(), 60))
    clock: FakeClock = lab.clock
    waits = 0
    sleep = clock.sleep
    held_while_waiting: set[str] = set()

    async def round_over(seconds: float) -> None:
        nonlocal waits
        if seconds == leases.LEASE_POLL and waits < 3:  # the cycle waits for the lease
            waits += 1
            now = clock.now()
            held = lab.app.db.run_sync(lambda s: leases.list_leases(s, now))
            held_while_waiting.update(x.name for x in held if x.holder == lab.engine().holder)
            if waits == 3:  # the round ends while the cycle waits
                lab.app.db.run_sync(lambda s: leases.release(s, f"b:{stream}", pusher.holder))
        await sleep(seconds)

    clock.sleep = round_over  # type: ignore[method-assign]
    report = anyio.run(lab.sync)
    assert [r for r in report.results if r.skipped] == []
    assert report.exit_code == 0, report.to_dict()
    assert lab.shown("CUP") == {"a": 20, "b": 20, "c": 20}
    assert waits == 3
    assert not {name for name in held_while_waiting if name.endswith(f":{stream}")}


def test_a_cycle_leaves_a_shops_stock_held_longer_than_its_patience(lab: Lab) -> None:
    other = SyncEngine(lab.app.runtime(), lab.app.settings)  # another process's cycle, in effect
    lab.app.db.run_sync(lambda s: leases.acquire(s, "b:stock", other.holder, lab.clock.now(), 60))
    started = lab.clock.monotonic()
    report = anyio.run(lab.sync)
    skipped = [(r.shop, r.stream) for r in report.results if r.skipped]
    assert skipped == [("b", "stock")]
    assert other.holder in next(r.skipped for r in report.results if r.skipped)
    assert lab.clock.monotonic() - started >= LEASE_PATIENCE
