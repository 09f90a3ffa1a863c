"""Promotions start and end on every shop at once; regular prices never fight them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner, Result

from hub.cli import cli
from hub.core import catalog, prices
from hub.core import promotions as promo_mod
from hub.errors import InputError
from hub.models import Promotion, PromotionKind
from hub.simulator import Seed
from hub.simulator.lab import Lab
from hub.simulator.seed import SeedProduct, SeedSku
from hub.storage import tables as t
from hub.testing import FakeClock
from tests.conftest import fake_host

pytestmark = pytest.mark.anyio


@pytest.fixture
def lab(hub_db_url: str, fake_clock: FakeClock) -> Iterator[Lab]:
    seed = Seed(
        products=[
            SeedProduct(
                title="杯",
                skus=[SeedSku(code="CUP", price=10000, stock=5), SeedSku(code="LID", price=2000, stock=5)],
            )
        ]
    )
    lab = Lab.create(
        hub_db_url,
        shops={"a": "fake", "c": "fake_abs"},
        seed=seed,
        clock=fake_clock,
        host_factory=fake_host,
    )
    lab.import_catalogue(on_hand=5)
    yield lab
    lab.close()


def hub(lab: Lab, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj=lab.app, catch_exceptions=False)


def price_of(lab: Lab, shop: str, code: str) -> int:
    return lab.sandboxes[shop].state.skus_by_code(code)[0].price


def promotion(
    lab: Lab,
    kind: PromotionKind = PromotionKind.PERCENT_DISCOUNT,
    *,
    start: float = 3600,
    hours: float = 2,
    **params: object,
) -> Promotion:
    params = params or (
        {"percent_off": 20} if kind is PromotionKind.PERCENT_DISCOUNT else {"flash_price": 5000}
    )
    now = lab.clock.now()
    return Promotion(
        name="双11",
        kind=kind,
        skus=("CUP",),
        shops=("a", "c"),
        starts_at=now + timedelta(seconds=start),
        ends_at=now + timedelta(seconds=start, hours=hours),
        **params,
    )


def create(lab: Lab, promo: Promotion) -> int:
    return lab.app.db.run_sync(lambda s: promo_mod.create(s, lab.app.host, promo, lab.clock.now()).id)


async def test_every_refusal_is_listed(lab: Lab) -> None:
    lab.app.db.run_sync(lambda s: setattr(catalog.sku_by_code(s, "CUP"), "price_floor", 9000))
    bad = Promotion(
        name="bad",
        kind=PromotionKind.PERCENT_DISCOUNT,
        percent_off=20,
        skus=("CUP", "NOPE"),
        shops=("a", "zz"),
        starts_at=lab.clock.now() - timedelta(hours=3),
        ends_at=lab.clock.now() - timedelta(hours=1),
    )
    with pytest.raises(InputError) as caught:
        create(lab, bad)
    text = str(caught.value)
    for expected in ("already past", "sku NOPE: unknown SKU", "shop zz: unknown shop", "under the floor"):
        assert expected in text
    assert lab.app.db.run_sync(lambda s: s.query(t.Promotion).count()) == 0


async def test_overlaps_and_unusable_kinds_are_refused(lab: Lab) -> None:
    create(lab, promotion(lab))
    with pytest.raises(InputError, match="overlaps promotion #1"):
        create(lab, promotion(lab, start=7200))
    spend = Promotion(
        name="满减",
        kind=PromotionKind.SPEND_SAVE,
        spend_threshold=20000,
        spend_discount=2000,
        skus=("LID",),
        shops=("a",),
        starts_at=lab.clock.now() + timedelta(hours=1),
        ends_at=lab.clock.now() + timedelta(hours=2),
    )
    with pytest.raises(InputError, match="no spend-X-save-Y API"):
        create(lab, spend)
    not_cheaper = promotion(lab, PromotionKind.FLASH_PRICE, flash_price=10000, start=10 * 3600)
    with pytest.raises(InputError, match="not below the regular"):
        create(lab, not_cheaper)


async def test_a_price_promotion_starts_and_ends_on_every_shop(lab: Lab) -> None:
    await lab.sync()
    create(lab, promotion(lab))
    await lab.sync()
    assert (price_of(lab, "a", "CUP"), price_of(lab, "c", "CUP")) == (10000, 10000)  # not yet
    lab.clock.advance(3600)
    await lab.sync()
    assert (price_of(lab, "a", "CUP"), price_of(lab, "c", "CUP")) == (8000, 8000)
    assert price_of(lab, "a", "LID") == 2000
    lab.clock.advance(2 * 3600)
    await lab.sync()
    assert (price_of(lab, "a", "CUP"), price_of(lab, "c", "CUP")) == (10000, 10000)
    assert lab.app.db.run_sync(lambda s: s.get(t.Promotion, 1).state) == "ended"


async def test_a_missed_start_is_caught_up_and_a_missed_promotion_touches_nothing(lab: Lab) -> None:
    await lab.sync()
    create(lab, promotion(lab))
    lab.clock.advance(3600 + 1800)  # the hub was down at the start
    await lab.sync()
    assert price_of(lab, "a", "CUP") == 8000
    lab.clock.advance(4 * 3600)
    await lab.sync()
    assert price_of(lab, "a", "CUP") == 10000
    create(lab, promotion(lab, start=600, hours=1))
    lab.clock.advance(3 * 3600)  # down for the whole of it
    await lab.sync()
    targets = lab.app.db.run_sync(lambda s: promo_mod.targets_of(s, 2))
    assert {x["state"] for x in targets} == {"ended"} and price_of(lab, "c", "CUP") == 10000


def test_cancelling_reverts_at_once(lab: Lab) -> None:  # sync: the CLI runs its own event loop
    anyio.run(lab.sync)
    create(lab, promotion(lab, start=0))
    anyio.run(lab.sync)
    assert price_of(lab, "c", "CUP") == 8000
    assert hub(lab, "promo", "cancel", "1").exit_code == 0
    assert (price_of(lab, "a", "CUP"), price_of(lab, "c", "CUP")) == (10000, 10000)
    assert hub(lab, "promo", "cancel", "1").exit_code == 2


async def test_a_regular_price_change_during_a_promotion_is_what_the_end_restores(lab: Lab) -> None:
    await lab.sync()
    create(lab, promotion(lab, start=0))
    await lab.sync()

    def reprice(session):  # type: ignore[no-untyped-def]
        sku = catalog.sku_by_code(session, "CUP")
        return prices.set_price(
            session, sku=sku, shop=None, price=12000, now=lab.clock.now(), actor="ops", source="test"
        )

    assert lab.app.db.run_sync(reprice) == 0  # no listing is pushed: the promotion holds them
    await lab.sync()
    assert price_of(lab, "a", "CUP") == 8000
    lab.clock.advance(3 * 3600)
    await lab.sync()
    assert (price_of(lab, "a", "CUP"), price_of(lab, "c", "CUP")) == (12000, 12000)


async def test_native_promotions_and_the_fallback_when_refused(lab: Lab) -> None:
    await lab.sync()
    # Shop c's platform already runs an activity on CUP, so a native start there is refused.
    state_c = lab.sandboxes["c"].state
    cup_c = state_c.skus_by_code("CUP")[0]
    state_c.add_promotion(
        "theirs", "flash_price", {cup_c.sku_id: 9000}, lab.clock.now(), lab.clock.now() + timedelta(days=1)
    )
    create(lab, promotion(lab, PromotionKind.FLASH_PRICE, start=0))
    await lab.sync()
    targets = {x["shop"]: x for x in lab.app.db.run_sync(lambda s: promo_mod.targets_of(s, 1))}
    assert targets["a"]["method"] == "native" and targets["a"]["platform_ref"]
    assert [p.active for p in lab.sandboxes["a"].state.promotions.values()] == [True]
    assert targets["c"]["method"] == "price" and "refused" in targets["c"]["error"]
    assert price_of(lab, "c", "CUP") == 5000 and price_of(lab, "a", "CUP") == 10000
    lab.clock.advance(3 * 3600)
    await lab.sync()
    assert not any(p.active for p in lab.sandboxes["a"].state.promotions.values())
    assert price_of(lab, "c", "CUP") == 10000


async def test_promo_cli_from_flags_and_files(lab: Lab, tmp_path: Path) -> None:
    made = hub(
        lab,
        "promo",
        "create",
        "--name",
        "秒杀",
        "--kind",
        "flash_price",
        "--flash-price",
        "49.90",
        "--sku",
        "CUP",
        "--shop",
        "a",
        "--start",
        "2026-11-11 20:00",
        "--end",
        "2026-11-11 22:00",
        "--json",
    )
    assert made.exit_code == 0, made.output
    [row] = json.loads(hub(lab, "promo", "list", "--json").output)
    assert row["starts_at"] == "2026-11-11T12:00:00+00:00"  # 20:00 in Shanghai
    (tmp_path / "p.yaml").write_text(
        "- {name: 早鸟, kind: percent_discount, percent_off: 10, skus: [LID], shops: [a, c],\n"
        "   start: '2026-11-12 00:00', end: '2026-11-12 02:00'}\n",
        encoding="utf-8",
    )
    assert hub(lab, "promo", "create", "--file", str(tmp_path / "p.yaml")).exit_code == 0
    (tmp_path / "p.csv").write_text(
        "name,kind,percent_off,skus,shops,start,end\n"
        "晚场,percent_discount,15,LID;CUP,a,2026-11-13 20:00,2026-11-13 19:00\n",
        encoding="utf-8",
    )
    bad = hub(lab, "promo", "create", "--file", str(tmp_path / "p.csv"))
    assert bad.exit_code == 2 and "p.csv:2" in bad.stderr and "end after it starts" in bad.stderr
    shown = json.loads(hub(lab, "promo", "show", "2", "--json").output)
    assert {(x["shop"], x["sku"], x["method"]) for x in shown["targets"]} == {
        ("a", "LID", "price"),
        ("c", "LID", "price"),
    }
