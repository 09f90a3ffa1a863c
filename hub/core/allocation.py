"""Allocation: how much of a SKU each shop may show. Pure functions, no I/O.

``sellable = on_hand - reserved - safety_stock`` (never below 0).

Each shop has a rule: ``share`` (percent of sellable), ``cap`` (at most this many),
``floor`` (below this, show 0 — a shop with two units left shows none rather than risk
them) and the warehouses that feed it (its ``limit``: at most what those hold).

* **Shared** mode: every shop independently shows
  ``min(sellable * share%, cap, limit)``, or 0 under its floor. Shops together may show
  more than exists; fine while stock is plentiful.
* **Partitioned** mode: the sellable units are divided, so the shops together never
  show more than exists and no sync delay can oversell. Units go to shops in proportion
  to ``share * (units sold recently + 1)``, so unsold units drift each cycle toward the
  shops that are selling; largest remainders round, caps and floors are respected and
  what they free is handed to the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hub.validation import MAX_QUANTITY


@dataclass(frozen=True)
class Rule:
    share: int = 100
    cap: int | None = None
    floor: int = 0


@dataclass(frozen=True)
class ShopInput:
    """One shop's situation for one SKU."""

    rule: Rule
    limit: int  # most units the shop's warehouses can supply
    sold_recently: int = 0


def sellable(on_hand: int, reserved: int, safety: int) -> int:
    """Units that may be offered; never more than one platform quantity may hold (the sum
    of several warehouses could exceed it)."""
    return min(MAX_QUANTITY, max(0, on_hand - reserved - safety))


def shared_targets(total: int, shops: Mapping[str, ShopInput]) -> dict[str, int]:
    out = {}
    for name, shop in shops.items():
        target = min(total * shop.rule.share // 100, shop.limit)
        if shop.rule.cap is not None:
            target = min(target, shop.rule.cap)
        out[name] = 0 if target < shop.rule.floor else max(0, target)
    return out


def partitioned_targets(total: int, shops: Mapping[str, ShopInput]) -> dict[str, int]:
    """Divide ``total`` units among ``shops``; the result never sums to more than ``total``."""
    out = dict.fromkeys(shops, 0)
    # A shop whose ceiling is under its floor could never show anything.
    active = {n for n, s in shops.items() if s.rule.share > 0 and _ceiling(s) >= max(1, s.rule.floor)}
    while active:
        weights = {n: shops[n].rule.share * (shops[n].sold_recently + 1) for n in active}
        shares = _largest_remainder(total - sum(out[n] for n in shops if n not in active), weights)
        over = {n for n in active if shares[n] > _ceiling(shops[n])}
        if over:  # capped shops keep their ceiling; the rest is divided again among the others
            for n in over:
                out[n] = _ceiling(shops[n])
            active -= over
            continue
        under_floor = {n for n in active if 0 < shares[n] < shops[n].rule.floor}
        if under_floor:  # below its floor a shop shows nothing; its units go to the others
            worst = min(under_floor, key=lambda n: (weights[n], n))
            out[worst] = 0
            active.discard(worst)
            continue
        out.update(shares)
        break
    return out


def _ceiling(shop: ShopInput) -> int:
    ceiling = shop.limit if shop.rule.cap is None else min(shop.limit, shop.rule.cap)
    return max(0, ceiling)


def _largest_remainder(total: int, weights: Mapping[str, int]) -> dict[str, int]:
    whole = sum(weights.values())
    if total <= 0 or whole <= 0:
        return dict.fromkeys(weights, 0)
    base = {n: total * w // whole for n, w in weights.items()}
    left = total - sum(base.values())
    # Highest remainder first; ties go to the heavier weight, then by name (deterministic).
    order = sorted(weights, key=lambda n: (-(total * weights[n] % whole), -weights[n], n))
    for n in order[:left]:
        base[n] += 1
    return base
