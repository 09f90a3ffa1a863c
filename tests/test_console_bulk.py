"""The console's Bulk page offers what `hub stock import` / `hub price import` offer:
--force (price files), --create-warehouses (stock files) and pushing right after applying
(--apply --push), with the same checks and audit, for operators only."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from hub.app import App
from hub.core import audit, users
from hub.simulator.lab import Lab
from hub.storage import tables as t
from hub.testing import FakeClock
from tests.conftest import fake_host
from tests.console_kit import Console, add_users
from tests.report_data import seed
from tests.test_engine import SHOPS
from tests.test_engine import seed as engine_seed

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def seeded(app: App) -> App:
    seed(app)
    add_users(app)
    return app


def _token(html: str) -> str:
    return html.split('name="token" value="')[1].split('"')[0]


def check(console: Console, kind: str, body: bytes, **options: str) -> str:
    return console.post(
        "/bulk/check", {"kind": kind, **options}, files={"file": (f"{kind}.csv", body, "text/csv")}
    ).text


def price_of(app: App, code: str) -> int:
    return app.db.run_sync(lambda s: s.scalar(select(t.Sku.price).where(t.Sku.code == code)))


def test_force_lets_a_guarded_price_through_and_is_audited(seeded: App) -> None:
    console = Console(seeded)
    console.login("olga")
    body = b"sku,price\nS1,99.00\n"  # 19.90 -> 99.00: more than the 50% the guard allows
    refused = check(console, "prices", body)
    assert "1 bad" in refused and "price guard" in refused
    forced = check(console, "prices", body, force="on")
    assert "1 changes" in forced and "0 bad" in forced and "forced" in forced and 'id="forced"' in forced
    assert price_of(seeded, "S1") == 1990  # still a dry run
    done = console.post("/bulk/apply", {"token": _token(forced), "push": "later"}).text
    assert "applied 1 change(s)" in done and "the next sync pushes them" in done
    assert price_of(seeded, "S1") == 9900
    [entry] = seeded.db.run_sync(lambda s: audit.entries(s, sku="S1", action="price"))
    assert entry["actor"] == "olga" and entry["source"].endswith("--force")


def test_force_is_only_for_price_files(seeded: App) -> None:
    console = Console(seeded)
    console.login("olga")
    html = check(console, "stock", b"sku,quantity,warehouse\nS1,7,far\n", force="on")
    assert "1 bad" in html and 'id="forced"' not in html  # --force means nothing to a stock file


def test_create_warehouses(seeded: App) -> None:
    console = Console(seeded)
    console.login("olga")
    body = b"sku,quantity,warehouse\nS1,7,far\n"
    assert "1 bad" in check(console, "stock", body)
    html = check(console, "stock", body, create_warehouses="on")
    assert "1 changes" in html and "0 bad" in html
    done = console.post("/bulk/apply", {"token": _token(html)}).text
    assert "applied 1 change(s)" in done
    count = seeded.db.run_sync(lambda s: s.scalar(select(func.count()).select_from(t.Warehouse)))
    assert count == 2


# --- apply and push now ---------------------------------------------------------------------------


@pytest.fixture
def lab(hub_db_url: str, fake_clock: FakeClock) -> Iterator[Lab]:
    lab = Lab.create(
        hub_db_url,
        shops=SHOPS,
        seed=engine_seed(),
        clock=fake_clock,
        host_factory=fake_host,
        settings={"partition_below": 0},
    )
    lab.import_catalogue(on_hand=20, codes=["CUP", "LID"])
    add_users(lab.app)
    yield lab
    lab.close()


def test_apply_and_push_now_pushes_what_the_cli_would(lab: Lab) -> None:
    anyio.run(lab.sync)  # listings known, 20 CUPs shown everywhere
    assert lab.shown("CUP") == {"a": 20, "b": 20, "c": 20}
    console = Console(lab.app)
    console.login("olga")
    html = check(console, "stock", b"sku,quantity\nCUP,7\n")
    done = console.post("/bulk/apply", {"token": _token(html), "push": "now"}).text
    assert "applied 1 change(s)" in done and "pushed now" in done
    assert 'id="push-results"' in done and 'id="push-failed"' not in done
    assert lab.shown("CUP") == {"a": 7, "b": 7, "c": 7}  # on every shop, not at the next sync
    assert lab.shown("LID") == {"a": 20, "b": 20, "c": 20}


def test_apply_without_push_leaves_it_to_the_next_sync(lab: Lab) -> None:
    anyio.run(lab.sync)
    console = Console(lab.app)
    console.login("olga")
    html = check(console, "stock", b"sku,quantity\nCUP,7\n")
    done = console.post("/bulk/apply", {"token": _token(html), "push": "later"}).text
    assert "the next sync pushes them" in done and 'id="push-results"' not in done
    assert lab.shown("CUP") == {"a": 20, "b": 20, "c": 20}


def test_a_viewer_cannot_apply_and_push(seeded: App) -> None:
    console = Console(seeded)
    console.login("vic")
    response = console.post("/bulk/apply", {"token": "x", "push": "now"})
    assert response.status_code == 403 and "a viewer cannot change anything" in response.text
