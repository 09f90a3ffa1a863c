"""The ASGI app of ``hub serve``: push endpoints per shop, the durable inbox, and the
in-process processing of what pushes announce.

* ``POST /push/{shop}``: the shop's plugin verifies and parses the push
  (:meth:`hub.client.ShopClient.parse_push`); its events are stored in the inbox and
  committed *before* the platform's success answer is sent. A bad push (unknown shop,
  wrong signature, malformed or truncated body, an old timestamp, an oversized body) gets
  the platform's error answer and one log line without secrets, and stores nothing.
* ``GET /push/{shop}``: the platform's URL check (WeChat).
* Shops whose platform serves messages by pulling (Taobao TMC) are consumed in a loop:
  stored, then confirmed.

:func:`create_app` is a factory so that other ASGI apps (a web console) can be mounted
beside it in the same ``hub serve``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import anyio
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.client import ShopClient
from hub.core.engine import Shop
from hub.errors import BadPush, CapabilityNotSupported, HubError, PushExpired, PushMalformed
from hub.push import inbox
from hub.push.events import PushAnswer, PushEvent, PushRequest
from hub.push.process import ProcessResult, PushProcessor
from hub.secrets import redact

log = logging.getLogger("hub.push")

MAX_BODY = 1024 * 1024  # platforms push small JSON documents; anything bigger is refused
MAX_AGE = timedelta(minutes=10)  # a push whose own timestamp is older is taken as a replay


@dataclass
class PushService:
    """What the app needs: the processor (open shops, database, clock) and its limits."""

    processor: PushProcessor
    max_body: int = MAX_BODY
    max_age: timedelta = MAX_AGE
    process_interval: float = 5.0  # process pending entries at least this often
    pull_interval: float = 2.0  # wait between empty consumes of a pulled channel
    #: while any shop had news in the last ``active_seconds``, empty consumes are this far
    #: apart instead (a sale on one channel is seldom alone: a flash sale runs on all of
    #: them), but never more often than ``active_pull_share`` of the shop's calls per second
    #: allow, so consuming leaves the order reads and stock writes their pace
    active_pull_interval: float = 0.05
    active_pull_share: float = 0.2
    active_seconds: float = 10.0
    pull_quantity: int = 100
    poll_interval: float = 60.0  # orders of shops without pushes (JD) are polled this often
    #: while any shop had news in the last ``active_seconds``, they are polled this often
    #: instead (a flash sale on the pushing channels is on the polled one too), and never
    #: more often than ``active_pull_share`` of the shop's calls per second allow
    active_poll_interval: float = 0.25
    stored: int = 0  # events stored since start (for tests and logs)
    _wake: anyio.Event = field(default_factory=anyio.Event)
    _news: anyio.Event = field(default_factory=anyio.Event)  # set (and replaced) when news is stored
    _last_news: float | None = None  # the clock's monotonic time of the last news

    def shop(self, name: str) -> Shop | None:
        return next((s for s in self.processor.shops.values() if s.name == name), None)

    # --- receiving --------------------------------------------------------------------------

    async def receive(self, name: str, request: PushRequest) -> PushAnswer:
        """Verify, parse and store one push; the answer to send."""
        shop = self.shop(name)
        if shop is None:
            log.warning("push refused: unknown shop %r", name[:64])
            return PushAnswer(404, b'{"error":"unknown shop"}')
        client = shop.ctx.client
        try:
            if len(request.body) > self.max_body:
                raise PushMalformed(f"body over {self.max_body} bytes")
            if request.method == "GET":
                return client.verify_push_url(request)
            parsed = client.parse_push(request)
            now = self.processor.runtime.clock.now()
            if parsed.sent_at is not None and abs(now - parsed.sent_at) > self.max_age:
                raise PushExpired(f"timestamp {parsed.sent_at.isoformat()} is outside {self.max_age} of now")
        except BadPush as exc:
            log.warning("push to %s refused: %s", name, redact(exc.reason))
            return client.push_error_answer(exc)
        except CapabilityNotSupported:
            log.warning("push refused: shop %s's platform takes no pushes at this URL", name)
            return PushAnswer(404, b'{"error":"this shop takes no pushes"}')
        try:
            await self.store(shop, parsed.events, "push")
        except HubError as exc:  # not stored: not acknowledged, the platform redelivers
            log.warning("push to %s not stored: %s", name, redact(str(exc)))
            return PushAnswer(503, b'{"error":"not stored"}')
        return parsed.answer

    @property
    def workers(self) -> bool:
        """``hub worker`` processes do the processing (HUB_WORKERS): each stored push
        enqueues their job, in the transaction that stores it."""
        return self.processor.settings.workers

    async def store(self, shop: Shop, events: list[PushEvent], source: str) -> int:
        """Store events in the inbox (committed on return) and wake the processor; with
        workers, a processing job commits with them instead (or neither does)."""
        now = self.processor.runtime.clock.now()

        def write(s: Session) -> int:
            new = inbox.store(s, shop.id, events, now, source)
            if new and self.workers:
                from hub.workers.enqueue import enqueue_pushes

                enqueue_pushes(s)
            return new

        new = await self.processor.runtime.db.run(write)
        self.stored += new
        if new:
            self._wake.set()
            self._last_news = self.processor.runtime.clock.monotonic()
            self._news.set()  # wakes the pulled channels' pauses
            self._news = anyio.Event()
        return new

    # --- pulled channels ----------------------------------------------------------------------

    def pulled_shops(self) -> list[Shop]:
        """Shops whose client consumes a message channel (it overrides consume_pushes)."""
        return [
            s
            for s in self.processor.shops.values()
            if type(s.ctx.client).consume_pushes is not ShopClient.consume_pushes
        ]

    async def pull_once(self, shop: Shop) -> int:
        """Consume one batch of ``shop``'s channel, store it, then confirm it; how many
        messages were consumed. Nothing is confirmed unless it was stored."""
        pairs = await shop.ctx.client.consume_pushes(self.pull_quantity)
        if not pairs:
            return 0
        await self.store(shop, [e for _, events in pairs for e in events], "pull")
        await shop.ctx.client.confirm_pushes([message_id for message_id, _ in pairs])
        return len(pairs)

    def polled_shops(self) -> list[Shop]:
        """Shops whose platform neither pushes to a URL nor hands out messages (JD)."""
        return [
            s
            for s in self.processor.shops.values()
            if type(s.ctx.client).parse_push is ShopClient.parse_push
            and type(s.ctx.client).consume_pushes is ShopClient.consume_pushes
        ]

    async def poll_forever(
        self, shop: Shop, pushed: Callable[[datetime, datetime], None] | None = None
    ) -> None:
        """Poll ``shop``'s orders and push the SKUs they concern, a poll starting every
        :meth:`poll_wait` seconds (counted from the previous start, so the time a poll and
        its push take is not added to the wait); ``pushed`` as in
        :meth:`PushProcessor.poll_orders`."""
        clock = self.processor.runtime.clock
        while True:
            started = clock.monotonic()
            try:
                await self.processor.poll_orders(shop, pushed)
            except HubError as exc:
                log.warning("polling %s's orders failed: %s", shop.name, redact(str(exc)))
            await clock.sleep(max(0.0, started + self.poll_wait(shop) - clock.monotonic()))

    def poll_wait(self, shop: Shop) -> float:
        """Seconds between the starts of two order polls of ``shop``: the active interval
        while any shop had news in the last ``active_seconds``, else ``poll_interval``."""
        return self._wait(shop, self.poll_interval, self.active_poll_interval)

    def _wait(self, shop: Shop, idle: float, active: float) -> float:
        """``idle`` seconds; while any shop had news in the last ``active_seconds``,
        ``active`` seconds instead, but no less than ``active_pull_share`` of the shop's
        calls per second allow (and never more than ``idle``)."""
        last = self._last_news
        if last is None or self.processor.runtime.clock.monotonic() - last >= self.active_seconds:
            return idle
        qps = shop.ctx.client.limiter.limit.qps
        return min(idle, max(active, 1 / (qps * self.active_pull_share)))

    async def pull_forever(self, shop: Shop) -> None:
        clock = self.processor.runtime.clock
        try:
            await shop.ctx.client.enable_pushes()
        except HubError as exc:  # topics may already be enabled; consuming tells
            log.warning("enabling %s's messages failed: %s", shop.name, redact(str(exc)))
        while True:
            try:
                got = await self.pull_once(shop)
            except HubError as exc:
                log.warning("consuming %s's messages failed: %s", shop.name, redact(str(exc)))
                await clock.sleep(self.pull_interval)  # a failing channel is not hurried
                continue
            if not got:
                await self.pull_pause(shop)

    def pull_wait(self, shop: Shop) -> float:
        """Seconds between empty consumes of ``shop``: the active interval while any shop had
        news in the last ``active_seconds``, else ``pull_interval`` (an idle shop's cost)."""
        return self._wait(shop, self.pull_interval, self.active_pull_interval)

    async def pull_pause(self, shop: Shop) -> None:
        """Wait :meth:`pull_wait`, or less: news stored from any shop ends the wait, so the
        first sale of a flash sale on a pushing channel has the pulled ones consumed at once."""
        news = self._news
        with anyio.move_on_after(self.pull_wait(shop)):
            await news.wait()

    # --- processing -----------------------------------------------------------------------------

    async def process_forever(self) -> None:
        """Process pending entries as they are stored (and every few seconds), reading the
        next ones while the stock of the last ones is pushed (:meth:`PushProcessor.run_forever`)."""
        await self.processor.run_forever(self.news, self._log_batch)

    async def news(self) -> None:
        """Return once something was stored since the last call, or after ``process_interval``."""
        with anyio.move_on_after(self.process_interval):
            await self._wake.wait()
        self._wake = anyio.Event()

    @staticmethod
    def _log_batch(result: ProcessResult, started: datetime, finished: datetime) -> None:
        log.info(
            "pushes: %d events, %d orders read, %d SKUs, %d writes, %d failed",
            result.events,
            result.orders_fetched,
            result.skus,
            result.pushed,
            result.failed,
        )


def create_app(service: PushService, *, background: bool = True) -> Starlette:
    """The push app. ``background``: run the processor and the pulled channels in the
    app's lifespan (``hub serve``); tests drive :class:`PushService` themselves."""

    async def push(request: Request) -> Response:
        limit = service.max_body
        declared = request.headers.get("content-length", "")
        body = b""
        if declared.isdigit() and int(declared) > limit:
            body = b"\0" * (limit + 1)  # refused below without reading it
        else:
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    break
        raw = PushRequest(
            request.method,
            {k.lower(): v for k, v in request.headers.items()},
            dict(request.query_params),
            body,
        )
        answer = await service.receive(request.path_params["shop"], raw)
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not background:
            yield
            return
        async with anyio.create_task_group() as group:
            if not service.workers:  # else the workers process pushes and poll (their scheduler)
                group.start_soon(service.process_forever)
                for shop in service.polled_shops():
                    group.start_soon(service.poll_forever, shop)
            for shop in service.pulled_shops():
                group.start_soon(service.pull_forever, shop)
            yield
            group.cancel_scope.cancel()
        await service.processor.aclose()

    return Starlette(routes=[Route("/push/{shop}", push, methods=["GET", "POST"])], lifespan=lifespan)
