"""Jinja2 templates of the console, with the filters pages use. Every value printed goes
through :func:`hub.secrets.redact`, so a registered secret can never reach a page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from hub.console import csrf
from hub.secrets import redact
from hub.units import CN_TZ, fen_to_yuan

HERE = Path(__file__).parent


def _finalize(value: Any) -> Any:
    if isinstance(value, Markup):  # already safe HTML (a chart): masking keeps it safe
        return Markup(redact(str(value)))
    return redact(value) if isinstance(value, str) else value


def _yuan(fen: int | None) -> str:
    return "-" if fen is None else fen_to_yuan(fen)


def _hours(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.1f}"


def _cn(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(CN_TZ).strftime("%Y-%m-%d %H:%M")


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.finalize = _finalize
    env.filters.update(yuan=_yuan, hours=_hours, cn=_cn)
    return templates


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render page ``name`` with the signed-in user, the CSRF token and any flash message."""
    templates: Jinja2Templates = request.app.state.templates
    flash = request.session.pop("flash", None)
    return templates.TemplateResponse(
        request,
        name,
        {
            "user": request.scope.get("hub_user"),
            "csrf_token": csrf.token(request),
            "flash": flash,
            **context,
        },
        status_code=status_code,
    )


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """A message shown once, on the next page."""
    request.session["flash"] = {"kind": kind, "text": message}
