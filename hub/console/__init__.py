"""The operations console: a web UI (Starlette, server-rendered Jinja2 templates) over the
same core functions as the CLI. See :func:`hub.console.app.create_app`."""
