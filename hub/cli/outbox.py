"""``hub outbox``: outward writes and their outcomes."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.orm import Session

from hub.app import App
from hub.cli.output import emit, info, json_option, print_table
from hub.core import outbox
from hub.core.shops import get_shop


@click.group("outbox")
def group() -> None:
    """Every outward write (stock, price, shipment, promotion) and how it ended."""


@group.command("list")
@click.option("--failed", is_flag=True, help="Only writes that failed for good.")
@click.option(
    "--open",
    "open_",
    is_flag=True,
    help="Only writes not finished: pending, retry, or sending (in flight, or left so by a run that "
    "was stopped: the next run re-reads or resends it).",
)
@click.option("--shop", help="Only this shop.")
@click.option("--kind", type=click.Choice(outbox.KINDS), help="Only this kind.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@json_option
@click.pass_obj
def list_(
    app: App, failed: bool, open_: bool, shop: str | None, kind: str | None, limit: int, as_json: bool
) -> None:
    """List outbox entries, newest first, with the platform's reason for failures."""

    def read(s: Session) -> list[dict[str, Any]]:
        shop_id = get_shop(s, shop).id if shop else None  # unknown: an error, not "empty"
        return outbox.list_entries(s, failed=failed, open_=open_, shop_id=shop_id, kind=kind, limit=limit)

    rows = app.db.run_sync(read)
    emit(
        as_json,
        rows,
        lambda: print_table(
            ["id", "shop", "kind", "target", "state", "tries", "error"],
            [
                (r["id"], r["shop"], r["kind"], r["target_label"], r["state"], r["attempts"], r["error"])
                for r in rows
            ],
            empty="the outbox is empty" if not (failed or open_) else "nothing to show",
        ),
    )


@group.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all-failed", is_flag=True, help="Every failed entry.")
@click.pass_obj
def retry(app: App, ids: tuple[int, ...], all_failed: bool) -> None:
    """Make failed entries due again (sent by the next `hub sync`)."""
    if not ids and not all_failed:
        raise click.UsageError("give entry ids, or --all-failed")
    count = app.db.run_sync(lambda s: outbox.reopen_failed(s, list(ids) or None, app.clock.now()))
    info(f"{count} entr{'y' if count == 1 else 'ies'} will be retried by the next `hub sync`")
