"""Every kind of fault (5xx, timeout, lost answer, reset, malformed body, throttling) on the
calls test_faults.py does not aim at: listing reads, the re-reads of partitioned SKUs,
price, promotion and shipment writes, and a page in the middle of a paged read. After
each, further runs converge to what an uninterrupted run gives (``Rig.converge``: every
order once, every listing linked and showing the hub's target, nothing open in the outbox
without a reason, no lease held), and every write's outcome is recorded exactly once:
one outbox entry per change, done, and the platform showing it (a shipment is not sent
twice; a write whose answer was lost is not reported failed).

In-process sandboxes on a fake clock; faults are queued or drawn at a counted request,
never random."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from hub.core import catalog
from hub.simulator.faults import FAULT_KINDS, Faults
from hub.storage import tables as t
from tests.reliability.support import (
    ON_HAND,
    PLATFORMS,
    SHOP_OF,
    Rig,
    catalogue,
    failures,
    make_rig,
    problems,
    sqlite_url,
)
from tests.reliability.test_faults import STOCK_READ

LISTING_READ = {
    "taobao": "taobao.items.onsale.get",
    "jd": "jingdong.sku.read.searchSkuList",
    "douyin": "product/listV2",
    "wechat": "product/list/get",
}
ORDER_PAGE = {  # a text in every request of each platform's order listing (any page)
    "taobao": "taobao.trades.sold",
    "jd": "jingdong.pop.order.search",
    "douyin": "order/searchList",
    "wechat": "order/list/get",
}
PRICE_WRITE = {
    "taobao": "taobao.item.sku.price.update",
    "jd": "jingdong.price.write.updateSkuJdPrice",
    "douyin": "sku/editPrice",
    "wechat": "product/auditfree",
}
SHIPMENT_WRITE = {
    "taobao": "taobao.logistics.offline.send",
    "jd": "jingdong.pop.order.shipment",
    "douyin": "order/logisticsAdd",
    "wechat": "order/delivery/send",
}
#: Promotions start and end natively on WeChat (限时抢购 tasks), as price changes elsewhere.
PROMO_START = {**PRICE_WRITE, "wechat": "limiteddiscounttask/add"}
PROMO_END = {**PRICE_WRITE, "wechat": "limiteddiscounttask/stop"}
#: Small pages, so a listing or an order read takes several.
SMALL_PAGES = {
    "taobao": {"item_page_size": 1, "trade_page_size": 2},
    "jd": {"sku_page_size": 1, "order_page_size": 2},
    "douyin": {"page_size": 2},
    "wechat": {"product_page_size": 1, "order_page_size": 2},
}
MAX_ATTEMPTS = 5  # RetryPolicy().max_attempts, what the rig's hub uses


class FromNthMatch(Faults):
    """``kind`` on ``times`` requests in a row whose URL or body contains ``when``, from the
    ``nth`` such request on (page 2 of N: ``nth=2``)."""

    def __init__(self, kind: str, when: str, nth: int, times: int):
        super().__init__()
        self.kind, self.when, self.nth, self.times, self.seen = kind, when, nth, times, 0

    def draw(self, request_text: str = "") -> str | None:
        if self.when in request_text:
            self.seen += 1
            if self.nth <= self.seen < self.nth + self.times:
                self.injected[self.kind] += 1
                return self.kind
        return super().draw(request_text)


def outbox(rig: Rig, kind: str, shop: str) -> list[tuple[str, str, str | None]]:
    """(target, state, last error) of the shop's outbox entries of ``kind``."""
    return rig.db.run_sync(
        lambda s: [
            tuple(row)
            for row in s.execute(
                select(t.OutboxEntry.target, t.OutboxEntry.state, t.OutboxEntry.last_error)
                .join(t.Shop, t.Shop.id == t.OutboxEntry.shop_id)
                .where(t.OutboxEntry.kind == kind, t.Shop.name == shop)
            )
        ]
    )


def recorded_once(rig: Rig, kind: str, shop: str, expected: int) -> None:
    """``expected`` entries of ``kind`` for the shop, all done."""
    entries = outbox(rig, kind, shop)
    assert len(entries) == expected and {state for _, state, _ in entries} == {"done"}, entries


