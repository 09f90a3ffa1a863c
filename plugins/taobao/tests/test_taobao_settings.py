"""Shop settings: defaults, and values as `hub shops add --set KEY=VALUE` passes them (strings)."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from hub_taobao.settings import TaobaoSettings

BASE = {"app_key": "12345678", "app_secret": "s3cret-value"}


def test_defaults() -> None:
    settings = TaobaoSettings(**BASE)
    assert settings.base_url == "https://eco.taobao.com/router/rest"
    assert settings.sign_method == "hmac-sha256" and settings.trade_page_size == 50
    assert settings.inventory_banners == ("for_shelved", "sold_out", "violation_off_shelf")
    assert settings.plain_item_price_method == "taobao.item.update" and settings.trade_types is None
    assert "s3cret-value" not in repr(settings)


def test_string_values_from_the_command_line() -> None:
    settings = TaobaoSettings(
        **BASE,
        inventory_banners="off_shelf, sold_out",
        trade_types="",
        plain_item_price_method="none",
        partner_id="",
        trade_page_size="100",
    )
    assert settings.inventory_banners == ("off_shelf", "sold_out")
    assert settings.trade_types is None and settings.plain_item_price_method is None
    assert settings.partner_id is None and settings.trade_page_size == 100


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sign_method", "sha1", "sign_method"),
        ("trade_page_size", 101, "trade_page_size"),
        ("item_page_size", 201, "item_page_size"),
        ("inventory_banners", "for_shelved,everything", "unknown inventory banner 'everything'"),
        ("base_url", "eco.taobao.com/router/rest", "not an http(s) URL"),
        ("sign_methd", "md5", "sign_methd"),
    ],
)
def test_bad_values_name_the_setting(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        TaobaoSettings(**BASE, **{field: value})
