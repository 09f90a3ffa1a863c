"""Shared tools of the reliability suite: a hub wired to the four platform sandboxes
(with separate hub and platform clocks, so the hub's clock can be skewed), and the
checks every scenario ends with — orders stored exactly once, platform stock equal to
the hub's target, nothing open in the outbox without a reason, no lease left held.

(``hub.simulator.lab.Lab.create`` gives hub and sandboxes one clock; :func:`make_rig`
mirrors it with two.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from hub.app import App
from hub.cli import cli
from hub.core.http import RetryPolicy
from hub.core.shops import add_shop
from hub.core.stock import picture as stock_picture
from hub.core.stock import plan as stock_plan
from hub.models import OrderStatus
from hub.report import SyncReport
from hub.settings import HubSettings
from hub.simulator import SandboxApp, SandboxConfig, Seed
from hub.simulator.lab import Lab
from hub.simulator.seed import SeedProduct, SeedSku
from hub.storage import tables as t
from hub.testing import FakeClock

SHOPS = {"tb": "taobao", "jd": "jd", "dy": "douyin", "wx": "wechat"}
PLATFORMS = tuple(SHOPS.values())
SHOP_OF = {platform: shop for shop, platform in SHOPS.items()}
ON_HAND = 30

#: A text found in the URL or body of every stock write of each platform (for
#: ``faults.inject(..., when=...)``) — the API method or path.
STOCK_WRITE = {
    "taobao": "quantity.update",  # taobao.item.quantity.update / taobao.skus.quantity.update
    "jd": "jingdong.stock.write.updateSkuStock",
    "douyin": "sku/syncStock",
    "wechat": "product/stock/update",
}
#: A text in each platform's order-listing request (to aim faults at it).
ORDER_READ = {
    "taobao": "taobao.trades.sold.increment.get",
    "jd": "jingdong.pop.order",
    "douyin": "order/searchList",
    "wechat": "order/list/get",
}
#: The sandbox ``calls`` keys of those writes.
STOCK_WRITE_CALLS = {
    "taobao": ("taobao.item.quantity.update", "taobao.skus.quantity.update"),
    "jd": ("jingdong.stock.write.updateSkuStock",),
    "douyin": ("sku.syncStock",),
    "wechat": ("product/stock/update",),
}


def catalogue(stock: int = 0) -> Seed:
    """Two items, three SKUs, ``stock`` units of each on the platforms (by default
    nothing: the hub fills them)."""
    return Seed(
        products=[
            SeedProduct(
                title="保温杯",
                code="CUP",
                skus=[
                    SeedSku(code="CUP-S", spec="容量:350ml", price=9900, stock=stock),
                    SeedSku(code="CUP-L", spec="容量:750ml", price=12900, stock=stock),
                ],
            ),
            SeedProduct(title="龙井", code="TEA-ITEM", skus=[SeedSku(code="TEA", price=5900, stock=stock)]),
        ]
    )


class SkewedClock:
    """The hub's clock: the platforms' clock plus ``offset`` seconds (changeable)."""

    def __init__(self, base: FakeClock, offset: float = 0.0):
        self.base = base
        self.offset = offset

    def now(self) -> datetime:
        return self.base.now() + timedelta(seconds=self.offset)

    def monotonic(self) -> float:
        return self.base.monotonic()

    async def sleep(self, seconds: float) -> None:
        await self.base.sleep(seconds)


@dataclass
class Rig:
    """A hub and one sandbox per shop; ``clock`` is the platforms' (fake) clock, the hub
    runs on ``hub_clock`` (the same, unless skewed)."""

    lab: Lab
    clock: FakeClock
    hub_clock: SkewedClock
    reports: list[SyncReport] = field(default_factory=list)

    @property
    def sandboxes(self) -> dict[str, SandboxApp]:
        return self.lab.sandboxes

    @property
    def db(self) -> Any:
        return self.lab.app.db

    def box(self, platform: str) -> SandboxApp:
        return self.sandboxes[SHOP_OF[platform]]

    def buy(self, shop: str, code: str, quantity: int = 1) -> str:
        """A buyer on ``shop`` orders and pays (a second after the hub's last action)."""
        self.clock.advance(1)
        return self.sandboxes[shop].state.order_code(code, quantity).order_id

    def sync(self, advance: float = 5.0) -> SyncReport:
        """One `hub sync` cycle, ``advance`` seconds after the previous one."""
        self.clock.advance(advance)
        report = anyio.run(self.lab.sync)
        self.reports.append(report)
        return report

    def hub(self, *args: str) -> Result:
        """`hub ARGS…` in-process against this rig's hub (like a cron run of the CLI)."""
        return CliRunner().invoke(cli, list(args), obj=self.lab.app, catch_exceptions=False)

    def converge(self, *, max_cycles: int = 3) -> list[SyncReport]:
        """Cycles (5 s apart) until one completes cleanly and the invariants hold (see
        :func:`problems`), at most ``max_cycles``."""
        done: list[SyncReport] = []
        found: list[str] = []
        for _ in range(max_cycles):
            report = self.sync()
            done.append(report)
            found = problems(self.db, self.sandboxes, self.lab.app.settings, self.hub_clock.now())
            if report.exit_code == 0 and not found:
                return done
        raise AssertionError(
            f"not converged after {max_cycles} runs: {[failures(r) for r in done]}\n" + "\n".join(found)
        )

    def close(self) -> None:
        self.lab.close()


def sqlite_url(folder: Path) -> str:
    """A fresh SQLite database in ``folder``, for tests that build several worlds (a
    reference run and killed runs) and compare them: they stay on SQLite files."""
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'hub.db'}"


