"""Secrets at rest: sealed with a key that lives outside the database.

Every stored secret (app secrets, tokens, push keys) is written as
``hub1:<key id>:<Fernet token>``. Fernet (from ``cryptography``: AES-128-CBC with an
HMAC-SHA256 over the whole token) hides the value and detects any change to it; the key id
(a short hash of the key, not the key) tells a wrong key from a tampered value.

The key is a Fernet key (32 random bytes, URL-safe base64). It comes from, in order:

1. ``HUB_SECRET_KEY`` (the key itself);
2. the file ``HUB_SECRET_KEY_FILE`` names;
3. for an SQLite database, the file next to it: ``hub.db`` → ``hub.db.key``;
4. for an in-memory SQLite database, a key that lives as long as the process;
5. for any other database (PostgreSQL), ``$XDG_CONFIG_HOME/hub/secret.key``
   (``~/.config/hub/secret.key``).

A key file is created (mode 0600) the first time a secret is stored, never when one is
read: a lost key is reported as lost, not silently replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.engine import URL

from hub.errors import SecretKeyError, SecretTampered

PREFIX = "hub1:"
KEY_ENV = "HUB_SECRET_KEY"
KEY_FILE_ENV = "HUB_SECRET_KEY_FILE"
NEW_KEY_ENV = "HUB_NEW_SECRET_KEY"
NEW_KEY_HOWTO = (
    "generate one with: python -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())'"
)


def new_key() -> str:
    """A fresh random key."""
    return Fernet.generate_key().decode()


def key_id(key: str) -> str:
    """A short public fingerprint of ``key``, stored with each value it seals."""
    return hashlib.sha256(b"hub secret key id\0" + key.encode()).hexdigest()[:8]


def is_sealed(value: object) -> bool:
    """Whether ``value`` is a sealed secret (as opposed to clear text or nothing)."""
    return isinstance(value, str) and value.startswith(PREFIX)


def _fernet(key: str, where: str) -> Fernet:
    try:
        return Fernet(key.strip().encode())
    except (ValueError, TypeError):
        raise SecretKeyError(
            f"{where} is not a valid secret key (expected 32 bytes in URL-safe base64, 44 characters); "
            f"restore the right key, or {NEW_KEY_HOWTO}"
        ) from None


def default_key_file(environ: Mapping[str, str] = os.environ) -> Path:
    """Where the key of a non-SQLite database lives unless configured."""
    config = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "hub" / "secret.key"


@dataclass(frozen=True)
class KeySource:
    """Where the key comes from: ``env`` (HUB_SECRET_KEY), ``file`` or ``memory``."""

    kind: Literal["env", "file", "memory"]
    path: Path | None = None
    origin: str = ""

    @classmethod
    def for_database(cls, url: URL, environ: Mapping[str, str] = os.environ) -> KeySource:
        """The key source of the database at ``url`` under ``environ`` (see the module doc)."""
        if environ.get(KEY_ENV):
            return cls("env", origin=KEY_ENV)
        if environ.get(KEY_FILE_ENV):
            return cls("file", Path(environ[KEY_FILE_ENV]).expanduser().absolute(), KEY_FILE_ENV)
        if url.get_backend_name() == "sqlite":
            database = url.database or ""
            if database in ("", ":memory:") or url.query.get("mode") == "memory":
                return cls("memory", origin="in-memory database")
            return cls("file", Path(database + ".key").absolute(), "next to the database")
        return cls("file", default_key_file(environ).absolute(), "default for non-SQLite databases")

    def describe(self) -> str:
        if self.kind == "env":
            return KEY_ENV
        if self.kind == "memory":
            return "a key kept in memory (in-memory database)"
        return f"the key file {self.path}"


def write_key_file(path: Path, key: str, *, replace: bool) -> bool:
    """Write ``key`` to ``path`` with mode 0600, atomically: readers see no key or the
    whole key. Without ``replace`` an existing file wins (returns False)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(key + "\n")
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)  # fails if another process created the key first
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


class Rotation:
    """A new key being put in place by :meth:`SecretBox.rotation`: seal with it, then
    :meth:`commit` once the re-sealed values are committed (or :meth:`abandon`)."""

    def __init__(self, box: SecretBox, key: str):
        self._box = box
        self.key = key
        self.key_id = key_id(key)
        self._fernet = Fernet(key.encode())

    def seal(self, plaintext: str) -> str:
        return f"{PREFIX}{self.key_id}:{self._fernet.encrypt(plaintext.encode()).decode()}"

    def commit(self) -> None:
        self._box._finish_rotation(self)

    def abandon(self) -> None:
        self._box._abandon_rotation(self)


