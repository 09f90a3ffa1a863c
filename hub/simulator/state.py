"""The platform-neutral state of a sandbox shop: items, SKUs, stock, prices, orders,
promotions.

Every platform sandbox keeps its shop in a :class:`ShopState` and adds only its wire
protocol and data shapes on top. Statuses are the hub's canonical ones
(:class:`~hub.models.OrderStatus`); each sandbox maps them to its platform's codes.

Stock behaves as on the real platforms: placing an order takes units from the SKU's
platform quantity and is refused when there are not enough (the platform sells what
it believes it has — this is how oversell happens when the hub is slow); cancelling or
refunding before shipment gives them back.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from hub.core.clock import Clock
from hub.models import OrderStatus

if TYPE_CHECKING:
    from hub.simulator.aftersales import AfterSaleBook

T = TypeVar("T")
SELECTIONS_KEPT = 16


class SandboxError(Exception):
    """A request the sandbox platform refuses; ``code`` is a neutral reason the protocol
    layer turns into its platform's error code."""

    def __init__(self, code: str, message: str, parameter: str | None = None):
        self.code = code
        self.message = message
        self.parameter = parameter
        super().__init__(message)


class SoldOut(SandboxError):
    def __init__(self, sku_id: str, wanted: int, available: int):
        super().__init__("sold_out", f"SKU {sku_id}: wanted {wanted}, {available} left")
        self.sku_id = sku_id


@dataclass
class SkuState:
    sku_id: str
    item_id: str
    code: str | None  # the merchant's SKU code (商家编码)
    spec: str  # e.g. "颜色:红;尺码:M"
    price: int  # fen
    quantity: int
    modified: datetime
    properties: str = ""  # platform property string (pid:vid;...) where one is needed


@dataclass
class ItemState:
    item_id: str
    title: str
    code: str | None
    on_sale: bool
    created: datetime
    modified: datetime
    skus: dict[str, SkuState] = field(default_factory=dict)

    @property
    def quantity(self) -> int:
        return sum(s.quantity for s in self.skus.values())


@dataclass
class OrderLineState:
    line_id: str
    item_id: str
    sku_id: str
    code: str | None
    title: str
    quantity: int
    unit_price: int
    shipped: bool = False
    refunded: bool = False
    given_back: int = 0  # units refunded before shipment, back on sale


