"""Schema migrations through Alembic's command API (``hub db upgrade`` and tests)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from hub.storage.db import Database


def migrations_dir() -> Path:
    """Where ``env.py`` and ``versions/`` live (the repository's ``migrations/``)."""
    return Path(str(files("hub.migrations")))


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return cfg


def _with_connection(db: Database, action: str, *args: str) -> None:
    cfg = alembic_config(db)
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        getattr(command, action)(cfg, *args)


def upgrade(db: Database, revision: str = "head") -> None:
    """Apply migrations up to ``revision``."""
    _with_connection(db, "upgrade", revision)


def downgrade(db: Database, revision: str) -> None:
    """Revert migrations down to ``revision`` (``base`` removes every table)."""
    _with_connection(db, "downgrade", revision)


def check(db: Database) -> None:
    """Raise if the tables in the code differ from what the migrations create."""
    _with_connection(db, "check")


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(db: Database) -> str | None:
    return ScriptDirectory.from_config(alembic_config(db)).get_current_head()
