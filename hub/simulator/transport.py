"""Three ways to reach a sandbox: an httpx transport, a respx route, and real HTTP.

* :class:`SandboxTransport` — pass it as a client's transport; no sockets, latency on
  the sandbox's clock (a fake clock in tests, so no real waiting).
* :func:`mount_respx` — route a respx router's matching requests to the sandbox.
* :func:`asgi_app` / :func:`serve_in_thread` — the same sandbox over HTTP (uvicorn),
  for ``hub sandbox serve`` and for tests that run ``hub`` in a subprocess.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio
import httpx

if TYPE_CHECKING:  # the app builds its in-process transport from this module: no import back
    from hub.simulator.app import SandboxApp

ASGIApp = Callable[
    [dict[str, Any], Callable[[], Awaitable[dict[str, Any]]], Callable[[dict[str, Any]], Awaitable[None]]],
    Awaitable[None],
]


class SandboxTransport(httpx.AsyncBaseTransport):
    """An in-process transport answering from a :class:`SandboxApp`."""

    def __init__(self, app: SandboxApp):
        self.app = app

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        delay = self.app.draw_latency()
        if delay:
            await self.app.clock.sleep(delay / 2)
        response = self.app.dispatch(request)
        if delay:
            await self.app.clock.sleep(delay / 2)
        return response


def mount_respx(router: Any, app: SandboxApp, origin: str = "http://sandbox.test") -> Any:
    """Send every request under ``app.base_url(origin)`` on a respx router to ``app``;
    returns the route so tests can assert on its calls."""
    return router.route(url__startswith=app.base_url(origin)).mock(side_effect=app.dispatch)


def asgi_app(app: SandboxApp, *, timeout_fault_seconds: float = 5.0) -> ASGIApp:
    """The sandbox as an ASGI application. Network faults become what a real server
    can produce: a slow 504 for timeouts, a 502 for resets."""

    async def asgi(
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        request = httpx.Request(scope["method"], request_url(scope, headers), headers=headers, content=body)
        delay = app.draw_latency()
        if delay:
            await anyio.sleep(delay)
        try:
            response = app.dispatch(request)
        except httpx.TimeoutException:
            await anyio.sleep(timeout_fault_seconds)
            response = httpx.Response(504, text="Gateway Timeout")
        except httpx.TransportError:
            response = httpx.Response(502, text="Bad Gateway")
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": [
                    (k.encode("latin-1"), v.encode("latin-1"))
                    for k, v in response.headers.items()
                    if k.lower() != "content-length"
                ]
                + [(b"content-length", str(len(response.content)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": response.content})

    return asgi


def request_url(scope: dict[str, Any], headers: list[tuple[str, str]]) -> str:
    """The URL of an HTTP request from its ASGI scope.

    The target is usually origin-form (``/router/rest?…``) and the authority comes from
    the Host header. RFC 9112 §3.2.2 also requires servers to accept the absolute form
    (``POST http://host/routerjson?…``, which some SDKs send); then the target carries the
    authority itself and the Host header is ignored."""
    target = scope.get("raw_path") or scope["path"].encode()
    text = target.decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    if not text.startswith("/"):  # absolute form: scheme://authority/path
        parts = urlsplit(text)
        url = f"http://{parts.netloc or 'sandbox'}{parts.path or '/'}"
        query = query or parts.query
    else:
        host = dict(headers).get("host", "sandbox")
        url = f"http://{host}{text}"
    if query and "?" not in url:
        url += "?" + query
    return url


def uvicorn_config(app: SandboxApp, host: str, port: int, **options: Any) -> Any:
    """uvicorn settings for serving a sandbox. uvicorn's own Date and Server headers are
    off: the sandbox dates its answers on its clock, as the platform does, so an answer
    carries exactly one Date header."""
    import uvicorn

    return uvicorn.Config(
        asgi_app(app),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        date_header=False,
        server_header=False,
        **options,
    )


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready socket on ``host:port`` (port 0: a free port, then
    ``getsockname()`` tells which), so the real address is known before serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


@dataclass
class ServedSandbox:
    """A sandbox listening on loopback; ``url`` is its gateway base URL."""

    app: SandboxApp
    url: str
    port: int
    _server: Any
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> ServedSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(app: SandboxApp, host: str = "127.0.0.1", port: int = 0) -> ServedSandbox:
    """Serve ``app`` over HTTP from a background thread (port 0 picks a free port)."""
    import uvicorn

    server = uvicorn.Server(uvicorn_config(app, host, port, lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"sandbox-{app.platform}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # uvicorn has no start callback; wait for it to bind
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"sandbox {app.platform} failed to start on {host}:{port}")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    origin = f"http://{host}:{bound}"
    return ServedSandbox(app, app.base_url(origin), bound, server, thread)
