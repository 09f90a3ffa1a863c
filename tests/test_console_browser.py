"""The console in a real headless Chromium (Debian's ``chromium`` driven by Playwright; no
browser is ever downloaded). Skipped, with the reason, when no browser is installed: install
one with ``apt-get install -y chromium`` (``.ci/run`` does).

Set ``HUB_SCREENSHOTS=docs`` to refresh the README's screenshots of the overview and stock
pages (otherwise they go to a temporary folder)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from hub.console.app import create_app
from hub.simulator.lab import Lab
from hub.simulator.seed import Seed, SeedProduct, SeedSku
from hub.testing import FakeClock
from tests.conftest import fake_host
from tests.console_kit import PASSWORD, SESSION_KEY, add_users

CHROMIUM = os.environ.get("HUB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
)
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"no chromium at {CHROMIUM}: install it with `apt-get install -y chromium` (or set HUB_CHROMIUM)",
)


@dataclass
class Served:
    lab: Lab
    url: str
    order_id: str


def _seed() -> Seed:
    return Seed(
        products=[
            SeedProduct(
                title="杯子",
                skus=[SeedSku(code="CUP", price=1000, stock=50), SeedSku(code="LID", price=300, stock=50)],
            )
        ]
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Three fake shops with sandboxes and 30 CUPs in the hub. Orders: on shop b, 1 LID (3.00)
    paid yesterday and shipped today (24 h); on shop c, 1 CUP two days ago; on shop a, 2 CUPs
    (20.00) today, awaiting shipment. The console is served by uvicorn on a random local port
    in a thread."""
    import uvicorn

    folder = tmp_path_factory.mktemp("console")
    clock = FakeClock()
    lab = Lab.create(
        f"sqlite:///{folder / 'hub.db'}",
        shops={"a": "fake", "b": "fake", "c": "fake_abs"},
        seed=_seed(),
        clock=clock,
        host_factory=fake_host,
    )
    now = clock.now()

    def place(shop: str, code: str, quantity: int, days_ago: int):  # type: ignore[no-untyped-def]
        state = lab.sandboxes[shop].state
        sku = state.skus_by_code(code)[0].sku_id
        return state.place_order([(sku, quantity)], at=now - timedelta(days=days_ago))

    shipped = place("b", "LID", 1, 1)
    lab.sandboxes["b"].state.ship(shipped.order_id, "YTO", "YT1")
    place("c", "CUP", 1, 2)
    lab.import_catalogue(on_hand=30)
    anyio.run(lab.sync)
    order = lab.sandboxes["a"].state.order_code("CUP", 2)
    clock.advance(60)
    anyio.run(lambda: lab.sync(None, ["orders"]))
    add_users(lab.app)

    web = create_app(lab.app, secret_key=SESSION_KEY)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()  # connections wait in the backlog until the server accepts them
    server = uvicorn.Server(uvicorn.Config(web, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    try:
        yield Served(lab, f"http://127.0.0.1:{sock.getsockname()[1]}", order.order_id)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        lab.close()


@pytest.fixture(scope="module")
def browser(served: Served) -> Iterator[object]:
    """Started after ``served``: Playwright's sync API runs an event loop in this thread."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with playwright_api.sync_playwright() as p:
            instance = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            yield instance
            instance.close()


@pytest.fixture
def page(browser, served: Served):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


def shots() -> Path:
    folder = Path(os.environ.get("HUB_SCREENSHOTS") or Path(os.environ.get("TMPDIR", "/tmp")) / "hub-screens")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def login(page, served: Served, name: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(served.url + "/")
    assert page.url.startswith(served.url + "/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("#who")


def test_login_and_the_overview_numbers(page, served: Served) -> None:  # type: ignore[no-untyped-def]
    page.goto(served.url + "/login")
    page.fill("input[name=username]", "olga")
    page.fill("input[name=password]", "wrong password")
    page.click("button:has-text('Sign in')")
    assert "wrong user name or password" in page.inner_text("main")
    login(page, served, "olga")
    assert page.inner_text("#who") == "olga (operator)"
    # One paid order of 2 CUPs at 10.00 on shop a (channel fake), today.
    row = page.locator("#today tr[data-channel=fake]")
    assert row.locator(".orders").inner_text() == "1"
    assert row.locator(".gmv").inner_text() == "20.00"
    assert page.locator("#today tr[data-channel=fake_abs] .orders").inner_text() == "0"
    assert page.locator(".chart svg").count() == 1
    # Shop b's LID: paid yesterday, shipped today, 24 h.
    handling = page.locator("#handling tr[data-channel=fake]")
    assert handling.locator(".p50").inner_text() == "24.0" and handling.locator(".p90").inner_text() == "24.0"
    page.screenshot(path=str(shots() / "console-overview.png"), full_page=True)


def test_stock_edit(page, served: Served) -> None:  # type: ignore[no-untyped-def]
    login(page, served, "olga")
    page.click("nav >> text=Stock")
    assert page.locator("tr[data-sku=LID]").count() == 1
    page.screenshot(path=str(shots() / "console-stock.png"), full_page=True)
    page.fill("input[name=q]", "cup")
    page.click("button:has-text('Search')")
    row = page.locator("tr[data-sku=CUP]")
    assert row.locator(".on-hand").inner_text() == "30"
    assert page.locator("tr[data-sku=LID]").count() == 0
    row.locator("input[name=quantity]").fill("44")
    row.locator("button:has-text('Set')").click()
    assert "CUP: on hand 30 → 44" in page.inner_text(".flash")
    assert page.locator("tr[data-sku=CUP] .on-hand").inner_text() == "44"
    page.click("nav >> text=Audit")
    assert "stock.set" in page.inner_text("#audit") and "olga" in page.inner_text("#audit")


def test_upload_with_a_bad_row(page, served: Served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    login(page, served, "olga")
    page.click("nav >> text=Bulk")
    sheet = tmp_path / "count.csv"
    sheet.write_text("sku,quantity\nLID,12\nCUP,many\n", encoding="utf-8")
    page.select_option("select[name=kind]", "stock")
    page.set_input_files("input[name=file]", str(sheet))
    page.click("button:has-text('Check')")
    problems = page.inner_text("#problems")
    assert "3" in problems and "many" in problems
    assert "applied whole or not at all" in page.inner_text("#refused-whole")
    page.click("button:text-is('Apply')")  # without "good rows only": refused, nothing applied
    assert page.locator("#applied").count() == 0
    page.check("input[name=partial]")
    page.click("button:text-is('Apply')")
    assert "applied 1 change(s)" in page.inner_text("#applied")


def test_ship_an_order(page, served: Served) -> None:  # type: ignore[no-untyped-def]
    login(page, served, "olga")
    page.click("nav >> text=Orders")
    row = page.locator(f"tr[data-order='a/{served.order_id}']")
    assert row.locator(".status").inner_text() == "awaiting_shipment"
    row.locator("input[name=carrier]").fill("SF")
    row.locator("input[name=tracking]").fill("SF1234567890")
    row.locator("button:has-text('Ship')").click()
    assert f"shipped {served.order_id} with SF SF1234567890" in page.inner_text(".flash")
    sandbox_order = served.lab.sandboxes["a"].state.order(served.order_id)
    assert sandbox_order.status.value == "shipped"


def test_a_viewer_is_refused(page, served: Served) -> None:  # type: ignore[no-untyped-def]
    login(page, served, "vic")
    page.click("nav >> text=Stock")
    assert page.locator("tr[data-sku=CUP]").count() == 1
    assert page.locator("form[action='/stock/set']").count() == 0  # no form to change anything
    token = page.get_attribute("input[name=csrf_token]", "value")
    response = page.request.post(
        served.url + "/stock/set", form={"sku": "CUP", "quantity": "1", "csrf_token": token}
    )
    assert response.status == 403 and "a viewer cannot change anything" in response.text()


def test_an_admin_adds_a_user(page, served: Served) -> None:  # type: ignore[no-untyped-def]
    login(page, served, "ada")
    page.click("nav >> text=Users")
    form = page.locator("#add-user")
    form.locator("input[name=name]").fill("mei")
    form.locator("select[name=role]").select_option("operator")
    form.locator("input[name=password]").fill("mei's long password")
    form.locator("input[name=confirm]").fill("mei's long password")
    form.locator("button:has-text('Add user')").click()
    assert "added user mei (operator)" in page.inner_text(".flash")
    assert page.locator("tr[data-user=mei] .role").inner_text() == "operator"
    assert "$argon2" not in page.content()
    page.click("button:has-text('Sign out')")
    page.goto(served.url + "/")
    page.fill("input[name=username]", "mei")
    page.fill("input[name=password]", "mei's long password")
    page.click("button:has-text('Sign in')")
    assert page.inner_text("#who") == "mei (operator)"
    assert page.locator("nav >> text=Users").count() == 0  # an operator does not manage users
