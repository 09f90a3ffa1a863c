"""Leases: at most one process works on a unit of work (e.g. ``shop1:orders``) at a time.

A lease is a row with a holder and an expiry, taken in a transaction (SQLite's
``BEGIN IMMEDIATE``, PostgreSQL's row lock), renewed while the work runs and released at
the end. A crashed holder's lease simply expires, so its work is picked up again.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub.storage import tables as t


def new_holder() -> str:
    """An identity for this process: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(session: Session, name: str, holder: str, now: datetime, ttl: float) -> bool:
    """Take (or renew) the lease ``name`` for ``ttl`` seconds; False if another live
    holder has it."""
    lease = session.scalar(select(t.Lease).where(t.Lease.name == name).with_for_update())
    expires = now + timedelta(seconds=ttl)
    if lease is None:
        session.add(t.Lease(name=name, holder=holder, expires_at=expires))
        return True
    if lease.holder != holder and lease.expires_at > now:
        return False
    lease.holder, lease.expires_at = holder, expires
    return True


def release(session: Session, name: str, holder: str) -> None:
    session.execute(delete(t.Lease).where(t.Lease.name == name, t.Lease.holder == holder))
