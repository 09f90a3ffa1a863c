"""The hub's tables. Alembic migrations in ``migrations/`` are the only way they change.

Money columns are integer fen, datetime columns are UTC (see :class:`UTCDateTime`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.storage.base import Base

Code = String(64)


def system_time() -> datetime:
    return datetime.now(UTC)


#: What stamps ``listings.changed_at``: the machine's clock, not the hub's injected one,
#: since change marks are compared with the time a picture was loaded (see
#: :mod:`hub.core.stock.picture_cache`). Tests replace it to move time without sleeping.
change_clock: Callable[[], datetime] = system_time


def _wall_clock() -> datetime:
    return change_clock()


class Shop(Base):
    """A shop on one platform, with its credentials. Secrets never leave through output."""

    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Code, unique=True)
    platform: Mapped[str] = mapped_column(String(32))
    app_key: Mapped[str] = mapped_column(String(128))
    app_secret: Mapped[str] = mapped_column(Text)
    access_token: Mapped[str | None] = mapped_column(Text)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    token_expires_at: Mapped[datetime | None]
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The platform's clock minus ours (milliseconds), learnt from its answers; the next run
    # starts with it so its first order window is already on the platform's clock.
    clock_offset_ms: Mapped[int | None]
    created_at: Mapped[datetime]


class Warehouse(Base):
    __tablename__ = "warehouses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(Code, unique=True)
    name: Mapped[str] = mapped_column(String(128), default="")


class Sku(Base):
    """A master SKU (商家编码). ``price`` is the regular price; ``safety_stock`` overrides
    the global setting; ``partition_below`` switches the SKU to partitioned allocation
    when its sellable quantity falls below it; ``partitioned`` forces it."""

    __tablename__ = "skus"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(Code, unique=True)
    title: Mapped[str] = mapped_column(String(256), default="")
    price: Mapped[int] = mapped_column(BigInteger)
    price_floor: Mapped[int | None] = mapped_column(BigInteger)
    safety_stock: Mapped[int | None]
    partition_below: Mapped[int | None]
    partitioned: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (CheckConstraint("price >= 0", name="price_not_negative"),)


class SkuComponent(Base):
    """One line of a bundle's recipe (组合商品): ``quantity`` units of ``component_id`` go
    into each unit of ``bundle_id``. A bundle has no stock of its own (see
    :mod:`hub.core.bundles`)."""

    __tablename__ = "sku_components"

    id: Mapped[int] = mapped_column(primary_key=True)
    bundle_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"))
    component_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"))
    quantity: Mapped[int]

    __table_args__ = (
        UniqueConstraint("bundle_id", "component_id"),
        Index("ix_sku_components_component", "component_id"),
        CheckConstraint("quantity >= 1", name="component_quantity_positive"),
        CheckConstraint("bundle_id <> component_id", name="component_not_bundle"),
    )


class StockOnHand(Base):
    """Units physically in a warehouse. ``counted_at`` is when a person last set the
    count: orders created before it are already reflected in it."""

    __tablename__ = "stock_on_hand"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    quantity: Mapped[int]
    counted_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("sku_id", "warehouse_id"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
    )


class AllocationRule(Base):
    """How much of a SKU's sellable stock a shop may show. ``sku_id`` NULL is the shop's
    default rule. ``share`` is a percentage, ``cap`` a maximum, ``floor`` the level under
    which the shop shows 0, ``warehouses`` the warehouse codes that feed it (NULL: all)."""

    __tablename__ = "allocation_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"))
    share: Mapped[int] = mapped_column(default=100)
    cap: Mapped[int | None]
    floor: Mapped[int] = mapped_column(default=0)
    warehouses: Mapped[list[Any] | None]

    __table_args__ = (
        UniqueConstraint("shop_id", "sku_id"),
        CheckConstraint("share >= 0 AND share <= 100", name="share_percent"),
    )


class ShopPrice(Base):
    """A shop-specific regular price for a SKU (otherwise the SKU's price applies)."""

    __tablename__ = "shop_prices"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"))
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    price: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (UniqueConstraint("sku_id", "shop_id"),)


class Listing(Base):
    """A platform SKU of a shop, linked to a master SKU by its 商家编码 (or by hand).

    ``platform_quantity`` is the hub's model of what the platform shows: set when read
    (``quantity_as_of``) or pushed, lowered as orders arrive. ``pushed_quantity`` is the
    last target the platform acknowledged."""

    __tablename__ = "listings"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    platform_item_id: Mapped[str] = mapped_column(String(64))
    platform_sku_id: Mapped[str] = mapped_column(String(64))
    master_code: Mapped[str | None] = mapped_column(Code)
    sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id", ondelete="SET NULL"))
    mapped_manually: Mapped[bool] = mapped_column(Boolean, default=False)
    title: Mapped[str] = mapped_column(String(256), default="")
    price: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    platform_quantity: Mapped[int]
    quantity_as_of: Mapped[datetime]
    pushed_quantity: Mapped[int | None]
    pushed_at: Mapped[datetime | None]
    needs_read: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_at: Mapped[datetime]
    # Wall-clock time of the row's last insert or update (every write, ORM or Core, sets
    # it): the incremental stock picture re-reads only rows changed since its last load.
    changed_at: Mapped[datetime | None] = mapped_column(default=_wall_clock, onupdate=_wall_clock)

    __table_args__ = (
        UniqueConstraint("shop_id", "platform_sku_id"),
        Index("ix_listings_sku_id", "sku_id"),
        Index("ix_listings_changed_at", "changed_at"),
    )


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    platform_order_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24))
    platform_status: Mapped[str] = mapped_column(String(48))
    created_at_platform: Mapped[datetime]
    modified_at_platform: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    # The platform's modification time of the first update that reported the order shipped
    # (handling time in reports runs from paid_at to it).
    shipped_at: Mapped[datetime | None]
    total: Mapped[int] = mapped_column(BigInteger)
    stored_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.id"
    )

    __table_args__ = (
        UniqueConstraint("shop_id", "platform_order_id"),
        Index("ix_orders_shop_status", "shop_id", "status"),
        Index("ix_orders_modified", "modified_at_platform"),
        Index("ix_orders_shop_created", "shop_id", "created_at_platform"),
    )


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    line_id: Mapped[str] = mapped_column(String(64))
    platform_item_id: Mapped[str] = mapped_column(String(64))
    platform_sku_id: Mapped[str] = mapped_column(String(64))
    master_code: Mapped[str | None] = mapped_column(Code)
    sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(256), default="")
    quantity: Mapped[int]
    unit_price: Mapped[int] = mapped_column(BigInteger)
    shipped: Mapped[bool] = mapped_column(Boolean, default=False)
    refunded: Mapped[bool] = mapped_column(Boolean, default=False)

    order: Mapped[Order] = relationship(back_populates="lines")

    __table_args__ = (
        UniqueConstraint("order_id", "line_id"),
        Index("ix_order_lines_sku", "sku_id"),
    )


