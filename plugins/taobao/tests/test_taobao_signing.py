"""TOP signing against the fact sheet's vectors (§1.3)."""

from __future__ import annotations

import hashlib

import pytest

from hub_taobao.signing import (
    sign,
    sign_hmac_md5,
    sign_hmac_sha256,
    sign_md5,
    string_to_sign,
    verify,
)

# Vector A: the official example, VERIFIED in the fact sheet.
VECTOR_A = {
    "method": "taobao.item.seller.get",
    "app_key": "12345678",
    "session": "test",
    "timestamp": "2016-01-01 12:00:00",
    "format": "json",
    "v": "2.0",
    "sign_method": "md5",
    "fields": "num_iid,title,nick,price,num",
    "num_iid": "11223344",
}
# Vector B: the second published example, VERIFIED in the fact sheet.
VECTOR_B = {
    "method": "taobao.user.seller.get",
    "timestamp": "2013-05-06 13:52:03",
    "format": "xml",
    "app_key": "test",
    "v": "2.0",
    "fields": "nick",
    "sign_method": "md5",
    "session": "test",
}


def test_official_vector_a_string_to_sign() -> None:
    assert string_to_sign(VECTOR_A) == (
        "app_key12345678fieldsnum_iid,title,nick,price,numformatjsonmethodtaobao.item.seller.get"
        "num_iid11223344sessiontestsign_methodmd5timestamp2016-01-01 12:00:00v2.0"
    )


def test_official_vector_a_md5() -> None:
    assert sign_md5("helloworld", VECTOR_A) == "66987CB115214E59E6EC978214934FB8"
    assert sign("helloworld", VECTOR_A, "md5") == "66987CB115214E59E6EC978214934FB8"


def test_official_vector_b_md5() -> None:
    assert sign_md5("test", VECTOR_B) == "72CB4D809B375A54502C09360D879C64"


def test_self_computed_vector_c_hmac_md5() -> None:
    # SELF-COMPUTED in the fact sheet (regression value, not an official vector).
    params = {**VECTOR_A, "sign_method": "hmac"}
    assert sign_hmac_md5("helloworld", params) == "D56D7858309C31B6251083A874D48273"
    assert sign("helloworld", params, "hmac") == "D56D7858309C31B6251083A874D48273"


def test_self_computed_vector_c_hmac_sha256() -> None:
    # SELF-COMPUTED in the fact sheet (regression value, not an official vector).
    params = {**VECTOR_A, "sign_method": "hmac-sha256"}
    expected = "04DB15AD0774D5CFCE2C837DE43E3FCEA9011ED74F3038FB6AB5F3C4CEA119E8"
    assert sign_hmac_sha256("helloworld", params) == expected
    assert len(expected) == 64


def test_sign_itself_is_never_signed() -> None:
    assert sign_md5("helloworld", {**VECTOR_A, "sign": "ANYTHING"}) == "66987CB115214E59E6EC978214934FB8"


def test_values_are_signed_raw_not_url_encoded() -> None:
    params = {"q": "纯棉 T恤&x=1"}
    assert string_to_sign(params) == "q纯棉 T恤&x=1"


def test_empty_values_are_refused() -> None:
    with pytest.raises(ValueError, match="'outer_id' is empty"):
        sign_md5("s", {"a": "1", "outer_id": ""})


def test_unknown_sign_method_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown sign_method 'sha1'"):
        sign("s", {"a": "1"}, "sha1")


def test_verify_accepts_lower_case_and_either_empty_rule() -> None:
    assert verify("helloworld", VECTOR_A, "md5", "66987cb115214e59e6ec978214934fb8")
    assert not verify("helloworld", VECTOR_A, "md5", "66987CB115214E59E6EC978214934FB9")
    assert not verify("helloworld", VECTOR_A, "sha1", "66987CB115214E59E6EC978214934FB8")
    # A Java-SDK-style client leaves an empty parameter out of the string; a Python-SDK-style
    # client signs it. A server accepts both.
    with_empty = {**VECTOR_A, "extra": ""}
    java_style = sign_md5("helloworld", VECTOR_A)
    text = string_to_sign(with_empty, empty="keep")
    assert "extra" in text and text.index("extra") < text.index("fields")
    python_style = hashlib.md5(f"helloworld{text}helloworld".encode()).hexdigest().upper()
    assert java_style != python_style
    assert verify("helloworld", with_empty, "md5", java_style)
    assert verify("helloworld", with_empty, "md5", python_style)
    assert not verify("helloworld", with_empty, "md5", sign_md5("helloworld", {**VECTOR_A, "extra": "x"}))
