"""The audit log: who changed what, from where (a file and row, or a command)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.storage import tables as t


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    now: datetime,
    sku: str | None = None,
    shop: str | None = None,
    old: object = None,
    new: object = None,
    source: str = "",
) -> None:
    session.add(
        t.AuditEntry(
            at=now,
            actor=actor[:64],
            action=action,
            sku_code=sku,
            shop=shop,
            old=None if old is None else str(old),
            new=None if new is None else str(new),
            source=source[:256],
        )
    )


def entries(
    session: Session,
    *,
    sku: str | None = None,
    since: datetime | None = None,
    limit: int = 1000,
    actor: str | None = None,
    action: str | None = None,
    shop: str | None = None,
) -> list[dict[str, Any]]:
    """Audit entries, newest first; ``action`` matches a prefix (``stock`` finds ``stock.set``)."""
    query = select(t.AuditEntry).order_by(t.AuditEntry.at.desc(), t.AuditEntry.id.desc()).limit(limit)
    if sku:
        query = query.where(t.AuditEntry.sku_code == sku)
    if actor:
        query = query.where(t.AuditEntry.actor == actor)
    if action:
        query = query.where(t.AuditEntry.action.startswith(action, autoescape=True))
    if shop:
        query = query.where(t.AuditEntry.shop == shop)
    if since:
        query = query.where(t.AuditEntry.at >= since)
    return [
        {
            "at": e.at,
            "actor": e.actor,
            "action": e.action,
            "sku": e.sku_code,
            "shop": e.shop,
            "old": e.old,
            "new": e.new,
            "source": e.source,
        }
        for e in session.scalars(query)
    ]