class Reservation(Base):
    """Units an open order holds. ``state``: held (paid, unshipped), released (cancelled
    or refunded), consumed (shipped: on-hand was reduced)."""

    __tablename__ = "reservations"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="CASCADE"), unique=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"))
    quantity: Mapped[int]
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_reservations_sku_state", "sku_id", "state"),)


class Promotion(Base):
    """A promotion across shops; ``params`` holds the kind's numbers (percent_off…)."""

    __tablename__ = "promotions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(24))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]


class PromotionTarget(Base):
    """One SKU of a promotion on one shop, and how it was applied there."""

    __tablename__ = "promotion_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    promotion_id: Mapped[int] = mapped_column(ForeignKey("promotions.id", ondelete="CASCADE"))
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(16))  # native | price
    state: Mapped[str] = mapped_column(String(16))  # pending | active | ended | failed
    promo_price: Mapped[int | None] = mapped_column(BigInteger)
    platform_ref: Mapped[str | None] = mapped_column(String(128))
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("promotion_id", "shop_id", "sku_id"),)


class SyncCursor(Base):
    """How far a shop's stream has been read; advanced in the same transaction as the
    records of the window it covers."""

    __tablename__ = "sync_cursors"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    stream: Mapped[str] = mapped_column(String(32))
    position: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("shop_id", "stream"),)


class OutboxEntry(Base):
    """An outward write, recorded before it is sent.

    ``state``: pending → sending → done | failed (permanent) | retry (transient; due at
    ``next_attempt_at``) | superseded (a newer write replaced it)."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    target: Mapped[str] = mapped_column(String(128))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    done_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_outbox_state_due", "state", "next_attempt_at"),
        Index("ix_outbox_shop_kind_target", "shop_id", "kind", "target"),
    )


class AuditEntry(Base):
    """Who changed what, from where (a file and row, or a command)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    sku_code: Mapped[str | None] = mapped_column(Code)
    shop: Mapped[str | None] = mapped_column(Code)
    old: Mapped[str | None] = mapped_column(Text)
    new: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(256), default="")

    __table_args__ = (Index("ix_audit_log_sku_at", "sku_code", "at"),)


class SyncRun(Base):
    """One stream of one shop in one ``hub sync`` cycle, with its counts. A cycle also
    records itself (stream ``cycle``) as ``running`` when it starts, so a run that
    crashes leaves a row behind (marked ``crashed`` once its holder is known dead)."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    stream: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    fetched: Mapped[int] = mapped_column(default=0)
    stored: Mapped[int] = mapped_column(default=0)
    pushed: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    holder: Mapped[str | None] = mapped_column(String(128))  # the process that ran it


class ShopHealth(Base):
    """The last known state of a shop's circuit breaker, written by the process whose
    breaker changed (the breaker itself lives in that process's memory). ``state``:
    closed, open or half_open; ``opened_at``: when it last opened (wall clock);
    ``last_failure``: the last connection failure, secrets masked."""

    __tablename__ = "shop_health"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime | None]
    last_failure: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime]


class Lease(Base):
    """A time-limited lock on a unit of work (e.g. ``shop:orders``) held by one process.

    ``host`` and ``pid`` name the holder's process so a holder on this machine can be
    proven dead at once; ``expires_at`` is pushed forward by its heartbeat."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None]
    acquired_at: Mapped[datetime | None]


class StockAlert(Base):
    """A stock alert that stands (see :mod:`hub.core.alerts`). A cleared alert's row is
    deleted, so if it comes back it is reported as new again."""

    __tablename__ = "stock_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(256), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    sku_code: Mapped[str] = mapped_column(Code)
    message: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime]


