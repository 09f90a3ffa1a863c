"""No app secret, access token or refresh token of any shop appears in any log line at
debug level, nor in stdout or stderr: `hub -vv sync --json` as a process (sandboxes over
HTTP) and in-process (log records captured at DEBUG), on a good run and on an error path
(wrong tokens and secrets, which are secrets too)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping

import pytest

from hub.core.shops import env_name
from hub.simulator import SandboxApp
from tests.reliability.served import World, build_world, report_of, world_seed
from tests.reliability.support import Rig

#: Wrong credentials per shop for the error path (each long enough to be registered and
#: masked; the hub must treat them as secrets even though the platforms reject them).
WRONG = {
    "tb": {"access_token": "WRONGtbSESSION6201a8c4d5e"},
    "jd": {"app_secret": "WRONGjdSECRET93f0b1c2d3e4"},
    "dy": {"access_token": "WRONGdyACCESS77a1b2c3d4e5", "refresh_token": "WRONGdyREFRESH1f2e3d4c5b6"},
    "wx": {"access_token": "WRONGwxTOKEN55d6c7b8a9f0", "app_secret": "WRONGwxSECRET0a9b8c7d6e5f"},
}


def secrets_of(sandboxes: Mapping[str, SandboxApp]) -> set[str]:
    """Every secret the platforms know: app secrets and every token they ever issued."""
    found = set()
    for box in sandboxes.values():
        found.add(box.credentials.app_secret)
        found.update(box.credentials.tokens)
        found.update(box.credentials.refresh_tokens)
    found.update(v for values in WRONG.values() for v in values.values())
    return found


def wrong_env() -> dict[str, str]:
    return {env_name(shop, field): value for shop, values in WRONG.items() for field, value in values.items()}


def leaked(texts: Iterable[str], secrets: set[str]) -> list[tuple[str, str]]:
    """(secret, the text around it) for every secret found in ``texts``."""
    found = []
    for text in texts:
        for secret in secrets:
            at = text.find(secret)
            if at >= 0:
                found.append((secret, text[max(0, at - 120) : at + len(secret) + 40]))
    return found


def record_texts(records: Iterable[logging.LogRecord]) -> list[str]:
    out = []
    for record in records:
        out.append(record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            out.append(logging.Formatter().formatException(record.exc_info))
        if record.exc_text:
            out.append(record.exc_text)
    return out


@pytest.fixture
def world(hub_db_url: str) -> Iterator[World]:
    world = build_world(hub_db_url, world_seed(5), latency=0.0)
    yield world
    world.stop()


def test_no_secret_in_the_output_of_hub_sync_processes(world: World) -> None:
    good = world.run("-vv", "sync", "--json")
    assert good.returncode == 0, good.stderr[-2000:]
    assert report_of(good)["exit_code"] == 0
    assert " DEBUG hub." in good.stderr, "debug logging must be on"
    bad = world.run("-vv", "sync", "--json", env=wrong_env())
    assert bad.returncode == 2, bad.stderr[-2000:]
    failed = {r["shop"] for r in report_of(bad)["results"] if r["exit_code"] == 2}
    assert failed == set(WRONG), report_of(bad)
    secrets = secrets_of(world.sandboxes)
    assert not leaked([good.stdout, good.stderr, bad.stdout, bad.stderr], secrets)


def test_no_secret_in_any_log_record_or_output_in_process(
    rig: Rig, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    rig.clock.advance(5)
    good = rig.hub("-vv", "sync", "--json")
    assert good.exit_code == 0, good.output
    rig.buy("tb", "TEA")
    for name, value in wrong_env().items():
        monkeypatch.setenv(name, value)
    rig.clock.advance(5)
    bad = rig.hub("-vv", "sync", "--json")
    assert bad.exit_code == 2, bad.output
    assert any(r.levelno == logging.DEBUG and r.name.startswith("hub") for r in caplog.records)
    secrets = secrets_of(rig.sandboxes)
    texts = [good.stdout, good.stderr, bad.stdout, bad.stderr, *record_texts(caplog.records)]
    assert not leaked(texts, secrets)
