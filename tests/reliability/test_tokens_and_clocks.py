"""Credentials and clocks on every platform: an access token expiring in the middle of a
run (Douyin and WeChat refresh it and carry on; Taobao and JD cannot refresh, so the run
fails with exit code 2 and says what to do), and a hub clock skewed to the edge of what
each platform accepts (just inside: everything works; just outside: the run fails,
naming the clock). Afterwards further runs converge (``support.check_invariants``)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.core.shops import env_name, stored_secret
from hub.simulator import SandboxApp
from hub.storage import tables as t
from tests.reliability.support import (
    ON_HAND,
    PLATFORMS,
    SHOP_OF,
    Rig,
    assert_fails_clearly,
    catalogue,
    failures,
    make_rig,
)

REFRESHES = {"douyin", "wechat"}  # platforms whose tokens the hub can renew by itself
RELATIVE = {"douyin", "wechat"}  # platforms whose stock writes return no quantity

#: Seconds of clock difference each platform's gateway accepts in a request timestamp
#: (plugins/*/hub_*/sandbox.py). WeChat requests carry no timestamp: any skew passes, so it
#: is tested at the largest limit the others allow.
SKEW_LIMIT = {"taobao": 600, "jd": 360, "douyin": 600, "wechat": 600}
MARGIN = 5  # seconds inside or outside the limit


def expire_tokens_mid_run(box: SandboxApp) -> list[bool]:
    """Every token the platform issued expires as the shop's second request of the next
    run arrives (the first one still succeeds). Returns a list that gets True when it did."""
    start = sum(box.calls.values())
    fired: list[bool] = []

    def hook() -> None:
        if not fired and sum(box.calls.values()) > start:
            fired.append(True)
            box.expire_tokens()

    box.on_request = hook
    return fired


def stored_tokens(rig: Rig, shop: str) -> tuple[str | None, str | None]:
    """The shop's stored tokens, opened (they are encrypted in the database)."""
    row = rig.db.run_sync(lambda s: s.scalars(select(t.Shop).where(t.Shop.name == shop)).one())
    return tuple(stored_secret(rig.db.secrets, row, f) for f in ("access_token", "refresh_token"))  # type: ignore[return-value]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_an_access_token_expiring_mid_run(rig: Rig, platform: str, monkeypatch: pytest.MonkeyPatch) -> None:
    shop, box = SHOP_OF[platform], rig.box(platform)
    assert rig.sync().exit_code == 0
    old_token, _ = stored_tokens(rig, shop)
    rig.buy(shop, "CUP-S", 2)
    rig.buy("tb" if shop != "tb" else "jd", "TEA", 1)
    fired = expire_tokens_mid_run(box)
    rig.clock.advance(5)
    result = rig.hub("sync")
    assert fired, "the token must expire during the run"
    assert box.credentials.check(old_token) != "ok"
    box.on_request = None
    if platform in REFRESHES:
        assert result.exit_code == 0, result.output
        token, _ = stored_tokens(rig, shop)
        assert token != old_token and box.credentials.check(token) == "ok", "the new token is stored"
    else:
        assert result.exit_code == 2, result.output
        shown = result.stdout + result.stderr
        assert "expired" in shown and "re-authorise" in shown, shown
        assert "exit code 2" in result.stderr
        # An operator re-authorises the shop and hands the hub the new token.
        token, _ = box.credentials.issue(None)
        monkeypatch.setenv(env_name(shop, "access_token"), token)
    rig.converge()


@pytest.mark.parametrize("ahead", [True, False], ids=["hub-ahead", "hub-behind"])
@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_clock_skewed_just_inside_the_platform_limit_works(
    hub_db_url: str, platform: str, ahead: bool
) -> None:
    """A hub whose clock is off by a little less than the platform tolerates runs every
    minute while buyers buy on two shops of the platform (so each sale is written to the
    other shop); every run succeeds and, once the platform's clock has passed the hub's
    last read, every order is stored once and both shops show the hub's target."""
    skew = SKEW_LIMIT[platform] - MARGIN
    shops = {f"{SHOP_OF[platform]}1": platform, f"{SHOP_OF[platform]}2": platform}
    rig = make_rig(hub_db_url, shops=shops, offset=skew if ahead else -skew)
    try:
        assert rig.sync().exit_code == 0
        for minute, code in enumerate(("CUP-S", "TEA", "CUP-L", "CUP-S", "TEA", "CUP-S")):
            rig.buy(list(shops)[minute % 2], code)
            report = rig.sync(advance=60)  # cron, once a minute
            assert report.exit_code == 0, failures(report)
        rig.clock.advance(SKEW_LIMIT[platform] + 60)  # a slow hub reads the last sales late
        rig.converge()
    finally:
        rig.close()


@pytest.mark.parametrize("ahead", [True, False], ids=["hub-ahead", "hub-behind"])
@pytest.mark.parametrize("platform", [p for p in PLATFORMS if p != "wechat"])
def test_a_clock_skewed_just_outside_the_platform_limit_fails_naming_the_clock(
    hub_db_url: str, platform: str, ahead: bool
) -> None:
    skew = SKEW_LIMIT[platform] + MARGIN
    shop = SHOP_OF[platform]
    # The platform already shows the stock: buyers buy before the hub ever succeeds.
    rig = make_rig(
        hub_db_url, shops={shop: platform}, offset=skew if ahead else -skew, seed=catalogue(stock=ON_HAND)
    )
    try:
        rig.buy(shop, "TEA", 2)
        report = rig.sync()
        errors = assert_fails_clearly(report, ["clock"], exit_code=None, every=True)
        assert {r.stream for r in report.results if r.exit_code} >= {"listings", "orders"}, errors
        rig.buy(shop, "CUP-L")
        rig.hub_clock.offset = 0  # the operator fixes the clock
        rig.converge()
    finally:
        rig.close()


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_sale_in_the_same_second_as_a_stock_write_is_counted_once(hub_db_url: str, platform: str) -> None:
    """Platforms stamp orders with whole seconds while the hub anchors its belief of a
    listing at the sub-second moment a write was acknowledged. A buyer who buys in that
    same second, just after the write, must still be counted once: the runs converge to
    the platform showing the hub's target."""
    shop = SHOP_OF[platform]
    other, other_platform = ("dy", "douyin") if platform != "douyin" else ("tb", "taobao")
    rig = make_rig(hub_db_url, shops={shop: platform, other: other_platform})
    try:
        assert rig.sync().exit_code == 0
        rig.buy(other, "TEA")  # the next run writes TEA to `shop`
        rig.clock.advance(1.5 - rig.clock.now().microsecond / 1e6)  # half way into a second
        report = rig.sync(advance=0)
        # The selling shop may get a cautious lowering too (its sale came right after the
        # hub's write, so the hub takes it as possibly already counted and re-reads next).
        assert (shop, 1) in [(r.shop, r.pushed) for r in report.results if r.stream == "stock" and r.pushed]
        rig.clock.advance(0.2)
        state = rig.sandboxes[shop].state
        sold = state.order_code("TEA", 2)
        anchored = rig.db.run_sync(
            lambda s: s.scalar(
                select(t.Listing.quantity_as_of)
                .join(t.Shop, t.Shop.id == t.Listing.shop_id)
                .where(t.Shop.name == shop, t.Listing.master_code == "TEA")
            )
        )
        if platform in RELATIVE:
            # A relative write leaves the anchor at the last read (the sale counts from there).
            assert anchored < sold.created
        else:
            assert anchored < sold.created and int(anchored.timestamp()) == int(sold.created.timestamp())
        rig.converge()
    finally:
        rig.close()
