"""Configured shops: adding them, validating their settings, and opening them for work.

A shop's secrets may live in the database or come from the environment:
``HUB_SHOP_<NAME>_APP_SECRET``, ``HUB_SHOP_<NAME>_ACCESS_TOKEN`` and
``HUB_SHOP_<NAME>_REFRESH_TOKEN`` (``NAME`` upper-cased, other characters as ``_``), and
likewise for any secret field a plugin adds. The environment wins over the database, and
secrets from the environment are never written to it.

Secrets in the database are always sealed (:mod:`hub.storage.secretbox`), and this module
is the only place that seals or opens them: :func:`store_secret` and :func:`stored_secret`.
The common secrets have their own columns; a plugin's extra secrets (push tokens, AES keys)
are stored sealed in ``options``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from hub.core.breaker import BreakerPolicy, CircuitBreaker
from hub.core.clock import Clock
from hub.core.http import HttpOptions, RetryPolicy
from hub.core.leases import list_leases
from hub.core.ratelimit import RateLimit, RateLimiter
from hub.errors import ConfigError, SecretKeyError, StorageError, UnknownShop
from hub.platform import SECRET_FIELDS, ShopContext, ShopSettings, TokenSet
from hub.plugins import PluginHost
from hub.secrets import MASK, mask, register_secret
from hub.storage import tables as t
from hub.storage.db import Database, describe_database, secrets_of
from hub.storage.secretbox import Rotation, SecretBox, is_sealed

SHOP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
COLUMN_FIELDS = ("app_key", "app_secret", "access_token", "refresh_token", "token_expires_at")

# Base URLs on this made-up domain name sandboxes that run inside the process (`hub demo`,
# hub.simulator.lab): they exist only there, so a shop pointing at one cannot be synced later.
IN_PROCESS_DOMAIN = ".sandbox"

TransportFactory = Callable[[str, str], httpx.AsyncBaseTransport | None]
"""(shop name, platform) -> the transport to use, or None for the real network."""


def env_name(shop: str, field: str) -> str:
    return f"HUB_SHOP_{re.sub(r'[^A-Za-z0-9]', '_', shop).upper()}_{field.upper()}"


def secret_fields(host: PluginHost, platform: str) -> tuple[str, ...]:
    """The platform's secret fields; the common ones if its plugin is not installed."""
    if platform not in host.registry:
        return SECRET_FIELDS
    return host.platform(platform).settings_model.secret_fields()


# --- the one place secrets are sealed and opened ------------------------------------------


def _recovery(shop: str, field: str) -> str:
    flag = f"--{field.replace('_', '-')} …" if field in SECRET_FIELDS else f"--set {field}=…"
    return f"re-enter it with `hub shops set-secrets {shop} {flag}` (or set {env_name(shop, field)})"


def _raw_secret(shop: t.Shop, field: str) -> Any:
    return getattr(shop, field) if field in SECRET_FIELDS else (shop.options or {}).get(field)


def stored_secret(box: SecretBox, shop: t.Shop, field: str) -> str | None:
    """The clear text of a secret stored for ``shop``; None if none is stored. Raises
    :class:`~hub.errors.SecretKeyError` (wrong or missing key) or
    :class:`~hub.errors.SecretTampered`, never returns a partial value."""
    raw = _raw_secret(shop, field)
    if raw in (None, ""):
        return None
    what = f"the {field.replace('_', ' ')} of shop {shop.name!r}"
    return box.open(str(raw), what=what, fix=_recovery(shop.name, field))


def store_secret(seal: Callable[[str], str], shop: t.Shop, field: str, value: str | None) -> None:
    """Store ``value`` sealed by ``seal`` (``SecretBox.seal`` or a rotation's); None or ""
    removes the secret."""
    sealed = seal(value) if value else None
    if field in SECRET_FIELDS:
        setattr(shop, field, sealed if sealed is not None or field != "app_secret" else "")
        return
    options = dict(shop.options or {})  # a new dict, so the JSON column sees the change
    if sealed is None:
        options.pop(field, None)
    else:
        options[field] = sealed
    shop.options = options


