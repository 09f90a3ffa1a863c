"""Network and platform faults on every platform: after each one the `hub sync` run
completes or fails clearly (exit code, an error naming the problem), and further runs
converge — every order stored exactly once, platform stock equal to the hub's target
(no relative change applied twice), nothing open in the outbox without a reason, no
lease left held (see ``support.check_invariants``).

The hub runs against in-process sandboxes on a fake clock (retries and throttling bans
cost no real time); fault injection is deterministic (a queue, or the sandbox's seeded
random draw)."""

from __future__ import annotations

import pytest

from tests.reliability.support import (
    ON_HAND,
    ORDER_READ,
    PLATFORMS,
    SHOP_OF,
    STOCK_WRITE,
    STOCK_WRITE_CALLS,
    Rig,
    assert_fails_clearly,
    failures,
)

TRANSIENT = ("throttle", "server_error", "timeout", "reset", "malformed")

#: What an error caused by each fault must say (any one of the texts, case-insensitive).
NEEDLES: dict[str, dict[str, tuple[str, ...]]] = {
    "throttle": {
        "taobao": ("App Call Limited",),
        "jd": ("App Call Limited", "too many calls"),
        "douyin": ("60000", "请求过于频繁"),
        "wechat": ("call limit",),
    },
    "server_error": dict.fromkeys(PLATFORMS, ("HTTP 502",)),
    "timeout": dict.fromkeys(PLATFORMS, ("timed out", "timeout")),
    "lost_response": dict.fromkeys(PLATFORMS, ("timed out", "timeout")),
    "reset": dict.fromkeys(PLATFORMS, ("connection reset", "RemoteProtocolError")),
    "malformed": dict.fromkeys(PLATFORMS, ("not JSON",)),
}

#: A text in the URL or body of the stock reads the hub makes for a listing in doubt.
STOCK_READ = {
    "taobao": "taobao.item.skus.get",
    "jd": "jingdong.stock.read.findSkuStock",
    "douyin": "sku/list",
    "wechat": "product/stock/get",
}
MAX_ATTEMPTS = 5  # RetryPolicy().max_attempts, what the rig's hub uses


def other_shop(platform: str) -> str:
    return "dy" if platform != "douyin" else "tb"


def sell_around(rig: Rig, platform: str) -> None:
    """Sales on the faulty shop and on another one, so the next cycle reads orders
    everywhere and writes stock to every shop (the faulty one included)."""
    rig.buy(SHOP_OF[platform], "CUP-S", 1)
    rig.buy(other_shop(platform), "TEA", 1)
    rig.buy(other_shop(platform), "CUP-L", 1)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_fault_bursts_are_retried_or_fail_clearly_then_runs_converge(rig: Rig, platform: str) -> None:
    """For each kind of fault: a short burst on the shop's order reads is absorbed by the
    retries (the run completes); a burst outlasting them fails the run clearly, naming
    the problem, and the next runs catch up."""
    box = rig.box(platform)
    first = rig.sync()
    assert first.exit_code == 0, failures(first)
    for kind in TRANSIENT:
        sell_around(rig, platform)
        before = box.faults.injected[kind]
        box.faults.inject(kind, times=2, when=ORDER_READ[platform])
        report = rig.sync()
        if kind == "throttle" and report.exit_code:
            # A platform asking for a long wait (WeChat: "retry next minute") fails the
            # stream at once rather than hold up the run; it is retried next run.
            assert box.faults.injected[kind] > before, kind
            assert_fails_clearly(report, NEEDLES[kind][platform])
        else:
            assert box.faults.injected[kind] == before + 2, kind
            assert report.exit_code == 0, (kind, failures(report))
        box.faults.clear()

        sell_around(rig, platform)
        before = box.faults.injected[kind]
        box.faults.inject(kind, times=MAX_ATTEMPTS, when=ORDER_READ[platform])
        report = rig.sync()
        assert box.faults.injected[kind] > before, kind
        box.faults.clear()
        assert_fails_clearly(report, NEEDLES[kind][platform])
        failed = {(r.shop, r.stream) for r in report.results if r.exit_code}
        assert (SHOP_OF[platform], "orders") in failed, (kind, failures(report))
        assert {shop for shop, _ in failed} == {SHOP_OF[platform]}, "the other shops are not held up"
        rig.converge()


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_fault_on_a_stock_write_never_applies_it_twice(rig: Rig, platform: str) -> None:
    """Each kind of fault hits one stock write to the shop; the run completes or names
    the failed write, and the next runs converge with every change applied once."""
    box = rig.box(platform)
    assert rig.sync().exit_code == 0
    for kind in (*TRANSIENT, "lost_response"):
        sell_around(rig, platform)
        writes = sum(box.calls[c] for c in STOCK_WRITE_CALLS[platform])
        box.faults.inject(kind, times=1, when=STOCK_WRITE[platform])
        report = rig.sync()
        assert box.faults.injected[kind] == 1, f"{kind} must hit a stock write"
        assert sum(box.calls[c] for c in STOCK_WRITE_CALLS[platform]) > writes
        if report.exit_code:
            errors = assert_fails_clearly(report, NEEDLES[kind][platform])
            assert all("stock" in e for e in errors), (kind, errors)
        rig.converge()


@pytest.mark.parametrize("kind", ("lost_response", "malformed"))
@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_write_in_doubt_whose_reread_fails_is_not_sent_again(rig: Rig, platform: str, kind: str) -> None:
    """The platform applies a stock write but the hub never learns it (the answer is
    lost or unreadable); in the next run the re-read of that listing fails too. The
    change must not be applied a second time (a relative write computed from the stale
    belief would), and once reads work the runs converge."""
    box = rig.box(platform)
    assert rig.sync().exit_code == 0
    rig.buy(other_shop(platform), "TEA", 1)
    box.faults.inject(kind, times=1, when=STOCK_WRITE[platform])
    rig.sync()
    assert box.faults.injected[kind] == 1
    box.faults.inject("timeout", times=MAX_ATTEMPTS, when=STOCK_READ[platform])
    rig.sync()
    left = ON_HAND - 1
    assert box.state.quantity_of("TEA") == left, "the TEA sale was taken off this shop twice"
    rig.converge()


@pytest.mark.parametrize("platform", PLATFORMS)
def test_random_faults_of_every_kind_over_several_runs(rig: Rig, platform: str) -> None:
    """A flaky platform for a while (a seeded random share of requests fails, any kind),
    sales everywhere; then it recovers and the runs converge."""
    box = rig.box(platform)
    assert rig.sync().exit_code == 0
    for kind in (*TRANSIENT, "lost_response"):
        box.faults.set_rate(kind, 0.05)
    for cycle in range(5):
        rig.buy(SHOP_OF[platform], "CUP-S" if cycle % 2 else "CUP-L")
        rig.buy(other_shop(platform), "TEA")
        report = rig.sync()
        assert report.exit_code in (0, 1), failures(report)
        assert all(r.error for r in report.results if r.exit_code), failures(report)
    assert sum(box.faults.injected.values()) > 0
    box.faults.clear()
    rig.converge()