def settle(rig: Rig, *, oracle: bool = True) -> None:
    """Runs until every outbox entry is done (a write the platform asked to retry later,
    or one backing off after a failure, is due again within minutes: the clock moves on a
    few minutes per run), then :meth:`Rig.converge` — or, once orders have shipped (the
    on-hand oracle no longer applies), the same checks without it."""
    for _ in range(6):
        entries = rig.db.run_sync(lambda s: s.scalars(select(t.OutboxEntry.state)).all())
        if set(entries) <= {"done"}:
            break
        rig.sync(advance=300)
    if oracle:
        rig.converge()
        return
    report = rig.sync()
    found = problems(rig.db, rig.sandboxes, rig.lab.app.settings, rig.hub_clock.now(), oracle=False)
    assert report.exit_code == 0 and not found, (failures(report), found)


def fault_then_converge(
    rig: Rig, platform: str, kind: str, when: str, *, oracle: bool = True, must_hit: bool = True
) -> None:
    """One ``kind`` fault on the next request to the shop containing ``when`` (if one is
    made: with ``must_hit``, it must be); the run completes or fails saying so, and the
    next runs converge."""
    box = rig.box(platform)
    before = box.faults.injected[kind]
    box.faults.inject(kind, times=1, when=when)
    report = rig.sync()
    assert box.faults.injected[kind] == before + 1 or not must_hit, f"{kind} must hit {when}"
    box.faults.clear()
    assert all(r.error for r in report.results if r.exit_code), failures(report)
    settle(rig, oracle=oracle)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_faults_on_listing_reads_then_runs_converge(tmp_path: Any, platform: str) -> None:
    """A fault burst outlasting the retries on the first listing read: that run fails the
    shop's listings clearly, later runs link every listing once."""
    for number, kind in enumerate(FAULT_KINDS):
        other = "jd" if platform == "taobao" else "taobao"
        rig = make_rig(
            sqlite_url(tmp_path / str(number)), shops={SHOP_OF[platform]: platform, "other": other}
        )
        try:
            box = rig.box(platform)
            box.faults.inject(kind, times=MAX_ATTEMPTS, when=LISTING_READ[platform])
            report = rig.sync()
            assert box.faults.injected[kind] >= 1, kind
            box.faults.clear()
            assert all(r.error for r in report.results if r.exit_code), failures(report)
            rig.converge(max_cycles=4)
        finally:
            rig.close()