def _stored_raw(shop: t.Shop) -> Iterator[tuple[str, Any]]:
    """(field, stored value) of every secret stored for ``shop``, clear text included."""
    for key in SECRET_FIELDS:
        if getattr(shop, key) not in (None, ""):
            yield key, getattr(shop, key)
    for key, value in (shop.options or {}).items():
        if is_sealed(value):
            yield key, value


def open_all(session: Session, box: SecretBox, *, lock: bool = False) -> tuple[list[t.Shop], int, list[str]]:
    """Every shop, how many secrets are stored, and one line per secret that cannot be
    opened (wrong or missing key, altered, or stored without encryption)."""
    query = select(t.Shop).order_by(t.Shop.name)
    shops = list(session.scalars(query.with_for_update() if lock else query))
    count, problems = 0, []
    for shop in shops:
        for key, _ in _stored_raw(shop):
            count += 1
            try:
                stored_secret(box, shop, key)
            except SecretKeyError as exc:
                problems.append(str(exc))
    return shops, count, problems


def rotate_secrets(session: Session, box: SecretBox, rotation: Rotation, now: datetime) -> int:
    """Re-seal every stored secret with ``rotation``'s key in ``session``'s transaction;
    refuses (changing nothing) while another hub process holds an unexpired lease (it would
    go on with the old key), or if any stored secret cannot be opened. Returns the count."""
    held = [lease for lease in list_leases(session, now) if lease.expires_at > now]
    if held:
        names = ", ".join(f"{lease.name} ({lease.holder})" for lease in held[:5])
        raise ConfigError(
            f"refusing to rotate while hub processes are working: leases held: {names}; "
            "stop them (hub sync --watch, workers) or wait for them to finish, then run again"
        )
    shops, _, problems = open_all(session, box, lock=True)
    if problems:
        raise SecretKeyError(
            f"refusing to rotate: {len(problems)} stored secret(s) cannot be read, nothing was changed:\n  "
            + "\n  ".join(problems)
        )
    count = 0
    for shop in shops:
        for key, _ in list(_stored_raw(shop)):
            store_secret(rotation.seal, shop, key, stored_secret(box, shop, key))
            count += 1
    session.flush()
    return count


