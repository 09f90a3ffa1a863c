"""The platform simulator behind ``hub demo`` and ``hub sandbox serve``: stateful
sandboxes that speak each platform's wire protocol, simulated buyers, and a hub wired to
them (:mod:`hub.simulator.lab`, :mod:`hub.simulator.demo`).

It is a product feature, not test code: the pytest kit (:mod:`hub.testing`) builds on it,
never the other way round. This package is also the sandbox toolkit every platform
plugin's sandbox is built on: the platform-neutral parts of every platform sandbox.

A platform sandbox is a :class:`SandboxApp` subclass that adds only its wire protocol
(signature checks, envelopes, error codes, page and window rules) on top of:

* :class:`ShopState` — items, SKUs, stock, prices, orders, promotions;
* :class:`SandboxConfig` knobs — latency, per-app QPS limit, token lifetime, faults;
* :class:`Faults` — 5xx, timeouts, lost responses, resets, malformed bodies, throttling;
* :class:`Credentials` — app key/secret and issued tokens, with expiry;
* :mod:`seed <hub.simulator.seed>` — one seed format every sandbox reads;
* :class:`Buyers` — simulated buyers who decrement platform stock;
* transports — :class:`SandboxTransport` (in-process), :func:`mount_respx`,
  :func:`serve_in_thread` / :func:`asgi_app` (real HTTP).
"""

from hub.simulator.app import Credentials, QpsGate, SandboxApp, SandboxConfig
from hub.simulator.buyers import Buyers
from hub.simulator.faults import FAULT_KINDS, Faults
from hub.simulator.seed import Seed, apply_seed, dump_seed, generate_seed, load_seed
from hub.simulator.state import (
    ItemState,
    OrderLineState,
    OrderState,
    SandboxError,
    ShopState,
    SkuState,
    SoldOut,
    numeric_ids,
)
from hub.simulator.transport import (
    SandboxTransport,
    ServedSandbox,
    asgi_app,
    mount_respx,
    serve_in_thread,
)

__all__ = [
    "FAULT_KINDS",
    "Buyers",
    "Credentials",
    "Faults",
    "ItemState",
    "OrderLineState",
    "OrderState",
    "QpsGate",
    "SandboxApp",
    "SandboxConfig",
    "SandboxError",
    "SandboxTransport",
    "Seed",
    "ServedSandbox",
    "ShopState",
    "SkuState",
    "SoldOut",
    "apply_seed",
    "asgi_app",
    "dump_seed",
    "generate_seed",
    "load_seed",
    "mount_respx",
    "numeric_ids",
    "serve_in_thread",
]
