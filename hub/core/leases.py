"""Leases: at most one process works on a unit of work (e.g. ``shop1:orders``) at a time.

A lease is a row naming its holder's process (host, pid) with an expiry that the
holder's heartbeat keeps pushing forward while the work runs; it is released at the end
(and on SIGTERM/SIGINT). Taking one is a single ``INSERT … ON CONFLICT DO UPDATE``, so
two processes racing for a missing row never collide on its key. Another holder's lease
is taken over only when that holder is *provably dead*:

* its heartbeat stopped: the lease expired (any machine); or
* it ran on this machine (same host name and process namespace) and its process is gone
  — a ``kill -9`` frees its leases at once, not after the expiry.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import anyio
from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.orm import Session

from hub.core.clock import Clock
from hub.errors import LeaseHeld
from hub.storage import tables as t
from hub.storage.db import Database, dialect_insert


@cache
def this_host() -> str:
    """This machine as lease rows name it: the host name, plus the process namespace on
    Linux (two containers may share a host name but not their process ids)."""
    name = socket.gethostname()
    with contextlib.suppress(OSError):
        return f"{name}/pidns={os.stat('/proc/self/ns/pid').st_ino}"
    return name


def stream_lease(shop: str, stream: str) -> str:
    """The name of the lease on one shop's stream (``shop1:orders``)."""
    return f"{shop}:{stream}"


def new_holder() -> str:
    """An identity for this process: host, pid and a random suffix."""
    return f"{this_host()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _holder_process(holder: str | None) -> tuple[str, int | None]:
    """(host, pid) named by a holder made by :func:`new_holder`."""
    host_pid = (holder or "").rpartition(":")[0]
    host, _, pid = host_pid.rpartition(":")
    return host, int(pid) if pid.isdigit() else None


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists on this machine (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    # A zombie is dead, only not yet reaped by its parent.
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
        return f.read().rpartition(")")[2].split()[0] != "Z"
    return True


@dataclass(frozen=True)
class LeaseInfo:
    """A lease row and what can be said of its holder."""

    name: str
    holder: str
    host: str | None
    pid: int | None
    acquired_at: datetime | None
    expires_at: datetime
    state: str  # "live", "expired" (heartbeat stopped) or "dead" (process gone)

    @property
    def dead(self) -> bool:
        return self.state != "live"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "holder": self.holder,
            "host": self.host,
            "pid": self.pid,
            "acquired_at": self.acquired_at,
            "expires_at": self.expires_at,
            "state": self.state,
        }


def holder_state(host: str | None, pid: int | None, expires_at: datetime, now: datetime) -> str:
    if expires_at <= now:
        return "expired"
    if host == this_host() and pid is not None and not pid_alive(pid):
        return "dead"
    return "live"


def acquire(session: Session, name: str, holder: str, now: datetime, ttl: float) -> bool:
    """Take (or renew) the lease ``name`` for ``ttl`` seconds; False if a live holder has it."""
    return name in acquire_many(session, [name], holder, now, ttl)


def acquire_many(session: Session, names: Sequence[str], holder: str, now: datetime, ttl: float) -> set[str]:
    """Take (or renew) the leases ``names`` for ``ttl`` seconds; returns those taken (a live
    holder keeps the others). Two statements however many names (a cycle polls for its
    shops' leases while it waits, and every statement holds SQLite's one writer); rows go
    in name order, so two processes taking overlapping sets wait for each other rather
    than deadlock on PostgreSQL."""
    wanted = sorted(set(names))
    if not wanted:
        return set()
    expires = now + timedelta(seconds=ttl)
    owner = {"holder": holder, "host": this_host(), "pid": os.getpid(), "expires_at": expires}
    rows = [{"name": name, "acquired_at": now, **owner} for name in wanted]
    insert = dialect_insert(session, t.Lease).values(rows)
    excluded = insert.excluded
    session.execute(
        insert.on_conflict_do_update(
            index_elements=[t.Lease.name],
            set_={
                "holder": excluded.holder,
                "host": excluded.host,
                "pid": excluded.pid,
                "expires_at": excluded.expires_at,
                # A renewal keeps the time the holder first took it.
                "acquired_at": _keep_if_same_holder(excluded),
            },
            where=or_(t.Lease.holder == holder, t.Lease.expires_at <= now),
        )
    )
    found = session.execute(
        select(t.Lease.name, t.Lease.holder, t.Lease.host, t.Lease.pid, t.Lease.expires_at)
        .where(t.Lease.name.in_(wanted))
        .order_by(t.Lease.name)
    )
    taken = set()
    for row in found:
        if row.holder == holder:
            taken.add(row.name)
        elif holder_state(row.host, row.pid, row.expires_at, now) != "live":
            # Its process is gone: take it over, unless someone else did in the meantime.
            over = session.execute(
                update(t.Lease)
                .where(t.Lease.name == row.name, t.Lease.holder == row.holder)
                .values(acquired_at=now, **owner)
            )
            if over.rowcount:
                taken.add(row.name)
    return taken


