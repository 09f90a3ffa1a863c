"""The data contract between the core and a platform: :class:`ShopClient`.

A platform plugin subclasses :class:`ShopClient` and overrides the operations its
platform supports; the core calls them on ``shop.client`` directly. An operation a
plugin does not override raises :class:`~hub.errors.CapabilityNotSupported`.

The class also holds the write, concurrency and failure policy every plugin shares, so
each decides it the same way:

* :meth:`ShopClient.write_each` / :meth:`ShopClient.write_batches` — one result per
  update; a platform error becomes that update's failed result, except the shop-wide
  ones (:data:`SHOP_WIDE`), which are raised;
* :meth:`ShopClient.failed` — the one way to build a failed :class:`~hub.models.PushResult`,
  including when a write is "in doubt";
* :func:`gather` — run jobs concurrently and re-raise the first error as itself.

Paging loops live in :mod:`hub.paging`; pacing, retries and token refresh in
:class:`hub.core.http.PlatformClient`, which this class extends.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Container, Iterable, Sequence
from datetime import timedelta
from typing import Any, Protocol, TypeVar

import anyio

from hub.core.http import PlatformClient
from hub.errors import (
    AuthError,
    BadPush,
    CapabilityNotSupported,
    ConnectFailed,
    PermissionDenied,
    PlatformError,
    PluginError,
    QuotaExhausted,
    RateLimited,
)
from hub.models import (
    AfterSale,
    Listing,
    ListingRef,
    Order,
    PriceUpdate,
    PromotionPush,
    PushResult,
    Shipment,
    StockLevel,
    StockUpdate,
    TimeWindow,
)
from hub.push.events import ParsedPush, PushAnswer, PushEvent, PushRequest
from hub.secrets import redact

log = logging.getLogger("hub.client")
T = TypeVar("T")
#: how far back :meth:`ShopClient.recent_orders` lists: pushes announce a change within
#: seconds; an order announced later than this (a redelivery) is read by its detail
RECENT_ORDERS = timedelta(seconds=60)


def recent_page_size(order_ids: Collection[str], most: int) -> int:
    """Rows to ask of a list for :meth:`ShopClient.recent_orders`: room for the orders
    wanted and as many others changed meanwhile, up to the list's ``most``."""
    return min(most, 2 * len(order_ids) + 10)


#: Errors that concern the whole shop rather than one write, so they are raised instead of
#: being reported on one update. An AuthError (a wrong or expired session) and a
#: PermissionDenied (the app may not call this API) are both answers about the app and the
#: shop, not about the SKU: every other write of the shop, now and in later batches, would
#: get the same answer, and only a person can cure them (exit code 2). Reported per update,
#: they would be retried write by write and hidden among ordinary refusals. A used-up daily
#: quota (QuotaExhausted) is the same: no write of the shop succeeds until the reset.
SHOP_WIDE: tuple[type[PlatformError], ...] = (AuthError, PermissionDenied, QuotaExhausted)


class Keyed(Protocol):
    """An outward write: anything with an idempotency key (updates, shipments, pushes)."""

    @property
    def idempotency_key(self) -> str: ...


W = TypeVar("W", bound=Keyed)


