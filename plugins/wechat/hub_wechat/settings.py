"""Per-shop settings of a WeChat store.

``app_key`` is the store's AppID and ``app_secret`` its AppSecret. ``access_token`` is
optional: the client fetches one from the token API before its first call and keeps it
fresh. Every option below that is not a documented platform fact is marked UNCONFIRMED
in the plugin README, with the reasoning behind its default.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hub.platform import ShopSettings

PRODUCTION_URL = "https://api.weixin.qq.com"

MasterCodeSource = Literal["sku_code", "sku_code_or_out_sku_id", "out_sku_id"]


class WechatSettings(ShopSettings):
    """Settings of one WeChat store; see the plugin README for each option."""

    base_url: str = Field(default=PRODUCTION_URL, description="API origin (no path)")
    token_api: Literal["stable_token", "token"] = Field(
        default="stable_token",
        description="stable_token (POST /cgi-bin/stable_token, recommended) or token "
        "(GET /cgi-bin/token); their tokens are isolated from each other",
    )
    product_page_size: int = Field(
        default=30,
        ge=1,
        le=100,
        description="page_size of product/list/get (documented maximum 30; UNCONFIRMED)",
    )
    product_status: int | None = Field(
        default=None,
        description="status filter of product/list/get; None lists every product except the recycle bin",
    )
    order_page_size: int = Field(
        default=100, ge=1, le=100, description="page_size of order/list/get (at most 100)"
    )
    master_code_source: MasterCodeSource = Field(
        default="sku_code_or_out_sku_id",
        description="which SKU field holds the 商家编码: sku_code, out_sku_id, or "
        "sku_code falling back to out_sku_id when sku_code is empty",
    )
    stock_field: Literal["total_stock_num", "normal_stock_num"] = Field(
        default="total_stock_num",
        description="which stock/get figure is the sellable quantity",
    )
    aftersale_time_field: Literal["update", "create"] = Field(
        default="update",
        description="which time pair getaftersalelist is asked by: begin/end_update_time (the current "
        "doc) or begin/end_create_time (the older doc's only pair; then a case that changes later is "
        "not read again). UNCONFIRMED which pair every shop's API accepts",
    )
    carrier_codes: dict[str, str] = Field(
        default_factory=dict,
        description="hub carrier -> WeChat delivery_id (courier code); unmapped "
        "carriers are sent as they are",
    )
    deliver_type: int = Field(
        default=1, description="delivery_list[].deliver_type (1 = courier; UNCONFIRMED)"
    )