@dataclass
class OrderState:
    order_id: str
    status: OrderStatus
    created: datetime
    modified: datetime
    lines: list[OrderLineState]
    paid_at: datetime | None = None
    buyer: str = ""
    carrier: str | None = None
    tracking_number: str | None = None
    history: list[tuple[datetime, OrderStatus]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(line.unit_price * line.quantity for line in self.lines)


@dataclass
class PromotionState:
    promotion_id: str
    name: str
    kind: str
    sku_prices: dict[str, int]  # sku_id -> promotion price (fen)
    starts: datetime
    ends: datetime
    active: bool = True


@dataclass(frozen=True)
class Sale:
    """One accepted order, for buyer statistics and the demo's propagation figures."""

    at: datetime
    order_id: str
    sku_id: str
    code: str | None
    quantity: int


def numeric_ids(start: int, step: int = 1) -> Callable[[], str]:
    counter = itertools.count(start, step)
    return lambda: str(next(counter))


class ShopState:
    """One sandbox shop. Thread-safe: a served sandbox handles requests in threads.

    ``new_item_id``/``new_sku_id``/``new_order_id``/``new_line_id`` make ids in the
    platform's style (a sandbox passes its own factories)."""

    #: the shop's after-sale cases, attached by the sandbox app (it builds on this module)
    after_sales: AfterSaleBook

    def __init__(
        self,
        clock: Clock,
        *,
        new_item_id: Callable[[], str] | None = None,
        new_sku_id: Callable[[], str] | None = None,
        new_order_id: Callable[[], str] | None = None,
        new_line_id: Callable[[], str] | None = None,
    ):
        self.clock = clock
        self.lock = threading.RLock()
        self.items: dict[str, ItemState] = {}
        self.skus: dict[str, SkuState] = {}
        self.orders: dict[str, OrderState] = {}
        self.promotions: dict[str, PromotionState] = {}
        self.sales: list[Sale] = []
        self.refused: int = 0  # orders refused for lack of stock
        self.new_item_id = new_item_id or numeric_ids(100_000_000_001)
        self.new_sku_id = new_sku_id or numeric_ids(500_000_000_001)
        self.new_order_id = new_order_id or numeric_ids(3_000_000_000_000_001)
        self.new_line_id = new_line_id or numeric_ids(7_000_000_000_000_001)
        self._promotion_ids = numeric_ids(900_001)
        # Bumped by every change to an order (placed, status, lines, payment); order
        # searches are memoised against it (see :meth:`selection`).
        self.orders_version = 0
        self._selections: dict[Hashable, list[object]] = {}
        self._selections_version = 0

    # --- catalogue -------------------------------------------------------------------------

    def add_item(self, title: str, code: str | None = None, *, on_sale: bool = True) -> ItemState:
        with self.lock:
            now = self.clock.now()
            item = ItemState(self.new_item_id(), title, code, on_sale, now, now)
            self.items[item.item_id] = item
            return item

    def add_sku(
        self,
        item: ItemState,
        *,
        code: str | None,
        spec: str,
        price: int,
        quantity: int,
        properties: str = "",
    ) -> SkuState:
        with self.lock:
            sku = SkuState(
                self.new_sku_id(), item.item_id, code, spec, price, quantity, self.clock.now(), properties
            )
            item.skus[sku.sku_id] = sku
            self.skus[sku.sku_id] = sku
            return sku

    def item(self, item_id: str) -> ItemState:
        try:
            return self.items[item_id]
        except KeyError:
            raise SandboxError("item_not_found", f"item {item_id} does not exist") from None

    def sku(self, sku_id: str) -> SkuState:
        try:
            return self.skus[sku_id]
        except KeyError:
            raise SandboxError("sku_not_found", f"SKU {sku_id} does not exist") from None

    def skus_by_code(self, code: str) -> list[SkuState]:
        return [s for s in self.skus.values() if s.code == code]

    def set_quantity(self, sku_id: str, quantity: int) -> SkuState:
        if quantity < 0:
            raise SandboxError("invalid_quantity", f"quantity {quantity} is negative", "quantity")
        with self.lock:
            sku = self.sku(sku_id)
            sku.quantity = quantity
            self._touch(sku)
            return sku

    def give_back(self, line: OrderLineState, units: int) -> None:
        """Put ``units`` of an unshipped order ``line`` back on sale (a cancel or a refund
        before shipment), as the platforms do; each unit once."""
        if units <= 0:
            return
        if line.sku_id in self.skus:
            self.add_quantity(line.sku_id, units)
        line.given_back += units

    def add_quantity(self, sku_id: str, delta: int) -> SkuState:
        """Relative change; like the platforms' delta writes, the result never goes below 0."""
        with self.lock:
            sku = self.sku(sku_id)
            sku.quantity = max(0, sku.quantity + delta)
            self._touch(sku)
            return sku

    def set_price(self, sku_id: str, price: int) -> SkuState:
        if price <= 0:
            raise SandboxError("invalid_price", f"price {price} must be positive", "price")
        with self.lock:
            sku = self.sku(sku_id)
            sku.price = price
            self._touch(sku)
            return sku

    def effective_price(self, sku_id: str) -> int:
        """What a buyer pays now: the active promotion price if any, else the SKU price."""
        with self.lock:
            now = self.clock.now()
            for promo in self.promotions.values():
                if promo.active and promo.starts <= now < promo.ends and sku_id in promo.sku_prices:
                    return promo.sku_prices[sku_id]
            return self.sku(sku_id).price

    def _touch(self, sku: SkuState) -> None:
        sku.modified = self.clock.now()
        self.items[sku.item_id].modified = sku.modified

    # --- orders ----------------------------------------------------------------------------

    def place_order(
        self,
        lines: Iterable[tuple[str, int]],
        *,
        paid: bool = True,
        buyer: str = "buyer",
        at: datetime | None = None,
    ) -> OrderState:
        """A buyer orders ``(sku_id, quantity)`` pairs; refused (:class:`SoldOut`) unless
        every SKU has the units, in which case nothing is taken."""
        with self.lock:
            wanted = list(lines)
            if not wanted:
                raise SandboxError("empty_order", "an order needs at least one line")
            for sku_id, qty in wanted:
                sku = self.sku(sku_id)
                if qty <= 0 or sku.quantity < qty:
                    self.refused += 1
                    raise SoldOut(sku_id, qty, sku.quantity)
            now = at or self.clock.now()
            order_lines = []
            for sku_id, qty in wanted:
                sku = self.skus[sku_id]
                sku.quantity -= qty
                self._touch(sku)
                item = self.items[sku.item_id]
                order_lines.append(
                    OrderLineState(
                        self.new_line_id(),
                        sku.item_id,
                        sku_id,
                        sku.code,
                        f"{item.title} {sku.spec}".strip(),
                        qty,
                        self.effective_price(sku_id),
                    )
                )
            status = OrderStatus.AWAITING_SHIPMENT if paid else OrderStatus.PENDING_PAYMENT
            order = OrderState(
                self.new_order_id(), status, now, now, order_lines, paid_at=now if paid else None, buyer=buyer
            )
            order.history.append((now, status))
            self.orders[order.order_id] = order
            self.orders_version += 1
            for line in order_lines:
                self.sales.append(Sale(now, order.order_id, line.sku_id, line.code, line.quantity))
            return order

    def order_code(self, code: str, quantity: int = 1, *, paid: bool = True) -> OrderState:
        """A buyer orders ``quantity`` of the first SKU with master code ``code``
        (:meth:`place_order` of one line)."""
        found = self.skus_by_code(code)
        if not found:
            raise SandboxError("sku_not_found", f"no SKU has master code {code!r}")
        return self.place_order([(found[0].sku_id, quantity)], paid=paid)

    def order(self, order_id: str) -> OrderState:
        try:
            return self.orders[order_id]
        except KeyError:
            raise SandboxError("order_not_found", f"order {order_id} does not exist") from None

    def set_status(self, order_id: str, status: OrderStatus, *, at: datetime | None = None) -> OrderState:
        """Move an order to ``status`` (buyer pays, merchant ships, buyer confirms…)."""
        with self.lock:
            order = self.order(order_id)
            now = at or self.clock.now()
            restores = status.is_closed_unshipped and not any(ln.shipped for ln in order.lines)
            if restores and not order.status.is_closed_unshipped:
                for line in order.lines:
                    self.give_back(line, line.quantity - line.given_back)
            if status is OrderStatus.REFUNDED:
                for line in order.lines:
                    line.refunded = True
            if status is OrderStatus.AWAITING_SHIPMENT and order.paid_at is None:
                order.paid_at = now
            order.status = status
            order.modified = max(now, order.modified)
            order.history.append((now, status))
            self.orders_version += 1
            return order

    def ship(
        self,
        order_id: str,
        carrier: str,
        tracking_number: str,
        line_ids: Iterable[str] = (),
        *,
        at: datetime | None = None,
    ) -> OrderState:
        """The merchant ships some lines (all when ``line_ids`` is empty)."""
        with self.lock:
            order = self.order(order_id)
            if order.status not in (OrderStatus.AWAITING_SHIPMENT, OrderStatus.PARTLY_SHIPPED):
                raise SandboxError(
                    "bad_order_status", f"order {order_id} is {order.status.value}, not shippable"
                )
            wanted = set(line_ids) or {line.line_id for line in order.lines}
            unknown = wanted - {line.line_id for line in order.lines}
            if unknown:
                raise SandboxError("line_not_found", f"order {order_id} has no line {sorted(unknown)[0]}")
            for line in order.lines:
                if line.line_id in wanted:
                    line.shipped = True
            order.carrier, order.tracking_number = carrier, tracking_number
            done = all(line.shipped for line in order.lines)
            return self.set_status(
                order_id, OrderStatus.SHIPPED if done else OrderStatus.PARTLY_SHIPPED, at=at
            )

    def selection(self, key: Hashable, compute: Callable[[], list[T]]) -> list[T]:
        """``compute()`` (a search over the orders), memoised while no order changes.

        ``key`` must hold everything else the search depends on (its parameters, not the
        page). A platform paging through thousands of orders would otherwise rescan them
        all for every page. Callers must not modify the list; code that changes an order
        other than through this class bumps ``orders_version``."""
        with self.lock:
            if self._selections_version != self.orders_version:
                self._selections.clear()
                self._selections_version = self.orders_version
            found = self._selections.get(key)
            if found is None:
                found = compute()
                if len(self._selections) >= SELECTIONS_KEPT:
                    self._selections.clear()
                self._selections[key] = found
            return found  # type: ignore[return-value]

    def orders_modified(self, start: datetime, end: datetime) -> list[OrderState]:
        """Orders with ``start <= modified < end``, oldest first."""
        with self.lock:
            found = [o for o in self.orders.values() if start <= o.modified < end]
        return sorted(found, key=lambda o: (o.modified, o.order_id))

    def add_promotion(
        self, name: str, kind: str, sku_prices: dict[str, int], starts: datetime, ends: datetime
    ) -> PromotionState:
        with self.lock:
            for sku_id in sku_prices:
                self.sku(sku_id)
                for other in self.promotions.values():
                    overlaps = other.active and other.starts < ends and starts < other.ends
                    if overlaps and sku_id in other.sku_prices:
                        raise SandboxError(
                            "promotion_conflict", f"SKU {sku_id} is already in promotion {other.promotion_id}"
                        )
            promo = PromotionState(self._promotion_ids(), name, kind, dict(sku_prices), starts, ends)
            self.promotions[promo.promotion_id] = promo
            return promo

    def end_promotion(self, promotion_id: str) -> PromotionState:
        with self.lock:
            promo = self.promotions.get(promotion_id)
            if promo is None:
                raise SandboxError("promotion_not_found", f"promotion {promotion_id} does not exist")
            promo.active = False
            return promo

    # --- figures ---------------------------------------------------------------------------

    def units_sold(self, code: str | None = None) -> int:
        """Units in accepted orders less those given back: cancelled or refunded before
        shipment."""
        with self.lock:
            return sum(
                line.quantity - line.given_back
                for order in self.orders.values()
                for line in order.lines
                if code is None or line.code == code
            )

    def quantity_of(self, code: str) -> int:
        with self.lock:
            return sum(s.quantity for s in self.skus_by_code(code))

    def iter_skus(self) -> Iterator[SkuState]:
        with self.lock:
            return iter(list(self.skus.values()))
