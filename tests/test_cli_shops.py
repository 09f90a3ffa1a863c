"""`hub shops`, `hub plugins`, `hub db`: validation, exit codes, masked secrets."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Invoke

SECRET = "very-secret-app-secret"
TOKEN = "very-secret-access-token"


def add(invoke: Invoke, name: str = "s1", *extra: str):  # type: ignore[no-untyped-def]
    return invoke(
        "shops",
        "add",
        name,
        "--platform",
        "fake",
        "--app-key",
        "k1",
        "--app-secret",
        SECRET,
        "--access-token",
        TOKEN,
        "--base-url",
        "http://127.0.0.1:9/api",
        "--no-check",  # nothing listens there; tests/test_cli_shops_check.py covers the check
        *extra,
    )


def test_add_and_list_masks_every_secret(invoke: Invoke) -> None:
    assert add(invoke).exit_code == 0
    result = invoke("shops", "list", "--json")
    assert result.exit_code == 0
    assert SECRET not in result.output and TOKEN not in result.output
    [shop] = json.loads(result.output)
    assert shop["name"] == "s1" and shop["app_secret"] == "****" and shop["access_token"] == "****"
    assert shop["base_url"] == "http://127.0.0.1:9/api"
    table = invoke("shops", "list")
    assert "s1" in table.output and SECRET not in table.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--platform", "nope", "--app-key", "k", "--app-secret", "s"],
            "unknown platform 'nope'; installed platforms: fake, fake_abs",
        ),
        (
            ["--platform", "fake", "--app-key", "k", "--app-secret", "s", "--base-url", "ftp://x"],
            "base_url: Value error, not an http(s) URL",
        ),
        (["--platform", "fake", "--app-key", "k"], "needs --app-secret"),
        (["--platform", "fake", "--app-secret", "s"], "Missing option '--app-key'"),
        (
            ["--platform", "fake", "--app-key", "k", "--app-secret", "s", "--set", "qps=fast"],
            "qps: Input should be a valid number",
        ),
        (
            ["--platform", "fake", "--app-key", "k", "--app-secret", "s", "--set", "colour=red"],
            "colour: Extra inputs are not permitted",
        ),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(invoke: Invoke, args: list[str], message: str) -> None:
    result = invoke("shops", "add", "s1", "--no-check", *args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines


def test_secrets_from_the_environment(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_SHOP_ENV_SHOP_APP_SECRET", SECRET)
    result = invoke("shops", "add", "env-shop", "--platform", "fake", "--app-key", "k", "--no-check")
    assert result.exit_code == 0, result.stderr
    [shop] = json.loads(invoke("shops", "list", "--json").output)
    assert shop["secret_sources"]["app_secret"] == "env" and SECRET not in json.dumps(shop)


def test_duplicate_and_unknown_shops(invoke: Invoke) -> None:
    add(invoke)
    again = add(invoke)
    assert again.exit_code == 2 and "already exists" in again.stderr
    missing = invoke("shops", "remove", "ghost", "--yes")
    assert missing.exit_code == 2 and "unknown shop 'ghost'" in missing.stderr
    assert invoke("shops", "remove", "s1", "--yes").exit_code == 0
    assert json.loads(invoke("shops", "list", "--json").output) == []


def test_plugins_list_json(invoke: Invoke) -> None:
    data = json.loads(invoke("plugins", "list", "--json").output)
    assert {p["name"] for p in data["plugins"]} == {"fake", "fake_abs"}
    assert data["errors"] == []


def test_db_current_and_upgrade(invoke: Invoke) -> None:
    assert invoke("db", "upgrade").exit_code == 0
    data = json.loads(invoke("db", "current", "--json").output)
    assert data["current"] == data["head"]


def test_usage_errors_are_one_line(invoke: Invoke) -> None:
    result = invoke("shops", "frobnicate")
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "No such command" in result.stderr


def test_push_secrets_are_stored_and_masked_like_the_app_secret(invoke: Invoke) -> None:
    aes = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    result = add(invoke, "s1", "--set", "push_token=PushTok3n", "--set", f"push_aes_key={aes}")
    assert result.exit_code == 0, result.output
    listed = invoke("shops", "list", "--json")
    assert "PushTok3n" not in listed.output and aes not in listed.output
    [shop] = json.loads(listed.output)
    assert shop["name"] == "s1"
    assert shop["options"] == {"push_token": "****", "push_aes_key": "****"}
    assert shop["secret_sources"]["push_token"] == "db"
