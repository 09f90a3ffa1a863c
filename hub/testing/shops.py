"""Fixture factories for a platform plugin's tests: a seeded sandbox on the fake clock and
shops wired to it, declared once here instead of in every plugin's conftest.

In a plugin's ``conftest.py``::

    clock, saved_tokens, sandbox, shop_factory, shop = sandbox_shop_fixtures(
        INFO, lambda clock: JdSandbox(SandboxConfig(clock=clock, seed=contract_seed())),
        retry=RetryPolicy(initial_wait=0, max_wait=0, jitter=0),
    )

gives the fixtures ``clock`` (the pytest plugin's ``fake_clock``), ``saved_tokens`` (tokens
the shops refreshed), ``sandbox``, ``shop_factory`` (``shop_factory(**settings)`` builds a
shop with settings overridden; every shop it built is closed after the test) and ``shop``
(one shop with the sandbox's credentials).

For tests of the whole hub, :func:`lab_fixture` declares a ``lab`` fixture: a
:class:`~hub.simulator.lab.Lab` (a hub on an SQLite file and one sandbox per shop) on the
fake clock, closed after the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from hub.core.http import RetryPolicy
from hub.platform import PlatformInfo, ShopContext, TokenSet
from hub.plugins import PluginHost
from hub.simulator import SandboxApp, Seed
from hub.simulator.lab import Lab
from hub.testing import make_shop
from hub.testing.clock import FakeClock


class ShopFactory:
    """Shops of one platform on one sandbox; :meth:`aclose` closes every shop it built."""

    def __init__(
        self,
        info: PlatformInfo,
        sandbox: SandboxApp,
        *,
        clock: FakeClock,
        retry: RetryPolicy | None = None,
        saved_tokens: list[TokenSet] | None = None,
    ):
        self.info, self.sandbox, self.clock = info, sandbox, clock
        self.retry, self.saved_tokens = retry, saved_tokens
        self.made: list[ShopContext] = []

    def __call__(self, **settings: Any) -> ShopContext:
        """A shop with the sandbox's credentials; keywords override settings (or ``retry``)."""
        retry = settings.pop("retry", self.retry)
        shop = make_shop(
            self.info,
            self.sandbox,
            clock=self.clock,
            retry=retry,
            saved_tokens=self.saved_tokens,
            **settings,
        )
        self.made.append(shop)
        return shop

    async def aclose(self) -> None:
        for shop in self.made:
            await shop.client.aclose()
        self.made.clear()


def sandbox_shop_fixtures(
    info: PlatformInfo | Callable[[], PlatformInfo],
    make_sandbox: Callable[[FakeClock], SandboxApp],
    *,
    retry: RetryPolicy | None = None,
) -> tuple[Any, Any, Any, Any, Any]:
    """The fixtures ``clock``, ``saved_tokens``, ``sandbox``, ``shop_factory`` and ``shop``
    for one platform (see the module docstring). ``info`` may be a function, called when
    the first shop is built (e.g. to read it from a plugin host)."""

    @pytest.fixture(name="clock")
    def clock_fixture(fake_clock: FakeClock) -> FakeClock:
        return fake_clock

    @pytest.fixture(name="saved_tokens")
    def saved_tokens_fixture() -> list[TokenSet]:
        return []

    @pytest.fixture(name="sandbox")
    def sandbox_fixture(clock: FakeClock) -> SandboxApp:
        return make_sandbox(clock)

    @pytest.fixture(name="shop_factory")
    async def shop_factory_fixture(
        sandbox: SandboxApp, clock: FakeClock, saved_tokens: list[TokenSet]
    ) -> AsyncIterator[ShopFactory]:
        platform = info() if callable(info) else info
        factory = ShopFactory(platform, sandbox, clock=clock, retry=retry, saved_tokens=saved_tokens)
        yield factory
        await factory.aclose()

    @pytest.fixture(name="shop")
    def shop_fixture(shop_factory: ShopFactory) -> ShopContext:
        return shop_factory()

    return clock_fixture, saved_tokens_fixture, sandbox_fixture, shop_factory_fixture, shop_fixture


def lab_fixture(
    shops: Mapping[str, str],
    seed: Callable[[], Seed],
    *,
    host_factory: Callable[[], PluginHost] = PluginHost,
    settings: Mapping[str, Any] | None = None,
    on_hand: int | None = None,
    codes: Sequence[str] | None = None,
    backends: bool = False,
    name: str = "lab",
) -> Any:
    """A fixture (``name``, default ``lab``): a :class:`Lab` of ``shops`` (shop name ->
    platform) seeded with ``seed()``, on the pytest plugin's ``fake_clock``, with hub
    ``settings``. Its database is an SQLite file in the test's folder, or with ``backends``
    the pytest plugin's ``hub_db_url`` (SQLite, then PostgreSQL). With ``on_hand``, the
    seed's master SKUs (only ``codes`` if given) are created with that many units each."""

    def open_lab(url: str, clock: FakeClock) -> Iterator[Lab]:
        made = Lab.create(
            url, shops=shops, seed=seed(), clock=clock, host_factory=host_factory, settings=settings
        )
        try:
            if on_hand is not None:
                made.import_catalogue(on_hand=on_hand, codes=codes)
            yield made
        finally:
            made.close()

    if backends:

        @pytest.fixture(name=name)
        def on_every_backend(hub_db_url: str, fake_clock: FakeClock) -> Iterator[Lab]:
            yield from open_lab(hub_db_url, fake_clock)

        return on_every_backend

    @pytest.fixture(name=name)
    def on_sqlite(tmp_path: Path, fake_clock: FakeClock) -> Iterator[Lab]:
        yield from open_lab(f"sqlite:///{tmp_path / 'hub.db'}", fake_clock)

    return on_sqlite
