"""After-sale cases (售后) of a sandbox shop, platform-neutral.

Every platform sandbox serves these cases in its own shapes and codes. The life cycle is
the platforms' usual one, driven by the sandbox clock (no background thread: due steps
are applied whenever the cases are read, see :meth:`AfterSaleBook.advance`):

* a refund of units not shipped is refunded at once (the platforms refund unshipped goods
  without the merchant), and the platform takes the units back on sale;
* a refund of shipped goods is requested, then refunded after ``refund_delay``;
* a return (or an exchange) waits for the buyer to send the goods back: ``returning``,
  then ``received`` after ``return_delay``; a return is then refunded after
  ``refund_delay``. The platform's stock is not raised: the merchant decides that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from hub.models import AfterSaleStatus, AfterSaleType, OrderStatus
from hub.simulator.state import SandboxError, numeric_ids

if TYPE_CHECKING:
    from hub.simulator.state import OrderLineState, ShopState


@dataclass
class CaseState:
    case_id: str
    order_id: str
    kind: AfterSaleType
    status: AfterSaleStatus
    line: OrderLineState
    quantity: int
    refund: int  # fen
    shipped: bool  # the goods had left when the case was opened
    created: datetime
    modified: datetime
    reason: str = ""
    due: datetime | None = None  # when the next step happens by itself
    history: list[tuple[datetime, AfterSaleStatus]] = field(default_factory=list)


class AfterSaleBook:
    """The after-sale cases of one :class:`ShopState` (``state.after_sales``)."""

    def __init__(
        self,
        state: ShopState,
        *,
        return_delay: timedelta = timedelta(minutes=30),
        refund_delay: timedelta = timedelta(minutes=5),
    ):
        self.state = state
        self.return_delay = return_delay
        self.refund_delay = refund_delay
        self.cases: dict[str, CaseState] = {}
        self.new_case_id = numeric_ids(2_000_000_000_001)

    def open(
        self,
        order_id: str,
        kind: AfterSaleType,
        *,
        line_id: str | None = None,
        quantity: int | None = None,
        reason: str = "不想要了",
        at: datetime | None = None,
    ) -> CaseState:
        """A buyer opens a case on ``quantity`` units (default: all) of one order line
        (default: the first). A return or exchange needs shipped goods."""
        state = self.state
        with state.lock:
            order = state.order(order_id)
            lines = [x for x in order.lines if line_id in (None, x.line_id)]
            if not lines:
                raise SandboxError("line_not_found", f"order {order_id} has no line {line_id}")
            line = lines[0]
            quantity = line.quantity if quantity is None else quantity
            if not 0 < quantity <= line.quantity:
                raise SandboxError(
                    "invalid_quantity", f"quantity {quantity} is not within the line's", "quantity"
                )
            if kind is not AfterSaleType.REFUND_ONLY and not line.shipped:
                raise SandboxError("bad_order_status", f"order {order_id}: nothing shipped to send back")
            now = at or state.clock.now()
            case = CaseState(
                case_id=self.new_case_id(),
                order_id=order_id,
                kind=kind,
                status=AfterSaleStatus.REQUESTED,
                line=line,
                quantity=quantity,
                refund=line.unit_price * quantity,
                shipped=line.shipped,
                created=now,
                modified=now,
                reason=reason,
            )
            self.cases[case.case_id] = case
            if kind is AfterSaleType.REFUND_ONLY and not line.shipped:
                self._refund_unshipped(case, now)
            elif kind is AfterSaleType.REFUND_ONLY:
                self._move(case, AfterSaleStatus.REQUESTED, now, due=now + self.refund_delay)
            else:
                self._move(case, AfterSaleStatus.RETURNING, now, due=now + self.return_delay)
            return case

    def _refund_unshipped(self, case: CaseState, now: datetime) -> None:
        state, line = self.state, case.line
        order = state.order(case.order_id)
        whole = case.quantity == line.quantity
        if whole and all(x.refunded or x is line for x in order.lines):
            state.set_status(order.order_id, OrderStatus.REFUNDED, at=now)  # gives the units back
        else:
            state.give_back(line, case.quantity)
            line.refunded = line.refunded or whole
            order.modified = max(now, order.modified)
            state.orders_version += 1
        self._move(case, AfterSaleStatus.REFUNDED, now)

    def _move(
        self, case: CaseState, status: AfterSaleStatus, now: datetime, *, due: datetime | None = None
    ) -> None:
        case.status = status
        case.modified = max(now, case.modified)
        case.due = due
        case.history.append((now, status))

    def advance(self, now: datetime | None = None) -> None:
        """Apply every step due by ``now`` (default: the sandbox clock), each at its due time."""
        with self.state.lock:
            now = now or self.state.clock.now()
            for case in self.cases.values():
                while case.due is not None and case.due <= now:
                    when = case.due
                    if case.status is AfterSaleStatus.RETURNING:
                        follow = None if case.kind is AfterSaleType.EXCHANGE else when + self.refund_delay
                        self._move(case, AfterSaleStatus.RECEIVED, when, due=follow)
                    else:
                        self._move(case, AfterSaleStatus.REFUNDED, when)

    def reject(self, case_id: str, at: datetime | None = None) -> CaseState:
        """The merchant refuses a case that is not finished."""
        with self.state.lock:
            case = self.case(case_id)
            if case.status in (AfterSaleStatus.REFUNDED, AfterSaleStatus.CLOSED, AfterSaleStatus.REJECTED):
                raise SandboxError("bad_status", f"after-sale {case_id} is already {case.status.value}")
            self._move(case, AfterSaleStatus.REJECTED, at or self.state.clock.now())
            return case

    def case(self, case_id: str) -> CaseState:
        try:
            return self.cases[case_id]
        except KeyError:
            raise SandboxError("not_found", f"after-sale {case_id} does not exist") from None

    def modified(self, start: datetime, end: datetime) -> list[CaseState]:
        """Cases with ``start <= modified < end``, oldest first (due steps applied first)."""
        self.advance()
        with self.state.lock:
            found = [c for c in self.cases.values() if start <= c.modified < end]
        return sorted(found, key=lambda c: (c.modified, c.case_id))
