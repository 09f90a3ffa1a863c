"""Canonical models: the shapes plugins hand to the core and the core hands to plugins.

Two rules are enforced by validation, so no plugin can break them by accident:

* money is integer fen (:data:`Fen`); a float or a yuan string is refused;
* datetimes are timezone-aware and stored as UTC (:data:`UTCDateTime`); naive ones are refused.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    model_validator,
)

from hub.units import utc


def _aware_utc(value: datetime) -> datetime:
    return utc(value)


Fen = Annotated[StrictInt, Field(ge=0, description="money in integer fen (1 yuan = 100 fen)")]
"""A non-negative amount of money in fen. Floats and strings are refused."""

UTCDateTime = Annotated[datetime, AfterValidator(_aware_utc)]
"""A timezone-aware datetime, normalised to UTC. Naive datetimes are refused."""

Quantity = Annotated[StrictInt, Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- catalogue ---------------------------------------------------------------------------


class Sku(_Model):
    """A master SKU, identified by the merchant's code (商家编码)."""

    code: str = Field(min_length=1, max_length=64)
    title: str = ""
    price: Fen


class ListingStatus(StrEnum):
    ON_SALE = "on_sale"
    OFF_SALE = "off_sale"


class Listing(_Model):
    """One platform SKU as a shop shows it. ``master_code`` is the 商家编码 the merchant
    typed on the platform (outer_id / outerId / code / sku_code), or None when empty."""

    platform_item_id: str
    platform_sku_id: str
    master_code: str | None = None
    title: str = ""
    price: Fen
    quantity: Quantity
    status: ListingStatus = ListingStatus.ON_SALE


class ListingRef(_Model):
    """Enough to address one platform SKU in a write."""

    platform_item_id: str
    platform_sku_id: str
    master_code: str | None = None


class StockLevel(_Model):
    """The quantity a platform showed for one SKU when we read it."""

    platform_item_id: str
    platform_sku_id: str
    quantity: Quantity
    observed_at: UTCDateTime


class StockUpdate(_Model):
    """Change one platform SKU's sellable quantity.

    ``quantity`` is the absolute target. ``delta`` (target minus the quantity the hub
    observed) is set when the engine wants a relative change; a plugin whose platform
    supports delta writes must use it, so a sale the platform recorded after our read is
    not overwritten. ``idempotency_key`` is stable across retries of the same change.
    """

    ref: ListingRef
    quantity: Quantity
    delta: int | None = None
    idempotency_key: str = Field(min_length=1, max_length=64)


class PriceUpdate(_Model):
    """Set one platform SKU's price (fen)."""

    ref: ListingRef
    price: Fen = Field(gt=0)
    idempotency_key: str = Field(min_length=1, max_length=64)


class PushResult(_Model):
    """Outcome of one outward write, keyed by the write's idempotency key.

    Per-item failures are reported here rather than raised, so one bad SKU does not fail
    a batch. ``retryable`` says whether the engine should try again later. ``in_doubt``
    says the platform may or may not have applied the write (its answer was lost): the
    engine then re-reads instead of sending a relative change again.
    """

    idempotency_key: str
    ok: bool
    error: str | None = None
    retryable: bool = False
    in_doubt: bool = False
    quantity_after: int | None = None
    platform_ref: str | None = None


# --- orders ------------------------------------------------------------------------------


class OrderStatus(StrEnum):
    """Canonical order statuses; platform statuses are mapped onto these in the plugin."""

    PENDING_PAYMENT = "pending_payment"
    AWAITING_SHIPMENT = "awaiting_shipment"
    PARTLY_SHIPPED = "partly_shipped"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"

    @property
    def rank(self) -> int:
        """Position in the order life cycle; a status never moves to a lower rank."""
        return _STATUS_RANK[self]

    @property
    def holds_stock(self) -> bool:
        """The order's unshipped units are reserved. Unpaid orders hold them too: the
        platforms take units off sale when an order is placed, not when it is paid."""
        return self in (
            OrderStatus.PENDING_PAYMENT,
            OrderStatus.AWAITING_SHIPMENT,
            OrderStatus.PARTLY_SHIPPED,
        )

    @property
    def is_closed_unshipped(self) -> bool:
        return self in (OrderStatus.CANCELLED, OrderStatus.REFUNDED)


