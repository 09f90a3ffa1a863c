"""Settings of one JD shop.

Everything our sources could not confirm (fact sheet: UNCONFIRMED) is a setting here with
the most plausible default, so a shop can correct it without a code change; the plugin
README lists each one.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from hub.platform import ShopSettings

#: Every ``order_state`` JD documents for POP orders (fact sheet §2.8).
ALL_ORDER_STATES: tuple[str, ...] = (
    "WAIT_SELLER_STOCK_OUT",
    "WAIT_SELLER_DELIVERY",
    "PAUSE",
    "POP_ORDER_PAUSE",
    "LOCKED",
    "WAIT_SEND_CODE",
    "WAIT_GOODS_RECEIVE_CONFIRM",
    "FINISHED_L",
    "TRADE_CANCELED",
)

#: JD's documented hard limit for ``page_size`` of the POP order search.
ORDER_PAGE_MAX = 100


class JdSettings(ShopSettings):
    """A JD shop: app key/secret and the merchant's ``access_token`` from JD OAuth, plus
    the protocol options below."""

    base_url: str = Field(
        default="https://api.jd.com/routerjson",
        description="the /routerjson gateway (a sandbox's URL in tests)",
    )
    api_version: str = Field(default="2.0", description="system parameter v")
    timestamp_format: Literal["millis", "plain"] = Field(
        default="millis",
        description="'millis' sends yyyy-MM-dd HH:mm:ss.SSS+0800 (official SDK); "
        "'plain' sends yyyy-MM-dd HH:mm:ss (legacy doc). Both in Asia/Shanghai",
    )
    sku_page_size: int = Field(
        default=50,
        ge=1,
        le=100,
        description="pageSize of jingdong.sku.read.searchSkuList (JD's maximum is UNCONFIRMED)",
    )
    order_page_size: int = Field(
        default=ORDER_PAGE_MAX,
        ge=1,
        le=ORDER_PAGE_MAX,
        description="page_size of the POP order search (JD: at most 100)",
    )
    order_search_method: Literal["jingdong.pop.order.search", "jingdong.pop.order.enSearch"] = Field(
        default="jingdong.pop.order.search",
        description="order search API; enSearch returns the same orders with encrypted buyer data",
    )
    order_get_method: Literal["jingdong.pop.order.get", "jingdong.pop.order.enGet"] = Field(
        default="jingdong.pop.order.get", description="single-order API"
    )
    order_states: tuple[str, ...] = Field(
        default=ALL_ORDER_STATES,
        min_length=1,
        description="order_state values the order search asks for (comma-joined)",
    )
    carrier_ids: dict[str, str] = Field(
        default_factory=dict,
        description="hub carrier name -> JD logiCoprId; unmapped carriers are sent as given",
    )
    stock_store_id: int | None = Field(
        default=None, description="storeId (warehouse) for stock writes; None = the default stock"
    )
    refund_from_payment_time: bool = Field(
        default=True,
        description="report TRADE_CANCELED orders that carry a payment time as refunded "
        "(paid, then cancelled) rather than cancelled (UNCONFIRMED field paymentConfirmTime)",
    )

    aftersale_method: str = Field(
        default="jingdong.asc.query.list",
        min_length=1,
        description="after-sale service order list API (from the JOS SDKs, not the fact sheet: UNCONFIRMED)",
    )
    aftersale_page_size: int = Field(
        default=50, ge=1, le=100, description="pageSize of the after-sale list (JD's maximum is UNCONFIRMED)"
    )
    aftersale_max_span_days: float = Field(
        default=7, gt=0, le=31, description="longest updateTime window of one after-sale query (UNCONFIRMED)"
    )
    aftersale_bu_id: str | None = Field(
        default=None,
        description="buId sent with the after-sale list (the vendor id; UNCONFIRMED whether needed)",
    )
    aftersale_operate_pin: str | None = Field(
        default=None, description="operatePin sent with the after-sale list (UNCONFIRMED whether needed)"
    )
    aftersale_received_steps: tuple[str, ...] = Field(
        default=("33", "34", "40", "50"),
        description="serviceStep codes at which returned goods are with the merchant (UNCONFIRMED codes)",
    )

    @field_validator("aftersale_received_steps", mode="before")
    @classmethod
    def _steps(cls, value: object) -> object:
        # `--set aftersale_received_steps=33,34` arrives as one string.
        return tuple(v.strip() for v in value.split(",") if v.strip()) if isinstance(value, str) else value

    @field_validator("order_states")
    @classmethod
    def _known_states(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in value if s not in ALL_ORDER_STATES]
        if unknown:
            raise ValueError(f"unknown JD order_state {unknown[0]!r}; known: {', '.join(ALL_ORDER_STATES)}")
        return value


__all__ = ["ALL_ORDER_STATES", "ORDER_PAGE_MAX", "JdSettings"]
