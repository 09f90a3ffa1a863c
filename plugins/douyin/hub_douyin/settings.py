"""Settings of one Douyin shop.

Items the fact sheet marks UNCONFIRMED are settings here, each with the most plausible
default; the plugin README lists them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hub.platform import ShopSettings

PRODUCTION_GATEWAY = "https://openapi-fxg.jinritemai.com"
MAX_PAGE_SIZE = 100  # product.listV2 and order.searchList both refuse more
MAX_PRODUCT_ROWS = 10_000  # product.listV2: page * size may not exceed this


class DouyinSettings(ShopSettings):
    """A Douyin shop: app credentials, the shop's tokens and protocol options."""

    base_url: str = Field(
        default=PRODUCTION_GATEWAY, description="gateway origin (no path); API paths are appended"
    )
    sign_method: Literal["hmac-sha256", "md5"] = Field(
        default="hmac-sha256", description="request signature; md5 is said to be retired later"
    )
    timestamp_format: Literal["unix", "datetime"] = Field(
        default="unix",
        description="'unix' seconds (as the official SDKs send) or 'datetime' "
        "(yyyy-MM-dd HH:mm:ss GMT+8, as the API guide documents)",
    )
    token_expires_in: Literal["seconds", "timestamp"] = Field(
        default="seconds",
        description="UNCONFIRMED: whether token.refresh's expires_in is a number of seconds "
        "from now or an absolute Unix time",
    )
    order_window_hours: float = Field(
        default=24.0,
        gt=0,
        le=24 * 31,
        description="UNCONFIRMED: longest update-time window one order.searchList query may "
        "span; longer windows are split",
    )
    order_window_end_inclusive: bool = Field(
        default=True,
        description="UNCONFIRMED: order.searchList includes orders updated exactly at "
        "update_time_end (True) or excludes them (False)",
    )
    page_size: int = Field(
        default=MAX_PAGE_SIZE,
        ge=1,
        le=MAX_PAGE_SIZE,
        description="rows per product.listV2 / order.searchList page",
    )
    aftersale_path: str = Field(
        default="/afterSale/List",
        pattern=r"^/\w+/\w+$",
        description="UNCONFIRMED: the after-sale list API (not in the fact sheet; the doudian SDK's path)",
    )
    aftersale_window_hours: float = Field(
        default=24.0,
        gt=0,
        le=24 * 31,
        description="UNCONFIRMED: longest update-time window one after-sale list query may span",
    )
    product_list_max_rows: int = Field(
        default=MAX_PRODUCT_ROWS,
        ge=1,
        description="product.listV2 serves at most this many rows per query (page*size); "
        "larger shops are read in creation-time slices",
    )
    carrier_codes: dict[str, str] = Field(
        default_factory=dict,
        description="hub carrier name -> Douyin logistics company_code (e.g. SF -> shunfeng); "
        "carriers not listed are sent as given",
    )
