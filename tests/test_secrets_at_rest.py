"""Shop secrets are encrypted at rest: the key lives outside the database, a wrong key or an
altered value is a clear error (and nothing reaches a platform), rotation and migration."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import JSON, DateTime, select, text, update
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from sqlalchemy.engine import make_url

from hub.core.shops import add_shop, settings_for
from hub.errors import ConfigError, SecretKeyError, SecretTampered
from hub.plugins import PluginHost
from hub.simulator.lab import Lab
from hub.storage import migrate
from hub.storage import tables as t
from hub.storage.base import Base
from hub.storage.db import Database
from hub.storage.secretbox import KeySource, SecretBox, is_sealed, key_id
from hub.testing import FakeClock
from hub.testing.fake import FakePlatformPlugin, FakeSettings
from tests.conftest import Invoke, fake_host
from tests.test_engine import SHOPS, seed

SECRET, TOKEN, REFRESH = "SECRETX123-app-secret", "TOKENY456-access", "REFRESHZ789-refresh"
SECRETS = (SECRET, TOKEN, REFRESH)


def stored_bytes(db: Database) -> bytes:
    """Everything the database holds: the SQLite files' bytes, or every row of every table."""
    if db.is_sqlite:
        path = Path(db.engine.url.database or "")
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    with db.engine.connect() as conn:
        return "\n".join(
            repr(tuple(row)) for table in Base.metadata.sorted_tables for row in conn.execute(table.select())
        ).encode()


def add(db: Database, host: PluginHost, name: str = "s1", **values: object) -> None:
    values = {"app_key": "k", "app_secret": SECRET, "access_token": TOKEN, "refresh_token": REFRESH} | values
    db.run_sync(lambda s: add_shop(s, host, name=name, platform="fake", values=values, now=FakeClock().now()))


def shop(db: Database, name: str = "s1") -> t.Shop:
    return db.run_sync(lambda s: s.scalar(select(t.Shop).where(t.Shop.name == name)))


def opened(db: Database, host: PluginHost, name: str = "s1") -> tuple[str, str | None, str | None]:
    settings = settings_for(host, shop(db, name), {}, secrets=db.secrets)
    token, refresh = settings.access_token, settings.refresh_token
    return (
        settings.app_secret.get_secret_value(),
        token.get_secret_value() if token else None,
        refresh.get_secret_value() if refresh else None,
    )


# --- stored encrypted -------------------------------------------------------------------------


def test_no_secret_value_is_in_the_database(hub_db: Database) -> None:
    host = fake_host()
    add(hub_db, host)
    row = shop(hub_db)
    assert all(is_sealed(v) for v in (row.app_secret, row.access_token, row.refresh_token))
    data = stored_bytes(hub_db)
    assert all(secret.encode() not in data for secret in SECRETS)
    assert opened(hub_db, host) == SECRETS


def test_cli_add_stores_nothing_readable_and_files_are_private(
    invoke: Invoke, tmp_path: Path, hub_backend: str
) -> None:
    if hub_backend != "sqlite":
        pytest.skip("the files beside an SQLite database; PostgreSQL's rows are checked below")
    result = invoke(
        "shops",
        "add",
        "t",
        "--no-check",
        "--platform",
        "fake",
        "--app-key",
        "k",
        "--app-secret",
        SECRET,
        "--access-token",
        TOKEN,
    )
    assert result.exit_code == 0, result.stderr
    files = [p for p in tmp_path.iterdir() if p.name.startswith("hub.db")]
    assert {p.name for p in files} >= {"hub.db", "hub.db.key"}
    for path in files:
        assert SECRET.encode() not in path.read_bytes() and TOKEN.encode() not in path.read_bytes()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    status = json.loads(invoke("secrets", "status", "--json").output)
    assert status["secrets"] == 2 and status["unreadable"] == []
    assert status["key_origin"] == "next to the database"


