"""Signing: Douyin publishes no official vector, so the vectors below are the fact sheet's
SELF-COMPUTED ones (§3.2): regression values for the documented recipe, not proof."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub_douyin import signing

# Fact sheet §3.2, "Worked example: SELF-COMPUTED, not official".
VECTOR = {
    "app_key": "3409409348479354011",
    "method": "product.getGoodsCategory",
    "param_json": '{"cid":"12","page":"1"}',
    "timestamp": "2020-09-15 14:48:13",
}
SECRET = "helloworld"


def test_string_to_sign_matches_the_worked_example() -> None:
    wrapped = SECRET + signing.string_to_sign(**VECTOR) + SECRET
    assert wrapped == (
        "helloworldapp_key3409409348479354011methodproduct.getGoodsCategory"
        'param_json{"cid":"12","page":"1"}timestamp2020-09-15 14:48:13v2helloworld'
    )


def test_hmac_sha256_self_computed_vector() -> None:
    assert signing.sign(app_secret=SECRET, sign_method="hmac-sha256", **VECTOR) == (
        "c6e1b25d4f14cdbdd36cfdb896a160122d324a954d1ee1620e136c11463b6642"
    )


def test_md5_self_computed_vector() -> None:
    assert signing.sign(app_secret=SECRET, sign_method="md5", **VECTOR) == (
        "c656bcc0eb1c976ef23c634463663307"
    )


def test_hmac_sha256_self_computed_vector_with_unix_timestamp() -> None:
    assert signing.sign(
        app_secret=SECRET, sign_method="hmac-sha256", **{**VECTOR, "timestamp": "1600152493"}
    ) == ("a42c340513ebedef265083b62cc80eadb04b28c7f8329f64689eca3447842fc2")


def test_unknown_sign_method_is_refused() -> None:
    with pytest.raises(ValueError, match="sign_method"):
        signing.sign(app_secret=SECRET, sign_method="sha1", **VECTOR)


def test_param_json_sorts_keys_at_every_level_compactly_without_escaping() -> None:
    text = signing.param_json({"b": 1, "a": {"z": [{"y": 2, "x": "红<&>"}], "c": True}})
    assert text == '{"a":{"c":true,"z":[{"x":"红<&>","y":2}]},"b":1}'
    assert signing.param_json({}) == "{}"


def test_method_is_the_path_with_dots() -> None:
    assert signing.method_for_path("/order/searchList") == "order.searchList"
    assert signing.method_for_path("//sku/syncStock") == "sku.syncStock"
    assert signing.method_for_path("/token/refresh") == "token.refresh"


def test_timestamp_formats() -> None:
    when = datetime(2020, 9, 15, 6, 48, 13, tzinfo=UTC)  # 14:48:13 in Asia/Shanghai
    assert signing.format_timestamp(when, "unix") == "1600152493"
    assert signing.format_timestamp(when, "datetime") == "2020-09-15 14:48:13"
    with pytest.raises(ValueError, match="timestamp format"):
        signing.format_timestamp(when, "iso")  # type: ignore[arg-type]