@pytest.mark.parametrize("platform", PLATFORMS)
def test_faults_on_partitioned_rereads_never_oversell(rig: Rig, platform: str) -> None:
    """A partitioned SKU is re-read on the platforms before each allocation; when that
    read fails (any fault, outlasting the retries) nothing is handed out twice."""
    code = "TEA"
    rig.db.run_sync(lambda s: setattr(catalog.sku_by_code(s, code), "partitioned", True))
    assert rig.sync().exit_code == 0
    box, shop = rig.box(platform), SHOP_OF[platform]

    def shown_plus_sold() -> int:
        return sum(b.state.quantity_of(code) + b.state.units_sold(code) for b in rig.sandboxes.values())

    for kind in FAULT_KINDS:
        if box.state.quantity_of(code):
            rig.buy(shop, code)
        box.faults.inject(kind, times=MAX_ATTEMPTS, when=STOCK_READ[platform])
        report = rig.sync()
        box.faults.clear()
        assert all(r.error for r in report.results if r.exit_code), failures(report)
        assert shown_plus_sold() <= 30, (kind, "oversold")
        rig.converge()
        assert shown_plus_sold() <= 30, (kind, "oversold")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_faults_on_price_writes_record_each_change_once(rig: Rig, platform: str) -> None:
    shop, box = SHOP_OF[platform], rig.box(platform)
    assert rig.sync().exit_code == 0
    for number, kind in enumerate(FAULT_KINDS):
        price = 9000 + 100 * number
        done = rig.hub("price", "set", "CUP-S", f"{price / 100:.2f}", "--shop", shop)
        assert done.exit_code == 0, done.output
        fault_then_converge(rig, platform, kind, PRICE_WRITE[platform])
        assert box.state.skus_by_code("CUP-S")[0].price == price, kind
        recorded_once(rig, "price", shop, number + 1)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_faults_on_shipment_writes_ship_once(rig: Rig, platform: str) -> None:
    """A shipment whose answer is lost (or any other fault) is shipped once, recorded
    done (not "failed: already shipped"), and the stored order shows it shipped."""
    shop, box = SHOP_OF[platform], rig.box(platform)
    assert rig.sync().exit_code == 0
    for number, kind in enumerate(FAULT_KINDS):
        order = rig.buy(shop, "CUP-L")
        assert rig.sync().exit_code == 0
        tracking = f"SF{1000 + number}"
        queued = rig.hub(
            "orders", "ship", order, "--shop", shop, "--carrier", "SF", "--tracking", tracking, "--queue-only"
        )
        assert queued.exit_code == 0, queued.output
        fault_then_converge(rig, platform, kind, SHIPMENT_WRITE[platform], oracle=False)
        shipped = box.state.order(order)
        assert (shipped.status.value, shipped.tracking_number) == ("shipped", tracking), kind
        recorded_once(rig, "shipment", shop, number + 1)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_faults_on_promotion_pushes_start_and_end_once(rig: Rig, platform: str) -> None:
    shop, box = SHOP_OF[platform], rig.box(platform)
    assert rig.sync().exit_code == 0
    sku = box.state.skus_by_code("CUP-L")[0]
    regular = sku.price
    for number, kind in enumerate(FAULT_KINDS):
        start = rig.hub_clock.now() + timedelta(minutes=1)
        end = start + timedelta(hours=1)
        created = rig.hub(
            "promo", "create", "--name", f"sale {number}", "--kind", "percent_discount",
            "--percent-off", "20",
            "--sku", "CUP-L", "--shop", shop,
            "--start", start.isoformat(timespec="seconds"), "--end", end.isoformat(timespec="seconds"),
        )  # fmt: skip
        assert created.exit_code == 0, created.output
        rig.clock.advance(60)
        fault_then_converge(rig, platform, kind, PROMO_START[platform])
        assert box.state.effective_price(sku.sku_id) == regular * 80 // 100, ("start", kind)
        rig.clock.advance((end - rig.hub_clock.now()).total_seconds())
        # A WeChat task ends by itself; the hub stops one only if it knows its id (a start
        # whose answer was lost is found again by its name, or left to end on time).
        fault_then_converge(rig, platform, kind, PROMO_END[platform], must_hit=platform != "wechat")
        assert box.state.effective_price(sku.sku_id) == regular, ("end", kind)
        states = rig.db.run_sync(lambda s: [p.state for p in s.scalars(select(t.Promotion))])
        assert states == ["ended"] * (number + 1), (kind, states)
        if platform == "wechat":
            # A start whose answer was lost is not sent again as a second task.
            assert len(box.state.promotions) == number + 1, ("one task per promotion", kind)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_fault_on_page_2_of_n(tmp_path: Any, platform: str) -> None:
    """Small pages; page 2 of the first listing read, then page 2 of an order read fail
    (a burst outlasting the retries, each kind); later runs link every listing and store
    every order exactly once."""
    for number, kind in enumerate(FAULT_KINDS):
        shop = SHOP_OF[platform]
        rig = make_rig(
            sqlite_url(tmp_path / str(number)), shops={shop: platform}, seed=catalogue(stock=ON_HAND)
        )
        try:
            options = SMALL_PAGES[platform]
            rig.db.run_sync(
                lambda s, shop=shop, options=options: setattr(
                    s.scalars(select(t.Shop).where(t.Shop.name == shop)).one(),
                    "options",
                    {**s.scalars(select(t.Shop).where(t.Shop.name == shop)).one().options, **options},
                )
            )
            box = rig.sandboxes[shop]
            for code in ("CUP-S", "CUP-L", "TEA", "CUP-S", "TEA", "CUP-L", "TEA"):
                rig.buy(shop, code)
            box.faults = FromNthMatch(kind, LISTING_READ[platform], 2, MAX_ATTEMPTS)
            report = rig.sync()
            assert box.faults.injected[kind] >= 1, (kind, box.faults.seen)
            assert all(r.error for r in report.results if r.exit_code), failures(report)
            box.faults = Faults()
            rig.converge()
            for code in ("CUP-L", "TEA", "CUP-S", "TEA", "CUP-S"):
                rig.buy(shop, code)
            box.faults = FromNthMatch(kind, ORDER_PAGE[platform], 2, MAX_ATTEMPTS)
            report = rig.sync()
            assert box.faults.injected[kind] >= 1, (kind, box.faults.seen)
            assert all(r.error for r in report.results if r.exit_code), failures(report)
            box.faults = Faults()
            rig.converge()
        finally:
            rig.close()
