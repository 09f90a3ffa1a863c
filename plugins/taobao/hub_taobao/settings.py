"""Settings of a Taobao/Tmall shop.

Every fact the fact sheet marks UNCONFIRMED that changes what we send is a setting here,
with the most plausible default; the README lists them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from hub.platform import ShopSettings

SignMethod = Literal["md5", "hmac", "hmac-sha256"]

#: items.inventory.get ``banner`` values (fact sheet §1.7)
INVENTORY_BANNERS = frozenset(
    {
        "regular_shelved",
        "never_on_shelf",
        "off_shelf",
        "for_shelved",
        "sold_out",
        "violation_off_shelf",
    }
)


class TaobaoSettings(ShopSettings):
    """A Taobao/Tmall shop: the app's key/secret plus the seller's ``session`` (the
    ``access_token`` field). Tokens are renewed outside the hub (re-authorisation)."""

    base_url: str = Field(
        default="https://eco.taobao.com/router/rest",
        description="TOP router gateway (gw.api.taobao.com/router/rest also serves)",
    )
    sign_method: SignMethod = Field(
        default="hmac-sha256", description="how requests are signed: md5, hmac (HMAC-MD5) or hmac-sha256"
    )
    partner_id: str | None = Field(
        default=None, min_length=1, description="optional partner_id system parameter"
    )
    item_page_size: int = Field(
        default=200, ge=1, le=200, description="page size of items.onsale.get / items.inventory.get"
    )
    onsale_max_rows: int = Field(
        default=20_000,
        ge=200,
        description="rows items.onsale.get pages through before it must be sliced by modified time "
        "(the docs say 100,000 in one place and 20,000 in another: UNCONFIRMED)",
    )
    inventory_max_pages: int = Field(
        default=101, ge=1, description="items.inventory.get refuses page_no above this (docs: 101)"
    )
    inventory_banners: tuple[str, ...] = Field(
        default=("for_shelved", "sold_out", "violation_off_shelf"),
        description="items.inventory.get banners read for off-sale listings, one call chain each "
        "(whether banner takes a comma list is UNCONFIRMED, so we never send one)",
    )
    trade_page_size: int = Field(
        default=50, ge=1, le=100, description="trades.sold.increment.get page size (40-50 recommended)"
    )
    trade_types: str | None = Field(
        default=None,
        min_length=1,
        description="comma list sent as `type` to trades.sold.increment.get; None = the platform's "
        "default type set (guarantee_trade, auto_delivery, ec, cod, step)",
    )
    trade_detail: Literal["auto", "always"] = Field(
        default="auto",
        description="auto: call trade.fullinfo.get only for trades the list returned without "
        "sub-orders; always: call it for every trade",
    )
    plain_item_price_method: str | None = Field(
        default="taobao.item.update",
        description="API used to set the price of an item without SKUs (num_iid + price); None "
        "reports such price updates as unsupported (not in our sources: UNCONFIRMED)",
    )

    refund_page_size: int = Field(
        default=100, ge=1, le=100, description="refunds.receive.get page size (≤ 100)"
    )
    refund_max_span_hours: float = Field(
        default=24,
        gt=0,
        le=24 * 30,
        description="longest modified-time window of one refunds.receive.get query (no limit in our "
        "sources: UNCONFIRMED; one day like trades)",
    )

    tmc_group: str = Field(
        default="default", min_length=1, description="TMC group the hub consumes messages of"
    )

    @field_validator("partner_id", "trade_types", "plain_item_price_method", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        # `hub shops add --set trade_types=` gives an empty string: it means "not set".
        return None if isinstance(value, str) and value.strip().lower() in ("", "none") else value

    @field_validator("inventory_banners", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        # `--set inventory_banners=for_shelved,sold_out` arrives as one string.
        if isinstance(value, str):
            return tuple(b.strip() for b in value.split(",") if b.strip())
        return value

    @field_validator("inventory_banners")
    @classmethod
    def _known_banners(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [b for b in value if b not in INVENTORY_BANNERS]
        if unknown:
            raise ValueError(
                f"unknown inventory banner {unknown[0]!r}; choose from {', '.join(sorted(INVENTORY_BANNERS))}"
            )
        return value
