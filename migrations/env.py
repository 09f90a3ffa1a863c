"""Alembic environment: runs on the connection the hub hands over, or opens the URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, make_url, pool

from hub.storage import tables  # noqa: F401  (registers every table on the metadata)
from hub.storage.base import Base
from hub.storage.secretbox import KeySource, SecretBox

config = context.config
target_metadata = Base.metadata
# Migrations that seal secrets need the key: the hub hands over its database's; a bare
# `alembic` run finds it the same way the hub does (HUB_SECRET_KEY, key file…).
if "secrets" not in config.attributes:
    url = make_url(config.get_main_option("sqlalchemy.url") or "")
    config.attributes["secrets"] = SecretBox(KeySource.for_database(url))


def _ours(name: str | None, type_: str, parent_names: object) -> bool:
    """Leave procrastinate's tables out of the model comparison: its own SQL schema (applied
    by revision 0010 on PostgreSQL) owns them, not our models."""
    return not (type_ == "table" and (name or "").startswith("procrastinate_"))


def _configure(**kw: object) -> None:
    context.configure(target_metadata=target_metadata, compare_type=True, include_name=_ours, **kw)


def run_offline() -> None:
    _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.begin() as conn:
        _run(conn)


if context.is_offline_mode():
    run_offline()
else:
    run_online()
