"""A hub wired to in-process platform sandboxes: the tests, the demo and the benchmarks.

    lab = Lab.create(database_url, shops={"tb": "taobao", "jd": "jd"}, seed=seed)
    lab.import_catalogue(on_hand=50)          # master SKUs + stock from the seed
    report = await lab.sync()                 # one `hub sync` cycle
    lab.sandboxes["tb"].state                 # what the platform now shows

Every shop gets its own sandbox of its platform, seeded with the same catalogue (the same
master codes), and its HTTP goes to that sandbox through an in-process transport.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.app import App
from hub.core.catalog import warehouse
from hub.core.clock import SYSTEM_CLOCK, Clock
from hub.core.engine import Progress, SyncEngine
from hub.core.http import RetryPolicy
from hub.core.shops import IN_PROCESS_DOMAIN, add_shop
from hub.plugins import PluginHost
from hub.report import SyncReport
from hub.settings import HubSettings
from hub.simulator import SandboxApp, SandboxConfig, Seed
from hub.storage import tables as t


@dataclass
class Lab:
    app: App
    sandboxes: dict[str, SandboxApp]
    seed: Seed
    engine_holder: str | None = None
    progress: Progress | None = None
    _engine: SyncEngine | None = field(default=None, init=False)

    @classmethod
    def create(
        cls,
        database_url: str,
        *,
        shops: Mapping[str, str],
        seed: Seed,
        clock: Clock = SYSTEM_CLOCK,
        host_factory: Callable[[], PluginHost] = PluginHost,
        settings: Mapping[str, Any] | None = None,
        sandbox: Mapping[str, Any] | None = None,
        shop_settings: Mapping[str, Any] | None = None,
        retry: RetryPolicy | None = None,
    ) -> Lab:
        """``shops``: shop name -> platform code. ``sandbox``: extra SandboxConfig fields
        for every sandbox (latency, qps, token_ttl…). ``shop_settings``: extra settings for
        every shop (e.g. ``{"qps": 1000}`` to lift client pacing in a benchmark)."""
        sandboxes: dict[str, SandboxApp] = {}
        app = App(
            settings=HubSettings(database_url=database_url, **dict(settings or {})),
            clock=clock,
            transport_for=lambda shop, platform: sandboxes[shop].transport(),
            retry=retry or RetryPolicy(),
            host_factory=host_factory,
        )
        host = app.host
        db = app.database(create=True)
        for number, (name, platform) in enumerate(shops.items()):
            info = host.platform(platform)
            if info.sandbox is None:
                raise ValueError(f"platform {platform!r} ships no sandbox")
            box = info.make_sandbox(
                SandboxConfig(clock=clock, seed=seed, rng_seed=number * 101, **dict(sandbox or {}))
            )
            sandboxes[name] = box
            values = {
                **box.shop_credentials(),
                "base_url": box.base_url(f"http://{name}{IN_PROCESS_DOMAIN}"),
                **dict(shop_settings or {}),
            }
            db.run_sync(
                lambda s, name=name, platform=platform, values=values: add_shop(
                    s, host, name=name, platform=platform, values=values, now=clock.now()
                )
            )
        return cls(app, sandboxes, seed)

    @property
    def clock(self) -> Clock:
        return self.app.clock

    def import_catalogue(
        self, *, on_hand: int | None = None, codes: Sequence[str] | None = None, partitioned: bool = False
    ) -> None:
        """Create the seed's master SKUs with ``on_hand`` units each (default: the seed's
        stock) in the default warehouse."""
        now = self.clock.now()

        def write(session: Any) -> None:
            rows = []
            for product in self.seed.products:
                for sku in product.skus:
                    if not sku.code or (codes is not None and sku.code not in codes):
                        continue
                    row = t.Sku(
                        code=sku.code,
                        title=f"{product.title} {sku.spec}".strip(),
                        price=sku.price,
                        partitioned=partitioned,
                        created_at=now,
                        updated_at=now,
                    )
                    rows.append((row, sku.stock if on_hand is None else on_hand))
            session.add_all([row for row, _ in rows])
            session.flush()  # one flush for every SKU row, not one per SKU
            # What set_on_hand does for a new SKU, in one go (a flush per SKU grows quadratic).
            wh = warehouse(session, None)
            session.add_all(
                t.StockOnHand(
                    sku_id=row.id, warehouse_id=wh.id, quantity=quantity, counted_at=now, updated_at=now
                )
                for row, quantity in rows
            )

        self.app.db.run_sync(write)

    def engine(self) -> SyncEngine:
        if self._engine is None:
            kw = {"holder": self.engine_holder} if self.engine_holder else {}
            self._engine = SyncEngine(
                self.app.runtime(), self.app.settings, progress=self.progress or SyncEngine.progress, **kw
            )
        return self._engine

    async def sync(
        self, shops: Sequence[str] | None = None, streams: Sequence[str] | None = None
    ) -> SyncReport:
        return await self.engine().run_cycle(shops, streams)

    def shown(self, code: str) -> dict[str, int]:
        """Shop -> the quantity its platform shows for master code ``code``."""
        return {name: box.state.quantity_of(code) for name, box in self.sandboxes.items()}

    def close(self) -> None:
        self.app.close()
