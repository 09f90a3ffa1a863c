"""Canonical models enforce the hub's two rules: integer fen, aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from hub.models import (
    Listing,
    Order,
    OrderLine,
    OrderStatus,
    Promotion,
    PromotionKind,
    Sku,
    TimeWindow,
)
from hub.units import fen_to_yuan, format_cn_time, parse_cn_time, yuan_to_fen

T0 = datetime(2026, 11, 11, tzinfo=UTC)


def line(**kw: object) -> OrderLine:
    base = {"line_id": "1", "platform_item_id": "i", "platform_sku_id": "s", "quantity": 1, "unit_price": 100}
    return OrderLine(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize("price", [19.9, "19.90", -1, 1.0])
def test_money_must_be_non_negative_integer_fen(price: object) -> None:
    with pytest.raises(ValidationError):
        Sku(code="A", price=price)  # type: ignore[arg-type]


def test_naive_datetimes_are_refused_and_aware_ones_become_utc() -> None:
    with pytest.raises(ValidationError, match="naive"):
        TimeWindow(start=datetime(2026, 1, 1), end=T0)
    cn = timezone(timedelta(hours=8))
    window = TimeWindow(start=datetime(2026, 11, 11, 8, tzinfo=cn), end=T0 + timedelta(hours=1))
    assert window.start == T0 and window.start.tzinfo == UTC


def test_window_must_move_forward() -> None:
    with pytest.raises(ValidationError):
        TimeWindow(start=T0, end=T0)


def test_order_lines_must_be_unique_and_present() -> None:
    common = {
        "platform_order_id": "o1",
        "status": OrderStatus.AWAITING_SHIPMENT,
        "platform_status": "X",
        "created_at": T0,
        "modified_at": T0,
        "total": 100,
    }
    with pytest.raises(ValidationError, match="duplicate line"):
        Order(**common, lines=(line(), line()))  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Order(**common, lines=())  # type: ignore[arg-type]


def test_status_ranks_never_go_backwards_past_terminal_states() -> None:
    assert OrderStatus.SHIPPED.rank > OrderStatus.AWAITING_SHIPMENT.rank
    assert OrderStatus.REFUNDED.rank > OrderStatus.COMPLETED.rank
    assert OrderStatus.AWAITING_SHIPMENT.holds_stock and not OrderStatus.SHIPPED.holds_stock


def test_listing_rejects_negative_quantity() -> None:
    with pytest.raises(ValidationError):
        Listing(platform_item_id="i", platform_sku_id="s", price=100, quantity=-1)


@pytest.mark.parametrize(
    ("kind", "params", "error"),
    [
        (PromotionKind.PERCENT_DISCOUNT, {}, "needs percent_off"),
        (PromotionKind.FLASH_PRICE, {"flash_price": 100, "percent_off": 10}, "does not take"),
        (PromotionKind.SPEND_SAVE, {"spend_threshold": 100, "spend_discount": 100}, "below"),
    ],
)
def test_promotion_fields_match_the_kind(kind: PromotionKind, params: dict, error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        Promotion(
            name="p",
            kind=kind,
            starts_at=T0,
            ends_at=T0 + timedelta(hours=1),
            skus=("A",),
            shops=("s",),
            **params,
        )


def test_promotion_must_end_after_it_starts_and_prices_round_down() -> None:
    with pytest.raises(ValidationError, match="end after"):
        Promotion(
            name="p",
            kind=PromotionKind.FLASH_PRICE,
            flash_price=1,
            starts_at=T0,
            ends_at=T0,
            skus=("A",),
            shops=("s",),
        )
    promo = Promotion(
        name="p",
        kind=PromotionKind.PERCENT_DISCOUNT,
        percent_off=15,
        starts_at=T0,
        ends_at=T0 + timedelta(hours=1),
        skus=("A",),
        shops=("s",),
    )
    assert promo.price_for(999) == 849  # 849.15 fen: the merchant never gets less than asked


@pytest.mark.parametrize(
    ("yuan", "fen"), [("19.90", 1990), ("0.01", 1), ("200", 20000), (" 5.5 ", 550), ("-3.10", -310)]
)
def test_yuan_to_fen(yuan: str, fen: int) -> None:
    assert yuan_to_fen(yuan) == fen
    assert yuan_to_fen(fen_to_yuan(fen)) == fen


@pytest.mark.parametrize("bad", ["19.999", "abc", "NaN", ""])
def test_yuan_to_fen_refuses_what_is_not_money(bad: str) -> None:
    with pytest.raises(ValueError):
        yuan_to_fen(bad)


def test_shanghai_wall_clock_round_trip() -> None:
    assert parse_cn_time("2026-11-11 08:00:00") == T0
    assert format_cn_time(T0) == "2026-11-11 08:00:00"
    with pytest.raises(ValueError, match="naive"):
        format_cn_time(datetime(2026, 1, 1))
