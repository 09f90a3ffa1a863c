"""CSRF protection: a synchronizer token kept in the signed session.

Every form carries the token in a hidden ``csrf_token`` field; every POST must send it back.
A cross-site page can make the browser post, but cannot read the token to include it."""

from __future__ import annotations

import hmac
import secrets

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

FIELD = "csrf_token"


def token(request: Request) -> str:
    """This session's token (created on first use)."""
    value = request.session.get("csrf")
    if not value:
        value = request.session["csrf"] = secrets.token_urlsafe(32)
    return value


def verify(request: Request, form: FormData) -> None:
    """Refuse (403) a form whose token is missing or not this session's."""
    sent = form.get(FIELD)
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent, expected):
        raise HTTPException(403, "the form has expired or did not come from this console: reload the page")
