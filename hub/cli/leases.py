"""``hub leases``: who holds which unit of work, and freeing what a dead process held."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.orm import Session

from hub.app import App
from hub.cli.output import emit, info, json_option, print_table
from hub.core import leases
from hub.errors import ConfigError

STATE_TEXT = {
    "live": "live",
    "expired": "dead (no heartbeat)",
    "dead": "dead (process gone)",
}


@click.group("leases")
def group() -> None:
    """Leases: at most one `hub sync` works on a shop's stream at a time.

    \b
    A lease names its holder's host and process id and is kept alive by a heartbeat.
    A holder that is gone (its process ended on this machine, or its heartbeat
    stopped) is passed over by the next `hub sync`; these commands show and clear
    leases by hand.
    """


@group.command("list")
@json_option
@click.pass_obj
def list_(app: App, as_json: bool) -> None:
    """List every lease with its holder and whether that holder is alive.

    Sync runs left `running` by a dead process are marked `crashed` on the way."""
    now = app.clock.now()

    def read(s: Session) -> list[dict[str, Any]]:
        leases.mark_crashed_runs(s, now)
        return [lease.as_dict() for lease in leases.list_leases(s, now)]

    rows = app.db.run_sync(read)
    emit(
        as_json,
        rows,
        lambda: print_table(
            ["name", "holder", "pid", "since", "heartbeat until", "state"],
            [
                (r["name"], r["holder"], r["pid"], r["acquired_at"], r["expires_at"], STATE_TEXT[r["state"]])
                for r in rows
            ],
            empty="no leases held",
        ),
    )


@group.command("release")
@click.argument("names", nargs=-1)
@click.option("--all-dead", is_flag=True, help="Every lease whose holder is dead (gone, or no heartbeat).")
@click.option("--force", is_flag=True, help="Release NAMES even if their holder looks alive.")
@json_option
@click.pass_obj
def release(app: App, names: tuple[str, ...], all_dead: bool, force: bool, as_json: bool) -> None:
    """Release leases by NAME (see `hub leases list`), or --all-dead.

    A lease whose holder is alive is refused without --force: its process is still
    working, and releasing it would let two processes do the same work."""
    if bool(names) == all_dead:
        raise click.UsageError("give lease names, or --all-dead (not both)")
    now = app.clock.now()

    def write(s: Session) -> list[str]:
        if all_dead:
            released = leases.release_dead(s, now)
            leases.mark_crashed_runs(s, now)
            return released
        found = {lease.name: lease for lease in leases.list_leases(s, now)}
        unknown = [n for n in names if n not in found]
        if unknown:
            raise ConfigError(f"no lease named {', '.join(map(repr, unknown))}; see `hub leases list`")
        alive = [found[n] for n in names if not found[n].dead]
        if alive and not force:
            who = "; ".join(f"{x.name!r} by {x.holder} (pid {x.pid})" for x in alive)
            raise ConfigError(
                f"held by a live process: {who}; stop it first, or add --force if you know it is gone"
            )
        for name in names:
            leases.release(s, name, found[name].holder)
        return list(names)

    released = app.db.run_sync(write)
    if as_json:
        emit(True, {"released": released}, lambda: None)
    else:
        info(f"released {len(released)} lease(s)" + (f": {', '.join(released)}" if released else ""))
