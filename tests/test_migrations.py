"""Migrations are the only way the schema changes, and they match the models."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

from hub.storage import migrate
from hub.storage.base import Base
from hub.storage.db import Database


def test_upgrade_check_downgrade(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
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
