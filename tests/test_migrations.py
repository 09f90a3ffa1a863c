"""Migrations are the only way the schema changes, and they match the models."""

from __future__ import annotations

from sqlalchemy import inspect

from hub.storage import migrate
from hub.storage.base import Base
from hub.storage.db import Database


def test_upgrade_check_downgrade(hub_empty_db_url: str) -> None:
    db = Database(hub_empty_db_url)
    migrate.upgrade(db)
    assert migrate.current_revision(db) == migrate.head_revision(db)
    assert set(inspect(db.engine).get_table_names()) >= set(Base.metadata.tables)
    migrate.check(db)  # raises if autogenerate would change anything: no drift
    migrate.downgrade(db, "base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(db)  # and back up again cleanly
    db.dispose()


def test_utc_datetimes_survive_a_round_trip(hub_db: Database) -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from hub.storage import tables as t

    cn = timezone(timedelta(hours=8))
    when = datetime(2026, 11, 11, 8, 0, tzinfo=cn)
    hub_db.run_sync(lambda s: s.add(t.Lease(name="x", holder="me", expires_at=when)))
    lease = hub_db.run_sync(lambda s: s.get(t.Lease, "x"))
    assert lease.expires_at == when and lease.expires_at.tzinfo == UTC


def test_utc_columns_shift_by_seconds_in_sql(hub_db: Database) -> None:
    """The stock read's anchors move by a few seconds in SQL: an interval on PostgreSQL
    (a timedelta bound next to a UTC column), ``datetime()`` on SQLite."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from hub.core.stock.picture import _shifted
    from hub.storage import tables as t

    when = datetime(2026, 11, 11, 8, 0, tzinfo=UTC)
    hub_db.run_sync(lambda s: s.add(t.Lease(name="x", holder="me", expires_at=when)))

    one_second_later = datetime(2026, 11, 11, 8, 0, 1, tzinfo=UTC)
    for seconds, found in [(2, "x"), (-2, None)]:
        with hub_db.transaction() as s:
            query = select(t.Lease.name).where(_shifted(s, t.Lease.expires_at, seconds) > one_second_later)
            assert s.scalar(query) == found, (hub_db.engine.dialect.name, seconds)


def test_hub_db_upgrade_and_a_schema_made_on_first_use(hub_empty_db_url: str) -> None:
    """A command other than `hub shops add` or `hub db upgrade` refuses a database with no
    hub schema (exit 2, naming it); `hub db upgrade` brings it to the newest revision; one
    at an older revision is refused with what to run (exit 2), and `hub db upgrade` fixes it."""
    import json

    from click.testing import CliRunner

    from hub.app import App
    from hub.cli import cli
    from hub.settings import HubSettings

    def hub(*args: str) -> tuple[int, str]:
        app = App(settings=HubSettings(database_url=hub_empty_db_url))
        try:
            result = CliRunner().invoke(cli, list(args), obj=app, catch_exceptions=False)
        finally:
            app.close()
        return result.exit_code, result.output

    code, output = hub("shops", "list")
    assert code == 2 and "hub shops add" in output, output  # nothing is created by a read
    code, output = hub("db", "upgrade")
    assert code == 0, output
    code, output = hub("db", "current", "--json")
    head = json.loads(output)["head"]
    assert code == 0 and json.loads(output) == {"current": head, "head": head}
    assert hub("shops", "list")[0] == 0
    assert hub("db", "downgrade", "--", "-1")[0] == 0  # one revision back
    code, output = hub("shops", "list")
    assert code == 2 and f"this hub needs {head}: run `hub db upgrade`" in output, output
    code, output = hub("db", "upgrade")
    assert code == 0 and output.startswith(f"database at revision {head} (was "), output
    assert hub("shops", "list")[0] == 0
