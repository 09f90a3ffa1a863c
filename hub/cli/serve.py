"""``hub serve``: receive the platforms' push messages and act on them at once."""

from __future__ import annotations

from typing import Any

import click

from hub.app import App
from hub.cli.output import info
from hub.errors import ConfigError


def build_app(app: App, *, background: bool = True) -> Any:
    """The ASGI app ``hub serve`` runs: the push endpoints (``/push/<shop>``), with the
    inbox processor and the pulled message channels running in its lifespan. Other ASGI
    apps can be mounted beside it (``Starlette.mount``)."""
    from hub.push.app import PushService, create_app
    from hub.push.process import PushProcessor

    service = PushService(PushProcessor.open(app.runtime(), app.settings))
    return create_app(service, background=background)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.pass_obj
def serve(app: App, host: str, port: int) -> None:
    """Receive push messages and sync what they announce, until interrupted.

    \b
    POST /push/<shop>   a platform's push (Douyin, WeChat store); verified with the
                        shop's credentials, stored, then acknowledged
    GET  /push/<shop>   the WeChat store's URL check
    Taobao shops are consumed from TMC (taobao.tmc.messages.consume), no URL needed.
    Each announced order is read, stored with its reservation, and only its SKUs are
    recomputed and pushed on every shop. Keep `hub sync --watch` running at a longer
    interval as the safety net (see README, "Real time: push messages"). With
    HUB_WORKERS=1 (PostgreSQL, `hub worker`), each stored push enqueues a job for the
    workers in the same transaction instead, and the workers process and poll."""
    from hub.simulator.transport import bind_socket

    asgi = build_app(app)
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    shown = sock.getsockname()
    info(f"receiving pushes on http://{shown[0]}:{shown[1]}/push/<shop>; press Ctrl-C to stop")
    import uvicorn

    config = uvicorn.Config(asgi, host=host, port=shown[1], log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
