"""``hub sandbox``: run a platform's sandbox over real HTTP, for manual tests and any client."""

from __future__ import annotations

import random
import re
import shlex
from datetime import timedelta
from pathlib import Path

import click

from hub.app import App
from hub.cli.output import info, print_table
from hub.errors import ConfigError, InputError
from hub.simulator import Faults, SandboxApp, SandboxConfig, generate_seed, load_seed
from hub.simulator.pushes import OrderFeed, PushSender
from hub.simulator.transport import bind_socket, uvicorn_config


@click.group("sandbox")
def group() -> None:
    """Stateful platform sandboxes (mocks that speak the real wire protocols)."""


@group.command("list")
@click.pass_obj
def list_(app: App) -> None:
    """Platforms that ship a sandbox."""
    print_table(
        ["platform", "title", "plugin"],
        [(p.code, p.title, p.plugin) for p in app.host.registry if p.sandbox is not None],
        empty="no installed platform ships a sandbox",
    )


@group.command("serve")
@click.argument("platform")
@click.option("--port", type=click.IntRange(0, 65535), default=8800, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--seed",
    "seed_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Seed file (YAML/JSON, see docs/sandbox.md).",
)
@click.option("--generate", metavar="ITEMSxSKUS", help="Generate a catalogue instead, e.g. 100x3.")
@click.option("--orders", type=click.IntRange(min=0), default=0, help="With --generate: orders to create…")
@click.option(
    "--days",
    type=click.FloatRange(min=0.01),
    default=3.0,
    show_default=True,
    help="…spread over the last DAYS.",
)
@click.option("--app-key", help="App key to accept (generated if not given).")
@click.option("--app-secret", help="App secret to accept (generated if not given).")
@click.option("--access-token", "--session", "access_token", help="Token/session to accept (generated).")
@click.option("--refresh-token", help="Refresh token to accept (generated).")
@click.option("--latency", type=click.FloatRange(min=0), default=0.0, help="Seconds added to every call.")
@click.option(
    "--push-to",
    metavar="URL",
    help="Push order messages to URL (e.g. http://127.0.0.1:8080/push/SHOP of `hub serve`), signed "
    "with the shop's credentials and redelivered until accepted (Douyin, WeChat store).",
)
@click.option(
    "--qps", type=click.FloatRange(min=0.01), help="Per-app call limit (throttled answers above it)."
)
@click.option("--token-ttl", type=click.FloatRange(min=1), help="Seconds an access token lives.")
@click.option("--faults", help="Random faults, e.g. 'server_error=0.02,throttle=0.05,timeout=0.01'.")
@click.option(
    "--random-seed", type=int, default=0, show_default=True, help="Makes generated data repeatable."
)
@click.pass_obj
def serve(
    app: App,
    platform: str,
    port: int,
    host: str,
    seed_file: Path | None,
    generate: str | None,
    orders: int,
    days: float,
    app_key: str | None,
    app_secret: str | None,
    access_token: str | None,
    refresh_token: str | None,
    latency: float,
    qps: float | None,
    token_ttl: float | None,
    faults: str | None,
    random_seed: int,
    push_to: str | None,
) -> None:
    """Serve PLATFORM's sandbox on HOST:PORT until interrupted.

    It prints the credentials it accepts and a `hub shops add` line pointing at it."""
    info_ = app.host.platform(platform)
    if info_.sandbox is None:
        raise ConfigError(f"platform {platform!r} ships no sandbox")
    if seed_file and generate:
        raise click.UsageError("give --seed or --generate, not both")
    rng = random.Random(random_seed)
    seed = None
    if seed_file:
        seed = load_seed(seed_file)
    elif generate:
        match = re.fullmatch(r"(\d+)x(\d+)", generate.strip())
        if not match:
            raise InputError(f"--generate expects ITEMSxSKUS, e.g. 100x3, got {generate!r}")
        now = app.clock.now()
        seed = generate_seed(
            items=int(match[1]),
            skus_per_item=int(match[2]),
            orders=orders,
            start=now - timedelta(days=days),
            end=now,
            rng=rng,
        )
    config = SandboxConfig(
        app_key=app_key,
        app_secret=app_secret,
        access_token=access_token,
        refresh_token=refresh_token,
        seed=seed,
        rng_seed=random_seed,
        qps=qps,
        latency=latency,
        token_ttl=token_ttl,
        faults=Faults.parse(faults, rng) if faults else None,
    )
    sandbox = info_.make_sandbox(config)
    if push_to and type(sandbox).push_request is SandboxApp.push_request:
        raise ConfigError(
            f"the {platform} sandbox does not push to a URL"
            + (" (its shops consume TMC: `hub serve` needs no --push-to)" if platform == "taobao" else "")
        )
    if push_to and not re.match(r"^https?://[^/\s]+", push_to):
        raise ConfigError(f"--push-to must be an http(s) URL, got {push_to!r}")
    try:  # bind first, so that --port 0 prints the port it really got
        sock = bind_socket(host, port)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    port = sock.getsockname()[1]
    creds = sandbox.shop_credentials()
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    if ":" in shown_host:
        shown_host = f"[{shown_host}]"
    url = sandbox.base_url(f"http://{shown_host}:{port}")
    state = sandbox.state
    click.echo(f"{info_.title} sandbox on {url}")
    click.echo(f"  {len(state.items)} items, {len(state.skus)} SKUs, {len(state.orders)} orders")
    for name, value in creds.items():
        click.echo(f"  {name}: {value}")
    for name, value in sandbox.serve_notes().items():
        click.echo(f"  {name}: {value}")
    command = ["hub", "shops", "add", f"{platform}-sandbox", "--platform", platform]
    for name, value in creds.items():
        command += [f"--{name.replace('_', '-')}", value]
    command += ["--base-url", url]
    for name, value in sandbox.push_settings().items():
        command += ["--set", f"{name}={value}"]
    click.echo("Add it as a shop with:\n  " + shlex.join(command))
    if push_to:
        sender = PushSender(
            OrderFeed(sandbox.state),
            push_to,
            lambda change: sandbox.push_request(change, push_to),
            sandbox.push_accepted,
        )
        sender.start()
        click.echo(f"  pushing order messages to {push_to}")
    info("serving; press Ctrl-C to stop")
    import uvicorn

    uvicorn.Server(uvicorn_config(sandbox, host, port)).run(sockets=[sock])
