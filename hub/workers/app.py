"""The procrastinate app of ``hub worker``, on the hub's own PostgreSQL database."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from hub.errors import ConfigError
from hub.storage.db import describe_database

#: queues: the scheduler's tick, push processing, and the (shop, stream) syncs
QUEUES = ("scheduler", "push", "sync")


def require_postgres(database_url: str) -> None:
    """Refuse, in one line that says what to do, a database the queue cannot live in."""
    try:
        backend = make_url(database_url).get_backend_name()
    except Exception:
        backend = ""
    if backend != "postgresql":
        raise ConfigError(
            f"`hub worker` needs PostgreSQL, and the hub's database is {describe_database(database_url)}: "
            "set HUB_DATABASE_URL to a PostgreSQL URL (see README, Running at scale), "
            "or keep SQLite and run `hub sync --watch`"
        )


def conninfo(database_url: str) -> str:
    """The libpq URI psycopg connects with, from the hub's SQLAlchemy URL."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_app(database_url: str) -> object:
    """A procrastinate ``App`` on ``database_url`` with the hub's tasks (see
    :mod:`hub.workers.tasks`). Open it (``async with app.open_async()``) before use."""
    require_postgres(database_url)
    try:
        import procrastinate
    except ImportError:
        raise ConfigError(
            "`hub worker` needs procrastinate: pip install 'hub[postgres]' (or 'procrastinate>=3.0')"
        ) from None
    from hub.workers.tasks import blueprint

    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=conninfo(database_url), min_size=1, max_size=4),
    )
    app.add_tasks_from(blueprint(), namespace="hub")
    return app
