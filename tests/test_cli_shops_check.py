"""`hub shops check` and the check `hub shops add` runs, against the four platform sandboxes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import update

from hub.core.http import RetryPolicy
from hub.core.shops import set_secrets
from hub.simulator import SandboxConfig
from hub.simulator.lab import Lab
from hub.storage import tables as t
from hub.testing import FakeClock
from tests.test_platforms import SHOPS, catalogue


class SkewedClock:
    """The hub's clock: the sandboxes' fake clock plus ``offset``."""

    def __init__(self, base: FakeClock, offset: timedelta):
        self.base, self.offset = base, offset

    def now(self) -> datetime:
        return self.base.now() + self.offset

    def monotonic(self) -> float:
        return self.base.monotonic()

    async def sleep(self, seconds: float) -> None:
        await self.base.sleep(seconds)


@pytest.fixture
def lab(tmp_path: Path, fake_clock: FakeClock) -> Iterator[Lab]:
    lab = Lab.create(
        f"sqlite:///{tmp_path / 'hub.db'}",
        shops=SHOPS,
        seed=catalogue(),
        clock=fake_clock,
        retry=RetryPolicy(initial_wait=0),
    )
    yield lab
    lab.close()


def hub(lab: Lab, *args: str) -> Result:
    from hub.cli import cli

    return CliRunner().invoke(cli, list(args), obj=lab.app, catch_exceptions=False)


def checks(result: Result) -> dict[str, dict]:  # type: ignore[type-arg]
    return {c["shop"]: c for c in json.loads(result.output)}


def set_shop(lab: Lab, name: str, **values: object) -> None:
    lab.app.db.run_sync(lambda s: s.execute(update(t.Shop).where(t.Shop.name == name).values(**values)))


def test_every_shop_passes_with_the_platforms_own_words(lab: Lab) -> None:
    result = hub(lab, "shops", "check", "--json")
    assert result.exit_code == 0, result.output
    found = checks(result)
    assert set(found) == set(SHOPS)
    for check in found.values():
        assert check["ok"] and check["credentials"] == "ok" and check["token"] == "ok", check
        assert check["clock"] == "ok (+0.0 s)" and check["clock_offset_seconds"] == 0.0
    assert found["tb"]["message"] == "2 item(s) on sale"
    assert found["jd"]["message"] == "3 SKU(s) listed"
    assert found["dy"]["message"] == "2 product(s) on sale"
    assert found["wx"]["message"] == "2 product(s)"
    table = hub(lab, "shops", "check", "tb")
    assert table.exit_code == 0 and "item(s) on sale" in table.output and "jd" not in table.output


@pytest.mark.parametrize("shop", list(SHOPS))
def test_a_wrong_secret_is_named_and_exits_2(lab: Lab, shop: str) -> None:
    lab.app.db.run_sync(lambda s: set_secrets(s, lab.app.host, shop, {"app_secret": "not-the-right-secret"}))
    result = hub(lab, "shops", "check", "--json")
    assert result.exit_code == 2
    found = checks(result)
    assert found[shop]["credentials"] == "refused" and not found[shop]["ok"], found[shop]
    assert found[shop]["token"] == "not checked"
    assert "not-the-right-secret" not in result.output
    assert all(c["ok"] for name, c in found.items() if name != shop)
    if shop != "wx":  # WeChat's token call is not signed, so it names the secret itself
        assert "app_secret" in found[shop]["message"], found[shop]["message"]


def test_an_expired_token_is_refused_or_refreshed_as_the_platform_allows(lab: Lab) -> None:
    for box in lab.sandboxes.values():
        box.expire_tokens()
    result = hub(lab, "shops", "check", "--json")
    found = checks(result)
    assert result.exit_code == 2
    # Taobao sessions and JD tokens cannot be refreshed by the hub: a person must re-authorise.
    for shop in ("tb", "jd"):
        assert (found[shop]["credentials"], found[shop]["token"]) == ("ok", "refused"), found[shop]
    assert "re-authorise" in found["tb"]["message"]
    # Douyin refreshes with its refresh token; WeChat fetches a new token from its secret.
    for shop in ("dy", "wx"):
        assert found[shop]["ok"] and found[shop]["token"] == "ok (refreshed)", found[shop]
    # The refreshed token is saved: the next run works without refreshing again.
    assert hub(lab, "shops", "check", "dy", "--json").exit_code == 0
    assert checks(hub(lab, "shops", "check", "dy", "--json"))["dy"]["token"] == "ok"
    assert "refused" in hub(lab, "shops", "check").output


def test_a_clock_minutes_off_fails_the_check(tmp_path: Path, fake_clock: FakeClock) -> None:
    lab = Lab.create(
        f"sqlite:///{tmp_path / 'hub.db'}", shops={"tb": "taobao"}, seed=catalogue(), clock=fake_clock
    )
    try:
        lab.app.clock = SkewedClock(fake_clock, timedelta(minutes=-4))  # the hub runs 4 minutes late
        found = checks(hub(lab, "shops", "check", "--json"))["tb"]
        assert found["clock"].startswith("off by +240 s") and found["clock_offset_seconds"] == 240.0
        assert not found["ok"]
    finally:
        lab.close()


def test_an_unreachable_shop_says_so(lab: Lab) -> None:
    lab.sandboxes["jd"].faults.set_rate("reset", 1.0)
    found = checks(hub(lab, "shops", "check", "--json"))["jd"]
    assert not found["ok"] and found["credentials"] == "unknown" and found["message"]


def test_shops_add_checks_first_and_keeps_nothing_when_refused(lab: Lab) -> None:
    box = lab.app.host.platform("taobao").make_sandbox(SandboxConfig(clock=lab.clock, seed=catalogue()))
    lab.sandboxes["new"] = box
    creds = box.shop_credentials()
    args = ["shops", "add", "new", "-p", "taobao", "--app-key", creds["app_key"]]
    args += ["--access-token", creds["access_token"], "--base-url", box.base_url("http://new.sandbox")]
    refused = hub(lab, *args, "--app-secret", "wrong-secret-here")
    assert refused.exit_code == 2
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("error: shop new not added: credentials refused") and "app_secret" in line
    assert "--no-check" in line and "wrong-secret-here" not in line
    assert "new" not in checks(hub(lab, "shops", "check", "--json"))
    kept = hub(lab, *args, "--app-secret", "wrong-secret-here", "--no-check")
    assert kept.exit_code == 0
    hub(lab, "shops", "remove", "new", "--yes")
    added = hub(lab, *args, "--app-secret", creds["app_secret"], "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["check"]["message"] == "2 item(s) on sale"
    said = hub(lab, "shops", "remove", "new", "--yes") and hub(
        lab, *args, "--app-secret", creds["app_secret"]
    )
    assert "added shop new (taobao); 2 item(s) on sale, clock ok" in said.stderr


def test_check_of_an_unknown_shop_exits_2(lab: Lab) -> None:
    result = hub(lab, "shops", "check", "nowhere")
    assert result.exit_code == 2 and "unknown shop 'nowhere'" in result.stderr
