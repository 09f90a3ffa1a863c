"""``hub users``: who may sign in to the console, and with which role."""

from __future__ import annotations

import sys

import click

from hub.app import App
from hub.cli.output import emit, info, json_option, print_table
from hub.core import audit, users
from hub.errors import InputError


@click.group("users")
def group() -> None:
    """Console users and their roles (viewer, operator, admin)."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InputError("--password-stdin: no password on standard input")
        return password
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(users.ROLES), required=True, help="What the user may do.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_obj
def add(app: App, name: str, role: str, password_stdin: bool) -> None:
    """Add user NAME. The password is prompted for (twice), or read with --password-stdin.

    viewer: sees everything; operator: also changes stock, orders, bulk files, promotions;
    admin: everything."""
    password = _read_password(password_stdin)

    def write(s):  # type: ignore[no-untyped-def]
        users.add_user(s, name=name, role=role, password=password, now=app.clock.now())
        audit.record(
            s,
            actor=app.actor,
            action="user.add",
            now=app.clock.now(),
            new=f"{name} {role}",
            source="hub users add",
        )

    app.db.run_sync(write)
    info(f"added user {name} ({role})")


@group.command("list")
@json_option
@click.pass_obj
def list_(app: App, as_json: bool) -> None:
    """List users and their roles."""
    rows = app.db.run_sync(users.list_users)
    emit(
        as_json,
        rows,
        lambda: print_table(
            ["user", "role", "created", "last sign-in"],
            [(r["name"], r["role"], r["created_at"], r["last_login_at"]) for r in rows],
            empty="no users: add one with `hub users add NAME --role admin`",
        ),
    )


@group.command("remove")
@click.argument("name")
@click.pass_obj
def remove(app: App, name: str) -> None:
    """Remove user NAME (their open console sessions end at their next request)."""

    def write(s):  # type: ignore[no-untyped-def]
        users.remove_user(s, name)
        audit.record(
            s, actor=app.actor, action="user.remove", now=app.clock.now(), old=name, source="hub users remove"
        )

    app.db.run_sync(write)
    info(f"removed user {name}")