class SecretBox:
    """Seals and opens stored secrets with the key from ``source``. Thread-safe; the key is
    read lazily and re-read when its file changes (e.g. after another process rotated it)."""

    def __init__(self, source: KeySource, environ: Mapping[str, str] = os.environ):
        self.source = source
        self._environ = environ
        self._lock = threading.Lock()
        self._keys: dict[str, Fernet] = {}  # key id -> cipher; the current one first
        self._stamp: tuple[int, int, int] | None = None  # the key file's identity when read
        self._memory_key: str | None = None

    # --- the key ------------------------------------------------------------------------

    @property
    def pending_file(self) -> Path | None:
        """Where a key file's successor waits while a rotation commits."""
        path = self.source.path
        return None if path is None else path.with_name(path.name + ".new")

    def _file_stamp(self) -> tuple[int, int, int] | None:
        assert self.source.path is not None
        try:
            st = self.source.path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            path = self.source.path
            raise SecretKeyError(f"cannot read the secret key file {path}: {exc.strerror}") from None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _read_file(self, path: Path) -> str:
        try:
            return path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretKeyError(
                f"cannot read the secret key file {path}: {getattr(exc, 'strerror', None) or exc}"
            ) from None

    def _load(self, *, create: bool) -> dict[str, Fernet]:
        """Key id -> cipher, the current key first; empty when there is no key yet."""
        src = self.source
        keys: list[tuple[str, str]] = []  # (key, where)
        if src.kind == "env":
            keys.append((self._environ.get(KEY_ENV, ""), KEY_ENV))
            if self._environ.get(NEW_KEY_ENV):
                keys.append((self._environ[NEW_KEY_ENV], NEW_KEY_ENV))
        elif src.kind == "memory":
            if self._memory_key is None and create:
                self._memory_key = new_key()
            if self._memory_key is not None:
                keys.append((self._memory_key, "the in-memory key"))
        else:
            assert src.path is not None
            self._stamp = self._file_stamp()
            if self._stamp is None and create:
                try:
                    write_key_file(src.path, new_key(), replace=False)
                except OSError as exc:
                    raise SecretKeyError(
                        f"cannot create the secret key file {src.path}: {exc.strerror or exc}; "
                        f"point {KEY_FILE_ENV} at a writable place, or set {KEY_ENV}"
                    ) from None
                self._stamp = self._file_stamp()
            if self._stamp is not None:
                keys.append((self._read_file(src.path), f"the secret key file {src.path}"))
                pending = self.pending_file
                if pending is not None and pending.exists():  # a rotation that stopped half-way
                    keys.append((self._read_file(pending), f"the secret key file {pending}"))
        self._keys = {key_id(key.strip()): _fernet(key, where) for key, where in keys}
        return self._keys

    def _current(self, *, create: bool) -> dict[str, Fernet]:
        with self._lock:
            stale = self.source.kind == "file" and self._file_stamp() != self._stamp
            if not self._keys or stale:
                self._load(create=create)
            return self._keys

    def current_key_id(self) -> str | None:
        """The id of the key new values are sealed with; None if no key exists yet."""
        keys = self._current(create=False)
        return next(iter(keys), None)

    # --- sealing --------------------------------------------------------------------------

    def seal(self, plaintext: str) -> str:
        """``plaintext`` encrypted and authenticated under the current key (created if none)."""
        keys = self._current(create=True)
        kid, fernet = next(iter(keys.items()))
        return f"{PREFIX}{kid}:{fernet.encrypt(plaintext.encode()).decode()}"

    def open(self, sealed: str, *, what: str, fix: str = "") -> str:
        """The clear text of ``sealed``, or :class:`SecretKeyError` /
        :class:`SecretTampered` naming ``what``; ``fix`` (e.g. "re-enter it with …") is
        offered as the way out besides the right key."""
        if not is_sealed(sealed):
            raise SecretTampered(
                f"{what} is stored without encryption (not written by the hub)" + (f"; {fix}" if fix else "")
            )
        otherwise = f", or {fix}" if fix else ""
        kid, _, token = sealed[len(PREFIX) :].partition(":")
        keys = self._current(create=False)
        if kid not in keys:
            with self._lock:
                keys = self._load(create=False)  # rotated by another process since we read it?
        if not keys:
            raise SecretKeyError(
                f"{what} was encrypted with key {kid}, but there is no key: {self._missing()}{otherwise}"
            )
        fernet = keys.get(kid)
        if fernet is None:
            raise SecretKeyError(
                f"{what} was encrypted with key {kid}, but {self.source.describe()} holds key "
                f"{next(iter(keys))} (wrong key): use the key it was stored with{otherwise}"
            )
        try:
            return fernet.decrypt(token.encode()).decode()
        except (InvalidToken, UnicodeDecodeError):
            raise SecretTampered(
                f"{what} fails its integrity check: it was altered or corrupted in the database"
                + (f"; {fix}" if fix else "")
            ) from None

    def _missing(self) -> str:
        if self.source.kind == "file":
            via = f" ({KEY_FILE_ENV})" if self.source.origin == KEY_FILE_ENV else ""
            return f"{self.source.path}{via} does not exist: restore it from your backup or set {KEY_ENV}"
        return "the in-memory key was lost"

    # --- rotation -------------------------------------------------------------------------

    def rotation(self) -> Rotation:
        """A new key for ``hub secrets rotate``. A key file's successor is written to
        ``<file>.new`` first, so no committed value is ever sealed with a key that is not on
        disk; with ``HUB_SECRET_KEY`` the new key comes from ``HUB_NEW_SECRET_KEY``."""
        if self.source.kind == "env":
            key = self._environ.get(NEW_KEY_ENV, "").strip()
            if not key:
                raise SecretKeyError(
                    f"the key comes from {KEY_ENV}: set {NEW_KEY_ENV} to the new key ({NEW_KEY_HOWTO}) "
                    f"and run again; then put the new key in {KEY_ENV}"
                )
            _fernet(key, NEW_KEY_ENV)
            if key == self._environ.get(KEY_ENV, "").strip():
                raise SecretKeyError(f"{NEW_KEY_ENV} is the same key as {KEY_ENV}; give a new key")
            return Rotation(self, key)
        key = new_key()
        pending = self.pending_file
        if pending is not None:
            write_key_file(pending, key, replace=True)
        return Rotation(self, key)

    def _finish_rotation(self, rotation: Rotation) -> None:
        with self._lock:
            if self.source.kind == "memory":
                self._memory_key = rotation.key
            elif self.source.kind == "file":
                assert self.source.path is not None and self.pending_file is not None
                os.replace(self.pending_file, self.source.path)
            self._keys = {}
            self._stamp = None

    def _abandon_rotation(self, rotation: Rotation) -> None:
        pending = self.pending_file
        if self.source.kind == "file" and pending is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(pending)
