"""Sending due outbox entries that are not stock: prices, shipments, promotions.

These writes are absolute (a price, a tracking number) or named by the hub, so sending
one again after a crash is safe. Each entry is marked ``sending`` in its own committed
transaction before the call and gets its outcome right after.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from hub.client import check_results
from hub.core import outbox
from hub.errors import HubError
from hub.models import ListingRef, PriceUpdate, PushResult, Shipment
from hub.platform import ShopContext
from hub.plugins import PluginHost
from hub.report import StreamResult
from hub.storage import tables as t
from hub.storage.db import Database

Sender = Callable[[PluginHost, ShopContext, Sequence[t.OutboxEntry]], Awaitable[list[PushResult]]]


def ref_of(payload: dict[str, Any]) -> ListingRef:
    return ListingRef(
        platform_item_id=payload["platform_item_id"],
        platform_sku_id=payload["platform_sku_id"],
        master_code=payload.get("master_code"),
    )


async def _send_prices(
    host: PluginHost, shop: ShopContext, entries: Sequence[t.OutboxEntry]
) -> list[PushResult]:
    updates = [
        PriceUpdate(ref=ref_of(e.payload), price=e.payload["price"], idempotency_key=e.idempotency_key)
        for e in entries
    ]
    return check_results("push_prices", updates, await shop.client.push_prices(updates))


async def _send_shipment(
    host: PluginHost, shop: ShopContext, entries: Sequence[t.OutboxEntry]
) -> list[PushResult]:
    [entry] = entries
    p = entry.payload
    return [
        await shop.client.ship(
            Shipment(
                platform_order_id=p["platform_order_id"],
                carrier=p["carrier"],
                tracking_number=p["tracking_number"],
                line_ids=tuple(p.get("line_ids") or ()),
                idempotency_key=entry.idempotency_key,
            ),
        )
    ]


OnResult = Callable[[Session, t.OutboxEntry, PushResult, str], None]
"""Called in the transaction that records an entry's outcome (with its new state)."""


def _price_sent(session: Session, entry: t.OutboxEntry, result: PushResult, state: str) -> None:
    if result.ok:
        session.execute(
            update(t.Listing).where(t.Listing.id == int(entry.target)).values(price=entry.payload["price"])
        )


@dataclass(frozen=True)
class Kind:
    send: Sender
    batch_size: Callable[[ShopContext], int]
    on_result: OnResult | None = None


SENDERS: dict[str, Kind] = {
    "price": Kind(_send_prices, lambda shop: shop.info.capabilities.price_batch_size, _price_sent),
    "shipment": Kind(_send_shipment, lambda shop: 1),
}


def register_sender(
    kind: str, sender: Sender, batch_size: Callable[[ShopContext], int], on_result: OnResult | None = None
) -> None:
    """Let another module (promotions) deliver its own kinds of entries."""
    SENDERS[kind] = Kind(sender, batch_size, on_result)


def _claim(session: Session, shop_id: int, kinds: Sequence[str], now: Any) -> list[t.OutboxEntry]:
    entries = outbox.due(session, shop_id=shop_id, kinds=kinds, now=now)
    outbox.mark_sending(session, [e.id for e in entries], now)
    for entry in entries:
        session.refresh(entry)
    return entries


def _apply(
    session: Session, entries: Sequence[t.OutboxEntry], results: Sequence[PushResult], now: Any
) -> list[tuple[t.OutboxEntry, PushResult, str]]:
    by_key = {r.idempotency_key: r for r in results}
    out = []
    for entry in entries:
        result = by_key[entry.idempotency_key]
        state = outbox.record(session, entry.id, result, now)
        hook = SENDERS[entry.kind].on_result
        if hook is not None:
            hook(session, entry, result, state)
            row = session.get(t.OutboxEntry, entry.id)
            state = row.state if row is not None else state  # a hook may settle it (superseded)
        out.append((entry, result, state))
    return out


async def deliver_due(
    host: PluginHost,
    db: Database,
    shop: ShopContext,
    shop_id: int,
    kinds: Sequence[str],
    result: StreamResult,
) -> None:
    """Send every due entry of ``kinds`` for one shop; outcomes are counted in ``result``.

    Delivering can queue more (a refused native promotion falls back to price writes),
    so it claims again until nothing new is due, a few rounds at most."""
    for _ in range(3):
        claimed = await db.run(lambda s: _claim(s, shop_id, kinds, shop.clock.now()))
        if not claimed:
            return
        await _deliver(host, db, shop, claimed, kinds, result)


async def _deliver(
    host: PluginHost,
    db: Database,
    shop: ShopContext,
    claimed: Sequence[t.OutboxEntry],
    kinds: Sequence[str],
    result: StreamResult,
) -> None:
    for kind in kinds:
        entries = [e for e in claimed if e.kind == kind]
        sender = SENDERS[kind].send
        size = max(1, SENDERS[kind].batch_size(shop))
        for start in range(0, len(entries), size):
            batch = entries[start : start + size]
            try:
                results = await sender(host, shop, batch)
            except HubError as exc:
                results = [
                    PushResult(
                        idempotency_key=e.idempotency_key, ok=False, error=str(exc), retryable=exc.retryable
                    )
                    for e in batch
                ]
            now = shop.clock.now()
            recorded = await db.run(
                lambda s, batch=batch, results=results, now=now: _apply(s, batch, results, now)
            )
            for entry, res, state in recorded:
                if res.ok:
                    result.pushed += 1
                    continue
                if state == "superseded":  # refused, but done another way (see its last_error)
                    continue
                result.failed += 1
                if state != "failed":  # retried by the next run; still a failure of this one
                    result.fail(f"{kind} {entry.target}: {res.error} (retried next run)")
                else:
                    result.fail(f"{kind} {entry.target}: {res.error}")
                    await host.notify_push_failed(
                        shop.name, kind, entry.idempotency_key, res.error or "failed"
                    )
