"""The pytest kit for the hub and for platform plugin authors (it never imports the CLI).

* :class:`FakeClock` — time that moves only when code sleeps (no real waiting);
* :func:`make_shop` — a :class:`~hub.platform.ShopContext` wired to a sandbox, no database;
* :mod:`hub.simulator` (not part of the kit) — the sandbox toolkit every platform sandbox is built on;
* :mod:`hub.testing.fake` — a complete fake platform plugin with its sandbox;
* :mod:`hub.testing.contract` — ``PlatformContract``, the tests every plugin inherits;
* :mod:`hub.testing.pytest_plugin` — fixtures (loaded automatically by pytest);
* :mod:`hub.testing.postgres` — the PostgreSQL server and databases those fixtures use.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx

from hub.core.clock import Clock
from hub.core.http import HttpOptions, RetryPolicy
from hub.platform import PlatformInfo, ShopContext, TokenSet
from hub.simulator import SandboxApp
from hub.testing.clock import FakeClock


def make_shop(
    info: PlatformInfo,
    sandbox: SandboxApp,
    *,
    clock: Clock,
    name: str = "shop1",
    retry: RetryPolicy | None = None,
    saved_tokens: list[TokenSet] | None = None,
    transport: httpx.AsyncBaseTransport | Literal["sandbox"] | None = "sandbox",
    **settings: Any,
) -> ShopContext:
    """A shop of ``info``'s platform talking to ``sandbox`` in-process.

    Credentials default to the sandbox's; keyword arguments override settings fields
    (e.g. ``app_secret="wrong"``). Refreshed tokens are appended to ``saved_tokens``.
    ``transport=None`` uses the real network (with ``base_url`` of a served sandbox)."""
    values = {**sandbox.shop_credentials(), "base_url": sandbox.base_url(), **settings}
    values = {k: v for k, v in values.items() if v is not None}
    shop_settings = info.settings_model(**values)

    async def store(tokens: TokenSet) -> None:
        if saved_tokens is not None:
            saved_tokens.append(tokens)

    http = HttpOptions(
        shop=name,
        rate_limit=info.rate_limit,
        clock=clock,
        transport=sandbox.transport() if transport == "sandbox" else transport,
        retry=retry or RetryPolicy(),
        token_store=store,
    )
    return ShopContext(
        name=name,
        platform=info.code,
        settings=shop_settings,
        client=info.client_class(shop_settings, http),
        clock=clock,
        info=info,
    )


__all__ = ["FakeClock", "make_shop"]
