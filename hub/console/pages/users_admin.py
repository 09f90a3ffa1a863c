"""Users (admins only): list users, add one with a role, change a role, disable or enable,
reset a password — through :mod:`hub.core.users`, the functions ``hub users`` uses, so the
rules and the audit entries are the same. No page ever shows a password or its hash."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from hub.console.auth import LoginRequired, User, action, hub, refusal, signed_in
from hub.console.templating import flash, render
from hub.core import users
from hub.errors import HubError

ROLE = "admin"
SOURCE = "console"


async def page(request: Request) -> Response:
    user = await signed_in(request)
    if not user.may(ROLE):
        raise HTTPException(403, refusal(user, ROLE))
    rows = await hub(request).db.run(users.list_users)
    return render(request, "users.html", rows=rows, roles=users.ROLES)


def _field(form: FormData, name: str) -> str:
    return str(form.get(name, "")).strip()


def _password(form: FormData) -> str:
    """The new password, typed twice alike (as ``hub users`` prompts twice)."""
    password = str(form.get("password", ""))
    if password != str(form.get("confirm", "")):
        raise _Refused("the two passwords differ")
    return password


class _Refused(Exception):
    """A form the page itself refuses (before the core sees it)."""


async def _change(request: Request, change: Callable[[Session, FormData, str, Any], str]) -> Response:
    """Run ``change(session, form, actor, now)`` for an admin with a valid CSRF token; its
    message, or the error, is shown on the users page."""
    user, form = await action(request, ROLE)
    app = hub(request)
    now = app.clock.now()
    try:
        message = await app.db.run(lambda s: change(s, form, user.name, now))
    except (HubError, _Refused) as exc:
        flash(request, str(exc), "error")
    else:
        flash(request, message)
    # An admin who just demoted or disabled themselves lands where they still may go.
    back = "/users" if (await _still(request)).may(ROLE) else "/"
    return RedirectResponse(back, status_code=303)


async def _still(request: Request) -> User:
    try:
        return await signed_in(request)
    except LoginRequired:
        return User("", "viewer")


def _add(s: Session, form: FormData, actor: str, now: Any) -> str:
    name, role = _field(form, "name"), _field(form, "role")
    users.add_user(s, name=name, role=role, password=_password(form), now=now, actor=actor, source=SOURCE)
    return f"added user {name} ({role})"


def _role(s: Session, form: FormData, actor: str, now: Any) -> str:
    name, role = _field(form, "name"), _field(form, "role")
    changed = users.set_role(s, name, role, now=now, actor=actor, source=SOURCE)
    return f"user {name} is now {role}" if changed else f"user {name} already is {role}"


def _disabled(disabled: bool) -> Callable[[Session, FormData, str, Any], str]:
    def change(s: Session, form: FormData, actor: str, now: Any) -> str:
        name = _field(form, "name")
        changed = users.set_disabled(s, name, disabled, now=now, actor=actor, source=SOURCE)
        state = "disabled" if disabled else "enabled"
        return f"user {name} {'is now' if changed else 'already is'} {state}"

    return change


def _reset(s: Session, form: FormData, actor: str, now: Any) -> str:
    name = _field(form, "name")
    users.reset_password(s, name, _password(form), now=now, actor=actor, source=SOURCE)
    return f"new password set for user {name}"


async def add(request: Request) -> Response:
    return await _change(request, _add)


async def set_role(request: Request) -> Response:
    return await _change(request, _role)


async def disable(request: Request) -> Response:
    return await _change(request, _disabled(True))


async def enable(request: Request) -> Response:
    return await _change(request, _disabled(False))


async def reset_password(request: Request) -> Response:
    return await _change(request, _reset)


routes = [
    Route("/users", page),
    Route("/users/add", add, methods=["POST"]),
    Route("/users/role", set_role, methods=["POST"]),
    Route("/users/disable", disable, methods=["POST"]),
    Route("/users/enable", enable, methods=["POST"]),
    Route("/users/password", reset_password, methods=["POST"]),
]
