"""Enqueue worker jobs in the caller's transaction.

A job is a row in ``procrastinate_jobs`` inserted through procrastinate's own SQL function
(``procrastinate_defer_jobs_v1``), on the hub's SQLAlchemy session: it commits with the
change that needs it (a stored push and its processing job, a stock change and its push)
or not at all, and a rolled-back change leaves no job behind. No second connection, no
dual write.

Every job carries a ``lock`` (procrastinate runs no two jobs with one lock at once: one
shop's stream is never run by two workers together) and a ``queueing_lock`` (at most one
waiting job per lock, so enqueues never pile up: a job already waiting will do the work).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.errors import ConfigError
from hub.storage import tables as t

RUN_STREAM = "hub:run_stream"
PROCESS_PUSHES = "hub:process_pushes"

_DEFER = text(
    "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, :priority, :lock, :queueing_lock,"
    " CAST(:args AS jsonb), CAST(:at AS timestamptz))::procrastinate_job_to_defer_v1])) AS id"
)


def defer(
    session: Session,
    task: str,
    args: dict[str, Any],
    *,
    queue: str,
    lock: str | None = None,
    queueing_lock: str | None = None,
    priority: int = 0,
    at: datetime | None = None,
) -> int | None:
    """Enqueue ``task(**args)`` in ``session``'s transaction; its job id, or None when a job
    with the same ``queueing_lock`` is already waiting (it will do the work)."""
    if session.get_bind().dialect.name != "postgresql":
        raise ConfigError("worker jobs need PostgreSQL (see README, Running at scale)")
    values = {
        "queue": queue,
        "task": task,
        "priority": priority,
        "lock": lock,
        "queueing_lock": queueing_lock,
        "args": json.dumps(args),
        "at": at,
    }
    try:
        with session.begin_nested():  # a savepoint: a waiting twin must not undo the caller's change
            return int(session.execute(_DEFER, values).scalar_one())
    except IntegrityError as exc:
        if queueing_lock and "queueing_lock" in str(exc.orig):
            return None
        raise


def stream_lock(shop: str, stream: str) -> str:
    return f"stream:{shop}:{stream}"


def enqueue_stream(session: Session, shop: str, stream: str, *, priority: int = 0) -> int | None:
    """A job running ``shop``'s ``stream`` (what ``hub sync --shop SHOP --stream STREAM`` does)."""
    lock = stream_lock(shop, stream)
    return defer(
        session,
        RUN_STREAM,
        {"shop": shop, "stream": stream},
        queue="sync",
        lock=lock,
        queueing_lock=lock,
        priority=priority,
    )


def enqueue_pushes(session: Session) -> int | None:
    """A job processing the pending push inbox (see :mod:`hub.push.process`)."""
    return defer(session, PROCESS_PUSHES, {}, queue="push", lock="push", queueing_lock="push", priority=5)


def enqueue_stock(session: Session) -> list[int]:
    """A stock job for every shop (a stock change every shop must show, e.g. `hub stock
    set`); the ids enqueued (a shop whose stock job is already waiting gets none)."""
    names = session.scalars(select(t.Shop.name).order_by(t.Shop.name)).all()
    ids = [enqueue_stream(session, name, "stock", priority=5) for name in names]
    return [i for i in ids if i is not None]
