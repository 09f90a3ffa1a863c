"""The periodic scheduler: enqueue each shop's streams when they are due.

procrastinate defers the scheduler's tick (a periodic task) once per tick time however
many workers run: the database refuses a second defer for the same time. The tick then
enqueues, in one transaction, a job for every (shop, stream) whose ``job_schedule`` row
is due and moves the row on by the stream's interval. Rows are taken ``FOR UPDATE SKIP
LOCKED``, so two ticks running at once (a slow one and the next) split the rows instead
of enqueueing one stream twice; a job already waiting for a stream (its queueing lock)
is left to do the work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from hub.report import STREAMS
from hub.settings import HubSettings
from hub.storage import tables as t
from hub.storage.db import insert_or_ignore
from hub.workers import enqueue


def intervals(settings: HubSettings) -> dict[str, timedelta]:
    """How often each stream of a shop runs under workers: listings and after-sales at
    their own settings, the others every ``worker_interval_seconds``."""
    every = timedelta(seconds=settings.worker_interval_seconds)
    spans = dict.fromkeys(STREAMS, every)
    spans["listings"] = timedelta(minutes=settings.listings_interval_minutes) or every
    spans["aftersales"] = timedelta(minutes=settings.aftersales_interval_minutes) or every
    return spans


@dataclass
class Tick:
    """What one tick enqueued."""

    streams: list[tuple[str, str]] = field(default_factory=list)  # (shop, stream) enqueued
    already_waiting: int = 0  # due, but a job for it was still waiting
    pushes: bool = False  # a push processing job, for inbox entries left pending


def enqueue_due(session: Session, now: datetime, settings: HubSettings) -> Tick:
    """Enqueue the due streams of every shop (and push processing if entries wait)."""
    tick = Tick()
    spans = intervals(settings)
    shops = {row.id: row.name for row in session.execute(select(t.Shop.id, t.Shop.name))}
    known = {
        (r.shop_id, r.stream) for r in session.execute(select(t.JobSchedule.shop_id, t.JobSchedule.stream))
    }
    for shop_id in shops:  # a new shop (or stream) is due at once
        for stream in STREAMS:
            if (shop_id, stream) not in known:  # (a row another tick holds is not waited for)
                values = {"shop_id": shop_id, "stream": stream, "next_at": now}
                insert_or_ignore(session, t.JobSchedule.__table__, values)
    due = session.scalars(
        select(t.JobSchedule)
        .where(t.JobSchedule.next_at <= now)
        .order_by(t.JobSchedule.next_at, t.JobSchedule.shop_id)
        .with_for_update(skip_locked=True)
    ).all()
    for row in due:
        name = shops.get(row.shop_id)
        if name is None:
            continue
        if enqueue.enqueue_stream(session, name, row.stream) is None:
            tick.already_waiting += 1
        else:
            tick.streams.append((name, row.stream))
        row.next_at = now + spans[row.stream]
    pending = exists().where(t.PushInboxEntry.processed_at.is_(None))
    if session.scalar(select(pending)):  # a push whose job ran before it committed
        tick.pushes = enqueue.enqueue_pushes(session) is not None
    return tick
