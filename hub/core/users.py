"""Console users: names, roles and argon2 password hashes.

Roles are ordered: a ``viewer`` reads, an ``operator`` also changes stock, orders, bulk files
and promotions, an ``admin`` also manages users. Passwords are hashed with argon2id
(argon2-cffi); neither a password nor its hash ever leaves through output.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.errors import InputError
from hub.storage import tables as t

ROLES = ("viewer", "operator", "admin")
MIN_PASSWORD = 8
USER_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")

_hasher = PasswordHasher()
# Verifying an unknown user's password against this keeps the answer as slow as for a
# known one, so timing does not tell which names exist.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


def allows(role: str, needed: str) -> bool:
    """Whether ``role`` may do what ``needed`` may."""
    return ROLES.index(role) >= ROLES.index(needed)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InputError(f"the password is too short: use at least {MIN_PASSWORD} characters")


def add_user(session: Session, *, name: str, role: str, password: str, now: datetime) -> t.User:
    """Store a new user with an argon2 hash of ``password``."""
    if not USER_NAME.fullmatch(name):
        raise InputError(f"invalid user name {name!r}: use letters, digits, '_', '.', '@', '-' (max 64)")
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    check_password(password)
    if session.scalar(select(t.User.id).where(t.User.name == name)) is not None:
        raise InputError(f"user {name!r} already exists")
    user = t.User(name=name, role=role, password_hash=_hasher.hash(password), created_at=now)
    session.add(user)
    session.flush()
    return user


def remove_user(session: Session, name: str) -> None:
    user = session.scalar(select(t.User).where(t.User.name == name))
    if user is None:
        raise InputError(f"no user {name!r}")
    session.delete(user)


def list_users(session: Session) -> list[dict[str, Any]]:
    """Name, role, when created and last signed in (never the hash)."""
    return [
        {"name": u.name, "role": u.role, "created_at": u.created_at, "last_login_at": u.last_login_at}
        for u in session.scalars(select(t.User).order_by(t.User.name))
    ]


def authenticate(session: Session, name: str, password: str, now: datetime) -> t.User | None:
    """The user if ``password`` is theirs (their last sign-in is then recorded), else None."""
    user = session.scalar(select(t.User).where(t.User.name == name))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = now
    return user