def make_rig(
    url: str,
    *,
    offset: float = 0.0,
    shops: Mapping[str, str] = SHOPS,
    seed: Seed | None = None,
    on_hand: int = ON_HAND,
    sandbox: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Rig:
    """Like ``Lab.create`` (in-process transports, one sandbox per shop), but the hub runs
    on a :class:`SkewedClock` over the sandboxes' :class:`FakeClock`."""
    seed = seed or catalogue()
    # Shared mode unless asked: these tests check its arithmetic against an oracle; the
    # automatic partitioning of scarce SKUs is tested in tests/test_autopartition.py.
    settings = {"partition_below": 0, **dict(settings or {})}
    clock = FakeClock()
    hub_clock = SkewedClock(clock, offset)
    sandboxes: dict[str, SandboxApp] = {}
    app = App(
        # The rig's cycles are 5 s apart (like `hub sync --watch --interval 5`): a shop whose
        # circuit opened is probed again by the next cycle.
        settings=HubSettings(database_url=url, **{"breaker_cooldown_seconds": 5, **dict(settings or {})}),
        clock=hub_clock,
        transport_for=lambda shop, platform: sandboxes[shop].transport(),
        retry=RetryPolicy(),
    )
    for number, (name, platform) in enumerate(shops.items()):
        info = app.host.platform(platform)
        box = info.make_sandbox(
            SandboxConfig(clock=clock, seed=seed, rng_seed=number * 101, **dict(sandbox or {}))
        )
        sandboxes[name] = box
        values = {**box.shop_credentials(), "base_url": box.base_url(f"http://{name}.sandbox")}
        app.database(create=True).run_sync(
            lambda s, name=name, platform=platform, values=values: add_shop(
                s, app.host, name=name, platform=platform, values=values, now=hub_clock.now()
            )
        )
    lab = Lab(app, sandboxes, seed)
    lab.import_catalogue(on_hand=on_hand)
    return Rig(lab, clock, hub_clock)


# --- reports ---------------------------------------------------------------------------------


def failures(report: SyncReport | None) -> list[tuple[str, str, int, str | None]]:
    if report is None:
        return []
    return [(r.shop, r.stream, r.exit_code, r.error) for r in report.results if r.exit_code]


def assert_fails_clearly(
    report: SyncReport, needles: Iterable[str], *, exit_code: int | None = 1, every: bool = False
) -> list[str]:
    """The cycle failed with ``exit_code`` (None: any non-zero one), every failed stream
    says why, and a reason names the problem: contains one of ``needles``
    (case-insensitive) — with ``every``, every failed stream's reason does."""
    failed = [r for r in report.results if r.exit_code]
    if exit_code is None:
        assert report.exit_code > 0, failures(report)
    else:
        assert report.exit_code == exit_code, failures(report)
    assert failed and all(r.error for r in failed), failures(report)
    errors = [r.error or "" for r in failed]
    wanted = [n.lower() for n in needles]
    named = [any(n in e.lower() for n in wanted) for e in errors]
    assert all(named) if every else any(named), (wanted, errors)
    return errors


# --- the invariants --------------------------------------------------------------------------


def holds_stock(status: OrderStatus) -> bool:
    return status.holds_stock or status in (OrderStatus.SHIPPED, OrderStatus.COMPLETED)


def comparable(status: str) -> str:
    """Statuses as compared: a paid order closed before shipment is "cancelled" in the
    sandbox's neutral state but "refunded" on the wire of Taobao and JD (TRADE_CLOSED,
    closed after payment), so both count as closed."""
    return "closed" if status in ("cancelled", "refunded") else status


def stored_orders(db: Any) -> list[tuple[str, str, str]]:
    """(shop, platform order id, status) of every stored order (duplicates kept)."""
    return db.run_sync(
        lambda s: [
            (shop, order_id, comparable(status))
            for shop, order_id, status in s.execute(
                select(t.Shop.name, t.Order.platform_order_id, t.Order.status).join(
                    t.Shop, t.Shop.id == t.Order.shop_id
                )
            )
        ]
    )


def platform_orders(sandboxes: Mapping[str, SandboxApp]) -> set[tuple[str, str, str]]:
    """(shop, order id, status) of every order the platforms list to a seller."""
    out = set()
    for shop, box in sandboxes.items():
        for order in box.state.orders.values():
            if box.platform == "jd" and order.status is OrderStatus.PENDING_PAYMENT:
                continue  # JD's POP order search does not list unpaid orders
            out.add((shop, order.order_id, comparable(order.status.value)))
    return out


def check_invariants(rig: Rig) -> None:
    """Assert the four invariants (see :func:`problems`)."""
    found = problems(rig.db, rig.sandboxes, rig.lab.app.settings, rig.hub_clock.now())
    assert not found, "\n".join(found)


def problems(
    db: Any, sandboxes: Mapping[str, SandboxApp], settings: HubSettings, now: datetime, *, oracle: bool = True
) -> list[str]:
    """What is wrong with a hub and its platforms after runs that should have converged:

    1. every order a platform lists is stored exactly once, with the platform's status;
    2. every linked listing shows the hub's target; with ``oracle`` also what is left of
       the on-hand count after every accepted order (valid when nothing shipped and no
       safety stock or rules apply) — so no push was lost or landed twice; the listings of
       a partitioned SKU (which may show less than their targets) together show no more
       than its sellable stock;
    3. no outbox entry is in flight, and every entry not done says why;
    4. no lease is left held.
    """
    found: list[str] = []
    stored = stored_orders(db)
    doubled = [key for key, n in Counter((s, o) for s, o, _ in stored).items() if n > 1]
    if doubled:
        found.append(f"orders stored twice: {doubled}")
    expected = platform_orders(sandboxes)
    if set(stored) != expected:
        found.append(f"orders missing: {expected - set(stored)}; unexpected: {set(stored) - expected}")

    def read(s: Any) -> tuple[dict[int, int], list[tuple[int, str, str, str]], dict[str, int]]:
        picture = stock_picture.load_picture(
            s,
            now,
            safety_default=settings.safety_stock,
            partition_below=settings.partition_below,
            sales_window=timedelta(minutes=settings.sales_window_minutes),
        )
        rows = s.execute(
            select(t.Listing.id, t.Shop.name, t.Sku.code, t.Listing.platform_sku_id)
            .join(t.Shop, t.Shop.id == t.Listing.shop_id)
            .join(t.Sku, t.Sku.id == t.Listing.sku_id)
        ).all()
        on_hand = s.execute(
            select(t.Sku.code, func.sum(t.StockOnHand.quantity))
            .join(t.Sku, t.Sku.id == t.StockOnHand.sku_id)
            .group_by(t.Sku.code)
        ).all()
        split = {sku.code: sku.sellable for sku in picture.skus.values() if sku.partitioned}
        return stock_plan.targets(picture), [tuple(r) for r in rows], {c: int(q) for c, q in on_hand}, split

    targets, listings, on_hand, partitioned = db.run_sync(read)
    linked = {(shop, code) for _, shop, code, _ in listings}
    listed = {
        (shop, sku.code) for shop, box in sandboxes.items() for sku in box.state.skus.values() if sku.code
    }
    if linked != listed:
        found.append(f"listings not linked: {listed - linked}; linked twice or unknown: {linked - listed}")
    sold: dict[str, int] = {}
    for box in sandboxes.values():
        for sku in box.state.skus.values():
            if sku.code and sku.code not in sold:
                sold[sku.code] = sum(b.state.units_sold(sku.code) for b in sandboxes.values())
    wrong = []
    for listing_id, shop, code, platform_sku_id in listings:
        shown = sandboxes[shop].state.skus[platform_sku_id].quantity
        left = on_hand.get(code, 0) - sold.get(code, 0)
        if code in partitioned:
            continue  # may show less than its target (JD refills only at 0): checked below
        if shown != targets[listing_id] or (oracle and shown != left):
            wrong.append(
                {"shop": shop, "sku": code, "shown": shown, "target": targets[listing_id], "left": left}
            )
    if wrong:
        found.append(f"platform stock is not the hub's target: {wrong}")
    over = {}
    for code, sellable in partitioned.items():  # the partitioned invariant, on the platforms
        shown = sum(sandboxes[shop].state.skus[p].quantity for _, shop, c, p in listings if c == code)
        if shown > sellable:
            over[code] = {"shown": shown, "sellable": sellable}
    if over:
        found.append(f"partitioned SKUs shown beyond their sellable stock: {over}")

    entries = db.run_sync(
        lambda s: s.execute(
            select(t.OutboxEntry.id, t.OutboxEntry.kind, t.OutboxEntry.state, t.OutboxEntry.last_error)
        ).all()
    )
    unexplained = [
        tuple(e) for e in entries if e.state == "sending" or (e.state != "done" and not e.last_error)
    ]
    if unexplained:
        found.append(f"outbox entries in flight or open without a reason: {unexplained}")

    held = db.run_sync(lambda s: s.execute(select(t.Lease.name, t.Lease.holder, t.Lease.expires_at)).all())
    if held:
        found.append(f"leases left held: {[tuple(h) for h in held]}")
    return found
