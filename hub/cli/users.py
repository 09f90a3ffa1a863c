"""``hub users``: who may sign in to the console, and with which role."""

from __future__ import annotations

import sys

import click

from hub.app import App
from hub.cli.output import emit, info, json_option, print_table
from hub.core import users
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
    admin: everything, and manages users (here or on the console's Users page)."""
    password = _read_password(password_stdin)
    now = app.clock.now()
    app.db.run_sync(
        lambda s: users.add_user(
            s, name=name, role=role, password=password, now=now, actor=app.actor, source="hub users add"
        )
    )
    info(f"added user {name} ({role})")


@group.command("list")
@json_option
@click.pass_obj
def list_(app: App, as_json: bool) -> None:
    """List users, their roles and whether they are disabled (never a password or hash)."""
    rows = app.db.run_sync(users.list_users)
    emit(
        as_json,
        rows,
        lambda: print_table(
            ["user", "role", "created", "last sign-in", "disabled since"],
            [(r["name"], r["role"], r["created_at"], r["last_login_at"], r["disabled_at"]) for r in rows],
            empty="no users: add one with `hub users add NAME --role admin`",
        ),
    )


@group.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice(users.ROLES))
@click.pass_obj
def set_role(app: App, name: str, role: str) -> None:
    """Give user NAME another ROLE (it applies at their next click). The last enabled admin
    keeps the admin role."""
    now = app.clock.now()
    changed = app.db.run_sync(
        lambda s: users.set_role(s, name, role, now=now, actor=app.actor, source="hub users set-role")
    )
    info(f"user {name} is now {role}" if changed else f"user {name} already is {role}")


def _set_disabled(app: App, name: str, disabled: bool) -> None:
    now = app.clock.now()
    source = f"hub users {'disable' if disabled else 'enable'}"
    changed = app.db.run_sync(
        lambda s: users.set_disabled(s, name, disabled, now=now, actor=app.actor, source=source)
    )
    state = "disabled" if disabled else "enabled"
    info(f"user {name} {'is now' if changed else 'already is'} {state}")


@group.command("disable")
@click.argument("name")
@click.pass_obj
def disable(app: App, name: str) -> None:
    """Disable user NAME: they cannot sign in, and an open console session ends at their
    next click. Their audit history stays. The last enabled admin cannot be disabled."""
    _set_disabled(app, name, True)


@group.command("enable")
@click.argument("name")
@click.pass_obj
def enable(app: App, name: str) -> None:
    """Enable user NAME again."""
    _set_disabled(app, name, False)


@group.command("reset-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_obj
def reset_password(app: App, name: str, password_stdin: bool) -> None:
    """Set a new password for user NAME (prompted for twice, or read with --password-stdin)."""
    now = app.clock.now()
    app.db.run_sync(lambda s: users.get_user(s, name))  # an unknown name fails before the prompt
    password = _read_password(password_stdin)
    app.db.run_sync(
        lambda s: users.reset_password(
            s, name, password, now=now, actor=app.actor, source="hub users reset-password"
        )
    )
    info(f"new password set for user {name}")


@group.command("remove")
@click.argument("name")
@click.pass_obj
def remove(app: App, name: str) -> None:
    """Remove user NAME (their open console sessions end at their next request). The last
    enabled admin cannot be removed; `hub users disable` keeps the name in the audit trail."""
    now = app.clock.now()
    app.db.run_sync(lambda s: users.remove_user(s, name, now=now, actor=app.actor, source="hub users remove"))
    info(f"removed user {name}")
