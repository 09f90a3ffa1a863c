"""The console's ASGI application (a factory, so `hub console` and any other server can
mount it)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.app import App
from hub.console import auth
from hub.console.pages import audit_log, bulk, orders, overview, promotions, stock, users_admin
from hub.console.templating import HERE, make_templates, render
from hub.console.throttle import LoginThrottle
from hub.secrets import register_secret
from hub.storage import tables as t

SESSION_HOURS = 12
HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    # Everything comes from this server; pygal's SVG carries its own <style>.
    (
        b"content-security-policy",
        b"default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        b"form-action 'self'; frame-ancestors 'none'",
    ),
]


class SecurityHeaders:
    """Adds the headers above to every response."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    title = {403: "Not allowed", 404: "Not found", 405: "Not allowed"}.get(exc.status_code, "Cannot do that")
    return render(request, "error.html", exc.status_code, message=exc.detail, title=title)


def create_app(
    hub: App,
    *,
    secret_key: str,
    https_only: bool = False,
    throttle: LoginThrottle | None = None,
    upload_dir: Path | None = None,
) -> Starlette:
    """The console for ``hub`` (its database, clock and plugins). ``secret_key`` signs the
    session cookies; ``https_only`` marks them Secure (set it when served over https)."""
    shops = hub.db.run_sync(lambda s: s.execute(select(t.Shop)).scalars().all())
    for shop in shops:  # masked wherever they might appear, e.g. in a platform's error text
        for value in (shop.app_secret, shop.access_token, shop.refresh_token):
            register_secret(value)
    routes = [
        *auth.routes,
        *overview.routes,
        *stock.routes,
        *orders.routes,
        *bulk.routes,
        *promotions.routes,
        *audit_log.routes,
        *users_admin.routes,
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(
                SessionMiddleware,
                secret_key=secret_key,
                session_cookie="hub_console",
                max_age=SESSION_HOURS * 3600,
                same_site="lax",
                https_only=https_only,
            ),
        ],
        exception_handlers={HTTPException: _http_error, auth.LoginRequired: auth.login_redirect},
    )
    app.state.hub = hub
    app.state.templates = make_templates()
    app.state.throttle = throttle or LoginThrottle(hub.clock)
    app.state.upload_dir = upload_dir
    return app