def _keep_if_same_holder(excluded: Any) -> Any:
    return case((t.Lease.holder == excluded.holder, t.Lease.acquired_at), else_=excluded.acquired_at)


def release(session: Session, name: str, holder: str) -> None:
    session.execute(delete(t.Lease).where(t.Lease.name == name, t.Lease.holder == holder))


def list_leases(session: Session, now: datetime) -> list[LeaseInfo]:
    """Every lease row, with its holder's state."""
    return [
        LeaseInfo(
            row.name,
            row.holder,
            row.host,
            row.pid,
            row.acquired_at,
            row.expires_at,
            holder_state(row.host, row.pid, row.expires_at, now),
        )
        for row in session.scalars(select(t.Lease).order_by(t.Lease.name))
    ]


def release_dead(session: Session, now: datetime) -> list[str]:
    """Delete every lease whose holder is provably dead; returns their names."""
    dead = [lease for lease in list_leases(session, now) if lease.dead]
    for lease in dead:
        release(session, lease.name, lease.holder)
    return [lease.name for lease in dead]


def mark_crashed_runs(session: Session, now: datetime) -> int:
    """Sync runs still ``running`` whose process is provably dead become ``crashed``.

    A run's process is alive while it holds a live lease, or while it runs on this
    machine with its pid alive; a run on another machine holding no lease is given
    ``_GRACE`` from its start. Returns how many were marked."""
    live_holders = {lease.holder for lease in list_leases(session, now) if lease.state == "live"}
    marked = 0
    for run in session.scalars(select(t.SyncRun).where(t.SyncRun.status == "running")):
        if run.holder in live_holders:
            continue
        host, pid = _holder_process(run.holder)
        if host == this_host() and pid is not None:
            if pid_alive(pid):
                continue  # alive, between two leases
        elif now - run.started_at < _GRACE:
            continue  # on another machine: it may not have taken its first lease yet
        run.status, run.finished_at = "crashed", now
        run.error = "the process ended without finishing the run (killed or crashed)"
        marked += 1
    return marked


#: A run with no live lease is given this long before it counts as crashed (it may not
#: have taken its first lease yet).
_GRACE = timedelta(minutes=10)


LEASE_POLL = 0.01  # seconds between tries for a lease held for a short while


class LeaseKeeper:
    """Leases one run holds, renewed in the background (the heartbeat) while it runs.

    ``ttl``: seconds a lease lasts without renewal; :meth:`renew_forever` renews every
    held lease each third of it."""

    def __init__(self, db: Database, holder: str, clock: Clock, ttl: float):
        self.db, self.holder, self.clock, self.ttl = db, holder, clock, ttl
        self.held: set[str] = set()

    async def acquire(self, name: str) -> bool:
        return name in await self.acquire_many([name])

    async def acquire_many(self, names: Sequence[str]) -> set[str]:
        """Take (or renew) several leases in one transaction; returns those taken."""
        holder, now = self.holder, self.clock.now()

        taken = await self.db.run(lambda s: acquire_many(s, names, holder, now, self.ttl))
        self.held |= taken
        return taken

    async def release(self, name: str) -> None:
        await self.release_many([name])

    async def release_many(self, names: Sequence[str]) -> None:
        holder = self.holder
        await self.db.run(lambda s: [release(s, n, holder) for n in names])
        self.held -= set(names)  # only once released: a cancelled release is retried at the end

    async def release_all(self) -> None:
        with anyio.CancelScope(shield=True):
            await self.release_many(sorted(self.held))

    async def acquire_within(
        self, names: Sequence[str], patience: float, sleep: Callable[[float], Awaitable[None]] = anyio.sleep
    ) -> set[str]:
        """Take all of ``names``, waiting up to ``patience`` seconds (of ``sleep``: real
        time by default, as the other holder is another process) for those another holder
        has; then as many as are free. Returns those taken.

        None is kept while waiting: holding some would hold up another holder's short
        rounds on those (a push's writes), which would meanwhile take the others again,
        so each would wait for the other."""
        wanted = sorted(set(names))
        taken = await self.acquire_many(wanted)
        waited = 0.0
        while len(taken) < len(wanted) and waited < patience:
            await self.release_many(sorted(taken))
            await sleep(LEASE_POLL)
            waited += LEASE_POLL
            taken = await self.acquire_many(wanted)
        return taken

    @asynccontextmanager
    async def holding(self, name: str) -> AsyncIterator[None]:
        """Hold the lease ``name`` for a short critical section, waiting for it up to the
        lease time (see :meth:`acquire_within`)."""
        if not await self.acquire_within([name], self.ttl):
            raise LeaseHeld(f"waited {self.ttl:.0f} s for the lease {name!r}; another sync holds it")
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                await self.release(name)

    async def renew_forever(self) -> None:
        # Real time, not the run's clock: leases guard against other real processes,
        # and a fake clock must not be driven forward by a background loop in tests.
        while True:
            await anyio.sleep(self.ttl / 3)
            if self.held:
                await self.acquire_many(sorted(self.held))
