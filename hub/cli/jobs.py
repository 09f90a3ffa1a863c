"""``hub jobs``: what the workers ran, what failed and why, and running failed jobs again."""

from __future__ import annotations

import click

from hub.app import App
from hub.cli.output import emit, info, json_option, print_json, print_table
from hub.workers import jobs as jobs_mod


@click.group("jobs")
def group() -> None:
    """Worker jobs (`hub worker`, PostgreSQL): list them, retry failed ones."""


def _what(row: jobs_mod.JobRow) -> str:
    """A job's arguments that say what it works on (shop and stream)."""
    return " ".join(v for v in row.args.values() if isinstance(v, str))


@group.command("list")
@click.option("--failed", is_flag=True, help="Only jobs that failed for good (with why).")
@click.option(
    "--limit",
    type=click.IntRange(1, 10_000),
    default=jobs_mod.LIST_LIMIT,
    show_default=True,
    help="At most this many jobs.",
)
@json_option
@click.pass_obj
def list_(app: App, failed: bool, limit: int, as_json: bool) -> None:
    """The newest jobs, newest first: task, shop and stream, status, attempts, and the
    reason of the last failed attempt (the platform's, when a platform refused).

    \b
    Statuses: todo (waiting; "scheduled" is when it may start), doing, succeeded,
    failed (for good: retry with `hub jobs retry`), cancelled, aborted."""
    rows = app.db.run_sync(lambda s: jobs_mod.list_jobs(s, failed=failed, limit=limit))
    emit(
        as_json,
        [r.to_dict() for r in rows],
        lambda: print_table(
            ["id", "task", "what", "status", "attempts", "scheduled", "last event", "error"],
            [
                (
                    r.id,
                    r.task.removeprefix("hub:"),
                    _what(r),
                    r.status,
                    r.attempts,
                    r.scheduled_at or "",
                    r.last_event_at,
                    r.error or "",
                )
                for r in rows
            ],
            empty="no failed jobs" if failed else "no jobs yet (start `hub worker`)",
        ),
    )


@group.command("retry")
@click.argument("job_id", type=click.IntRange(min=1), required=False)
@click.option("--all-failed", is_flag=True, help="Every failed job.")
@json_option
@click.pass_obj
def retry(app: App, job_id: int | None, all_failed: bool, as_json: bool) -> None:
    """Queue a failed job again (JOB_ID from `hub jobs list --failed`), or every one.

    A job whose stream already has a job waiting is left failed: the waiting one does it."""
    if (job_id is None) == (not all_failed):
        raise click.UsageError("give a JOB_ID or --all-failed (not both)")
    now = app.clock.now()
    ids = None if all_failed else [job_id]
    queued = app.db.run_sync(lambda s: jobs_mod.retry(s, ids, now))  # type: ignore[arg-type]
    if as_json:
        print_json({"queued": queued})
    elif queued:
        info(f"queued again: {', '.join(str(i) for i in queued)}")
    else:
        info("nothing to retry")
