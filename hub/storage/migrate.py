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


def _with_connection(db: Database, action: str, *args: str, **attributes: object) -> None:
    cfg = alembic_config(db)
    # Migrations that seal or open secrets use the database's key (never stored in it).
    cfg.attributes.update(attributes, secrets=db.secrets)
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        getattr(command, action)(cfg, *args)
    if cfg.attributes.get("scrub"):  # secrets were rewritten: drop their old copies
        db.scrub()


def upgrade(db: Database, revision: str = "head") -> None:
    """Apply migrations up to ``revision``."""
    _with_connection(db, "upgrade", revision)


def downgrade(db: Database, revision: str, *, decrypt_secrets: bool = False) -> None:
    """Revert migrations down to ``revision`` (``base`` removes every table). Going below
    the revision that encrypted the shops' secrets writes them back in clear text, so it
    needs ``decrypt_secrets`` when secrets are stored (not for ``base``: they are dropped)."""
    _with_connection(
        db, "downgrade", revision, decrypt_secrets=decrypt_secrets, dropping_all=revision == "base"
    )


def check(db: Database) -> None:
    """Raise if the tables in the code differ from what the migrations create."""
    _with_connection(db, "check")


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(db: Database) -> str | None:
    return ScriptDirectory.from_config(alembic_config(db)).get_current_head()
