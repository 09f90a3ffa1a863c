"""Configured shops: adding them, validating their settings, and opening them for work.

A shop's secrets may live in the database or come from the environment:
``HUB_SHOP_<NAME>_APP_SECRET``, ``HUB_SHOP_<NAME>_ACCESS_TOKEN``,
``HUB_SHOP_<NAME>_REFRESH_TOKEN``, ``HUB_SHOP_<NAME>_PUSH_TOKEN`` and
``HUB_SHOP_<NAME>_PUSH_AES_KEY`` (``NAME`` upper-cased, other characters as ``_``).
The environment wins over the database. The push secrets are kept with the shop's
options (masked in every output like the others).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.clock import Clock
from hub.core.http import HttpOptions, RetryPolicy
from hub.core.ratelimit import RateLimit
from hub.credentials import OPTION_SECRETS
from hub.errors import ConfigError, UnknownShop
from hub.platform import SECRET_FIELDS, ShopContext, ShopSettings, TokenSet
from hub.plugins import PluginHost
from hub.secrets import mask, register_secret
from hub.storage import tables as t
from hub.storage.db import Database

SHOP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
COLUMN_FIELDS = ("app_key", "app_secret", "access_token", "refresh_token", "token_expires_at")

TransportFactory = Callable[[str, str], httpx.AsyncBaseTransport | None]
"""(shop name, platform) -> the transport to use, or None for the real network."""


def env_name(shop: str, field: str) -> str:
    return f"HUB_SHOP_{re.sub(r'[^A-Za-z0-9]', '_', shop).upper()}_{field.upper()}"


def _validate(host: PluginHost, platform: str, shop: str, values: Mapping[str, Any]) -> ShopSettings:
    info = host.platform(platform)
    try:
        return info.settings_model(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings for shop {shop!r} ({platform}): {problems}") from None


def settings_for(host: PluginHost, shop: t.Shop, environ: Mapping[str, str] = os.environ) -> ShopSettings:
    """Validated settings of a stored shop, secrets from the environment taking precedence."""
    values: dict[str, Any] = dict(shop.options or {})
    for name in COLUMN_FIELDS:
        value = getattr(shop, name)
        if value not in (None, ""):
            values[name] = value
    for name in SECRET_FIELDS:
        if env := environ.get(env_name(shop.name, name)):
            values[name] = env
    if not values.get("app_secret"):
        raise ConfigError(
            f"shop {shop.name!r} has no app secret: store one with `hub shops add` "
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
    for secret in SECRET_FIELDS:
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
    dumped = settings.model_dump(exclude=set(COLUMN_FIELDS))
    options = {k: v for k, v in dumped.items() if k in values or k == "base_url"}
    for secret in OPTION_SECRETS:  # stored as given (a dump would hold a SecretStr)
        if values.get(secret):
            options[secret] = str(values[secret])
    row = t.Shop(
        name=name,
        platform=platform,
        app_key=settings.app_key,
        app_secret=values.get("app_secret", ""),
        access_token=values.get("access_token"),
        refresh_token=values.get("refresh_token"),
        token_expires_at=settings.token_expires_at,
        options=options,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def get_shop(session: Session, name: str) -> t.Shop:
    shop = session.scalar(select(t.Shop).where(t.Shop.name == name))
    if shop is None:
        raise UnknownShop(name)
    return shop


def describe_shop(host: PluginHost, shop: t.Shop, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """A shop for output: settings with every secret masked, and where secrets come from."""

    options = dict(shop.options or {})

    def source(field: str) -> str:
        if environ.get(env_name(shop.name, field)):
            return "env"
        stored = options.get(field) if field in OPTION_SECRETS else getattr(shop, field)
        return "db" if stored else "unset"

    return {
        "name": shop.name,
        "platform": shop.platform,
        "app_key": shop.app_key,
        "app_secret": mask(shop.app_secret or environ.get(env_name(shop.name, "app_secret"))),
        "access_token": mask(shop.access_token or environ.get(env_name(shop.name, "access_token"))),
        "refresh_token": mask(shop.refresh_token or environ.get(env_name(shop.name, "refresh_token"))),
        "secret_sources": {f: source(f) for f in SECRET_FIELDS},
        "token_expires_at": shop.token_expires_at.isoformat() if shop.token_expires_at else None,
        "base_url": (shop.options or {}).get("base_url"),
        "options": {
            k: mask(v) if k in OPTION_SECRETS else v for k, v in options.items() if k != "base_url"
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

    def open(self, shop: t.Shop) -> ShopContext:
        """A ready :class:`ShopContext` (with its platform client) for a stored shop."""
        info = self.host.platform(shop.platform)
        settings = settings_for(self.host, shop)
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
                row.access_token = tokens.access_token
                if tokens.refresh_token:
                    row.refresh_token = tokens.refresh_token
                row.token_expires_at = tokens.expires_at

            await self.db.run(write)

        options = HttpOptions(
            shop=shop.name,
            rate_limit=limit,
            clock=self.clock,
            transport=self.transport_for(shop.name, shop.platform),
            retry=self.retry,
            timeout=self.timeout,
            token_store=save_tokens,
            clock_offset=None
            if shop.clock_offset_ms is None
            else timedelta(milliseconds=shop.clock_offset_ms),
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
