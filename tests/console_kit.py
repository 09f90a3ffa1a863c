"""Helpers for the console tests: an App with the report fixtures, users, and a signed-in
test client."""

from __future__ import annotations

import re
import warnings

with warnings.catch_warnings():  # starlette asks for httpx2 instead of httpx; both work
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from hub.app import App
from hub.console.app import create_app
from hub.core import users

PASSWORD = "correct horse battery"
SESSION_KEY = "k" * 48
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_users(app: App) -> None:
    def write(s):  # type: ignore[no-untyped-def]
        for name, role in (("olga", "operator"), ("vic", "viewer"), ("ada", "admin")):
            users.add_user(s, name=name, role=role, password=PASSWORD, now=app.clock.now())

    app.db.run_sync(write)


def csrf_of(html: str) -> str:
    match = TOKEN.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


class Console:
    """A test client on the console, with the last page's CSRF token at hand."""

    def __init__(self, app: App, **kw: object):
        self.web = create_app(app, secret_key=SESSION_KEY, **kw)  # type: ignore[arg-type]
        self.client = TestClient(self.web, follow_redirects=True)
        self.token = ""

    def get(self, path: str, **kw: object):  # type: ignore[no-untyped-def]
        response = self.client.get(path, **kw)  # type: ignore[arg-type]
        if TOKEN.search(response.text):
            self.token = csrf_of(response.text)
        return response

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kw: object):  # type: ignore[no-untyped-def]
        if csrf and not self.token:
            self.get("/login")
        body = {**(data or {}), **({"csrf_token": self.token} if csrf else {})}
        response = self.client.post(path, data=body, **kw)  # type: ignore[arg-type]
        if TOKEN.search(response.text):
            self.token = csrf_of(response.text)
        return response

    def login(self, name: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
        self.get("/login")
        return self.post("/login", {"username": name, "password": password, "next": "/"})
