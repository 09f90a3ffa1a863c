"""Errors at the CLI edge: one line, the documented exit code, nothing changed, no secret."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from hub.app import App
from hub.cli import cli
from hub.settings import HubSettings
from hub.testing import FakeClock
from tests.conftest import Invoke, fake_host
from tests.test_cli_shops import SECRET, TOKEN, add


def one_line_error(result: Result, *needles: str, code: int = 2) -> str:
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def fresh(tmp_path: Path, fake_clock: FakeClock, name: str = "hub.db") -> App:
    """An App whose database file does not exist yet."""
    return App(
        settings=HubSettings(database_url=f"sqlite:///{tmp_path / name}"),
        clock=fake_clock,
        host_factory=fake_host,
    )


def run(app: App | None, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj=app, catch_exceptions=False)


# --- item 5 and 9: unknown shops and SKUs ------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["sync", "--shop", "nowhere"],
        ["sync", "--shop", "s1", "--shop", "nowhere", "--json"],
        ["sync", "--watch", "--shop", "nowhere"],
        ["listings", "list", "--shop", "nowhere"],
        ["listings", "unmatched", "--shop", "nowhere"],
        ["outbox", "list", "--shop", "nowhere"],
        ["orders", "list", "--shop", "nowhere"],
        ["orders", "ship", "42", "--carrier", "SF", "--tracking", "1", "--shop", "nowhere"],
        ["stock", "drift", "--shop", "nowhere"],
    ],
)
def test_an_unknown_shop_is_named_with_exit_2(invoke: Invoke, args: list[str]) -> None:
    add(invoke)
    one_line_error(invoke(*args), "unknown shop 'nowhere'")


@pytest.mark.parametrize(
    "args",
    [
        ["listings", "list", "--sku", "NOPE"],
        ["stock", "show", "NOPE"],
        ["audit", "list", "--sku", "NOPE"],
        ["stock", "rules", "set", "s1", "--sku", "NOPE", "--cap", "3"],
    ],
)
def test_an_unknown_sku_is_named_with_exit_2(invoke: Invoke, args: list[str]) -> None:
    add(invoke)
    one_line_error(invoke(*args), "unknown SKU 'NOPE'")


def test_known_filters_that_match_nothing_still_exit_0(invoke: Invoke) -> None:
    add(invoke)
    assert invoke("skus", "add", "CUP", "--price", "10").exit_code == 0
    assert invoke("listings", "list", "--shop", "s1", "--sku", "CUP", "--json").output.strip() == "[]"
    assert invoke("outbox", "list", "--shop", "s1", "--json").output.strip() == "[]"
    assert len(json.loads(invoke("audit", "list", "--sku", "CUP", "--json").output)) == 1


def test_an_error_inside_concurrent_work_is_one_line_not_a_group(invoke: Invoke) -> None:
    """An error raised in a task group arrives as an exception group; the user sees its cause."""
    import anyio

    from hub.cli import sync as sync_mod
    from hub.errors import UnknownShop

    async def boom() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(_raise, UnknownShop("deep"))

    add(invoke)
    original = sync_mod.run_async
    sync_mod.run_async = lambda fn: original(boom)  # type: ignore[assignment]
    try:
        one_line_error(invoke("sync"), "unknown shop 'deep'")
    finally:
        sync_mod.run_async = original


async def _raise(exc: Exception) -> None:
    raise exc


# --- item 6: settings and databases ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("HUB_SAFETY_STOCK", "-3", "HUB_SAFETY_STOCK=-3: Input should be greater than or equal to 0"),
        ("HUB_PRICE_CHANGE_LIMIT", "abc", "HUB_PRICE_CHANGE_LIMIT='abc' is not a percentage; write e.g. 50%"),
        ("HUB_PRICE_CHANGE_LIMIT", "50", "HUB_PRICE_CHANGE_LIMIT='50' must be a percentage such as 50%"),
        ("HUB_HTTP_TIMEOUT", "0", "HUB_HTTP_TIMEOUT=0"),
    ],
)
def test_a_bad_environment_value_is_one_line_but_help_still_works(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    for args in (["--help"], ["sync", "--help"], ["shops", "add", "--help"]):
        helped = run(None, *args)
        assert helped.exit_code == 0 and "Usage:" in helped.output, helped.output
    for args in (["sync"], ["shops", "list"], ["--database-url", "sqlite://", "stock", "show"]):
        one_line_error(run(None, *args), f"invalid setting {message}")
    assert not (tmp_path / "hub.db").exists()


def test_a_bad_database_url_setting_never_repeats_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.settings import load_settings

    monkeypatch.setenv("HUB_SAFETY_STOCK", "many")
    with pytest.raises(Exception, match="HUB_SAFETY_STOCK=many"):
        load_settings()
    with pytest.raises(Exception) as caught:
        load_settings(database_url=["postgresql://u:pw-secret@h/db"])
    assert "pw-secret" not in str(caught.value) and "HUB_DATABASE_URL:" in str(caught.value)


def test_an_unreachable_server_database_is_one_line(tmp_path: Path, fake_clock: FakeClock) -> None:
    pytest.importorskip("psycopg")
    app = fresh(tmp_path, fake_clock)
    app.settings = app.settings.model_copy(
        update={"database_url": "postgresql+psycopg://nobody:pw-secret@127.0.0.1:1/x?connect_timeout=2"}
    )
    line = one_line_error(
        run(app, "sync"), "cannot open database postgresql+psycopg://nobody:***@127.0.0.1:1/x"
    )
    assert "pw-secret" not in line


def test_an_unopenable_sqlite_path_is_one_line(tmp_path: Path, fake_clock: FakeClock) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    app = fresh(tmp_path, fake_clock)
    app.settings = app.settings.model_copy(update={"database_url": f"sqlite:///{blocker}/hub.db"})
    one_line_error(
        run(app, "shops", "add", "s1", "-p", "fake", "--app-key", "k", "--app-secret", SECRET, "--no-check"),
        "cannot open database sqlite:///",
        "unable to open database file",
    )
    not_a_database = tmp_path / "notes.db"
    not_a_database.write_text("this is not SQLite " * 100)
    app = fresh(tmp_path, fake_clock, "notes.db")
    one_line_error(run(app, "sync"), "cannot open database", "notes.db")


def test_a_missing_driver_says_what_to_install(tmp_path: Path, fake_clock: FakeClock) -> None:
    app = fresh(tmp_path, fake_clock)
    app.settings = app.settings.model_copy(update={"database_url": "mysql+nosuchdriver://u@h/x"})
    one_line_error(run(app, "sync"), "cannot open database mysql+nosuchdriver://u@h/x")


# --- item 7: which commands may create a database ---------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["sync"],
        ["sync", "--json"],
        ["shops", "list"],
        ["skus", "add", "CUP", "--price", "1"],
        ["stock", "show"],
        ["outbox", "list"],
        ["db", "current"],
    ],
)
def test_commands_do_not_create_a_missing_database(
    tmp_path: Path, fake_clock: FakeClock, args: list[str]
) -> None:
    app = fresh(tmp_path, fake_clock)
    line = one_line_error(run(app, *args), "no hub database at sqlite:///", str(tmp_path / "hub.db"))
    assert "hub shops add" in line
    assert list(tmp_path.iterdir()) == []


def test_shops_add_and_db_upgrade_create_the_database(tmp_path: Path, fake_clock: FakeClock) -> None:
    app = fresh(tmp_path, fake_clock)
    assert run(app, "db", "upgrade").exit_code == 0
    app = fresh(tmp_path, fake_clock, "other.db")
    result = run(
        app, "shops", "add", "s1", "-p", "fake", "--app-key", "k", "--app-secret", SECRET, "--no-check"
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "hub.db").exists() and (tmp_path / "other.db").exists()


def test_sync_with_no_shops_names_the_database_and_exits_2(invoke: Invoke, app: App) -> None:
    from hub.storage.db import describe_database

    where = describe_database(app.settings.database_url)  # a path, or the URL without its password
    one_line_error(invoke("sync"), f"no shops configured in {where}", "hub shops add")
    one_line_error(invoke("sync", "--watch", "--json"), "no shops configured")


# --- issue 20 item 8: database errors never echo parameters ----------------------------------------


def test_a_constraint_violation_is_one_line_without_parameters(
    invoke: Invoke, app: App, hub_backend: str
) -> None:
    """What PostgreSQL does to a 200-character app key or a simultaneous duplicate, made
    reproducible on SQLite with a trigger: the driver's reason, never the INSERT's values."""
    if hub_backend != "sqlite":
        pytest.skip("an SQLite trigger; PostgreSQL's own refusal is the test below")
    with app.db.engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TRIGGER refuse BEFORE INSERT ON shops BEGIN "
                "SELECT RAISE(ABORT, 'value too long for type character varying(128)'); END"
            )
        )
    result = add(invoke)
    line = one_line_error(result, "the database refused the change: value too long")
    for leaked in (SECRET, TOKEN, "INSERT", "parameters", "k1"):
        assert leaked not in result.output, leaked
    assert "****" not in line  # nothing to mask: the values were never printed
    assert json.loads(invoke("shops", "list", "--json").output) == []


def test_any_database_error_reaching_the_edge_is_one_line(invoke: Invoke, app: App) -> None:
    add(invoke)
    with app.db.engine.begin() as connection:
        connection.execute(text("DROP TABLE outbox"))
    line = one_line_error(invoke("outbox", "list"), "database error: ", code=1)
    assert "outbox" in line and "SELECT" not in line  # SQLite: no such table; PostgreSQL: no relation


def test_a_value_the_driver_cannot_send_is_one_line_without_the_statement(
    invoke: Invoke, app: App, hub_backend: str
) -> None:
    from hub.errors import StorageRefused

    add(invoke)
    invoke("skus", "add", "CUP", "--price", "10")
    result = invoke("stock", "set", "CUP", "99999999999999999999")  # beyond 64 bits
    one_line_error(result)
    for leaked in ("UPDATE", "INSERT", "parameters", "[SQL"):
        assert leaked not in result.output, leaked
    if hub_backend != "sqlite":
        return  # PostgreSQL takes 2**70 as a numeric: only SQLite's driver overflows
    with pytest.raises(StorageRefused, match="cannot store a value") as caught:
        app.db.run_sync(lambda s: s.execute(text("SELECT :big"), {"big": 2**70}))
    assert "SELECT" not in str(caught.value)


# --- item 16: logging flags --------------------------------------------------------------------------


def test_verbose_is_accepted_after_sync_and_hides_alembic(
    tmp_path: Path, fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    app = fresh(tmp_path, fake_clock)
    result = run(
        app, "-v", "shops", "add", "s1", "-p", "fake", "--app-key", "k", "--app-secret", SECRET, "--no-check"
    )
    assert result.exit_code == 0
    assert logging.getLogger("alembic").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("hub").getEffectiveLevel() == logging.INFO
    for where in (["sync", "-v", "--shop", "nowhere"], ["-v", "sync", "--shop", "nowhere"]):
        assert run(app, *where).exit_code == 2  # accepted in both places; the shop is unknown
    run(app, "sync", "-vv", "--shop", "nowhere")
    assert logging.getLogger("alembic").getEffectiveLevel() == logging.DEBUG
    run(app, "sync", "-q", "--shop", "nowhere")
    assert logging.getLogger().level == logging.ERROR


def test_a_shop_the_database_refuses_is_one_line_without_its_secrets(app: App, hub_backend: str) -> None:
    """A constraint violation (an app key longer than its column) is answered with the
    database's reason; the INSERT's parameters (secret, token) are never printed."""
    if hub_backend == "sqlite":
        pytest.skip("SQLite does not enforce column lengths")
    secret, token = "pg-very-secret-app-secret", "pg-very-secret-access-token"
    args = ["shops", "add", "long", "--no-check", "-p", "fake", "--app-key", "k" * 200]
    result = run(app, *args, "--app-secret", secret, "--access-token", token)
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: the database refused the change: value too long"), line
    assert secret not in result.output and token not in result.output and "INSERT" not in result.output
