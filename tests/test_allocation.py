"""Allocation math: shared and partitioned modes, caps, floors, rebalancing."""

from __future__ import annotations

import random

import pytest

from hub.core.allocation import Rule, ShopInput, partitioned_targets, sellable, shared_targets

BIG = 10**9


def shops(**kw: ShopInput) -> dict[str, ShopInput]:
    return kw


def test_sellable_never_negative() -> None:
    assert sellable(100, 30, 10) == 60
    assert sellable(5, 10, 0) == 0


def test_shared_mode_applies_share_cap_floor_and_warehouse_limit() -> None:
    got = shared_targets(
        100,
        shops(
            a=ShopInput(Rule(), BIG),
            b=ShopInput(Rule(share=50), BIG),
            c=ShopInput(Rule(cap=30), BIG),
            d=ShopInput(Rule(), limit=40),
            e=ShopInput(Rule(share=3, floor=5), BIG),
        ),
    )
    assert got == {"a": 100, "b": 50, "c": 30, "d": 40, "e": 0}


def test_partitioned_mode_never_shows_more_than_exists() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        total = rng.randrange(0, 60)
        inputs = {
            f"s{i}": ShopInput(
                Rule(
                    share=rng.choice([0, 10, 50, 100]),
                    cap=rng.choice([None, 3, 20]),
                    floor=rng.choice([0, 0, 2, 5]),
                ),
                limit=rng.choice([BIG, 10, 0]),
                sold_recently=rng.randrange(0, 30),
            )
            for i in range(rng.randrange(1, 6))
        }
        got = partitioned_targets(total, inputs)
        assert sum(got.values()) <= total
        for name, value in got.items():
            rule, limit = inputs[name].rule, inputs[name].limit
            assert 0 <= value <= min(limit, rule.cap if rule.cap is not None else BIG)
            assert value == 0 or value >= rule.floor


def test_partitioned_mode_uses_all_units_when_nothing_limits_it() -> None:
    got = partitioned_targets(
        10,
        shops(
            a=ShopInput(Rule(), BIG),
            b=ShopInput(Rule(), BIG),
            c=ShopInput(Rule(), BIG),
            d=ShopInput(Rule(), BIG),
        ),
    )
    assert sum(got.values()) == 10 and max(got.values()) - min(got.values()) <= 1


def test_units_move_toward_the_shops_that_sell() -> None:
    got = partitioned_targets(
        20,
        shops(
            seller=ShopInput(Rule(), BIG, sold_recently=30),
            idle1=ShopInput(Rule(), BIG),
            idle2=ShopInput(Rule(), BIG),
        ),
    )
    assert got["seller"] >= 18 and sum(got.values()) == 20
    last_units = partitioned_targets(
        3, shops(seller=ShopInput(Rule(), BIG, sold_recently=30), idle=ShopInput(Rule(), BIG))
    )
    assert last_units == {"seller": 3, "idle": 0}


def test_capped_and_floored_units_go_to_the_others() -> None:
    got = partitioned_targets(12, shops(a=ShopInput(Rule(cap=2), BIG), b=ShopInput(Rule(), BIG)))
    assert got == {"a": 2, "b": 10}
    got = partitioned_targets(
        6, shops(a=ShopInput(Rule(floor=4), BIG), b=ShopInput(Rule(), BIG), c=ShopInput(Rule(), BIG))
    )
    assert got == {"a": 0, "b": 3, "c": 3}


@pytest.mark.parametrize("total", [0, 1])
def test_tiny_totals(total: int) -> None:
    got = partitioned_targets(total, shops(a=ShopInput(Rule(), BIG), b=ShopInput(Rule(), BIG)))
    assert sum(got.values()) == total
