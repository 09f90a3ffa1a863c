"""Event-push signatures (fact sheet §4.7) against the official vector."""

from __future__ import annotations

import hashlib

from hub_wechat.signing import push_signature, verify_msg_signature, verify_signature

# OFFICIAL example of the store's message-push doc [W10], recomputed in the fact sheet.
TOKEN, TIMESTAMP, NONCE = "AAAAA", "1714036504", "1514711492"
OFFICIAL = "f464b24fc39322e44b38aa78f5edd27bd1441696"


def test_official_url_verification_vector() -> None:
    assert push_signature(TOKEN, TIMESTAMP, NONCE) == OFFICIAL
    assert verify_signature(TOKEN, TIMESTAMP, NONCE, OFFICIAL)


def test_numbers_and_case_are_accepted() -> None:
    assert verify_signature(TOKEN, 1714036504, 1514711492, OFFICIAL.upper())


def test_wrong_token_timestamp_or_signature_is_refused() -> None:
    assert not verify_signature("AAAAB", TIMESTAMP, NONCE, OFFICIAL)
    assert not verify_signature(TOKEN, "1714036505", NONCE, OFFICIAL)
    assert not verify_signature(TOKEN, TIMESTAMP, NONCE, OFFICIAL[:-1] + "7")
    assert not verify_signature(TOKEN, TIMESTAMP, NONCE, "")


def test_parts_are_sorted_not_concatenated_in_order() -> None:
    unsorted = hashlib.sha1((TOKEN + TIMESTAMP + NONCE).encode()).hexdigest()
    assert not verify_signature(TOKEN, TIMESTAMP, NONCE, unsorted)


def test_msg_signature_self_computed_vector() -> None:
    # SELF-COMPUTED (not official): sorted [token, timestamp, nonce, Encrypt], SHA1.
    encrypt = "ENCRYPTED_BODY_BASE64=="
    expected = "6c0cafa21eabfa1d5946fc766af2528a1d495c11"
    by_hand = hashlib.sha1("".join(sorted([TOKEN, TIMESTAMP, NONCE, encrypt])).encode()).hexdigest()
    assert by_hand == expected
    assert verify_msg_signature(TOKEN, TIMESTAMP, NONCE, encrypt, expected)
    assert not verify_msg_signature(TOKEN, TIMESTAMP, NONCE, encrypt + "x", expected)
