"""Helpers for driving a served sandbox with a platform's public SDK (conformance tests).

Public SDKs read the real clock and often the machine's local time zone, and cannot be
handed a transport, so these tests serve the sandbox over HTTP on loopback
(:func:`~hub.simulator.serve_in_thread`) on the system clock. Two helpers make that
repeatable: :func:`local_time_zone` gives the process the time zone such an SDK assumes
(the platforms expect GMT+8 wall-clock timestamps), and :class:`RequestLog` keeps what
the SDK really sent, so a test can compare signatures with the hub's own signer.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from hub.simulator.app import SandboxApp


@contextmanager
def local_time_zone(name: str = "Asia/Shanghai") -> Iterator[None]:
    """Run with the process's local time zone set to ``name`` (then restored).

    For SDKs that stamp requests with ``datetime.now()`` and so assume the machine runs
    on China time; on a UTC machine their timestamps would be eight hours off."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


class RequestLog:
    """Records every request a sandbox handles (installed on the instance, so other
    sandboxes are unaffected)."""

    def __init__(self, sandbox: SandboxApp):
        self.requests: list[httpx.Request] = []
        self._lock = threading.Lock()
        handle = sandbox.handle

        def recording(request: httpx.Request) -> httpx.Response:
            with self._lock:
                self.requests.append(request)
            return handle(request)

        sandbox.handle = recording  # type: ignore[method-assign]

    @property
    def last(self) -> httpx.Request:
        """The latest request."""
        with self._lock:
            return self.requests[-1]


__all__ = ["RequestLog", "local_time_zone"]
