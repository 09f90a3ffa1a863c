"""What a shop is configured with: its settings (credentials and gateway) and the tokens
a client obtains by refreshing.

Kept apart from :mod:`hub.platform` so that the base client (:mod:`hub.core.http`) can
use them without importing what plugins register; :mod:`hub.platform` re-exports them.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from hub.models import UTCDateTime

__all__ = ["SECRET_FIELDS", "ShopSettings", "TokenLoad", "TokenSet", "TokenStore"]

#: The secrets every shop has, each in its own column; a ``SecretStr`` field beyond these
#: (the push secrets below, a plugin's own) is stored sealed in the shop's options.
SECRET_FIELDS = ("app_secret", "access_token", "refresh_token")


class ShopSettings(BaseModel):
    """Settings every shop has. A plugin subclasses this and adds its own fields (with
    defaults, e.g. a signing method), and sets ``base_url`` to its production gateway."""

    model_config = ConfigDict(extra="forbid")

    app_key: str = Field(min_length=1, description="the app's key on the platform")
    app_secret: SecretStr = Field(description="the app's secret; never shown")
    access_token: SecretStr | None = Field(default=None, description="the shop's token")
    refresh_token: SecretStr | None = None
    token_expires_at: UTCDateTime | None = None
    base_url: str = Field(description="API gateway; point it at a sandbox for tests")
    push_token: SecretStr | None = Field(
        default=None, description="the Token configured for push messages (WeChat); never shown"
    )
    push_aes_key: SecretStr | None = Field(
        default=None, description="the EncodingAESKey of encrypted push messages (WeChat); never shown"
    )
    qps: float | None = Field(default=None, gt=0, description="override the platform QPS")
    concurrency: int | None = Field(default=None, ge=1, description="override in-flight cap")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value.rstrip("/")

    @classmethod
    def secret_fields(cls) -> tuple[str, ...]:
        """Every secret field: the common ones, then any ``SecretStr`` field a plugin adds
        (e.g. a push token). All of them are encrypted when stored and may come from
        ``HUB_SHOP_<NAME>_<FIELD>``."""
        extra = [
            name
            for name, info in cls.model_fields.items()
            if name not in SECRET_FIELDS
            and (info.annotation is SecretStr or SecretStr in typing.get_args(info.annotation))
        ]
        return (*SECRET_FIELDS, *extra)

    def secret_values(self) -> list[str]:
        """Every secret in these settings, for log masking."""
        out = []
        for name in self.secret_fields():
            value = getattr(self, name, None)
            if value is not None and value.get_secret_value():
                out.append(value.get_secret_value())
        return out


@dataclass(frozen=True)
class TokenSet:
    """Fresh credentials a plugin obtained by refreshing; the core persists them."""

    access_token: str
    refresh_token: str | None = None
    expires_at: datetime | None = None


TokenStore = Callable[[TokenSet], Awaitable[None]]
"""Persists refreshed tokens for the shop (the core writes them to the database)."""

TokenLoad = Callable[[], Awaitable[TokenSet | None]]
"""Reads the shop's stored tokens again (another process may have refreshed them)."""