_STATUS_RANK = {
    OrderStatus.PENDING_PAYMENT: 0,
    OrderStatus.AWAITING_SHIPMENT: 1,
    OrderStatus.PARTLY_SHIPPED: 2,
    OrderStatus.SHIPPED: 3,
    OrderStatus.COMPLETED: 4,
    OrderStatus.CANCELLED: 5,
    OrderStatus.REFUNDED: 5,
}


class OrderLine(_Model):
    """One line of an order. ``line_id`` is unique within the order (Taobao oid, etc.)."""

    line_id: str
    platform_item_id: str
    platform_sku_id: str
    master_code: str | None = None
    title: str = ""
    quantity: StrictInt = Field(gt=0)
    unit_price: Fen
    shipped: bool = False
    refunded: bool = False


class Order(_Model):
    """An order as the platform reports it, in canonical terms."""

    platform_order_id: str
    status: OrderStatus
    platform_status: str
    created_at: UTCDateTime
    modified_at: UTCDateTime
    paid_at: UTCDateTime | None = None
    total: Fen
    lines: tuple[OrderLine, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_lines(self) -> Order:
        ids = [line.line_id for line in self.lines]
        if len(ids) != len(set(ids)):
            raise ValueError(f"order {self.platform_order_id}: duplicate line ids")
        return self


class Shipment(_Model):
    """A shipment to write back to the platform (发货回传)."""

    platform_order_id: str
    carrier: str = Field(min_length=1)
    tracking_number: str = Field(min_length=1)
    line_ids: tuple[str, ...] = ()
    idempotency_key: str = Field(min_length=1, max_length=64)


class TimeWindow(_Model):
    """A half-open interval ``[start, end)`` of platform modification times."""

    start: UTCDateTime
    end: UTCDateTime

    @model_validator(mode="after")
    def _ordered(self) -> TimeWindow:
        if self.end <= self.start:
            raise ValueError("window end must be after its start")
        return self


# --- promotions -----------------------------------------------------------------------------


class PromotionKind(StrEnum):
    PERCENT_DISCOUNT = "percent_discount"  # 限时折扣
    FLASH_PRICE = "flash_price"  # 秒杀: a fixed price
    SPEND_SAVE = "spend_save"  # 满减: spend X, save Y


class Promotion(_Model):
    """A promotion across shops. Exactly the fields of its kind are set."""

    name: str = Field(min_length=1)
    kind: PromotionKind
    percent_off: int | None = Field(default=None, ge=1, le=99)
    flash_price: Fen | None = None
    spend_threshold: Fen | None = None
    spend_discount: Fen | None = None
    starts_at: UTCDateTime
    ends_at: UTCDateTime
    skus: tuple[str, ...] = Field(min_length=1)
    shops: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Promotion:
        if self.ends_at <= self.starts_at:
            raise ValueError("a promotion must end after it starts")
        needed = {
            PromotionKind.PERCENT_DISCOUNT: ("percent_off",),
            PromotionKind.FLASH_PRICE: ("flash_price",),
            PromotionKind.SPEND_SAVE: ("spend_threshold", "spend_discount"),
        }[self.kind]
        every = ("percent_off", "flash_price", "spend_threshold", "spend_discount")
        for name in every:
            present = getattr(self, name) is not None
            if present != (name in needed):
                verb = "needs" if name in needed else "does not take"
                raise ValueError(f"a {self.kind.value} promotion {verb} {name}")
        if self.kind is PromotionKind.SPEND_SAVE:
            assert self.spend_threshold is not None and self.spend_discount is not None
            if not 0 < self.spend_discount < self.spend_threshold:
                raise ValueError("spend_discount must be positive and below spend_threshold")
        return self

    def price_for(self, regular: int) -> int | None:
        """The per-unit promotion price for a SKU whose regular price is ``regular`` fen,
        or None for kinds that do not change unit prices (spend-X-save-Y)."""
        if self.kind is PromotionKind.PERCENT_DISCOUNT:
            assert self.percent_off is not None
            return regular * (100 - self.percent_off) // 100
        if self.kind is PromotionKind.FLASH_PRICE:
            assert self.flash_price is not None
            return self.flash_price
        return None


class PromotionItem(_Model):
    """One SKU of a promotion on one platform listing, as handed to a native promotion hook."""

    ref: ListingRef
    regular_price: Fen
    promotion_price: Fen | None


class PromotionPush(_Model):
    """A promotion addressed to one shop: what a plugin needs to start or end it natively."""

    promotion_id: int
    promotion: Promotion
    items: tuple[PromotionItem, ...]
    idempotency_key: str = Field(min_length=1, max_length=64)


# --- after-sales (售后) ------------------------------------------------------------------------


class AfterSaleType(StrEnum):
    """What the buyer asked for: money back only, money back for goods sent back, or
    goods sent back for other goods."""

    REFUND_ONLY = "refund_only"  # 仅退款
    RETURN_REFUND = "return_refund"  # 退货退款
    EXCHANGE = "exchange"  # 换货


class AfterSaleStatus(StrEnum):
    """Canonical after-sale statuses; each plugin maps its platform's codes onto these."""

    REQUESTED = "requested"  # the buyer asked; the merchant has not answered
    APPROVED = "approved"  # the merchant agreed (a refund is on its way)
    REJECTED = "rejected"  # the merchant refused
    RETURNING = "returning"  # the buyer is to send, or is sending, the goods back
    RECEIVED = "received"  # the merchant received the returned goods
    REFUNDED = "refunded"  # the money went back: the case succeeded
    CLOSED = "closed"  # withdrawn, expired or failed: nothing happens


class AfterSaleLine(_Model):
    """Units of one order line in an after-sale case. ``line_id`` is the order line's id
    (Taobao oid, Douyin sku_order_id…) when the platform says it."""

    platform_item_id: str = ""
    platform_sku_id: str
    master_code: str | None = None
    line_id: str | None = None
    quantity: StrictInt = Field(gt=0)

    @property
    def key(self) -> str:
        """What identifies the line within its case."""
        return self.line_id or self.platform_sku_id


class AfterSale(_Model):
    """An after-sale case (售后单 / 退款单) as the platform reports it, in canonical terms.

    ``goods_returned`` is the platform's word that the merchant received the goods back
    (True), that it did not (False) or silence (None: the status decides)."""

    platform_case_id: str
    platform_order_id: str
    type: AfterSaleType
    status: AfterSaleStatus
    platform_status: str
    created_at: UTCDateTime
    modified_at: UTCDateTime
    refund_amount: Fen = 0
    reason: str = ""
    goods_returned: bool | None = None
    lines: tuple[AfterSaleLine, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_lines(self) -> AfterSale:
        keys = [line.key for line in self.lines]
        if len(keys) != len(set(keys)):
            raise ValueError(f"after-sale {self.platform_case_id}: duplicate lines")
        return self

    @property
    def received(self) -> bool:
        """The platform says the returned goods reached the merchant: a return marked
        received, or a return refunded (platforms refund a return once the merchant
        confirmed its goods) unless the platform says the goods did not come back. An
        exchange never counts: the replacement leaves as the return arrives, so only a
        person (`hub returns receive`) knows what went back on the shelf."""
        if self.type is not AfterSaleType.RETURN_REFUND or self.goods_returned is False:
            return False
        return self.goods_returned is True or self.status in (
            AfterSaleStatus.RECEIVED,
            AfterSaleStatus.REFUNDED,
        )