def _validate(host: PluginHost, platform: str, shop: str, values: Mapping[str, Any]) -> ShopSettings:
    info = host.platform(platform)
    try:
        return info.settings_model(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings for shop {shop!r} ({platform}): {problems}") from None


def settings_for(
    host: PluginHost,
    shop: t.Shop,
    environ: Mapping[str, str] = os.environ,
    *,
    secrets: SecretBox | None = None,
) -> ShopSettings:
    """Validated settings of a stored shop, secrets from the environment taking precedence
    and the stored ones opened with ``secrets`` (default: the key of the database the shop
    was loaded from, while its session is open). A wrong key or an altered value raises."""
    if secrets is None:
        session = object_session(shop)
        if session is None:
            raise StorageError(f"shop {shop.name!r} is detached from its session: pass secrets=db.secrets")
        secrets = secrets_of(session)
    fields = secret_fields(host, shop.platform)
    values: dict[str, Any] = {k: v for k, v in (shop.options or {}).items() if k not in fields}
    for name in COLUMN_FIELDS:
        value = getattr(shop, name)
        if name not in fields and value not in (None, ""):
            values[name] = value
    for name in fields:
        value = environ.get(env_name(shop.name, name)) or stored_secret(secrets, shop, name)
        if value:
            values[name] = value
    if not values.get("app_secret"):
        raise ConfigError(
            f"shop {shop.name!r} has no app secret: store one with `hub shops set-secrets` "
            f"or set {env_name(shop.name, 'app_secret')}"
        )
    settings = _validate(host, shop.platform, shop.name, values)
    for secret in settings.secret_values():
        register_secret(secret)
    return settings


def add_shop(
    session: Session,
    host: PluginHost,
    *,
    name: str,
    platform: str,
    values: Mapping[str, Any],
    now: Any,
) -> t.Shop:
    """Validate and store a new shop. ``values`` are settings fields (secrets included)."""
    if not SHOP_NAME.match(name):
        raise ConfigError(f"invalid shop name {name!r}: use letters, digits, '_', '.', '-' (max 64)")
    info = host.platform(platform)  # UnknownPlatform names the installed ones
    values = {k: v for k, v in values.items() if v is not None}
    check = dict(values)
    for secret in info.settings_model.secret_fields():
        if secret not in check and (env := os.environ.get(env_name(name, secret))):
            check[secret] = env
    check.setdefault("app_secret", "")
    if not check["app_secret"]:
        raise ConfigError(
            f"shop {name!r} needs --app-secret or {env_name(name, 'app_secret')} in the environment"
        )
    if "base_url" not in check:
        default = info.settings_model.model_fields["base_url"].default
        if isinstance(default, str):
            check["base_url"] = default
    settings = _validate(host, platform, name, check)
    if session.scalar(select(t.Shop.id).where(t.Shop.name == name)) is not None:
        raise ConfigError(f"shop {name!r} already exists; remove it first or pick another name")
    fields = info.settings_model.secret_fields()
    dumped = settings.model_dump(exclude={*COLUMN_FIELDS, *fields})
    options = {k: v for k, v in dumped.items() if k in values or k == "base_url"}
    row = t.Shop(
        name=name,
        platform=platform,
        app_key=settings.app_key,
        app_secret="",
        token_expires_at=settings.token_expires_at,
        options=options,
        created_at=now,
    )
    seal = secrets_of(session).seal
    for key in fields:  # only what was given: secrets from the environment stay there
        store_secret(seal, row, key, _plain(values.get(key)))
    session.add(row)
    session.flush()
    return row


def _plain(value: Any) -> str | None:
    raw = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    return None if raw in (None, "") else str(raw)


def set_secrets(session: Session, host: PluginHost, name: str, values: Mapping[str, Any]) -> t.Shop:
    """Replace some of shop ``name``'s stored secrets (e.g. after the key was lost), sealed
    with the current key. Other settings are left alone."""
    shop = get_shop(session, name)
    fields = secret_fields(host, shop.platform)
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(
            f"not secret settings of a {shop.platform} shop: {', '.join(unknown)}; "
            f"its secrets are {', '.join(fields)}"
        )
    if not values:
        raise ConfigError("give at least one secret to store, e.g. --app-secret")
    seal = secrets_of(session).seal
    for key, value in values.items():
        plain = _plain(value)
        if plain is None:
            raise ConfigError(f"empty value for {key}: give the secret itself")
        store_secret(seal, shop, key, plain)
    session.flush()
    return shop


def all_shops(session: Session) -> list[t.Shop]:
    """Every configured shop, by name."""
    return list(session.scalars(select(t.Shop).order_by(t.Shop.name)))


def get_shop(session: Session, name: str) -> t.Shop:
    shop = session.scalar(select(t.Shop).where(t.Shop.name == name))
    if shop is None:
        raise UnknownShop(name)
    return shop


def require_shops(session: Session, names: Sequence[str], database_url: str) -> None:
    """Raise :class:`UnknownShop` for a name that is not a shop, and :class:`ConfigError`
    if no names are given and the database has no shops at all (a cron job run from the
    wrong folder must not report success on an empty hub)."""
    for name in names:
        get_shop(session, name)
    if not names and session.scalar(select(func.count()).select_from(t.Shop)) == 0:
        raise ConfigError(
            f"no shops configured in {describe_database(database_url)}; add one with "
            "`hub shops add`, or point --database-url / HUB_DATABASE_URL at your hub's database"
        )


def describe_shop(host: PluginHost, shop: t.Shop, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """A shop for output: settings with every secret masked, and where secrets come from."""

    fields = secret_fields(host, shop.platform)

    def source(field: str) -> str:
        if environ.get(env_name(shop.name, field)):
            return "env"
        return "db" if _raw_secret(shop, field) else "unset"

    return {
        "name": shop.name,
        "platform": shop.platform,
        "app_key": shop.app_key,
        "app_secret": mask(shop.app_secret or environ.get(env_name(shop.name, "app_secret"))),
        "access_token": mask(shop.access_token or environ.get(env_name(shop.name, "access_token"))),
        "refresh_token": mask(shop.refresh_token or environ.get(env_name(shop.name, "refresh_token"))),
        "secret_sources": {f: source(f) for f in fields},
        "token_expires_at": shop.token_expires_at.isoformat() if shop.token_expires_at else None,
        "base_url": (shop.options or {}).get("base_url"),
        "options": {
            k: MASK if k in fields or is_sealed(v) else v
            for k, v in (shop.options or {}).items()
            if k != "base_url"
        },
        "installed": shop.platform in host.registry,
    }


@dataclass
class ShopRuntime:
    """How to open shops for work: clock, transports, retry policy."""

    host: PluginHost
    db: Database
    clock: Clock
    transport_for: TransportFactory = lambda shop, platform: None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float = 30.0
    breaker_policy: BreakerPolicy = field(default_factory=BreakerPolicy)
    #: one circuit breaker per shop for the life of this runtime (every cycle of a process)
    breakers: dict[str, CircuitBreaker] = field(default_factory=dict)
    #: makes each shop's rate limiter (shop name, its limit); None: one per client, this
    #: process alone (``hub worker`` shares them across workers through the database)
    limiter_for: Callable[[str, RateLimit], RateLimiter] | None = None

    def open(self, shop: t.Shop) -> ShopContext:
        """A ready :class:`ShopContext` (with its platform client) for a stored shop."""
        info = self.host.platform(shop.platform)
        settings = settings_for(self.host, shop, secrets=self.db.secrets)
        transport = self.transport_for(shop.name, shop.platform)
        host_name = urlsplit(settings.base_url).hostname or ""
        if transport is None and host_name.endswith(IN_PROCESS_DOMAIN):
            raise ConfigError(
                f"shop {shop.name!r} points at {settings.base_url}, a sandbox that ran inside `hub demo` "
                "(or a test) and is gone; `hub sandbox serve` runs one to sync with (see docs/sandbox.md)"
            )
        limit = info.rate_limit
        if settings.qps or settings.concurrency:
            limit = RateLimit(
                qps=settings.qps or limit.qps,
                concurrency=settings.concurrency or limit.concurrency,
                burst=limit.burst,
            )
        shop_id = shop.id

        async def save_tokens(tokens: TokenSet) -> None:
            def write(session: Session) -> None:
                row = session.get(t.Shop, shop_id)
                assert row is not None
                store_secret(self.db.secrets.seal, row, "access_token", tokens.access_token)
                if tokens.refresh_token:
                    store_secret(self.db.secrets.seal, row, "refresh_token", tokens.refresh_token)
                row.token_expires_at = tokens.expires_at

            await self.db.run(write)

        # Only tokens stored after this client opened are adopted (another process
        # refreshed them): never a stored token the environment's one overrides.
        stored_at_open = stored_secret(self.db.secrets, shop, "access_token")

        async def load_tokens() -> TokenSet | None:
            def read(session: Session) -> TokenSet | None:
                row = session.get(t.Shop, shop_id)
                access = stored_secret(self.db.secrets, row, "access_token") if row else None
                if row is None or not access or access == stored_at_open:
                    return None
                refresh = stored_secret(self.db.secrets, row, "refresh_token")
                return TokenSet(access, refresh, row.token_expires_at)

            return await self.db.run(read)

        options = HttpOptions(
            shop=shop.name,
            rate_limit=limit,
            clock=self.clock,
            transport=transport,
            retry=self.retry,
            timeout=self.timeout,
            token_store=save_tokens,
            token_load=load_tokens,
            clock_offset=None
            if shop.clock_offset_ms is None
            else timedelta(milliseconds=shop.clock_offset_ms),
            breaker=self.breakers.setdefault(
                shop.name, CircuitBreaker(shop.name, self.clock, self.breaker_policy)
            ),
            limiter=self.limiter_for(shop.name, limit) if self.limiter_for else None,
        )
        client = info.client_class(settings, options)
        return ShopContext(
            name=shop.name,
            platform=shop.platform,
            settings=settings,
            client=client,
            clock=self.clock,
            info=info,
            log=logging.getLogger(f"hub.shop.{shop.name}"),
        )
