"""Checking shops: do the app key and secret, the shop's token and this host's clock work?

One cheap authenticated call per shop, made by the shop's platform plugin through the
client's ``check()`` operation; the platform's clock comes from the ``Date``
header of its answer. Used by ``hub shops check`` and by ``hub shops add``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from typing import Any

import anyio

from hub.core.shops import ShopRuntime
from hub.errors import AuthError, HubError
from hub.storage import tables as t

# Platforms refuse signed requests whose timestamp is several minutes off (Taobao and
# Douyin 10, JD 6); beyond this the hub's requests are at risk and its order windows skewed.
CLOCK_LIMIT = timedelta(minutes=3)

OK, REFUSED, UNKNOWN, NOT_CHECKED = "ok", "refused", "unknown", "not checked"


@dataclass
class ShopCheck:
    """What one shop's check found. ``credentials``: the app key and secret; ``token``: the
    shop's access token (``"ok (refreshed)"`` when a refresh was needed and worked);
    ``clock``: this host's clock against the platform's; ``message``: the platform's words."""

    shop: str
    platform: str
    credentials: str = UNKNOWN
    token: str = UNKNOWN
    clock: str = UNKNOWN
    clock_offset_seconds: float | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.credentials == OK and self.token.startswith(OK) and self.clock.startswith(OK)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


async def check_shop(runtime: ShopRuntime, row: t.Shop) -> ShopCheck:
    """Check one stored shop; never raises for what the check is meant to find."""
    result = ShopCheck(row.name, row.platform)
    # One quick retry at most: a person is waiting, and a shop that is down says so at once.
    runtime = replace(runtime, retry=replace(runtime.retry, max_attempts=min(2, runtime.retry.max_attempts)))
    try:
        ctx = runtime.open(row)
    except HubError as exc:  # no secret, settings the plugin refuses, platform not installed
        result.message = str(exc)
        return result
    client = ctx.client
    client.clock_offset = None  # measure now, not what an earlier run remembered
    token = client.access_token
    try:
        result.message = await client.check()
        result.credentials = OK
        # A new token means the stored one no longer worked and a refresh cured it (it is saved).
        result.token = OK + (" (refreshed)" if token and client.access_token != token else "")
    except AuthError as exc:
        result.message = str(exc)
        if exc.credential == "token":
            result.credentials, result.token = OK, REFUSED
        elif exc.credential == "app":
            result.credentials, result.token = REFUSED, NOT_CHECKED
        else:
            result.credentials = REFUSED
    except HubError as exc:  # unreachable, no permission, a platform error: said as it is
        result.message = str(exc)
    finally:
        await client.aclose()
    if client.clock_offset is not None:
        offset = client.clock_offset.total_seconds()
        result.clock_offset_seconds = round(offset, 1)
        if abs(client.clock_offset) <= CLOCK_LIMIT:
            result.clock = f"{OK} ({offset:+.1f} s)"
        else:
            result.clock = f"off by {offset:+.0f} s: set this host's clock (NTP)"
    return result


async def check_shops(runtime: ShopRuntime, rows: Sequence[t.Shop]) -> list[ShopCheck]:
    """Check ``rows`` side by side; results in the same order."""
    results: list[ShopCheck | None] = [None] * len(rows)

    async def one(index: int, row: t.Shop) -> None:
        results[index] = await check_shop(runtime, row)

    async with anyio.create_task_group() as group:
        for index, row in enumerate(rows):
            group.start_soon(one, index, row)
    return [r for r in results if r is not None]
