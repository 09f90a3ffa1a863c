"""``hub console``: the operations console in the browser."""

from __future__ import annotations

from pathlib import Path

import click

from hub.app import App
from hub.cli.output import info
from hub.core import users


@click.command("console")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port.")
@click.option(
    "--https-only",
    is_flag=True,
    help="Mark the session cookie Secure: set it when the console is served over https (behind a proxy).",
)
@click.option(
    "--secret-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File holding the key that signs sessions (made on first use, mode 0600) "
    "[default: console-secret beside a SQLite database; env HUB_CONSOLE_SECRET wins].",
)
@click.pass_obj
def console(app: App, host: str, port: int, https_only: bool, secret_file: Path | None) -> None:
    """Serve the operations console: overview (看板), stock, orders, bulk files, promotions,
    audit log. Sign in as a user added with `hub users add`; the console needs no internet."""
    import uvicorn

    from hub.console.app import create_app
    from hub.console.secret import load_secret

    key = load_secret(app.settings.database_url, secret_file)
    web = create_app(app, secret_key=key, https_only=https_only)
    if not app.db.run_sync(users.list_users):
        info("no console users yet: add one with `hub users add NAME --role admin`")
    info(f"console on http://{host}:{port}/ (Ctrl-C stops it)")
    uvicorn.run(web, host=host, port=port, log_level="warning", proxy_headers=https_only)
