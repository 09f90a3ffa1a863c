"""Signing in and out, and who may do what.

A signed session cookie holds the user's name; every request reloads the user, so a removed
user, a disabled one or a changed role takes effect at once. Pages need a signed-in user; every change needs
the ``operator`` role and a valid CSRF token (:func:`action`)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import Select, select
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from hub.app import App
from hub.console import csrf
from hub.console.templating import render
from hub.core import audit, users
from hub.storage import tables as t


@dataclass(frozen=True)
class User:
    name: str
    role: str

    def may(self, role: str) -> bool:
        return users.allows(self.role, role)


class LoginRequired(Exception):
    """Raised by pages when nobody is signed in; answered with a redirect to /login."""


def hub(request: Request) -> App:
    return request.app.state.hub


async def signed_in(request: Request) -> User:
    """The signed-in user, or :class:`LoginRequired`."""
    name = request.session.get("user")
    row = await hub(request).db.run(lambda s: s.scalar(_by_name(name))) if name else None
    if row is None or row.disabled_at is not None:  # removed or disabled: signed out now
        request.session.pop("user", None)
        raise LoginRequired
    user = User(row.name, row.role)
    request.scope["hub_user"] = user
    return user


def _by_name(name: str) -> Select[tuple[t.User]]:
    return select(t.User).where(t.User.name == name)


def refusal(user: User, role: str) -> str:
    """Why ``user`` may not do what needs ``role``."""
    if role == "operator":
        return f"a {user.role} cannot change anything; this needs the {role} role"
    return f"only an {role} may do this; you are signed in as {user.role}"


async def action(request: Request, role: str = "operator") -> tuple[User, FormData]:
    """For a change: the user (403 unless they have ``role``) and the form (403 without a
    valid CSRF token)."""
    user = await signed_in(request)
    if not user.may(role):
        raise HTTPException(403, refusal(user, role))
    form = await request.form()
    csrf.verify(request, form)
    return user, form


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def login_page(request: Request) -> Response:
    return render(request, "login.html", next=request.query_params.get("next", "/"))


async def login(request: Request) -> Response:
    form = await request.form()
    csrf.verify(request, form)
    name = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    target = str(form.get("next") or "/")
    if not target.startswith("/") or target.startswith("//"):
        target = "/"  # never redirect off this site
    throttle = request.app.state.throttle
    address = _address(request)
    wait = throttle.retry_after(name, address)
    if wait:
        return render(
            request,
            "login.html",
            429,
            next=target,
            username=name,
            error=f"too many failed sign-ins: try again in {int(wait // 60) + 1} minutes",
        )
    app = hub(request)
    now = app.clock.now()

    def check(s):  # type: ignore[no-untyped-def]
        user = users.authenticate(s, name, password, now)
        if user is not None:
            audit.record(s, actor=user.name, action="console.login", now=now, source=f"console {address}")
        return user is not None

    if not name or not await app.db.run(check):
        throttle.failed(name, address)
        error = "wrong user name or password"
        return render(request, "login.html", 401, next=target, username=name, error=error)
    throttle.succeeded(name, address)
    request.session.clear()  # a fresh session (and CSRF token) for the signed-in user
    request.session["user"] = name
    return RedirectResponse(target, status_code=303)


async def logout(request: Request) -> Response:
    form = await request.form()
    csrf.verify(request, form)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


def login_redirect(request: Request, exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


routes = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
