"""What ran and what failed: the queue's jobs with the hub's reasons (``hub jobs``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.errors import ConfigError, InputError
from hub.storage import tables as t
from hub.storage.db import insert_or_ignore

LIST_LIMIT = 200


@dataclass(frozen=True)
class JobRow:
    """One job: its queue's view (status, attempts) and the hub's (why it failed)."""

    id: int
    task: str
    args: dict[str, Any]
    queue: str
    status: str
    attempts: int
    scheduled_at: datetime | None
    last_event_at: datetime | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "task": self.task,
            "args": self.args,
            "queue": self.queue,
            "status": self.status,
            "attempts": self.attempts,
            "scheduled_at": self.scheduled_at.isoformat() if self.scheduled_at else None,
            "last_event_at": self.last_event_at.isoformat() if self.last_event_at else None,
            "error": self.error,
        }


def record_error(
    session: Session, job_id: int, error: str, *, retryable: bool, exit_code: int, now: datetime
) -> None:
    """Keep why job ``job_id``'s attempt failed (the latest attempt's reason wins)."""
    session.execute(delete(t.JobError).where(t.JobError.job_id == job_id))
    values = {"job_id": job_id, "error": error[:2000], "retryable": retryable, "exit_code": exit_code}
    insert_or_ignore(session, t.JobError.__table__, {**values, "at": now})


def clear_error(session: Session, job_id: int) -> None:
    session.execute(delete(t.JobError).where(t.JobError.job_id == job_id))


def _require_queue(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        raise ConfigError(
            "worker jobs live in PostgreSQL and this hub runs on SQLite: there are none "
            "(`hub sync` reports its own runs; see `hub sync --help`)"
        )


def list_jobs(session: Session, *, failed: bool = False, limit: int = LIST_LIMIT) -> list[JobRow]:
    """The newest ``limit`` jobs (only failed ones with ``failed``), newest first."""
    _require_queue(session)
    rows = session.execute(
        text(
            "SELECT j.id, j.task_name, j.args, j.queue_name, j.status::text AS status, j.attempts,"
            " j.scheduled_at,"
            " (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id) AS last_at,"
            " x.error"
            " FROM procrastinate_jobs j LEFT JOIN job_errors x ON x.job_id = j.id"
            " WHERE (NOT :failed OR j.status = 'failed')"
            " ORDER BY j.id DESC LIMIT :limit"
        ),
        {"failed": failed, "limit": limit},
    )
    return [
        JobRow(
            id=r.id,
            task=r.task_name,
            args=r.args if isinstance(r.args, dict) else json.loads(r.args or "{}"),
            queue=r.queue_name,
            status=r.status,
            attempts=r.attempts,
            scheduled_at=r.scheduled_at,
            last_event_at=r.last_at,
            error=r.error,
        )
        for r in rows
    ]


def retry(session: Session, job_ids: list[int] | None, now: datetime) -> list[int]:
    """Queue failed jobs again (``job_ids``; None: every failed job); the ids queued.
    An id that is not a failed job is refused and nothing is queued."""
    _require_queue(session)
    failed = set(session.scalars(text("SELECT id FROM procrastinate_jobs WHERE status = 'failed'")))
    if job_ids is None:
        job_ids = sorted(failed)
    else:
        known = {
            r.id: r.status
            for r in session.execute(
                text("SELECT id, status::text AS status FROM procrastinate_jobs WHERE id = ANY(:ids)"),
                {"ids": job_ids},
            )
        }
        for job_id in job_ids:
            if job_id not in known:
                raise InputError(f"no job {job_id}; see `hub jobs list`")
            if known[job_id] != "failed":
                raise InputError(f"job {job_id} is {known[job_id]}, not failed: only failed jobs are retried")
    queued = []
    for job_id in job_ids:
        try:
            with session.begin_nested():
                session.execute(
                    text("SELECT procrastinate_retry_job_v2(:id, :at, NULL, NULL, NULL)"),
                    {"id": job_id, "at": now},
                )
            queued.append(job_id)
        except IntegrityError:  # a job for the same stream is already waiting: it does the work
            continue
    return queued


KEEP_FINISHED_DAYS = 3


def prune(session: Session, days: float = KEEP_FINISHED_DAYS) -> int:
    """Delete the jobs that finished well (succeeded, cancelled, aborted) more than ``days``
    ago by the database's clock, with their events; failed jobs stay until retried. The
    scheduler's tick calls this once an hour, so the queue keeps a few days of what ran."""
    deleted = session.execute(
        text(
            "DELETE FROM procrastinate_jobs j WHERE j.status IN ('succeeded', 'cancelled', 'aborted')"
            " AND NOT EXISTS (SELECT 1 FROM procrastinate_events e WHERE e.job_id = j.id"
            " AND e.at >= now() - make_interval(secs => :seconds))"
            " AND NOT EXISTS (SELECT 1 FROM procrastinate_periodic_defers d WHERE d.job_id = j.id)"
        ),
        {"seconds": days * 86400},
    )
    session.execute(
        text(
            "DELETE FROM job_errors x"
            " WHERE NOT EXISTS (SELECT 1 FROM procrastinate_jobs j WHERE j.id = x.job_id)"
        )
    )
    return int(getattr(deleted, "rowcount", 0) or 0)
