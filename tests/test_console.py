"""The console in-process (Starlette's test client): sign-in, roles, CSRF, throttling, and
every page's numbers and actions. tests/test_console_browser.py drives it in a real browser."""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import openpyxl
import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from hub.app import App
from hub.console.secret import load_secret
from hub.core import users
from hub.errors import ConfigError
from hub.storage import tables as t
from tests.conftest import Invoke
from tests.console_kit import PASSWORD, SESSION_KEY, Console, add_users
from tests.report_data import SECRET, add_returns, seed

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# Every action (path, form) a signed-in operator can post; a viewer must be refused each one.
ACTIONS = [
    ("/stock/set", {"sku": "S1", "quantity": "99"}),
    ("/orders/ship", {"order_id": "O2", "shop": "a", "carrier": "SF", "tracking": "SF1"}),
    ("/orders/link", {"shop": "a", "platform_sku_id": "p-O2", "sku": "S2"}),
    ("/bulk/check", {"kind": "stock"}),
    ("/bulk/apply", {"token": "x"}),
    (
        "/promotions/create",
        {
            "name": "p",
            "kind": "percent_discount",
            "percent_off": "10",
            "skus": "S1",
            "shops": "a",
            "start": "2026-11-12 00:00",
            "end": "2026-11-13 00:00",
        },
    ),
    ("/promotions/1/cancel", {}),
]


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheaper argon2 parameters: the same code paths, a fraction of the CPU per test."""
    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def seeded(app: App) -> App:
    seed(app)
    add_users(app)
    return app


@pytest.fixture
def console(seeded: App) -> Console:
    return Console(seeded)


def audit_count(app: App) -> int:
    return app.db.run_sync(lambda s: s.scalar(select(func.count()).select_from(t.AuditEntry)))


def on_hand(app: App, code: str) -> int:
    return app.db.run_sync(
        lambda s: s.scalar(select(func.sum(t.StockOnHand.quantity)).join(t.Sku).where(t.Sku.code == code))
    )


# --- signing in -----------------------------------------------------------------------------


def test_pages_need_a_signed_in_user(console: Console) -> None:
    for path in ("/", "/stock", "/orders", "/bulk", "/promotions", "/audit", "/orders.xlsx"):
        response = console.client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")


def test_login_sets_a_signed_http_only_same_site_cookie(console: Console) -> None:
    response = console.login("olga")
    assert response.status_code == 200 and "olga (operator)" in response.text
    cookie = next(h for k, h in response.history[0].headers.multi_items() if k == "set-cookie")
    assert (
        "httponly" in cookie.lower() and "samesite=lax" in cookie.lower() and "secure" not in cookie.lower()
    )
    assert PASSWORD not in cookie


def test_https_only_marks_the_cookie_secure(seeded: App) -> None:
    console = Console(seeded, https_only=True)
    console.client.base_url = "https://testserver"  # type: ignore[assignment]
    response = console.login("olga")
    cookie = next(h for k, h in response.history[0].headers.multi_items() if k == "set-cookie")
    assert "; secure" in cookie.lower()


def test_wrong_password_and_unknown_user_get_the_same_answer(console: Console) -> None:
    wrong = console.login("olga", "not the password")
    unknown = console.login("nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "wrong user name or password" in wrong.text and "wrong user name or password" in unknown.text


def test_login_without_csrf_token_is_refused(console: Console) -> None:
    response = console.post("/login", {"username": "olga", "password": PASSWORD}, csrf=False)
    assert response.status_code == 403
    assert "olga (operator)" not in console.get("/login").text


def test_login_throttled_per_user_and_address_then_released(seeded: App, console: Console) -> None:
    for _ in range(5):
        assert console.login("olga", "guess").status_code == 401
    throttled = console.login("olga")  # even the right password, while locked out
    assert throttled.status_code == 429 and "too many failed sign-ins" in throttled.text
    assert console.login("vic").status_code == 200  # another user is not locked out
    seeded.clock.advance(15 * 60 + 1)  # type: ignore[attr-defined]
    assert console.login("olga").status_code == 200


def test_open_redirect_after_login_is_refused(console: Console) -> None:
    console.get("/login")
    response = console.client.post(
        "/login",
        data={
            "username": "olga",
            "password": PASSWORD,
            "next": "//evil.example/",
            "csrf_token": console.token,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_removed_user_is_signed_out_at_the_next_request(
    seeded: App, console: Console, invoke: Invoke
) -> None:
    console.login("olga")
    assert invoke("users", "remove", "olga").exit_code == 0
    response = console.client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_logout(console: Console) -> None:
    console.login("olga")
    console.post("/logout")
    assert console.client.get("/", follow_redirects=False).status_code == 303


def test_security_headers(console: Console) -> None:
    response = console.get("/login")
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in response.headers["content-security-policy"]


# --- roles and CSRF on every action -------------------------------------------------------------


@pytest.mark.parametrize(("path", "form"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_a_viewer_can_change_nothing(seeded: App, console: Console, path: str, form: dict) -> None:
    console.login("vic")
    before = audit_count(seeded)
    response = console.post(path, form)
    assert response.status_code == 403
    assert "a viewer cannot change anything" in response.text
    assert audit_count(seeded) == before and on_hand(seeded, "S1") == 5


@pytest.mark.parametrize(("path", "form"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_every_action_needs_the_csrf_token(seeded: App, console: Console, path: str, form: dict) -> None:
    console.login("olga")
    before = audit_count(seeded)
    response = console.post(path, {**form, "csrf_token": "forged"}, csrf=False)
    assert response.status_code == 403 and "did not come from this console" in response.text
    assert audit_count(seeded) == before


def test_a_viewer_sees_no_forms_to_change_things(console: Console) -> None:
    console.login("vic")
    for path in ("/stock", "/orders", "/bulk", "/promotions"):
        html = console.get(path).text
        assert 'action="/stock/set"' not in html and 'action="/orders/ship"' not in html
        assert 'action="/bulk/check"' not in html and 'action="/promotions/create"' not in html


def test_no_page_shows_a_secret(console: Console) -> None:
    console.login("ada")
    for path in ("/", "/stock", "/orders", "/bulk", "/promotions", "/audit"):
        html = console.get(path).text
        assert SECRET not in html and SESSION_KEY not in html and PASSWORD not in html


# --- pages ----------------------------------------------------------------------------------------


def test_overview_numbers_match_the_hand_computed_book(console: Console) -> None:
    console.login("vic")
    html = console.get("/").text
    # Today (2026-11-11 in Shanghai): O2 25.50 + O3 9.90 on fake; nothing counted on fake_abs.
    assert '<td class="n orders">2</td>\n        <td class="n gmv">35.40</td>' in html
    assert '<td class="n orders">0</td>\n        <td class="n gmv">0.00</td>' in html
    # Handling (30 days): fake 1 h, 6 h, 10 h -> p50 6.0, p90 10.0; fake_abs 2 h.
    assert '<td class="n p50">6.0</td><td class="n p90">10.0</td>' in html
    assert '<td class="n p50">2.0</td><td class="n p90">2.0</td>' in html
    assert "<svg" in html and "Orders per day" in html  # the chart, inline
    assert "Stock alerts 安全库存预警 (2)" in html


def test_overview_shows_return_rates_from_the_report(seeded: App, console: Console) -> None:
    add_returns(seeded)
    console.login("vic")
    html = console.get("/").text
    assert '<tr data-channel="fake" data-sku="S1">' in html
    assert '<td class="n rate">16.7%</td>' in html  # the same figure as `hub report returns`


def test_overview_shows_sync_health_and_failed_writes(seeded: App, console: Console) -> None:
    now = seeded.clock.now()

    def write(s):  # type: ignore[no-untyped-def]
        shop = s.scalar(select(t.Shop).where(t.Shop.name == "b"))
        s.add(t.SyncRun(shop_id=shop.id, stream="orders", started_at=now, finished_at=now, status="ok"))
        s.add(
            t.SyncRun(
                shop_id=shop.id,
                stream="orders",
                started_at=now,
                finished_at=now,
                status="failed",
                error=f"HTTP 500 while signing with {SECRET}",
            )
        )
        s.add(
            t.OutboxEntry(
                shop_id=shop.id,
                kind="stock",
                target="p-1",
                idempotency_key="k1",
                payload={},
                state="failed",
                attempts=3,
                last_error="item is delisted",
                created_at=now,
                updated_at=now,
            )
        )

    seeded.db.run_sync(write)
    console = Console(seeded)  # registers the shops' secrets, as the console does at start
    console.login("vic")
    html = console.get("/").text
    assert "Failed writes (1)" in html and "item is delisted" in html
    assert "HTTP 500 while signing with ****" in html and SECRET not in html


def test_stock_search_by_code_or_title(console: Console) -> None:
    console.login("vic")
    html = console.get("/stock", params={"q": "白茶"}).text
    assert 'data-sku="S3"' in html and 'data-sku="S1"' not in html
    html = console.get("/stock", params={"q": "s1"}).text
    assert 'data-sku="S1"' in html and 'data-sku="S3"' not in html


def test_stock_set_is_audited_with_the_user(seeded: App, console: Console) -> None:
    console.login("olga")
    html = console.post("/stock/set", {"sku": "S1", "quantity": "12"}).text
    assert "S1: on hand 5 → 12" in html
    assert on_hand(seeded, "S1") == 12
    audit = console.get("/audit", params={"action": "stock", "actor": "olga"}).text
    assert "console (main)" in audit and "<td>12</td>" in audit


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"sku": "S1", "quantity": "-1"}, "the quantity must be a whole number"),
        ({"sku": "S1", "quantity": "ten"}, "the quantity must be a whole number"),
        ({"sku": "NOPE", "quantity": "1"}, "NOPE"),
    ],
)
def test_stock_set_bad_input_changes_nothing(seeded: App, console: Console, form: dict, message: str) -> None:
    console.login("olga")
    html = console.post("/stock/set", form).text
    assert message in html and 'class="flash error"' in html
    assert on_hand(seeded, "S1") == 5


def test_orders_filter_and_export(console: Console) -> None:
    console.login("vic")
    html = console.get("/orders", params={"shop": "a", "status": "shipped"}).text
    assert 'data-order="a/O1"' in html and 'data-order="a/O8"' in html and 'data-order="a/O2"' not in html
    html = console.get("/orders", params={"since": "2026-11-11", "until": "2026-11-11"}).text
    assert 'data-order="a/O2"' in html and 'data-order="a/O1"' not in html
    response = console.get("/orders.xlsx", params={"shop": "b"})
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = list(openpyxl.load_workbook(io.BytesIO(response.content)).active.values)
    assert rows[0][:2] == ("shop", "order")
    assert sorted((r[1], r[4]) for r in rows[1:]) == [("O3", 9.9), ("O7", 3.0)]
    bad = console.get("/orders", params={"since": "yesterday"})
    assert "expected a date like" in bad.text


def test_ship_goes_through_the_outbox_once(seeded: App, console: Console) -> None:
    console.login("olga")
    for _ in range(2):
        console.post("/orders/ship", {"order_id": "O2", "shop": "a", "carrier": "SF", "tracking": "SF123"})
    entries = seeded.db.run_sync(
        lambda s: [(e.kind, e.target, e.payload["tracking_number"]) for e in s.scalars(select(t.OutboxEntry))]
    )
    assert entries == [("shipment", "O2", "SF123")]
    html = console.get("/audit", params={"action": "order.ship"}).text
    assert "O2 SF SF123" in html and "olga" in html


def test_shipping_an_unpaid_order_is_refused(seeded: App, console: Console) -> None:
    console.login("olga")
    html = console.post(
        "/orders/ship", {"order_id": "O5", "shop": "a", "carrier": "SF", "tracking": "1"}
    ).text
    assert "only paid orders can be shipped" in html
    assert seeded.db.run_sync(lambda s: s.scalar(select(func.count()).select_from(t.OutboxEntry))) == 0


def test_bulk_upload_with_a_bad_row_then_partial_apply(seeded: App, console: Console) -> None:
    console.login("olga")
    data = b"sku,quantity\nS1,40\nS2,-3\nS3,8\n"
    html = console.post(
        "/bulk/check", {"kind": "stock"}, files={"file": ("count.csv", data, "text/csv")}
    ).text
    assert "count.csv: 3 rows, 2 changes, 0 unchanged, 1 bad" in html
    assert "<td>3</td>" in html and "applied whole or not at all" in html
    assert on_hand(seeded, "S1") == 5  # a dry run
    refused = console.post("/bulk/apply", {"token": _token(html)}).text
    assert "applied" not in refused.split("<main>")[1].split("count.csv")[0]
    assert on_hand(seeded, "S1") == 5
    done = console.post("/bulk/apply", {"token": _token(html), "partial": "on"}).text
    assert "applied 2 change(s)" in done
    assert (on_hand(seeded, "S1"), on_hand(seeded, "S3")) == (40, 8)
    audit = console.get("/audit", params={"sku": "S1"}).text
    assert "count.csv:2" in audit and "olga" in audit


def test_bulk_refuses_other_file_types(console: Console) -> None:
    console.login("olga")
    html = console.post("/bulk/check", {"kind": "stock"}, files={"file": ("x.exe", b"MZ", "text/plain")}).text
    assert "use a .csv or .xlsx file" in html


def _token(html: str) -> str:
    return html.split('name="token" value="')[1].split('"')[0]


def test_promotions_create_validate_and_cancel(seeded: App, console: Console) -> None:
    console.login("olga")
    form = {
        "name": "双12",
        "kind": "percent_discount",
        "percent_off": "10",
        "skus": "S1",
        "shops": "a;b",
        "start": "2026-12-12 00:00",
        "end": "2026-12-11 00:00",
    }
    bad = console.post("/promotions/create", form)
    assert bad.status_code == 400 and "invalid promotion" in bad.text
    assert "双12" in bad.text  # the form keeps what was typed
    ok = console.post("/promotions/create", {**form, "end": "2026-12-13 00:00"}).text
    assert "created promotion #1" in ok and 'data-promotion="1"' in ok
    cancelled = console.post("/promotions/1/cancel").text
    assert "promotion #1 cancelled" in cancelled


def test_exception_linking(seeded: App, console: Console) -> None:
    now = seeded.clock.now()

    def write(s):  # type: ignore[no-untyped-def]
        shop = s.scalar(select(t.Shop).where(t.Shop.name == "a"))
        s.add(
            t.Listing(
                shop_id=shop.id,
                platform_item_id="i9",
                platform_sku_id="p-X",
                master_code="UNKNOWN",
                price=100,
                status="on_sale",
                platform_quantity=0,
                quantity_as_of=now,
                last_seen_at=now,
            )
        )
        order = t.Order(
            shop_id=shop.id,
            platform_order_id="O9",
            status="awaiting_shipment",
            platform_status="PAID",
            created_at_platform=now,
            modified_at_platform=now,
            paid_at=now,
            total=100,
            stored_at=now,
            updated_at=now,
        )
        order.lines.append(
            t.OrderLine(
                line_id="1",
                platform_item_id="i9",
                platform_sku_id="p-X",
                master_code="UNKNOWN",
                quantity=1,
                unit_price=100,
            )
        )
        s.add(order)

    seeded.db.run_sync(write)
    console.login("olga")
    assert "Exceptions: lines that match no SKU (1)" in console.get("/orders").text
    html = console.post("/orders/link", {"shop": "a", "platform_sku_id": "p-X", "sku": "S2"}).text
    assert "a p-X linked to S2" in html and "Exceptions: lines that match no SKU (0)" in html


# --- the session key ------------------------------------------------------------------------------


def test_session_key_file_is_made_once_with_mode_600(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    first = load_secret(url, environ={})
    path = tmp_path / "console-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(first) >= 32
    assert load_secret(url, environ={}) == first
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        load_secret(url, environ={})


def test_session_key_from_the_environment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    assert load_secret(url, environ={"HUB_CONSOLE_SECRET": "e" * 40}) == "e" * 40
    with pytest.raises(ConfigError, match="too short"):
        load_secret(url, environ={"HUB_CONSOLE_SECRET": "short"})
    with pytest.raises(ConfigError, match="HUB_CONSOLE_SECRET"):
        load_secret("postgresql://db/hub", environ={})


# --- hub users --------------------------------------------------------------------------------------


def test_users_add_list_remove(invoke: Invoke) -> None:
    assert (
        invoke(
            "users", "add", "mei", "--role", "operator", "--password-stdin", input="s3cret-pass\n"
        ).exit_code
        == 0
    )
    result = invoke("users", "list", "--json")
    [user] = json.loads(result.output)
    assert user["name"] == "mei" and user["role"] == "operator"
    assert "s3cret-pass" not in result.output and "argon2" not in result.output
    assert invoke("users", "remove", "mei").exit_code == 0
    assert json.loads(invoke("users", "list", "--json").output) == []


def test_users_add_prompts_twice(invoke: Invoke, app: App) -> None:
    result = invoke("users", "add", "mei", "--role", "viewer", input="long-enough\nlong-enough\n")
    assert result.exit_code == 0, result.output
    stored = app.db.run_sync(lambda s: s.scalar(select(t.User.password_hash)))
    assert stored.startswith("$argon2id$") and "long-enough" not in stored


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("mei", "--role", "viewer"), "short\n", "too short"),
        (("mei", "--role", "boss"), "long-enough\n", "Invalid value for '--role'"),
        (("bad name", "--role", "viewer"), "long-enough\n", "invalid user name"),
        (("mei", "--role", "viewer"), "\n", "no password on standard input"),
    ],
)
def test_users_add_bad_input_exit_2(invoke: Invoke, args: tuple, stdin: str, message: str) -> None:
    result = invoke("users", "add", *args, "--password-stdin", input=stdin)
    assert result.exit_code == 2 and message in result.output
    assert json.loads(invoke("users", "list", "--json").output) == []


def test_users_add_twice_and_remove_unknown(invoke: Invoke) -> None:
    invoke("users", "add", "mei", "--role", "viewer", "--password-stdin", input="long-enough\n")
    again = invoke("users", "add", "mei", "--role", "admin", "--password-stdin", input="long-enough\n")
    assert again.exit_code == 2 and "already exists" in again.output
    gone = invoke("users", "remove", "nobody")
    assert gone.exit_code == 2 and "no user 'nobody'" in gone.output


def test_hub_console_refuses_a_weak_key_before_serving(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_CONSOLE_SECRET", "short")
    result = invoke("console", "--port", "0")
    assert result.exit_code == 2 and "HUB_CONSOLE_SECRET is too short" in result.output


def test_a_session_keeps_its_last_five_uploads(seeded: App, console: Console) -> None:
    console.login("olga")
    tokens = []
    for n in range(6):
        data = f"sku,quantity\nS1,{n + 20}\n".encode()
        html = console.post(
            "/bulk/check", {"kind": "stock"}, files={"file": ("c.csv", data, "text/csv")}
        ).text
        tokens.append(_token(html))
    assert "no longer here" in console.post("/bulk/apply", {"token": tokens[0]}).text
    assert "applied 1 change(s)" in console.post("/bulk/apply", {"token": tokens[1]}).text
    assert on_hand(seeded, "S1") == 21
