"""Managing users: the console's Users page (admins only) and `hub users`, both through
hub.core.users, with the same rules and audit entries."""

from __future__ import annotations

import json

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from hub.app import App
from hub.core import audit, users
from hub.storage import tables as t
from tests.conftest import Invoke
from tests.console_kit import PASSWORD, Console, add_users

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NEW_PASSWORD = "a brand new passphrase"

# Every users action (path, form) an admin can post; a viewer and an operator must be refused each.
ACTIONS = [
    ("/users/add", {"name": "mei", "role": "viewer", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}),
    ("/users/role", {"name": "vic", "role": "admin"}),
    ("/users/disable", {"name": "ada"}),
    ("/users/enable", {"name": "vic"}),
    ("/users/password", {"name": "ada", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}),
]


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheaper argon2 parameters: the same code paths, a fraction of the CPU per test."""
    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def staffed(app: App) -> App:
    add_users(app)  # olga operator, vic viewer, ada admin
    return app


@pytest.fixture
def console(staffed: App) -> Console:
    return Console(staffed)


def snapshot(app: App) -> list[tuple]:
    return app.db.run_sync(
        lambda s: [
            (u.name, u.role, u.password_hash, u.disabled_at)
            for u in s.scalars(select(t.User).order_by(t.User.name))
        ]
    )


def audited(app: App, action: str = "user") -> list[dict]:
    return app.db.run_sync(lambda s: audit.entries(s, action=action))


# --- who may ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["vic", "olga"])
@pytest.mark.parametrize(("path", "form"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_only_an_admin_may_manage_users(
    staffed: App, console: Console, who: str, path: str, form: dict
) -> None:
    console.login(who)
    before = snapshot(staffed)
    response = console.post(path, form)
    assert response.status_code == 403 and "only an admin may do this" in response.text
    assert snapshot(staffed) == before and audited(staffed) == []


@pytest.mark.parametrize("who", ["vic", "olga"])
def test_the_users_page_is_for_admins(console: Console, who: str) -> None:
    console.login(who)
    response = console.get("/users")
    assert response.status_code == 403
    assert 'href="/users"' not in console.get("/").text  # and no link to it


@pytest.mark.parametrize(("path", "form"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_every_users_action_needs_the_csrf_token(
    staffed: App, console: Console, path: str, form: dict
) -> None:
    console.login("ada")
    before = snapshot(staffed)
    response = console.post(path, {**form, "csrf_token": "forged"}, csrf=False)
    assert response.status_code == 403 and "did not come from this console" in response.text
    assert snapshot(staffed) == before


# --- what an admin does -------------------------------------------------------------------------------


def test_list_never_shows_a_hash_or_password(console: Console) -> None:
    console.login("ada")
    html = console.get("/users").text
    assert 'data-user="olga"' in html and 'data-user="vic"' in html and 'data-user="ada"' in html
    assert "$argon2" not in html and PASSWORD not in html


def test_add_a_user_who_can_then_sign_in(staffed: App, console: Console) -> None:
    console.login("ada")
    form = {"name": "mei", "role": "operator", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    html = console.post("/users/add", form).text
    assert "added user mei (operator)" in html and 'data-user="mei"' in html and NEW_PASSWORD not in html
    [entry] = audited(staffed, "user.add")
    assert (entry["actor"], entry["new"], entry["source"]) == ("ada", "mei operator", "console")
    other = Console(staffed)
    assert "mei (operator)" in other.login("mei", NEW_PASSWORD).text


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"name": "mei", "role": "viewer", "password": "short", "confirm": "short"}, "too short"),
        (
            {"name": "bad name", "role": "viewer", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
            "invalid user name",
        ),
        ({"name": "mei", "role": "boss", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, "unknown role"),
        (
            {"name": "olga", "role": "viewer", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
            "already exists",
        ),
        ({"name": "mei", "role": "viewer", "password": NEW_PASSWORD, "confirm": "something else"}, "differ"),
    ],
)
def test_add_bad_input_changes_nothing(staffed: App, console: Console, form: dict, message: str) -> None:
    console.login("ada")
    before = snapshot(staffed)
    html = console.post("/users/add", form).text
    assert message in html and 'class="flash error"' in html
    assert snapshot(staffed) == before and audited(staffed) == []


def test_change_a_role_takes_effect_at_the_next_click(staffed: App, console: Console) -> None:
    viewer = Console(staffed)
    viewer.login("vic")
    console.login("ada")
    assert "user vic is now operator" in console.post("/users/role", {"name": "vic", "role": "operator"}).text
    assert "vic (operator)" in viewer.get("/").text
    [entry] = audited(staffed, "user.role")
    assert (entry["old"], entry["new"]) == ("vic viewer", "vic operator")
    assert "already is operator" in console.post("/users/role", {"name": "vic", "role": "operator"}).text
    assert len(audited(staffed, "user.role")) == 1  # no change, no entry


def test_disable_signs_out_and_refuses_sign_in_then_enable(staffed: App, console: Console) -> None:
    operator = Console(staffed)
    operator.login("olga")
    console.login("ada")
    assert "user olga is now disabled" in console.post("/users/disable", {"name": "olga"}).text
    response = operator.client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert operator.login("olga").status_code == 401
    assert "disabled since" in console.get("/users").text
    assert "user olga is now enabled" in console.post("/users/enable", {"name": "olga"}).text
    assert "olga (operator)" in operator.login("olga").text
    assert [e["action"] for e in audited(staffed)] == ["user.enable", "user.disable"]


def test_reset_password(staffed: App, console: Console) -> None:
    console.login("ada")
    form = {"name": "vic", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert "new password set for user vic" in console.post("/users/password", form).text
    other = Console(staffed)
    assert other.login("vic", PASSWORD).status_code == 401
    assert "vic (viewer)" in other.login("vic", NEW_PASSWORD).text
    [entry] = audited(staffed, "user.password")
    assert entry["old"] == "vic" and NEW_PASSWORD not in json.dumps(entry, default=str)
    short = console.post("/users/password", {"name": "vic", "password": "x", "confirm": "x"}).text
    assert "too short" in short


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/users/role", {"name": "ada", "role": "operator"}),
        ("/users/disable", {"name": "ada"}),
    ],
)
def test_the_last_admin_is_kept(staffed: App, console: Console, path: str, form: dict) -> None:
    console.login("ada")
    before = snapshot(staffed)
    html = console.post(path, form).text
    assert "the last enabled admin" in html
    assert snapshot(staffed) == before


def test_an_admin_who_demotes_themself_lands_on_the_overview(staffed: App, console: Console) -> None:
    console.login("ada")
    console.post("/users/role", {"name": "vic", "role": "admin"})
    response = console.post("/users/role", {"name": "ada", "role": "viewer"})
    assert response.status_code == 200 and response.url.path == "/" and "ada (viewer)" in response.text


# --- hub users: the same rules ----------------------------------------------------------------------


def test_cli_set_role_disable_enable_reset(staffed: App, invoke: Invoke) -> None:
    assert invoke("users", "set-role", "vic", "operator").exit_code == 0
    assert invoke("users", "disable", "olga").exit_code == 0
    result = invoke("users", "reset-password", "vic", "--password-stdin", input=NEW_PASSWORD + "\n")
    assert result.exit_code == 0 and NEW_PASSWORD not in result.output
    listed = {u["name"]: u for u in json.loads(invoke("users", "list", "--json").output)}
    assert listed["vic"]["role"] == "operator" and listed["olga"]["disabled_at"] is not None
    assert "password_hash" not in listed["vic"]
    assert invoke("users", "enable", "olga").exit_code == 0
    assert json.loads(invoke("users", "list", "--json").output)[1]["disabled_at"] is None
    actions = [(e["action"], e["source"]) for e in audited(staffed)][::-1]
    assert actions == [
        ("user.role", "hub users set-role"),
        ("user.disable", "hub users disable"),
        ("user.password", "hub users reset-password"),
        ("user.enable", "hub users enable"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("set-role", "ada", "viewer"), "the last enabled admin"),
        (("disable", "ada"), "the last enabled admin"),
        (("remove", "ada"), "the last enabled admin"),
        (("set-role", "nobody", "viewer"), "no user 'nobody'"),
        (("disable", "nobody"), "no user 'nobody'"),
        (("reset-password", "nobody", "--password-stdin"), "no user 'nobody'"),
    ],
)
def test_cli_refusals_exit_2_and_change_nothing(
    staffed: App, invoke: Invoke, args: tuple, message: str
) -> None:
    before = snapshot(staffed)
    result = invoke("users", *args, input=NEW_PASSWORD + "\n")
    assert result.exit_code == 2 and message in result.output
    assert snapshot(staffed) == before and audited(staffed) == []


def test_a_second_admin_may_take_over(staffed: App, invoke: Invoke) -> None:
    assert invoke("users", "set-role", "olga", "admin").exit_code == 0
    assert invoke("users", "disable", "ada").exit_code == 0  # olga is still an enabled admin
    result = invoke("users", "set-role", "olga", "viewer")
    assert result.exit_code == 2 and "the last enabled admin" in result.output


def test_the_overview_of_a_hub_without_shops_renders(console: Console) -> None:
    console.login("ada")
    response = console.get("/")
    assert response.status_code == 200 and "No data" in response.text
