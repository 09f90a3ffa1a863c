"""The race of issue 12 with bundles (issue 17): buyers of a scarce component and of two
bundles that use it race on all four real platforms (sandboxes, no sockets) while the hub
syncs. The listings of the component and of its bundles together never promise more
units of the component than exist, so none is sold twice; with the rule disabled they
promise more at once (and some seeds oversell)."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from hub.core import bundles, catalog
from hub.core.allocation import partitioned_targets, shared_targets
from hub.simulator import Buyers, Seed
from hub.simulator.lab import Lab
from hub.simulator.seed import SeedProduct, SeedSku
from hub.testing import FakeClock

pytestmark = pytest.mark.anyio

SHOPS = {"tb": "taobao", "jd": "jd", "dy": "douyin", "wx": "wechat"}
CUPS, TEAS = 12, 30
#: units of each component one unit of each code takes
USES = {"CUP-500": {"CUP-500": 1}, "GIFT-BOX": {"CUP-500": 2, "TEA-100": 1}, "TRIO": {"CUP-500": 3}}
CODES = list(USES)


def catalogue() -> Seed:
    return Seed(
        products=[
            SeedProduct(
                title="保温杯",
                skus=[
                    SeedSku(code="CUP-500", spec="容量:500ml", price=12900, stock=0),
                    SeedSku(code="TEA-100", spec="重量:100g", price=3900, stock=0),
                ],
            ),
            SeedProduct(
                title="礼盒",
                skus=[
                    SeedSku(code="GIFT-BOX", spec="款式:杯+茶", price=29900, stock=0),
                    SeedSku(code="TRIO", spec="款式:三杯", price=34900, stock=0),
                ],
            ),
        ]
    )


@pytest.fixture
def lab(hub_db_url: str, fake_clock: FakeClock) -> Iterator[Lab]:
    lab = Lab.create(hub_db_url, shops=SHOPS, seed=catalogue(), clock=fake_clock)
    lab.import_catalogue(on_hand=0, codes=["CUP-500", "TEA-100"])
    now = lab.clock.now()

    def write(s):  # type: ignore[no-untyped-def]
        catalog.set_on_hand(s, catalog.sku_by_code(s, "CUP-500"), CUPS, None, now)
        catalog.set_on_hand(s, catalog.sku_by_code(s, "TEA-100"), TEAS, None, now)
        for code, parts in USES.items():
            if code != "CUP-500":
                sku = catalog.add_sku(s, code=code, title=code, price=29900, now=now)
                bundles.set_recipe(s, sku, [bundles.Component(c, q) for c, q in parts.items()])

    lab.app.db.run_sync(write)
    yield lab
    lab.close()


def component_units(lab: Lab, component: str) -> tuple[int, int]:
    """Units of ``component`` sold, and shown for sale, on all channels (as itself or in a bundle)."""
    sold = shown = 0
    for code, parts in USES.items():
        per = parts.get(component, 0)
        sold += per * sum(box.state.units_sold(code) for box in lab.sandboxes.values())
        shown += per * sum(lab.shown(code).values())
    return sold, shown


def check(lab: Lab) -> None:
    """No component is promised beyond what exists: units sold + units shown ≤ units."""
    for component, units in (("CUP-500", CUPS), ("TEA-100", TEAS)):
        sold, shown = component_units(lab, component)
        assert sold + shown <= units, f"{component}: {sold} sold + {shown} shown > {units}"


async def race(lab: Lab, seed: int) -> Buyers:
    """Issue 12's race: 3 cups held by open orders, then buyers on every channel, the hub
    syncing between rounds (like `hub sync --watch --interval 1`)."""
    await lab.sync()
    held = 0
    while held < 3:  # three open orders for a cup, placed where one is shown
        shop = next((name for name, shown in lab.shown("CUP-500").items() if shown), None)
        if shop is None:
            lab.clock.advance(1)
            await lab.sync()
            continue
        lab.clock.advance(3)
        lab.sandboxes[shop].state.order_code("CUP-500", 1)
        held += 1
    lab.clock.advance(1)
    await lab.sync()
    buyers = Buyers(lab.sandboxes, rng=random.Random(seed))
    buyers.race_requests(CODES, chance=0.4)
    check(lab)
    for _ in range(200):
        report = await lab.sync()
        assert report.exit_code == 0, report.to_dict()
        check(lab)
        buyers.burst(CODES, 5)
        lab.clock.advance(1)
        check(lab)
        if component_units(lab, "CUP-500")[0] >= CUPS - 1:
            break
    buyers.stop_racing()
    return buyers


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_buyers_of_a_component_and_two_bundles_never_oversell_it(lab: Lab, seed: int) -> None:
    buyers = await race(lab, seed)
    sold, _ = component_units(lab, "CUP-500")
    assert sold <= CUPS, f"oversold {sold - CUPS} cups"
    assert sold >= CUPS - 2, f"only {sold} of {CUPS} cups sold"  # a last cup or two may fit no bundle
    assert component_units(lab, "TEA-100")[0] <= TEAS
    assert {code for code in CODES if any(b.state.units_sold(code) for b in lab.sandboxes.values())} >= {
        "CUP-500",
        "GIFT-BOX",
    }, buyers.units


def _unaware_targets(picture, sku_ids, shop_inputs):  # type: ignore[no-untyped-def]
    """Each SKU planned alone, as if bundles did not share their components' units."""
    out: dict[int, int] = {}
    for sku_id in bundles.widen(picture.skus, sku_ids):
        sku = picture.skus[sku_id]
        primary, inputs = shop_inputs(picture, sku_id, out)
        split = partitioned_targets if sku.partitioned else shared_targets
        for shop, target in split(sku.sellable, inputs).items():
            out[primary[shop].id] = target
    return out


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_without_the_bundle_rule_the_same_race_fails(
    lab: Lab, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundles, "targets", _unaware_targets)
    monkeypatch.setattr(bundles, "members", lambda skus, sku_id: {sku_id: 1})
    monkeypatch.setattr(bundles, "draws", lambda skus, sku_id: {sku_id: 1})
    with pytest.raises(AssertionError, match=r"CUP-500: \d+ sold \+ \d+ shown > 12"):
        await race(lab, seed)
