"""``hub shops``: the shops the hub syncs, and their credentials."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from hub.app import App
from hub.cli.app import run_async
from hub.cli.output import emit, info, json_option, print_table
from hub.core import audit, health, reports
from hub.core.checks import ShopCheck, check_shops
from hub.core.shops import add_shop, all_shops, describe_shop, get_shop, set_secrets
from hub.errors import ConfigError
from hub.units import format_cn_time


@click.group("shops")
def group() -> None:
    """Configure shops (one per platform account).

    Secrets are stored encrypted (see `hub secrets`), or may instead come from the
    environment, and then are never stored: HUB_SHOP_<NAME>_APP_SECRET,
    HUB_SHOP_<NAME>_ACCESS_TOKEN, HUB_SHOP_<NAME>_REFRESH_TOKEN."""


def _parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = value
    return out


@group.command("add")
@click.argument("name")
@click.option("--platform", "-p", required=True, help="Platform code (see `hub plugins list`).")
@click.option("--app-key", required=True, help="The app key on the platform.")
@click.option("--app-secret", help="The app secret (or HUB_SHOP_<NAME>_APP_SECRET).")
@click.option("--access-token", help="The shop's access token / session.")
@click.option("--refresh-token", help="The shop's refresh token, where the platform has one.")
@click.option("--base-url", help="API gateway URL, e.g. a sandbox's; default: production.")
@click.option(
    "--set",
    "extra",
    multiple=True,
    metavar="KEY=VALUE",
    help="A platform-specific setting (e.g. sign_method=md5); repeatable.",
)
@click.option(
    "--no-check",
    is_flag=True,
    help="Store the shop without the call that checks its credentials (e.g. while offline).",
)
@json_option
@click.pass_obj
def add(
    app: App,
    name: str,
    platform: str,
    app_key: str,
    app_secret: str | None,
    access_token: str | None,
    refresh_token: str | None,
    base_url: str | None,
    extra: tuple[str, ...],
    no_check: bool,
    as_json: bool,
) -> None:
    """Add shop NAME. Settings are checked by the platform's plugin, then one call to the
    platform checks the credentials, the token and the clock (as `hub shops check`); if
    that fails the shop is not kept (--no-check skips the call)."""
    values = {
        **_parse_options(extra),
        "app_key": app_key,
        "app_secret": app_secret,
        "access_token": access_token,
        "refresh_token": refresh_token,
        "base_url": base_url,
    }
    host = app.host

    def write(session: Any) -> dict[str, Any]:
        row = add_shop(session, host, name=name, platform=platform, values=values, now=app.clock.now())
        return describe_shop(host, row)

    db = app.database(create=True)
    described = db.run_sync(write)
    if not no_check:
        [result] = run_async(lambda: check_shops(app.runtime(), db.run_sync(lambda s: [get_shop(s, name)])))
        described["check"] = result.to_dict()
        if not result.ok:
            db.run_sync(lambda s: s.delete(get_shop(s, name)))
            raise ConfigError(
                f"shop {name} not added: {_summary(result)} (--no-check stores it without this call)"
            )
    emit(
        as_json,
        described,
        lambda: info(
            f"added shop {name} ({platform})"
            + ("" if no_check else f"; {described['check']['message']}, clock {result.clock}")
        ),
    )


def _summary(result: ShopCheck) -> str:
    """What failed, in one line: the parts that are not ok, then the platform's words."""
    parts = [
        f"{what} {state}"
        for what, state in (
            ("credentials", result.credentials),
            ("token", result.token),
            ("clock", result.clock),
        )
        if not state.startswith("ok")
    ]
    return "; ".join(parts) + (f": {result.message}" if result.message else "")


@group.command("check")
@click.argument("name", required=False)
@json_option
@click.pass_obj
def check(app: App, name: str | None, as_json: bool) -> int:
    """Check that each shop's (or NAME's) app key and secret, token and clock work.

    \b
    One cheap authenticated call per shop, side by side; the platform's own words
    are shown. Exit code 0 when every shop passes, 2 when any needs a person."""
    rows = app.db.run_sync(lambda s: [get_shop(s, name)] if name else all_shops(s))
    if not rows:
        raise ConfigError("no shops configured; add one with `hub shops add`")
    results = run_async(lambda: check_shops(app.runtime(), rows))
    emit(
        as_json,
        [r.to_dict() for r in results],
        lambda: print_table(
            ["shop", "platform", "credentials", "token", "clock", "platform says"],
            [(r.shop, r.platform, r.credentials, r.token, r.clock, r.message) for r in results],
        ),
    )
    failed = [r.shop for r in results if not r.ok]
    if failed and not as_json:
        info(f"{len(failed)} shop(s) need attention: {', '.join(failed)}")
    return 2 if failed else 0


