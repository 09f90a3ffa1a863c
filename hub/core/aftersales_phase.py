"""The ``aftersales`` stream of a sync cycle: after-sale cases read like orders.

Per shop, when due (``HUB_AFTERSALES_INTERVAL_MINUTES`` since the last read, or asked for
with ``--stream aftersales``): windows of platform modification time from the stream's
cursor (less the platform's lookback) to now; each window's cases and the cursor commit
in one transaction, with their stock effects (:mod:`hub.core.aftersales`). A platform
without an after-sale API is reported as skipped, not failed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from hub.core.aftersales import STREAM, settle_unlinked, store_after_sales
from hub.core.windows import get_cursor, plan_windows, set_cursor
from hub.errors import CapabilityNotSupported
from hub.models import AfterSale
from hub.report import StreamResult

if TYPE_CHECKING:
    from hub.core.engine import Shop, SyncEngine

CHUNK = 1000  # cases stored per transaction within a window (bounds memory)


async def read_after_sales(engine: SyncEngine, shop: Shop, result: StreamResult, *, force: bool) -> None:
    """Read and store the shop's after-sale cases changed since the stream's cursor."""
    now = engine.clock.now()
    cursor = await engine.db.run(lambda s: get_cursor(s, shop.id, STREAM))
    interval = timedelta(minutes=engine.settings.aftersales_interval_minutes)
    if not force and cursor is not None and interval and now - cursor < interval:
        result.skipped = f"read {int((now - cursor).total_seconds() // 60)} min ago"
        return
    rule = shop.ctx.info.order_window
    margin = timedelta(seconds=engine.settings.clock_margin_seconds)
    rule = replace(rule, lookback=max(rule.lookback, margin + timedelta(seconds=1)))
    end = shop.ctx.client.platform_time(now)
    try:
        for number, window in enumerate(plan_windows(cursor, end, rule)):
            if number and engine.stopping:
                result.fail("stopped before every after-sale window was read (the next run goes on)")
                return
            batch: list[AfterSale] = []
            async for case in shop.ctx.client.iter_after_sales(window):
                batch.append(case)
                if len(batch) >= CHUNK:
                    await _store(engine, shop, batch, result, None)
                    batch = []
            await _store(engine, shop, batch, result, window.end)
    except CapabilityNotSupported as exc:
        result.skipped = str(exc)


async def _store(
    engine: SyncEngine, shop: Shop, cases: list[AfterSale], result: StreamResult, cursor_to: Any
) -> None:
    now = engine.clock.now()
    warehouse = engine.settings.returns_warehouse

    def write(s: Session) -> int:
        changes = store_after_sales(s, shop.id, cases, now, warehouse=warehouse)
        if cursor_to is not None:  # the window is complete: commit its cursor with it
            settle_unlinked(s, shop.id, now)
            set_cursor(s, shop.id, STREAM, cursor_to, now)
        return len(changes)

    result.stored += await engine.db.run(write)
    result.fetched += len(cases)
    if cases:
        engine.progress("advance", shop.name, STREAM, {"n": len(cases)})