async def gather(jobs: Iterable[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run ``jobs`` concurrently (a client's rate limiter still paces their calls) and
    return their results in order. If any job raised, the first exception is re-raised as
    itself, not wrapped in an exception group, once every job has ended."""
    jobs = list(jobs)
    results: list[Any] = [None] * len(jobs)
    errors: list[Exception] = []

    async def run(index: int, job: Callable[[], Awaitable[T]]) -> None:
        try:
            results[index] = await job()
        except Exception as exc:  # collected, so the task group does not wrap it
            errors.append(exc)

    async with anyio.create_task_group() as group:
        for index, job in enumerate(jobs):
            group.start_soon(run, index, job)
    if errors:
        raise errors[0]
    return results


def check_results(
    operation: str, updates: Sequence[Keyed], results: Sequence[PushResult]
) -> list[PushResult]:
    """``results`` if they answer every update exactly once (matched by idempotency key);
    otherwise a :class:`~hub.errors.PluginError` naming the operation."""
    wanted = {u.idempotency_key for u in updates}
    got = [r.idempotency_key for r in results]
    if set(got) != wanted or len(got) != len(wanted):
        raise PluginError(
            f"{operation} returned results for {sorted(set(got))[:5]}… "
            f"but was asked for {len(wanted)} updates"
        )
    return list(results)


def keep_newest(found: dict[str, AfterSale], case: AfterSale) -> None:
    """Record ``case`` in ``found`` (by case id) unless a newer version is there already:
    a list read from its last page back repeats a case that changed meanwhile."""
    old = found.get(case.platform_case_id)
    if old is None or old.modified_at <= case.modified_at:
        found[case.platform_case_id] = case


class ShopClient(PlatformClient):
    """One shop's client: the operations the core calls, and the shared write policy.

    Built once per shop from the plugin's ``PlatformInfo.client_class(settings, http)``.
    Override the operations the platform supports; each default raises
    :class:`~hub.errors.CapabilityNotSupported`. Iterators are async generators
    (``async def`` with ``yield``); the other operations are coroutines.
    """

    # --- the operations ---------------------------------------------------------------------

    async def check(self) -> str:
        """Make one cheap authenticated call (e.g. the first listing page, one row long)
        that proves the app key, the app secret and the shop's token work, and return a
        short line in the platform's own terms about the shop (``"12 items on sale"``).

        A refused credential raises :class:`~hub.errors.AuthError`, with ``credential``
        set when the platform's answer says which one. ``hub shops check`` calls this
        and reads the clock from the answer's ``Date``."""
        raise CapabilityNotSupported(self.platform, "a credentials check")

    def iter_listings(self) -> AsyncIterator[Listing]:
        """Every listed SKU of the shop, on and off sale."""
        raise CapabilityNotSupported(self.platform, "listings")

    async def fetch_stock(self, refs: Sequence[ListingRef]) -> list[StockLevel]:
        """The platform's current quantity of each ref it knows (unknown ones are left out)."""
        raise CapabilityNotSupported(self.platform, "stock reads")

    async def push_stock(self, updates: Sequence[StockUpdate]) -> list[PushResult]:
        """Apply ``updates`` (relative when an update has a ``delta`` and the platform
        declares ``delta_stock``); one result per update."""
        raise CapabilityNotSupported(self.platform, "stock writes")

    async def push_prices(self, updates: Sequence[PriceUpdate]) -> list[PushResult]:
        """Set the prices of ``updates``; one result per update."""
        raise CapabilityNotSupported(self.platform, "price writes")

    def iter_orders(self, window: TimeWindow) -> AsyncIterator[Order]:
        """Orders modified within ``window`` (half-open; round the end up to whole seconds)."""
        raise CapabilityNotSupported(self.platform, "orders")

    async def iter_new_orders(self, window: TimeWindow, known: Container[str]) -> AsyncIterator[Order]:
        """Orders modified within ``window`` other than the ``known`` platform order ids:
        the short read of new orders just before a stock plan. This default filters
        :meth:`iter_orders`; a platform whose list gives ids and needs a call per order
        for the rest overrides it to skip the calls for known ones."""
        async for order in self.iter_orders(window):
            if order.platform_order_id not in known:
                yield order

    def iter_after_sales(self, window: TimeWindow) -> AsyncIterator[AfterSale]:
        """After-sale cases (refunds, returns, exchanges) modified within ``window``
        (half-open, like :meth:`iter_orders`), mapped to the hub's :class:`AfterSale`."""
        raise CapabilityNotSupported(self.platform, "after-sale reads")

    async def ship(self, shipment: Shipment) -> PushResult:
        """Write ``shipment`` back to the platform."""
        raise CapabilityNotSupported(self.platform, "shipment write-back")

    async def start_promotion(self, push: PromotionPush) -> PushResult:
        """Start ``push`` with the platform's promotion API; ``platform_ref`` names it."""
        raise CapabilityNotSupported(self.platform, f"native {push.promotion.kind.value}")

    async def end_promotion(self, push: PromotionPush, platform_ref: str) -> PushResult:
        """End the native promotion ``platform_ref`` that :meth:`start_promotion` began."""
        raise CapabilityNotSupported(self.platform, f"native {push.promotion.kind.value}")

    async def fetch_order(self, order_id: str) -> Order | None:
        """One order by its platform id, from the platform's order detail API (None when
        the platform does not know it). A push announces a change; this reads it."""
        raise CapabilityNotSupported(self.platform, "order detail reads")

    async def fetch_orders(self, order_ids: Sequence[str]) -> list[Order]:
        """The orders ``order_ids`` announced by pushes, leaving out those the platform does
        not know. When there are several, one call of :meth:`recent_orders` finds those
        changed lately (a burst of sales is announced within seconds); the rest, and all of
        them if that list fails, are read with :meth:`fetch_order`, side by side."""
        wanted = list(dict.fromkeys(order_ids))
        recent: list[Order] = []
        if len(wanted) > 1:
            try:
                recent = await self.recent_orders(set(wanted))
            except PlatformError as exc:  # only the saving is lost: the details read them all
                log.info("%s: recent orders not listed, reading each: %s", self.shop, redact(str(exc)))
        found = {o.platform_order_id: o for o in recent}
        rest = [i for i in wanted if i not in found]
        fetched = await gather(lambda i=i: self.fetch_order(i) for i in rest)
        return [*found.values(), *(o for o in fetched if o is not None)]

    async def recent_orders(self, order_ids: Collection[str]) -> list[Order]:
        """Those of ``order_ids`` found among the orders changed last, as whole orders from
        one call of the platform's order list (the newest first, a page of about twice
        their number, changed within :data:`RECENT_ORDERS`), for :meth:`fetch_orders`.
        This default finds none: override it where the list gives whole orders in their
        current version (if it lags the detail API, an order is stored a version behind
        until the next orders phase reads it)."""
        return []

    # --- push messages (see docs/plugin_hooks.md, "Push messages") ----------------------------

    def parse_push(self, request: PushRequest) -> ParsedPush:
        """Verify a push the platform sent to ``POST /push/<shop>`` with this shop's
        credentials and parse it into hub events plus the answer the platform expects.
        Raises :class:`~hub.errors.BadPush` (a signature, app id or body problem): then
        nothing is stored and :meth:`push_error_answer` is sent. Pure: no network call."""
        raise CapabilityNotSupported(self.platform, "push messages")

    def push_error_answer(self, error: BadPush) -> PushAnswer:
        """The answer the platform expects when a push is refused (it redelivers)."""
        return PushAnswer(400, b'{"error":"bad push"}')

    def verify_push_url(self, request: PushRequest) -> PushAnswer:
        """Answer the platform's URL check (``GET /push/<shop>``), or raise
        :class:`~hub.errors.BadPush`."""
        raise CapabilityNotSupported(self.platform, "push URL verification")

    async def consume_pushes(self, quantity: int) -> list[tuple[str, list[PushEvent]]]:
        """Pull messages waiting on the platform's message channel (platforms that serve
        pushes by polling, with no public URL): ``(channel message id, events)`` pairs.
        Nothing is removed until :meth:`confirm_pushes` is called with those ids."""
        raise CapabilityNotSupported(self.platform, "pulled push messages")

    async def confirm_pushes(self, message_ids: Sequence[str]) -> None:
        """Tell the channel these consumed messages are stored (they are not redelivered)."""
        raise CapabilityNotSupported(self.platform, "pulled push messages")

    async def enable_pushes(self) -> None:
        """Ask the platform to deliver this shop's messages to the app (e.g. a permit)."""
        raise CapabilityNotSupported(self.platform, "pulled push messages")

    # --- the write policy -------------------------------------------------------------------

    @staticmethod
    def failed(key: str, error: PlatformError | str, *, maybe_applied: bool = False) -> PushResult:
        """The failed result of the write ``key``.

        ``error`` is the platform error (its ``retryable`` carries over) or a reason of
        the plugin's own (not retryable). ``maybe_applied``: the write is not safe to send
        twice (a relative stock change). If its answer was lost (a retryable error other
        than one that proves the request was not applied: a failed connection, a
        throttle), the result is *in doubt*: not retried blindly, the engine re-reads."""
        if isinstance(error, str):
            return PushResult(idempotency_key=key, ok=False, error=error)
        surely_not_applied = isinstance(error, ConnectFailed | RateLimited) or not error.retryable
        if maybe_applied and not surely_not_applied:
            return PushResult(
                idempotency_key=key,
                ok=False,
                retryable=False,
                in_doubt=True,
                error=f"{error} — outcome unknown: the change may have been applied; re-read before retrying",
            )
        return PushResult(idempotency_key=key, ok=False, error=str(error), retryable=error.retryable)

    async def write_batches(
        self,
        batches: Sequence[Sequence[W]],
        write: Callable[[Sequence[W]], Awaitable[Sequence[PushResult]]],
        *,
        concurrently: bool = True,
        maybe_applied: Callable[[Sequence[W]], bool] | None = None,
    ) -> list[PushResult]:
        """``write(batch)`` for every batch (one platform call, or a few, for its updates)
        and the results of all updates, batch by batch.

        A :class:`~hub.errors.PlatformError` from ``write`` becomes a failed result
        (:meth:`failed`) for each update of that batch, so one batch's failure does not
        fail the others; a shop-wide error (:data:`SHOP_WIDE`) is raised instead.
        ``concurrently=False`` writes the batches one after another (needed when they
        depend on each other) and stops at a shop-wide error; otherwise they run
        concurrently and the first shop-wide error is raised once all have ended.
        ``maybe_applied(batch)``: see :meth:`failed`."""

        async def guarded(batch: Sequence[W]) -> Sequence[PushResult]:
            try:
                return await write(batch)
            except SHOP_WIDE:
                raise
            except PlatformError as exc:
                doubt = maybe_applied is not None and maybe_applied(batch)
                return [self.failed(u.idempotency_key, exc, maybe_applied=doubt) for u in batch]

        if concurrently:
            done = await gather(lambda b=b: guarded(b) for b in batches)
        else:
            done = [await guarded(batch) for batch in batches]
        return [result for batch_results in done for result in batch_results]

    async def write_each(
        self,
        updates: Sequence[W],
        write: Callable[[W], Awaitable[PushResult]],
        *,
        concurrently: bool = True,
        maybe_applied: Callable[[W], bool] | None = None,
    ) -> list[PushResult]:
        """:meth:`write_batches` with one update per call: ``write(update)`` for each,
        one result per update in the order of ``updates``."""

        async def one(batch: Sequence[W]) -> list[PushResult]:
            return [await write(batch[0])]

        doubt = None if maybe_applied is None else (lambda batch: maybe_applied(batch[0]))
        return await self.write_batches(
            [[u] for u in updates], one, concurrently=concurrently, maybe_applied=doubt
        )


__all__ = ["SHOP_WIDE", "ShopClient", "check_results", "gather", "keep_newest"]
