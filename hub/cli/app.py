"""What the commands share beyond :class:`~hub.app.App`: running async code, logging
options."""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import click

from hub.app import App
from hub.secrets import RedactingFilter

T = TypeVar("T")


def run_async(fn: Callable[[], Awaitable[T]]) -> T:
    """Run an async function to completion from a (synchronous) click command."""
    return anyio.run(fn)


def configure_logging(verbosity: int, quiet: bool) -> None:
    level = logging.WARNING
    if quiet:
        level = logging.ERROR
    elif verbosity == 1:
        level = logging.INFO
    elif verbosity >= 2:
        level = logging.DEBUG
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_hub", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._hub = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs full URLs (tokens included) at INFO; our client logs masked ones.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # Alembic's INFO lines ("Context impl SQLiteImpl.") are noise to a merchant; -vv shows them.
    logging.getLogger("alembic").setLevel(logging.DEBUG if verbosity >= 2 and not quiet else logging.WARNING)


def verbosity_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``-v``/``-q`` on a subcommand as well as on ``hub`` itself (``hub sync -v`` and ``hub -v
    sync`` mean the same). The command receives neither option: they reconfigure logging."""

    def apply(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        app = ctx.find_object(App)
        if not value or app is None:
            return
        if param.name == "verbose":
            app.verbose = max(app.verbose, value)
        else:
            app.quiet = True
        configure_logging(app.verbose, app.quiet)

    func = click.option(
        "-v", "--verbose", count=True, expose_value=False, callback=apply, help="More log output (-v, -vv)."
    )(func)
    return click.option(
        "-q", "--quiet", is_flag=True, expose_value=False, callback=apply, help="Only errors on stderr."
    )(func)
