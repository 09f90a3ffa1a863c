"""The key that signs console session cookies, kept outside the database.

``HUB_CONSOLE_SECRET`` if set; otherwise a random key generated once into a file readable
only by its owner (``console-secret`` next to a SQLite database, or the path given)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.engine import make_url

from hub.errors import ConfigError

ENV = "HUB_CONSOLE_SECRET"
MIN_LENGTH = 32


def default_path(database_url: str) -> Path | None:
    """``console-secret`` beside a SQLite database file; None for other databases."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).resolve().parent / "console-secret"


def load_secret(database_url: str, path: Path | None = None, environ: Mapping[str, str] = os.environ) -> str:
    """The signing key: from the environment, else read (or first created) at ``path``."""
    if environ.get(ENV):
        key = environ[ENV]
        if len(key) < MIN_LENGTH:
            raise ConfigError(f"{ENV} is too short: use at least {MIN_LENGTH} random characters")
        return key
    path = path or default_path(database_url)
    if path is None:
        raise ConfigError(f"set {ENV} or --secret-file: no local database file to keep a key beside")
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    if path.stat().st_mode & 0o077:
        raise ConfigError(f"{path} is readable by others: run `chmod 600 {path}`")
    key = path.read_text().strip()
    if len(key) < MIN_LENGTH:
        raise ConfigError(f"{path} holds too short a key: delete it to have a new one made")
    return key