@group.command("set-secrets")
@click.argument("name")
@click.option("--app-secret", help="The app secret.")
@click.option("--access-token", help="The shop's access token / session.")
@click.option("--refresh-token", help="The shop's refresh token.")
@click.option(
    "--set",
    "extra",
    multiple=True,
    metavar="KEY=VALUE",
    help="A platform-specific secret (e.g. a push token); repeatable.",
)
@json_option
@click.pass_obj
def set_secrets_(
    app: App,
    name: str,
    app_secret: str | None,
    access_token: str | None,
    refresh_token: str | None,
    extra: tuple[str, ...],
    as_json: bool,
) -> None:
    """Store new secrets for shop NAME, encrypted with the current key (e.g. after the key
    was lost, or a token was re-issued). Secrets not given are left as they are."""
    values = {
        k: v
        for k, v in {
            **_parse_options(extra),
            "app_secret": app_secret,
            "access_token": access_token,
            "refresh_token": refresh_token,
        }.items()
        if v is not None
    }
    host = app.host

    def write(session: Any) -> dict[str, Any]:
        row = set_secrets(session, host, name, values)
        audit.record(
            session,
            actor=app.actor,
            action="shop.secrets",
            now=app.clock.now(),
            shop=name,
            new=", ".join(sorted(values)),  # which secrets changed, never their values
            source="hub shops set-secrets",
        )
        return describe_shop(host, row)

    described = app.db.run_sync(write)
    emit(as_json, described, lambda: info(f"stored {', '.join(sorted(values))} for shop {name}"))


def _health(recorded: dict[str, Any] | None) -> dict[str, Any]:
    fields = reports.circuit_of(recorded)
    opened = fields["circuit_opened_at"]
    return {**fields, "circuit_opened_at": opened.isoformat() if opened else None}


def _circuit_text(health: dict[str, Any]) -> str:
    if health["circuit"] == "closed":
        failing = health["consecutive_failures"]
        return f"closed ({failing} failure(s) in a row)" if failing else "closed"
    opened = health["circuit_opened_at"]
    since = f" since {format_cn_time(datetime.fromisoformat(opened))}" if opened else ""
    return f"{health['circuit'].replace('_', '-')}{since}, {health['consecutive_failures']} failure(s)"


@group.command("list")
@json_option
@click.pass_obj
def list_(app: App, as_json: bool) -> None:
    """List shops. Secrets are shown as **** (set) or blank (unset).

    The circuit column is the shop's circuit breaker as last recorded by a syncing process:
    closed, or open (calls fail fast) since a time, with the connection failures in a row."""
    host = app.host

    def read(s: Any) -> list[dict[str, Any]]:
        circuits = health.circuits(s)
        return [
            {**describe_shop(host, row), "health": _health(circuits.get(row.name))} for row in all_shops(s)
        ]

    shops = app.db.run_sync(read)
    emit(
        as_json,
        shops,
        lambda: print_table(
            ["name", "platform", "app key", "secret", "token", "expires", "base url", "circuit"],
            [
                (
                    s["name"],
                    s["platform"] + ("" if s["installed"] else " (not installed)"),
                    s["app_key"],
                    s["app_secret"] or "unset",
                    s["access_token"] or "unset",
                    datetime.fromisoformat(s["token_expires_at"]) if s["token_expires_at"] else None,
                    s["base_url"],
                    _circuit_text(s["health"]),
                )
                for s in shops
            ],
            empty="no shops; add one with `hub shops add`",
        ),
    )


@group.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def remove(app: App, name: str, yes: bool) -> None:
    """Remove shop NAME with its listings, orders and sync state."""
    app.db.run_sync(lambda s: get_shop(s, name))  # fail before asking if it does not exist
    if not yes:
        click.confirm(f"Remove shop {name} with its listings and orders?", abort=True)
    app.db.run_sync(lambda s: s.delete(get_shop(s, name)))
    info(f"removed shop {name}")
