"""``hub outbox``: outward writes and their outcomes."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.app import App
from hub.cli.output import emit, info, json_option, print_table
from hub.core import outbox
from hub.core.shops import get_shop
from hub.storage import tables as t


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
        query = (
            select(t.OutboxEntry, t.Shop.name)
            .join(t.Shop, t.Shop.id == t.OutboxEntry.shop_id)
            .order_by(t.OutboxEntry.id.desc())
            .limit(limit)
        )
        if failed:
            query = query.where(t.OutboxEntry.state == "failed")
        if open_:
            query = query.where(t.OutboxEntry.state.in_((*outbox.OPEN_STATES, "sending")))
        if shop:
            query = query.where(t.Shop.id == get_shop(s, shop).id)  # unknown: an error, not "empty"
        if kind:
            query = query.where(t.OutboxEntry.kind == kind)
        found = s.execute(query).all()
        labels = _listing_labels(s, [e for e, _ in found])
        return [
            {
                "id": e.id,
                "shop": name,
                "kind": e.kind,
                "target": e.target,
                "target_label": labels.get(e.id, e.target),
                "state": e.state,
                "attempts": e.attempts,
                "key": e.idempotency_key,
                "payload": e.payload,
                "error": e.last_error,
                "created_at": e.created_at,
                "updated_at": e.updated_at,
            }
            for e, name in found
        ]

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


# Kinds whose target is a listing (its row id); people know it by SKU code and platform SKU id.
LISTING_KINDS = ("stock", "price")


def _listing_labels(s: Session, entries: list[t.OutboxEntry]) -> dict[int, str]:
    """Entry id -> ``CODE (platform SKU id)`` for entries that write one listing."""
    ids = {int(e.target) for e in entries if e.kind in LISTING_KINDS and e.target.isdigit()}
    if not ids:
        return {}
    listings = {
        listing_id: f"{code or master or 'unlinked'} ({platform_sku})"
        for listing_id, platform_sku, master, code in s.execute(
            select(t.Listing.id, t.Listing.platform_sku_id, t.Listing.master_code, t.Sku.code)
            .outerjoin(t.Sku, t.Sku.id == t.Listing.sku_id)
            .where(t.Listing.id.in_(ids))
        )
    }
    return {
        e.id: listings[int(e.target)]
        for e in entries
        if e.kind in LISTING_KINDS and e.target.isdigit() and int(e.target) in listings
    }


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