def test_a_new_sqlite_file_is_created_0600(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'new.db'}")
    migrate.upgrade(db)
    db.dispose()
    assert stat.S_IMODE((tmp_path / "new.db").stat().st_mode) == 0o600


def test_secrets_from_the_environment_are_never_written(
    hub_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = fake_host()
    monkeypatch.setenv("HUB_SHOP_S1_APP_SECRET", SECRET)
    monkeypatch.setenv("HUB_SHOP_S1_ACCESS_TOKEN", TOKEN)
    add(hub_db, host, app_secret=None, access_token=None, refresh_token=None)
    row = shop(hub_db)
    assert (row.app_secret, row.access_token, row.refresh_token) == ("", None, None)
    assert SECRET.encode() not in stored_bytes(hub_db) and TOKEN.encode() not in stored_bytes(hub_db)
    settings = settings_for(host, row, os.environ, secrets=hub_db.secrets)
    assert settings.app_secret.get_secret_value() == SECRET


@pytest.mark.anyio
async def test_refreshed_tokens_are_stored_encrypted(hub_db: Database, fake_clock: FakeClock) -> None:
    from hub.core.shops import ShopRuntime
    from hub.platform import TokenSet

    host = fake_host()
    add(hub_db, host)
    ctx = ShopRuntime(host=host, db=hub_db, clock=fake_clock).open(shop(hub_db))
    await ctx.client._token_store(TokenSet(access_token="NEWTOKEN-1234", refresh_token="NEWREFRESH-5678"))
    row = shop(hub_db)
    assert is_sealed(row.access_token) and b"NEWTOKEN-1234" not in stored_bytes(hub_db)
    assert opened(hub_db, host)[1:] == ("NEWTOKEN-1234", "NEWREFRESH-5678")


class PushSettings(FakeSettings):
    push_token: SecretStr | None = None


def push_host() -> PluginHost:
    plugin = FakePlatformPlugin("fake_push")
    plugin.info = dataclasses.replace(plugin.info, settings_model=PushSettings)
    host = PluginHost(autoload=False, blocked=[])
    host.register(plugin, name="fake_push")
    return host


def test_a_plugins_own_secret_fields_are_encrypted_too(hub_db: Database) -> None:
    host = push_host()
    values = {"app_key": "k", "app_secret": SECRET, "push_token": "PUSHTOKEN-4242"}
    now = FakeClock().now()
    hub_db.run_sync(lambda s: add_shop(s, host, name="p", platform="fake_push", values=values, now=now))
    row = shop(hub_db, "p")
    assert is_sealed(row.options["push_token"]) and b"PUSHTOKEN-4242" not in stored_bytes(hub_db)
    settings = settings_for(host, row, {}, secrets=hub_db.secrets)
    assert isinstance(settings, PushSettings) and settings.push_token.get_secret_value() == "PUSHTOKEN-4242"
    env = {"HUB_SHOP_P_PUSH_TOKEN": "FROM-ENV-1"}
    assert settings_for(host, row, env, secrets=hub_db.secrets).push_token.get_secret_value() == "FROM-ENV-1"
    from hub.core.shops import describe_shop

    described = describe_shop(host, row, {})
    assert described["options"]["push_token"] == "****" and described["secret_sources"]["push_token"] == "db"


# --- wrong or missing key, tampering ------------------------------------------------------------


@pytest.fixture
def lab(tmp_path: Path, fake_clock: FakeClock) -> Iterator[Lab]:
    lab = Lab.create(
        f"sqlite:///{tmp_path / 'hub.db'}", shops=SHOPS, seed=seed(), clock=fake_clock, host_factory=fake_host
    )
    yield lab
    lab.close()


def hub(lab: Lab, *args: str):  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from hub.cli import cli

    return CliRunner().invoke(cli, list(args), obj=lab.app, catch_exceptions=False)


def test_a_wrong_key_stops_every_shop_before_any_call(lab: Lab, tmp_path: Path) -> None:
    key_file = tmp_path / "hub.db.key"
    key_file.write_text(Fernet.generate_key().decode())  # someone replaced the key
    result = hub(lab, "sync", "--json")
    assert result.exit_code == 2
    assert sum(sum(s.calls.values()) for s in lab.sandboxes.values()) == 0  # nothing sent anywhere
    assert "Traceback" not in result.output + result.stderr
    report = result.output
    assert "(wrong key)" in report and "hub shops set-secrets a --app-secret" in report
    status = hub(lab, "secrets", "status")
    assert status.exit_code == 2 and "wrong key" in status.output


def test_a_missing_key_says_where_it_was_looked_for(lab: Lab, tmp_path: Path) -> None:
    (tmp_path / "hub.db.key").unlink()
    result = hub(lab, "sync", "--json")
    assert result.exit_code == 2
    assert f"{tmp_path / 'hub.db.key'} does not exist" in result.output and "HUB_SECRET_KEY" in result.output
    assert sum(sum(s.calls.values()) for s in lab.sandboxes.values()) == 0
    assert not (tmp_path / "hub.db.key").exists()  # reading never invents a new key


def test_secrets_can_be_re_entered_after_the_key_is_lost(lab: Lab, tmp_path: Path) -> None:
    (tmp_path / "hub.db.key").unlink()
    for name, sandbox in lab.sandboxes.items():
        creds = sandbox.shop_credentials()
        args = ["--app-secret", creds["app_secret"], "--access-token", creds["access_token"]]
        if creds.get("refresh_token"):
            args += ["--refresh-token", creds["refresh_token"]]
        assert hub(lab, "shops", "set-secrets", name, *args).exit_code == 0
    assert hub(lab, "sync").exit_code == 0
    assert hub(lab, "secrets", "status").exit_code == 0
    audit = json.loads(hub(lab, "audit", "list", "--json").output)
    changes = [e for e in audit if e["action"] == "shop.secrets"]
    assert len(changes) == 3 and changes[0]["new"].startswith("access_token, app_secret")
    creds = lab.sandboxes["a"].shop_credentials()
    assert creds["app_secret"] not in json.dumps(audit)


def test_tampered_ciphertext_is_detected(hub_db: Database) -> None:
    host = fake_host()
    add(hub_db, host)
    sealed = shop(hub_db).app_secret
    body = sealed[-10:]
    altered = sealed[:-10] + ("A" if body[0] != "A" else "B") + body[1:]
    hub_db.run_sync(lambda s: s.execute(update(t.Shop).values(app_secret=altered)))
    with pytest.raises(SecretTampered, match="app secret of shop 's1' fails its integrity check"):
        opened(hub_db, host)
    hub_db.run_sync(lambda s: s.execute(update(t.Shop).values(app_secret="planted-clear-text")))
    with pytest.raises(SecretTampered, match="stored without encryption"):
        opened(hub_db, host)
    other = SecretBox(KeySource("memory")).seal(SECRET)  # sealed with some other key
    hub_db.run_sync(lambda s: s.execute(update(t.Shop).values(app_secret=other)))
    with pytest.raises(SecretKeyError, match=r"\(wrong key\)"):
        opened(hub_db, host)


def test_bad_keys_in_the_environment_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_SECRET_KEY", "not-a-key")
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    with pytest.raises(SecretKeyError, match="HUB_SECRET_KEY is not a valid secret key"):
        db.secrets.seal("x")
    monkeypatch.delenv("HUB_SECRET_KEY")
    (tmp_path / "b.db.key").write_text("garbage")
    db = Database(f"sqlite:///{tmp_path / 'b.db'}")
    with pytest.raises(SecretKeyError, match=r"b\.db\.key is not a valid secret key"):
        db.secrets.seal("x")


def test_where_the_key_comes_from(tmp_path: Path) -> None:
    sqlite = make_url(f"sqlite:///{tmp_path / 'x.db'}")
    pg = make_url("postgresql+psycopg://u@h/db")
    assert KeySource.for_database(sqlite, {}).path == tmp_path / "x.db.key"
    assert KeySource.for_database(make_url("sqlite://"), {}).kind == "memory"
    assert KeySource.for_database(pg, {"XDG_CONFIG_HOME": "/cfg"}).path == Path("/cfg/hub/secret.key")
    assert KeySource.for_database(pg, {"HUB_SECRET_KEY_FILE": "/k/key"}).path == Path("/k/key")
    assert KeySource.for_database(pg, {"HUB_SECRET_KEY": "x", "HUB_SECRET_KEY_FILE": "/k"}).kind == "env"


def test_an_env_key_works_and_no_file_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_SECRET_KEY", Fernet.generate_key().decode())
    db = Database(f"sqlite:///{tmp_path / 'e.db'}")
    migrate.upgrade(db)
    host = fake_host()
    add(db, host)
    assert opened(db, host) == SECRETS and not (tmp_path / "e.db.key").exists()
    db.dispose()


# --- rotation ---------------------------------------------------------------------------------


def test_rotate_re_encrypts_everything_under_a_new_key(invoke: Invoke, app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    host = fake_host()
    add(app.db, host, "s1")
    add(app.db, host, "s2", refresh_token=None)
    key_file = app.db.secrets.source.path  # beside an SQLite file, or the PostgreSQL default
    old_key = key_file.read_text().strip()
    before = [shop(app.db, n).app_secret for n in ("s1", "s2")]
    # Another process (say `hub sync --watch`) keeps the database open, so SQLite's log is not
    # folded away on close: the rotation itself must drop the old sealed values' copies.
    other = Database(app.settings.database_url)
    held = other.engine.connect()
    held.connection.dbapi_connection.execute("SELECT count(*) FROM shops").fetchall()  # no BEGIN
    result = invoke("secrets", "rotate", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)  # stderr may warn that old copies could not be compacted yet
    new_key = key_file.read_text().strip()
    assert new_key != old_key and data["secrets"] == 5 and data["key_id"] == key_id(new_key)
    assert (
        stat.S_IMODE(key_file.stat().st_mode) == 0o600
        and not key_file.with_name(key_file.name + ".new").exists()
    )
    for name in ("s1", "s2"):
        row = shop(app.db, name)
        sealed = (row.app_secret, row.access_token)
        assert all(v is None or v.split(":")[1] == key_id(new_key) for v in sealed)
    assert opened(app.db, host, "s1") == SECRETS and opened(app.db, host, "s2") == (SECRET, TOKEN, None)
    # The old key opens nothing any more, and the old sealed values are gone from the file.
    old_box = SecretBox(KeySource("env"), {"HUB_SECRET_KEY": old_key})
    fresh = Database(app.settings.database_url, secrets=old_box)
    with pytest.raises(SecretKeyError, match="wrong key"):
        opened(fresh, host, "s1")
    fresh.dispose()
    data_bytes = stored_bytes(app.db)
    assert all(old.encode() not in data_bytes for old in before)
    held.close()
    other.dispose()
    audit = json.loads(invoke("audit", "list", "--json").output)
    assert any(e["action"] == "secrets.rotate" and e["new"] == key_id(new_key) for e in audit)


def test_rotate_refuses_if_any_secret_cannot_be_read(invoke: Invoke, app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    host = fake_host()
    add(app.db, host, "s1")
    add(app.db, host, "s2")
    app.db.run_sync(lambda s: s.execute(update(t.Shop).where(t.Shop.name == "s2").values(access_token="x")))
    key_file = app.db.secrets.source.path
    key_before = key_file.read_text()
    query = select(t.Shop.app_secret, t.Shop.access_token)

    def stored() -> list[tuple[str, str]]:
        return app.db.run_sync(lambda s: [tuple(r) for r in s.execute(query)])

    rows_before = stored()
    result = invoke("secrets", "rotate")
    assert result.exit_code == 2
    assert "refusing to rotate: 1 stored secret(s) cannot be read" in result.stderr
    assert "access token of shop 's2'" in result.stderr and "Traceback" not in result.stderr
    assert key_file.read_text() == key_before and not key_file.with_name(key_file.name + ".new").exists()
    assert stored() == rows_before


def test_rotate_refuses_while_a_sync_holds_a_lease(invoke: Invoke, app, fake_clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    add(app.db, fake_host())
    until = fake_clock.now() + timedelta(minutes=5)
    app.db.run_sync(lambda s: s.add(t.Lease(name="s1:orders", holder="host:1:abc", expires_at=until)))
    result = invoke("secrets", "rotate")
    assert result.exit_code == 2 and "s1:orders (host:1:abc)" in result.stderr


def test_rotate_with_an_env_key_takes_the_new_one_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from hub.app import App
    from hub.cli import cli
    from hub.settings import HubSettings

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("HUB_SECRET_KEY", old)
    url = f"sqlite:///{tmp_path / 'hub.db'}"

    def run(*args: str):  # type: ignore[no-untyped-def]
        app = App(settings=HubSettings(database_url=url), host_factory=fake_host)
        return CliRunner().invoke(cli, list(args), obj=app, catch_exceptions=False)

    added = run(
        "shops", "add", "s1", "--no-check", "--platform", "fake", "--app-key", "k", "--app-secret", SECRET
    )
    assert added.exit_code == 0
    refused = run("secrets", "rotate")
    assert refused.exit_code == 2 and "set HUB_NEW_SECRET_KEY" in refused.stderr
    monkeypatch.setenv("HUB_NEW_SECRET_KEY", new)
    assert run("secrets", "rotate").exit_code == 0
    monkeypatch.setenv("HUB_SECRET_KEY", new)
    monkeypatch.delenv("HUB_NEW_SECRET_KEY")
    assert run("secrets", "status").exit_code == 0
    monkeypatch.setenv("HUB_SECRET_KEY", old)
    assert run("secrets", "status").exit_code == 2


def test_a_rotation_cut_short_after_commit_loses_nothing(invoke: Invoke, app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from hub.core.shops import rotate_secrets

    host = fake_host()
    add(app.db, host)
    rotation = app.db.secrets.rotation()
    app.db.run_sync(lambda s: rotate_secrets(s, app.db.secrets, rotation, app.clock.now()))
    # ... and the process dies before the new key file replaced the old one.
    fresh = Database(app.settings.database_url)
    assert opened(fresh, host) == SECRETS
    fresh.dispose()
    status = json.loads(invoke("secrets", "status", "--json").output)
    assert status["rotation_unfinished"] is True and status["unreadable"] == []
    assert invoke("secrets", "rotate").exit_code == 0
    assert not (tmp_path / "hub.db.key.new").exists() and opened(app.db, host) == SECRETS


# --- migration of clear-text rows -------------------------------------------------------------


def _before_encryption() -> str:
    from alembic.script import ScriptDirectory

    from hub.storage.migrate import alembic_config

    cfg = alembic_config(Database("sqlite://"))
    return str(ScriptDirectory.from_config(cfg).get_revision("0006").down_revision)


def test_migration_encrypts_clear_text_rows_and_gives_them_back_only_on_request(hub_db: Database) -> None:
    previous = _before_encryption()
    migrate.downgrade(hub_db, previous)
    old = sa_table(
        "shops",
        *(sa_column(c) for c in ("name", "platform", "app_key", "app_secret")),
        sa_column("access_token"),
        sa_column("options", JSON),
        sa_column("created_at", DateTime()),
    )
    clear = {f"old{i}": (f"CLEARSECRET{i}", f"CLEARTOKEN{i}" * 3) for i in range(5)}  # rows share a page
    created = FakeClock().now().replace(tzinfo=None)
    with hub_db.engine.begin() as conn:
        for name, (secret, token) in clear.items():
            conn.execute(
                old.insert().values(
                    name=name,
                    platform="fake",
                    app_key="k",
                    app_secret=secret,
                    access_token=token,
                    options={"base_url": "http://127.0.0.1:9/api"},
                    created_at=created,
                )
            )
    migrate.upgrade(hub_db)
    data = stored_bytes(hub_db)
    host = fake_host()
    for name, (secret, token) in clear.items():
        row = shop(hub_db, name)
        assert is_sealed(row.app_secret) and is_sealed(row.access_token) and row.refresh_token is None
        assert secret.encode() not in data and token[:30].encode() not in data
        assert opened(hub_db, host, name) == (secret, token, None)

    with pytest.raises(ConfigError, match="--decrypt-secrets"):
        migrate.downgrade(hub_db, previous)
    assert migrate.current_revision(hub_db) == migrate.head_revision(hub_db)
    migrate.downgrade(hub_db, previous, decrypt_secrets=True)
    with hub_db.engine.connect() as conn:
        rows = conn.execute(text("SELECT name, app_secret, access_token FROM shops")).all()
    assert {name: (secret, token) for name, secret, token in rows} == clear
    migrate.upgrade(hub_db)
    assert opened(hub_db, host, "old0") == (*clear["old0"], None)


def test_downgrade_to_base_needs_no_key(hub_db: Database) -> None:
    add(hub_db, fake_host())
    migrate.downgrade(hub_db, "base")
    migrate.upgrade(hub_db)


# --- exports ------------------------------------------------------------------------------------


def test_exports_never_carry_secrets(invoke: Invoke, app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    add(app.db, fake_host())
    assert invoke("skus", "add", "CUP", "--price", "10.00").exit_code == 0
    for kind in ("stock", "prices"):
        out = tmp_path / f"{kind}.csv"
        assert invoke("export", kind, str(out)).exit_code == 0
        content = out.read_bytes()
        assert all(secret.encode() not in content for secret in SECRETS)
        assert b"hub1:" not in content


def test_set_secrets_takes_only_secrets_of_the_platform(invoke: Invoke, app) -> None:  # type: ignore[no-untyped-def]
    add(app.db, fake_host())
    wrong = invoke("shops", "set-secrets", "s1", "--set", "qps=5")
    assert wrong.exit_code == 2 and "not secret settings of a fake shop: qps" in wrong.stderr
    empty = invoke("shops", "set-secrets", "s1")
    assert empty.exit_code == 2 and "give at least one secret" in empty.stderr
    ghost = invoke("shops", "set-secrets", "ghost", "--app-secret", "x")
    assert ghost.exit_code == 2 and "unknown shop 'ghost'" in ghost.stderr
    ok = invoke("shops", "set-secrets", "s1", "--access-token", "NEWTOKEN-9999")
    assert ok.exit_code == 0 and "NEWTOKEN-9999" not in ok.output + ok.stderr
    assert opened(app.db, fake_host()) == (SECRET, "NEWTOKEN-9999", REFRESH)


@pytest.fixture
def malformed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set before the ``app`` fixture opens the database, which reads where its key is."""
    monkeypatch.setenv("HUB_SECRET_KEY", "too-short")


@pytest.mark.usefixtures("malformed_key")
def test_a_malformed_key_is_one_line_and_exit_2(invoke: Invoke) -> None:
    result = invoke(
        "shops", "add", "s1", "--no-check", "--platform", "fake", "--app-key", "k", "--app-secret", SECRET
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: HUB_SECRET_KEY is not a valid secret key"), lines
    assert "too-short" not in result.stderr and SECRET not in result.stderr
    assert json.loads(invoke("shops", "list", "--json").output) == []  # nothing was stored


def test_a_key_file_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    box = SecretBox(KeySource("file", blocked / "secret.key", "HUB_SECRET_KEY_FILE"))
    with pytest.raises(SecretKeyError, match=r"cannot create the secret key file .*HUB_SECRET_KEY_FILE"):
        box.seal("x")
