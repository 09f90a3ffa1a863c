"""``hub db``: the database schema."""

from __future__ import annotations

import click

from hub.app import App
from hub.cli.output import info, json_option, print_json
from hub.storage import migrate


@click.group("db")
def group() -> None:
    """Create and upgrade the database schema (Alembic migrations)."""


@group.command("upgrade")
@click.argument("revision", default="head")
@click.pass_obj
def upgrade(app: App, revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest); creates the database if needed."""
    db = app.database(migrate_fresh=False, create=True)
    before = migrate.current_revision(db)
    migrate.upgrade(db, revision)
    after = migrate.current_revision(db)
    info(f"database at revision {after}" + ("" if before == after else f" (was {before})"))


@group.command("downgrade")
@click.argument("revision")
@click.option(
    "--decrypt-secrets",
    is_flag=True,
    help="Allow going below the revision that encrypts shop secrets: they are written back in clear text.",
)
@click.pass_obj
def downgrade(app: App, revision: str, decrypt_secrets: bool) -> None:
    """Revert migrations down to REVISION ('base' drops every table).

    Older revisions kept shop secrets in clear text: going below revision 0006 with shops
    stored refuses unless --decrypt-secrets is given (and the secret key is at hand)."""
    db = app.database(migrate_fresh=False)
    migrate.downgrade(db, revision, decrypt_secrets=decrypt_secrets)
    info(f"database at revision {migrate.current_revision(db)}")


@group.command("current")
@json_option
@click.pass_obj
def current(app: App, as_json: bool) -> None:
    """Show the database's revision and the newest one this hub knows."""
    db = app.database(migrate_fresh=False)
    data = {"current": migrate.current_revision(db), "head": migrate.head_revision(db)}
    if as_json:
        print_json(data)
    else:
        click.echo(f"current: {data['current'] or 'empty'}  head: {data['head']}")
