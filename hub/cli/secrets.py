"""``hub secrets``: the key that encrypts shop secrets in the database."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.orm import Session

from hub.app import App
from hub.cli.output import emit, info, json_option
from hub.core import audit
from hub.core.shops import open_all, rotate_secrets
from hub.storage.secretbox import KEY_ENV, NEW_KEY_ENV


@click.group("secrets")
def group() -> None:
    """The key that encrypts shop secrets stored in the database.

    The key is HUB_SECRET_KEY if set, else the file HUB_SECRET_KEY_FILE names, else a
    file next to the SQLite database (hub.db.key), or ~/.config/hub/secret.key for
    PostgreSQL. The file is created (mode 0600) when the first secret is stored. Without
    the key the stored secrets cannot be read: back it up apart from the database."""


@group.command("status")
@json_option
@click.pass_obj
def status(app: App, as_json: bool) -> int:
    """Where the key is and whether every stored secret opens with it (exit 2 if not)."""
    box = app.db.secrets
    shops, count, problems = app.db.run_sync(lambda s: open_all(s, box))
    pending = box.pending_file
    data: dict[str, Any] = {
        "key": box.source.describe(),
        "key_origin": box.source.origin,
        "key_id": box.current_key_id(),
        "shops": len(shops),
        "secrets": count,
        "unreadable": problems,
        "rotation_unfinished": bool(pending and pending.exists()),
    }

    def show() -> None:
        click.echo(f"key: {data['key']} ({data['key_origin']}), id {data['key_id'] or 'none yet'}")
        click.echo(f"{count} secret(s) stored for {len(shops)} shop(s), {len(problems)} unreadable")
        for problem in problems:
            click.echo(f"  {problem}")
        if data["rotation_unfinished"]:
            click.echo(f"a rotation stopped half-way ({pending} exists): run `hub secrets rotate` again")

    emit(as_json, data, show)
    return 2 if problems else 0


@group.command("rotate")
@json_option
@click.pass_obj
def rotate(app: App, as_json: bool) -> None:
    """Re-encrypt every stored secret under a new key, in one transaction.

    Refuses, changing nothing, if any stored secret cannot be read with the current key, or
    while another hub process holds a lease (stop `hub sync --watch` and workers first).
    A key file is replaced by the new key (the old key is gone: refresh your backup of it).
    With HUB_SECRET_KEY, put the new key in HUB_NEW_SECRET_KEY for this command, then make
    it HUB_SECRET_KEY wherever the hub runs."""
    db, now = app.db, app.clock.now()
    box = db.secrets
    old_id = box.current_key_id()
    rotation = box.rotation()

    def work(session: Session) -> int:
        count = rotate_secrets(session, box, rotation, now)
        audit.record(
            session,
            actor=app.actor,
            action="secrets.rotate",
            now=now,
            old=old_id,
            new=rotation.key_id,
            source="hub secrets rotate",
        )
        return count

    try:
        count = db.run_sync(work)
    except BaseException:
        rotation.abandon()
        raise
    rotation.commit()
    db.scrub()
    data = {
        "secrets": count,
        "key": box.source.describe(),
        "key_id": rotation.key_id,
        "previous_key_id": old_id,
    }

    def show() -> None:
        info(f"re-encrypted {count} secret(s) under key {rotation.key_id} (was {old_id or 'none'})")
        if box.source.kind == "env":
            info(f"now set {KEY_ENV} to the new key (from {NEW_KEY_ENV}) wherever the hub runs")
        else:
            info(f"the new key is in {box.source.describe()}; the old one no longer opens anything")

    emit(as_json, data, show)