class User(Base):
    """A person who may sign in to the console. ``role``: viewer, operator or admin.
    ``password_hash`` is an argon2 hash; the password itself is never stored."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Code, unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]
    #: set while an admin has disabled the user: no sign-in, open sessions end
    disabled_at: Mapped[datetime | None]


class PushInboxEntry(Base):
    """A push message, stored before it is acknowledged to the platform.

    Keyed by (shop, platform message id), so a redelivered message is stored once.
    ``processed_at`` is set once the work the event triggers is done; until then a
    processor picks it up (again, after a crash). ``source``: "push" (HTTP) or "pull"
    (a consumed message channel)."""

    __tablename__ = "push_inbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(24))
    topic: Mapped[str] = mapped_column(String(64), default="")
    order_id: Mapped[str | None] = mapped_column(String(64))
    item_id: Mapped[str | None] = mapped_column(String(64))
    sku_id: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(8), default="push")
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("shop_id", "message_id"),
        Index("ix_push_inbox_pending", "processed_at", "shop_id"),
    )


class JobSchedule(Base):
    """When each shop's stream is next due for a worker job (``hub worker``): the
    scheduler enqueues the due ones and moves ``next_at`` on in the same transaction
    (see :mod:`hub.workers.scheduler`)."""

    __tablename__ = "job_schedule"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    stream: Mapped[str] = mapped_column(String(16), primary_key=True)
    next_at: Mapped[datetime]


class JobError(Base):
    """Why a worker job's last attempt failed (the queue keeps only its status), shown by
    ``hub jobs list``. ``job_id`` is the queue's job id."""

    __tablename__ = "job_errors"

    job_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    error: Mapped[str] = mapped_column(Text)
    retryable: Mapped[bool]
    exit_code: Mapped[int]
    at: Mapped[datetime]


class RateBucket(Base):
    """A shop's request pacing shared by every worker process: ``tat`` (seconds since the
    epoch) is when the next call may start; each call moves it on by 1/QPS under the row's
    lock (see :mod:`hub.workers.ratelimit_pg`)."""

    __tablename__ = "rate_buckets"

    shop: Mapped[str] = mapped_column(Code, primary_key=True)
    tat: Mapped[float] = mapped_column(Float)


class AfterSale(Base):
    """An after-sale case (售后) of a shop, keyed by (shop, the platform's case id).

    Re-reading a case updates it; an older version (``modified_at_platform``) never
    overwrites a newer one. ``order_id`` links the hub's order once it is stored."""

    __tablename__ = "after_sales"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    platform_case_id: Mapped[str] = mapped_column(String(64))
    platform_order_id: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    platform_status: Mapped[str] = mapped_column(String(48))
    refund_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    reason: Mapped[str] = mapped_column(String(256), default="")
    created_at_platform: Mapped[datetime]
    modified_at_platform: Mapped[datetime]
    stored_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    lines: Mapped[list[AfterSaleLine]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="AfterSaleLine.id"
    )

    __table_args__ = (
        UniqueConstraint("shop_id", "platform_case_id"),
        Index("ix_after_sales_order", "shop_id", "platform_order_id"),
        Index("ix_after_sales_created", "created_at_platform"),
    )


class AfterSaleLine(Base):
    """Units of one order line in a case, and what the hub did with them: ``released``
    units of a held reservation (a refund before shipment), ``received`` units back in the
    warehouse, ``damaged`` of those not sellable (they never raise on-hand)."""

    __tablename__ = "after_sale_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    after_sale_id: Mapped[int] = mapped_column(ForeignKey("after_sales.id", ondelete="CASCADE"))
    line_key: Mapped[str] = mapped_column(String(64))
    order_line_id: Mapped[str | None] = mapped_column(String(64))
    platform_item_id: Mapped[str] = mapped_column(String(64), default="")
    platform_sku_id: Mapped[str] = mapped_column(String(64))
    master_code: Mapped[str | None] = mapped_column(Code)
    sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id", ondelete="SET NULL"))
    quantity: Mapped[int]
    released: Mapped[int] = mapped_column(default=0)
    received: Mapped[int] = mapped_column(default=0)
    damaged: Mapped[int] = mapped_column(default=0)

    case: Mapped[AfterSale] = relationship(back_populates="lines")

    __table_args__ = (
        UniqueConstraint("after_sale_id", "line_key"),
        Index("ix_after_sale_lines_sku", "sku_id"),
        CheckConstraint("received >= 0 AND received <= quantity", name="received_within_quantity"),
        CheckConstraint("damaged >= 0 AND damaged <= received", name="damaged_within_received"),
    )
