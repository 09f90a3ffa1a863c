"""A contract every plugin's after-sale read meets against its own sandbox.

:func:`after_sales_scenario` opens one case of each kind the platform serves on sandbox
orders (a refund before shipment, a refund after it, a return, an exchange), reads them
back through the client's :meth:`~hub.client.ShopClient.iter_after_sales` with the page
size the caller set (so several pages are read), and checks the mapping: ids, order ids,
types, statuses, lines, quantities and fen amounts. Then it lets the sandbox clock run
until the return is received and refunded, and checks a window read again shows that.
"""

from __future__ import annotations

from collections.abc import Sequence

from hub.models import AfterSale, AfterSaleStatus, AfterSaleType, TimeWindow
from hub.platform import ShopContext
from hub.simulator.app import SandboxApp
from hub.testing.clock import FakeClock


async def read_cases(shop: ShopContext, start, end) -> dict[str, AfterSale]:  # type: ignore[no-untyped-def]
    """Every case the client reads in ``[start, end)``, by case id (each read once)."""
    found: dict[str, AfterSale] = {}
    async for case in shop.client.iter_after_sales(TimeWindow(start=start, end=end)):
        assert case.platform_case_id not in found, f"case {case.platform_case_id} read twice"
        found[case.platform_case_id] = case
    return found


async def after_sales_scenario(
    shop: ShopContext,
    sandbox: SandboxApp,
    clock: FakeClock,
    code: str,
    *,
    kinds: Sequence[AfterSaleType] = tuple(AfterSaleType),
    extra: int = 3,
) -> dict[str, AfterSale]:
    """Open cases on orders of master code ``code`` and check what the client reads.

    ``kinds``: the kinds the platform's list serves (Taobao's refunds have no exchange).
    ``extra`` more cases of the first kind make the list span several pages."""
    state = sandbox.state
    start = clock.now()
    sku = state.skus_by_code(code)[0]

    def order(qty: int, *, ship: bool) -> str:
        clock.advance(2)
        placed = state.place_order([(sku.sku_id, qty)]).order_id
        if ship:
            state.ship(placed, "SF", f"SF{placed}")
        return placed

    opened: dict[str, tuple[AfterSaleType, str, int]] = {}
    book = state.after_sales
    refunds = AfterSaleType.REFUND_ONLY in kinds
    plan = [(kinds[0], kinds[0] is not AfterSaleType.REFUND_ONLY)] * extra  # fills several pages
    plan += [(AfterSaleType.REFUND_ONLY, False), (AfterSaleType.REFUND_ONLY, True)] if refunds else []
    plan += [(kind, True) for kind in kinds if kind is not AfterSaleType.REFUND_ONLY]
    for kind, ship in plan:
        placed = order(3, ship=ship)
        clock.advance(1)
        opened[book.open(placed, kind, quantity=2).case_id] = (kind, placed, 2)
    clock.advance(5)
    found = await read_cases(shop, start, clock.now())
    assert set(found) == set(opened), (sorted(found), sorted(opened))
    for case_id, (kind, order_id, qty) in opened.items():
        case = found[case_id]
        assert (case.type, case.platform_order_id) == (kind, order_id), case
        [line] = case.lines
        assert (line.platform_sku_id, line.quantity) == (sku.sku_id, qty), case
        assert line.master_code in (code, None)
        assert case.refund_amount in (0, sku.price * qty), case  # fen, whatever the wire unit
        if kind is not AfterSaleType.REFUND_ONLY:
            assert case.status is AfterSaleStatus.RETURNING and not case.received, case
        elif book.case(case_id).shipped:
            assert case.status is AfterSaleStatus.REQUESTED, case
        else:
            assert case.status is AfterSaleStatus.REFUNDED, case
    # The buyer's parcel arrives and the refund follows: a later window shows the return done.
    later = clock.now()
    clock.advance((book.return_delay + book.refund_delay).total_seconds() + 5)
    again = await read_cases(shop, later, clock.now())
    returns = [i for i, (kind, _, _) in opened.items() if kind is AfterSaleType.RETURN_REFUND]
    for case_id in returns:
        assert again[case_id].status is AfterSaleStatus.REFUNDED and again[case_id].received, again[case_id]
    return again
