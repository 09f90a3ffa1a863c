"""The stock cycle's platform I/O and its outbox bookkeeping.

**Reads** (:func:`observe`) anchor the models of listings whose figure is in doubt or
whose partitioned SKU sold recently. **Writes** go out lowering before raising: delta
writes carry ``target - model`` so a sale the platform records after our read is never
overwritten; absolute-only platforms get the target. Planning is one transaction, one
process at a time (under the short global :data:`PLAN_LEASE`; on SQLite the transaction
holds the database's one write lock), and records every planned write (``pending``,
:func:`record_planned`) before it ends — those are the :func:`claims` the next planner
sees; writes then go out under per-shop leases (:func:`push_shop`), so
processes of different shops push at the same time. Every push is an outbox entry
written before the call. A write whose outcome is in doubt is never resent: its listing
is re-read next cycle and a fresh write computed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from hub.client import check_results
from hub.core import outbox
from hub.core.stock import anchors
from hub.core.stock.picture import ListingInfo
from hub.core.stock.plan import Push
from hub.errors import HubError
from hub.models import PushResult, StockUpdate
from hub.platform import ShopContext
from hub.plugins import PluginHost
from hub.storage import tables as t
from hub.storage.db import Database

log = logging.getLogger("hub.stock")
READ_CHUNK = 100


@dataclass
class StockOutcome:
    pushed: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    exit_code: int = 0  # 2 when a failure needs a person (expired session, permissions)
    unsent: int = 0  # planned, not sent: the run was asked to stop

    def record(self, exc: HubError, count: int) -> None:
        self.failed += count
        self.errors.append(str(exc))
        self.exit_code = max(self.exit_code, exc.exit_code)


# --- planning across processes ----------------------------------------------------------------

#: The short global lease under which a process plans its shops' stock and records the
#: writes it will make (its claims), on PostgreSQL (see StockPhase._planning); the writes
#: themselves go out under per-shop leases.
PLAN_LEASE = "stock:plan"


def consistent_snapshot(session: Session) -> None:
    """Make the rest of this transaction read one snapshot (PostgreSQL's default reads
    each statement afresh; SQLite's ``BEGIN IMMEDIATE`` already excludes every writer).
    Call first in the transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def claims(session: Session) -> dict[int, int]:
    """Listing id -> the quantity of a stock write planned and not finished (``pending``
    or ``sending``): the listing may show that soon, whatever its model says."""
    out: dict[int, int] = {}
    for target, payload in session.execute(
        select(t.OutboxEntry.target, t.OutboxEntry.payload).where(
            t.OutboxEntry.kind == "stock", t.OutboxEntry.state.in_(("pending", "sending"))
        )
    ):
        listing_id, quantity = int(target), int((payload or {}).get("quantity") or 0)
        out[listing_id] = max(out.get(listing_id, 0), quantity)
    return out


def record_planned(session: Session, pushes: Sequence[Push], now: datetime) -> None:
    """Record ``pushes`` as ``pending`` outbox entries (each gets its key): made in the
    plan's transaction, they are what :func:`claims` shows the next planner."""
    rows = []
    for push in pushes:
        push.key = outbox.random_key("stock")
        rows.append(
            {
                "shop_id": push.listing.shop_id,
                "kind": "stock",
                "target": str(push.listing.id),
                "idempotency_key": push.key,
                "payload": {
                    "platform_sku_id": push.listing.ref.platform_sku_id,
                    "quantity": push.target,
                    "delta": push.target - push.listing.model,
                    "model": push.listing.model,
                    "partitioned": push.partitioned,
                },
            }
        )
    outbox.add_many(session, rows, now)


# --- the hub side of reads and writes ------------------------------------------------------


async def observe(host: PluginHost, db: Database, shop: ShopContext, listings: Sequence[ListingInfo]) -> int:
    """Read the platform quantity of ``listings`` of one shop and anchor their models.

    Reads go out in chunks (at most the platform's batch size, small enough that the
    shop's in-flight limit is used), several at once; what was read is stored even if a
    chunk failed, and the first failure is raised afterwards."""
    if not listings:
        return 0
    ids = {x.ref.platform_sku_id: x.id for x in listings}
    caps, slots = shop.info.capabilities, shop.client.limiter.limit.concurrency
    size = max(1, min(READ_CHUNK, caps.stock_batch_size, math.ceil(len(listings) / slots)))
    found: dict[str, tuple[int, datetime]] = {}
    errors: list[HubError] = []

    async def read(chunk: Sequence[ListingInfo]) -> None:
        try:
            for level in await shop.client.fetch_stock([x.ref for x in chunk]):
                # anchored on the platform's clock: the model compares it with order times
                found[level.platform_sku_id] = (level.quantity, shop.client.platform_time(level.observed_at))
        except HubError as exc:  # caught here: a task group would wrap it in an ExceptionGroup
            errors.append(exc)

    async with anyio.create_task_group() as group:
        for start in range(0, len(listings), size):
            group.start_soon(read, listings[start : start + size])
    await db.run(lambda s: anchors.store_levels(s, found, ids))
    if errors:
        raise errors[0]
    return len(found)


async def push_shop(
    host: PluginHost,
    db: Database,
    shop: ShopContext,
    shop_id: int,
    pushes: Sequence[Push],
    outcome: StockOutcome,
    *,
    stopping: Callable[[], bool] = lambda: False,
) -> None:
    """Send ``pushes`` to one shop in batches (as many in flight as its rate limit allows).

    Once ``stopping()`` is true no further batch starts; the unsent entries are
    superseded (the next cycle plans afresh) and counted in ``outcome.unsent``."""
    caps = shop.info.capabilities
    batches = [pushes[i : i + caps.stock_batch_size] for i in range(0, len(pushes), caps.stock_batch_size)]
    queue = iter(batches)
    unsent: list[Push] = []

    async def worker() -> None:
        for batch in queue:
            if stopping():
                unsent.extend(batch)
                continue
            try:
                await _push_batch(host, db, shop, shop_id, batch, outcome)
            except HubError as exc:  # caught here: a task group would wrap it in an ExceptionGroup
                outcome.record(exc, len(batch))

    async with anyio.create_task_group() as group:
        for _ in range(min(len(batches), max(1, shop.client.limiter.limit.concurrency))):
            group.start_soon(worker)
    if unsent:
        outcome.unsent += len(unsent)
        keys = [p.key for p in unsent]
        await db.run(lambda s: _supersede_keys(s, keys, shop.clock.now(), "not sent: the run was stopped"))


def _supersede_keys(session: Session, keys: Sequence[str], now: datetime, reason: str) -> None:
    session.execute(
        update(t.OutboxEntry)
        .where(t.OutboxEntry.idempotency_key.in_(list(keys)), t.OutboxEntry.state == "pending")
        .values(state="superseded", updated_at=now, last_error=reason)
    )


async def _push_batch(
    host: PluginHost,
    db: Database,
    shop: ShopContext,
    shop_id: int,
    batch: Sequence[Push],
    outcome: StockOutcome,
) -> None:
    delta = shop.info.capabilities.delta_stock
    updates = []
    for push in batch:
        key = push.key or outbox.random_key("stock")
        if delta:
            updates.append(
                StockUpdate(
                    ref=push.listing.ref,
                    quantity=push.target,
                    delta=push.target - push.listing.model,
                    idempotency_key=key,
                )
            )
        else:
            updates.append(StockUpdate(ref=push.listing.ref, quantity=push.target, idempotency_key=key))
    now = shop.clock.now()
    await db.run(lambda s: _record_sending(s, shop_id, batch, updates, now))
    try:
        results = check_results("push_stock", updates, await shop.client.push_stock(updates))
    except HubError as exc:
        results = [
            PushResult(idempotency_key=u.idempotency_key, ok=False, error=str(exc), retryable=exc.retryable)
            for u in updates
        ]
        in_doubt = exc.retryable
        outcome.exit_code = max(outcome.exit_code, exc.exit_code)  # an expired session needs a person
    else:
        in_doubt = False
    done_at = shop.client.platform_time()
    await db.run(lambda s: _record_results(s, batch, updates, results, in_doubt, done_at))
    for result in results:
        if result.ok:
            outcome.pushed += 1
        else:
            outcome.failed += 1
            if len(outcome.errors) < 5:
                outcome.errors.append(result.error or "failed")
            if not result.retryable:
                await host.notify_push_failed(
                    shop.name, "stock", result.idempotency_key, result.error or "failed"
                )


def _record_sending(
    session: Session, shop_id: int, batch: Sequence[Push], updates: Sequence[StockUpdate], now: datetime
) -> None:
    planned = [u.idempotency_key for p, u in zip(batch, updates, strict=True) if p.key]
    if planned:  # recorded at planning (see record_planned): now in flight
        session.execute(
            update(t.OutboxEntry)
            .where(t.OutboxEntry.idempotency_key.in_(planned))
            .values(state="sending", attempts=1, updated_at=now)
        )
    if len(planned) == len(batch):
        return
    outbox.add_many(
        session,
        [
            {
                "shop_id": shop_id,
                "kind": "stock",
                "target": str(push.listing.id),
                "idempotency_key": update.idempotency_key,
                "state": "sending",
                "attempts": 1,
                "payload": {
                    "platform_sku_id": push.listing.ref.platform_sku_id,
                    "quantity": update.quantity,
                    "delta": update.delta,
                    "model": push.listing.model,
                    "partitioned": push.partitioned,
                },
            }
            for push, update in zip(batch, updates, strict=True)
            if not push.key
        ],
        now,
    )


def _record_results(
    session: Session,
    batch: Sequence[Push],
    updates: Sequence[StockUpdate],
    results: Sequence[PushResult],
    in_doubt: bool,
    now: datetime,
) -> None:
    """Record each write's outcome on its outbox entry, then anchor its listing
    (:func:`hub.core.stock.anchors.record_writes`). Entries that set the same columns go
    out as one executemany (Core: the session holds none of these rows)."""
    by_key = {r.idempotency_key: r for r in results}
    entries: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    written = []
    for push, update_ in zip(batch, updates, strict=True):
        result = by_key[update_.idempotency_key]
        doubtful = in_doubt or result.in_doubt
        values = outbox.outcome(result, 1, now)
        if doubtful:
            values["last_error"] = f"{result.error} (in doubt: the listing is re-read next cycle)"
        entries.setdefault(tuple(values), []).append({"_key": update_.idempotency_key, **values})
        written.append(anchors.Written(push.listing.id, update_, result, doubtful))
    entry_table = t.OutboxEntry.__table__
    for rows in entries.values():
        session.execute(update(entry_table).where(entry_table.c.idempotency_key == bindparam("_key")), rows)
    anchors.record_writes(session, written, now)


def supersede_open(session: Session, shop_ids: Collection[int], now: datetime) -> None:
    """A new stock cycle recomputes every write of ``shop_ids``, so their older open stock
    entries are done with. One statement for all the shops: it finds the few open entries
    by their state, where one per shop would walk each shop's whole stock history."""
    if not shop_ids:
        return
    session.execute(
        update(t.OutboxEntry)
        .where(
            t.OutboxEntry.shop_id.in_(sorted(shop_ids)),
            t.OutboxEntry.kind == "stock",
            t.OutboxEntry.state.in_(outbox.OPEN_STATES),
        )
        .values(
            state="superseded",
            updated_at=now,
            last_error=func.coalesce(t.OutboxEntry.last_error, "") + " (recomputed by a later cycle)",
        )
    )
