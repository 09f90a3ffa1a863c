"""The ``hub`` command group, its error handling and the registration of every command."""

from __future__ import annotations

import sys
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from hub import __version__
from hub.app import App, InvalidSettings
from hub.cli.app import configure_logging
from hub.errors import HubError
from hub.secrets import redact
from hub.storage.db import storage_error


def _single_cause(exc: BaseException) -> BaseException:
    """The error a user should see. Concurrent work (anyio task groups) wraps errors in
    exception groups; when every error in one is a hub or database error, the first
    one stands for the group (the rest are usually the same cause in sibling tasks)."""
    while isinstance(exc, BaseExceptionGroup):
        leaves = list(_leaves(exc))
        known = [e for e in leaves if isinstance(e, HubError | SQLAlchemyError | KeyboardInterrupt)]
        if not known or len(known) != len(leaves):
            return exc
        exc = known[0]
    return exc


def _leaves(exc: BaseException) -> Any:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


class HubGroup(click.Group):
    """A group whose errors are one line on stderr with a meaningful exit code:
    2 for usage, configuration and authentication problems, 1 for failures."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        code: int
        try:
            try:
                result = super().main(*args, standalone_mode=False, **kwargs)
            except BaseExceptionGroup as group:
                cause = _single_cause(group)
                if cause is group:
                    raise
                raise (storage_error(cause) if isinstance(cause, SQLAlchemyError) else cause) from None
            except SQLAlchemyError as exc:  # never print SQL parameters: they may hold secrets
                raise storage_error(exc) from None
            code = result if isinstance(result, int) else 0
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "hub"
            click.echo(f"error: {exc.format_message()} (see '{where} --help')", err=True)
            code = 2
        except click.ClickException as exc:
            click.echo(f"error: {redact(exc.format_message())}", err=True)
            code = exc.exit_code
        except click.exceptions.Abort:
            click.echo("aborted", err=True)
            code = 1
        except HubError as exc:
            click.echo(f"error: {redact(str(exc))}", err=True)
            code = exc.exit_code
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            code = 130
        if standalone_mode:
            sys.exit(code)
        return code


@click.group(cls=HubGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hub")
@click.option(
    "--database-url",
    envvar="HUB_DATABASE_URL",
    help="SQLAlchemy database URL [env HUB_DATABASE_URL; default: sqlite:///hub.db].",
)
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None, verbose: int, quiet: bool) -> None:
    """Marketplace Hub: keep listings, stock, prices, orders and promotions consistent
    across Taobao/Tmall, JD, Douyin shop and the WeChat store.

    Start with `hub demo`, or configure shops with `hub shops add` and run `hub sync`.
    """
    configure_logging(verbose, quiet)
    app = ctx.obj if isinstance(ctx.obj, App) else App()
    app.verbose, app.quiet = verbose, quiet
    if database_url and not isinstance(app.settings, InvalidSettings):
        app.settings = app.settings.model_copy(update={"database_url": database_url})
    ctx.obj = app
    ctx.call_on_close(app.close)


def _register() -> None:
    from hub.cli import (
        aftersales,
        audit,
        console,
        db,
        demo,
        export,
        jobs,
        leases,
        listings,
        orders,
        outbox,
        plugins,
        price,
        promo,
        report,
        returns,
        sandbox,
        secrets,
        serve,
        shops,
        skus,
        stock,
        sync,
        users,
        worker,
    )

    for command in (
        sync.group,
        shops.group,
        secrets.group,
        skus.skus,
        listings.listings,
        stock.group,
        orders.group,
        aftersales.group,
        returns.group,
        outbox.group,
        leases.group,
        audit.group,
        plugins.group,
        db.group,
        price.price,
        export.export,
        promo.group,
        report.report,
        sandbox.group,
        serve.serve,
        demo.demo,
        users.group,
        console.console,
        worker.worker,
        jobs.group,
    ):
        cli.add_command(command)


_register()


def main() -> None:
    """Console-script entry point; plugin commands are added here, not at import."""
    try:
        App().host.register_commands(cli)
    except HubError as exc:  # a plugin command failing to register must not stop the CLI
        click.echo(f"warning: {exc}", err=True)
    cli.main(prog_name="hub")
