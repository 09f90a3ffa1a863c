"""Refreshing tokens when things go wrong: a refresh token that expired or was revoked
(exit code 2, one clear line, the other shops unharmed, and the shop works again once
re-authorised), a fault on the refresh call itself, and two processes refreshing one
Douyin token at once (Douyin's refresh after expiry is single-use: the loser must adopt
the token the winner stored, not fail the shop).

In-process sandboxes on a fake clock (see support.py); faults are queued, never random."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.core.shops import store_secret
from hub.storage import tables as t
from tests.reliability.support import SHOP_OF, Rig, assert_fails_clearly, failures
from tests.reliability.test_stock_modes import Before
from tests.reliability.test_tokens_and_clocks import stored_tokens

#: A text in each refreshing platform's token request (to aim faults at it).
TOKEN_CALL = {"douyin": "token/refresh", "wechat": "stable_token"}
MAX_ATTEMPTS = 5  # RetryPolicy().max_attempts, what the rig's hub uses


def others_fine(report: object, shop: str) -> None:
    """Every stream of every other shop completed."""
    bad = [f for f in failures(report) if f[0] != shop]  # type: ignore[arg-type]
    assert not bad, bad


@pytest.mark.parametrize("how", ["expired", "revoked"])
def test_a_dead_refresh_token_fails_the_shop_clearly_and_nothing_else(rig: Rig, how: str) -> None:
    shop, box = "dy", rig.box("douyin")
    assert rig.sync().exit_code == 0
    _, refresh = stored_tokens(rig, shop)
    if how == "expired":
        box.refresh_expiry[refresh] = rig.clock.now()  # type: ignore[attr-defined]
    else:  # the merchant cancelled the app's authorisation
        del box.credentials.refresh_tokens[refresh]
    box.expire_tokens()
    rig.buy(shop, "CUP-S", 1)
    rig.buy("tb", "TEA", 1)
    rig.clock.advance(5)
    result = rig.hub("sync")
    assert result.exit_code == 2, result.output
    shown = result.stdout + result.stderr
    assert "refresh_token" in shown and "authorise" in shown, shown
    assert "Traceback" not in shown
    assert refresh not in shown, "a secret reached the output"
    report = rig.sync()
    assert report.exit_code == 2 and {f[0] for f in failures(report)} == {shop}, failures(report)
    others_fine(report, shop)
    assert rig.sandboxes["jd"].state.quantity_of("TEA") == 29, "the other shops are kept in step"
    # The merchant authorises again; the operator stores the new tokens.
    access, new_refresh = box._issue()  # type: ignore[attr-defined]
    stored = rig.hub("shops", "set-secrets", shop, "--access-token", access, "--refresh-token", new_refresh)
    assert stored.exit_code == 0, stored.output
    rig.converge()


@pytest.mark.parametrize("kind", ["server_error", "timeout", "reset", "throttle"])
@pytest.mark.parametrize("platform", ["douyin", "wechat"])
def test_a_fault_on_the_refresh_call(rig: Rig, platform: str, kind: str) -> None:
    """A fault the platform did not act on: a short burst is retried, a long one fails
    the shop clearly for this run, and the next run refreshes and catches up."""
    shop, box = SHOP_OF[platform], rig.box(platform)
    assert rig.sync().exit_code == 0
    old, _ = stored_tokens(rig, shop)
    for times in (1, MAX_ATTEMPTS):
        box.expire_tokens()
        rig.buy(shop, "CUP-S", 1)
        rig.buy("tb", "TEA", 1)
        box.faults.inject(kind, times=times, when=TOKEN_CALL[platform])
        report = rig.sync()
        assert box.faults.injected[kind] >= 1, "the fault must hit the token call"
        box.faults.clear()
        if report.exit_code:
            assert times == MAX_ATTEMPTS or kind == "throttle", (times, failures(report))
            assert_fails_clearly(report, ["token", "502", "timed out", "reset", "JSON", "limit", "频繁"])
            others_fine(report, shop)
        rig.converge()
        token, _ = stored_tokens(rig, shop)
        assert token != old and box.credentials.check(token) == "ok", "the new token is stored"
        old = token


@pytest.mark.parametrize("kind", ["lost_response", "malformed"])
def test_a_lost_answer_to_a_douyin_refresh_after_expiry_needs_a_person(rig: Rig, kind: str) -> None:
    """Douyin invalidates the old pair when it answers a refresh after expiry: if that
    answer is lost (or cut short), nothing the hub holds works any more. That must be said clearly
    (exit code 2, re-authorise), not retried for ever, and the other shops go on."""
    shop, box = "dy", rig.box("douyin")
    assert rig.sync().exit_code == 0
    box.expire_tokens()
    rig.buy("tb", "TEA", 1)
    box.faults.inject(kind, when=TOKEN_CALL["douyin"])
    report = rig.sync()
    assert box.faults.injected[kind] == 1
    if report.exit_code:
        assert_fails_clearly(report, ["authorise", "refresh"], exit_code=2)
        others_fine(report, shop)
        access, refresh = box._issue()  # type: ignore[attr-defined]
        rig.hub("shops", "set-secrets", shop, "--access-token", access, "--refresh-token", refresh)
    rig.converge()


@pytest.mark.parametrize("expired", [True, False], ids=["after-expiry", "last-hour"])
def test_two_processes_refreshing_one_douyin_token(rig: Rig, expired: bool) -> None:
    """Process B's refresh reaches Douyin just after process A refreshed the same token
    and stored the new pair. After expiry the old refresh token is dead; in the last hour
    it still answers with the new pair. Either way B must carry on with A's token."""
    shop, box = "dy", rig.box("douyin")
    armed: list[bool] = []
    won: list[tuple[str, str]] = []
    rig.lab.app.transport_for = lambda name, platform: Before(
        rig.sandboxes[name].transport(),
        TOKEN_CALL["douyin"],
        (lambda: armed and process_a_refreshes_first()) if name == shop else None,
    )
    assert rig.sync().exit_code == 0
    _, refresh = stored_tokens(rig, shop)
    if expired:
        box.expire_tokens()
    else:
        record = box.credentials.tokens[box.credentials.refresh_tokens[refresh]]
        record.expires_at = rig.clock.now() + box.refresh_grace / 2  # type: ignore[attr-defined]
        now = rig.clock.now()  # the hub knows it expires: it refreshes ahead of time
        row = select(t.Shop).where(t.Shop.name == shop)
        rig.db.run_sync(lambda s: setattr(s.scalars(row).one(), "token_expires_at", now))

    def process_a_refreshes_first() -> None:
        if won:
            return
        # B's refresh request is on its way: A's lands first.
        data = box._token_refresh({"grant_type": "refresh_token", "refresh_token": refresh})  # type: ignore[attr-defined]
        won.append((data["access_token"], data["refresh_token"]))

        def store(s: object) -> None:
            row = s.scalars(select(t.Shop).where(t.Shop.name == shop)).one()  # type: ignore[attr-defined]
            store_secret(rig.db.secrets.seal, row, "access_token", won[0][0])
            store_secret(rig.db.secrets.seal, row, "refresh_token", won[0][1])

        rig.db.run_sync(store)

    armed.append(True)
    rig.buy(shop, "CUP-S", 1)
    rig.buy("tb", "TEA", 1)
    report = rig.sync()
    assert won, "A's refresh must land while B's is on its way"
    assert report.exit_code == 0, failures(report)
    token, _ = stored_tokens(rig, shop)
    assert box.credentials.check(token) == "ok"
    if expired:
        assert token == won[0][0], "B adopted the winner's token"
    rig.converge()
