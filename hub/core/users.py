"""Console users: names, roles and argon2 password hashes.

Roles are ordered: a ``viewer`` reads, an ``operator`` also changes stock, orders, bulk files
and promotions, an ``admin`` also manages users. ``hub users`` and the console's users page
both change users through the functions here, so the rules (and the audit) are the same:
the last enabled admin can be neither removed, disabled nor demoted. Passwords are hashed with argon2id
(argon2-cffi); neither a password nor its hash ever leaves through output.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.core import audit
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


def _audit(
    session: Session,
    actor: str | None,
    action: str,
    now: datetime,
    source: str,
    *,
    old: str | None = None,
    new: str | None = None,
) -> None:
    if actor is not None:
        audit.record(session, actor=actor, action=action, now=now, source=source, old=old, new=new)


def get_user(session: Session, name: str) -> t.User:
    """The user called ``name``, or :class:`InputError`."""
    user = session.scalar(select(t.User).where(t.User.name == name))
    if user is None:
        raise InputError(f"no user {name!r}")
    return user


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")


def _keep_an_admin(session: Session, user: t.User, what: str) -> None:
    """Refuse ``what`` when ``user`` is the last enabled admin: nobody could manage users."""
    if user.role != "admin" or user.disabled_at is not None:
        return
    admins = session.scalar(
        select(func.count()).select_from(t.User).where(t.User.role == "admin", t.User.disabled_at.is_(None))
    )
    if admins <= 1:
        raise InputError(
            f"cannot {what} {user.name!r}: the last enabled admin; add or enable another admin first"
        )


def add_user(
    session: Session,
    *,
    name: str,
    role: str,
    password: str,
    now: datetime,
    actor: str | None = None,
    source: str = "",
) -> t.User:
    """Store a new user with an argon2 hash of ``password``. With ``actor``, audited as
    ``user.add`` (as every change below: the audit entry names the user, never the password)."""
    if not USER_NAME.fullmatch(name):
        raise InputError(f"invalid user name {name!r}: use letters, digits, '_', '.', '@', '-' (max 64)")
    _check_role(role)
    check_password(password)
    if session.scalar(select(t.User.id).where(t.User.name == name)) is not None:
        raise InputError(f"user {name!r} already exists")
    user = t.User(name=name, role=role, password_hash=_hasher.hash(password), created_at=now)
    session.add(user)
    session.flush()
    _audit(session, actor, "user.add", now, source, new=f"{name} {role}")
    return user


def remove_user(
    session: Session, name: str, *, now: datetime | None = None, actor: str | None = None, source: str = ""
) -> None:
    """Delete a user (never the last enabled admin)."""
    user = get_user(session, name)
    _keep_an_admin(session, user, "remove")
    session.delete(user)
    if now is not None:
        _audit(session, actor, "user.remove", now, source, old=name)


def set_role(
    session: Session, name: str, role: str, *, now: datetime, actor: str | None = None, source: str = ""
) -> bool:
    """Give a user another role (the last enabled admin keeps theirs). Returns whether it
    changed; an unchanged role is not audited."""
    _check_role(role)
    user = get_user(session, name)
    if user.role == role:
        return False
    if role != "admin":
        _keep_an_admin(session, user, "take the admin role from")
    old, user.role = user.role, role
    _audit(session, actor, "user.role", now, source, old=f"{name} {old}", new=f"{name} {role}")
    return True


def set_disabled(
    session: Session, name: str, disabled: bool, *, now: datetime, actor: str | None = None, source: str = ""
) -> bool:
    """Disable a user (no sign-in; open sessions end at their next request) or enable them
    again. The last enabled admin cannot be disabled. Returns whether it changed."""
    user = get_user(session, name)
    if (user.disabled_at is not None) == disabled:
        return False
    if disabled:
        _keep_an_admin(session, user, "disable")
    user.disabled_at = now if disabled else None
    _audit(session, actor, "user.disable" if disabled else "user.enable", now, source, old=name)
    return True


def reset_password(
    session: Session, name: str, password: str, *, now: datetime, actor: str | None = None, source: str = ""
) -> None:
    """Set a new password for a user (stored as a new argon2 hash)."""
    user = get_user(session, name)
    check_password(password)
    user.password_hash = _hasher.hash(password)
    _audit(session, actor, "user.password", now, source, old=name)


def list_users(session: Session) -> list[dict[str, Any]]:
    """Name, role, when created, last signed in and disabled (never the hash)."""
    return [
        {
            "name": u.name,
            "role": u.role,
            "created_at": u.created_at,
            "last_login_at": u.last_login_at,
            "disabled_at": u.disabled_at,
        }
        for u in session.scalars(select(t.User).order_by(t.User.name))
    ]


def authenticate(session: Session, name: str, password: str, now: datetime) -> t.User | None:
    """The user if ``password`` is theirs (their last sign-in is then recorded), else None."""
    user = session.scalar(select(t.User).where(t.User.name == name))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled_at is not None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = now
    return user
