"""Allocation rules as stored: how much of each SKU a shop may show (the arithmetic is
:mod:`hub.core.allocation`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core import audit, catalog
from hub.storage import tables as t


def list_rules(s: Session) -> list[dict[str, Any]]:
    """Every allocation rule by shop name; ``sku`` is ``*`` for a shop's rule for every SKU."""
    return [
        {
            "shop": shop,
            "sku": sku or "*",
            "share": r.share,
            "cap": r.cap,
            "floor": r.floor,
            "warehouses": r.warehouses,
        }
        for r, shop, sku in s.execute(
            select(t.AllocationRule, t.Shop.name, t.Sku.code)
            .join(t.Shop, t.Shop.id == t.AllocationRule.shop_id)
            .outerjoin(t.Sku, t.Sku.id == t.AllocationRule.sku_id)
            .order_by(t.Shop.name)
        )
    ]


def set_rule(
    s: Session,
    shop: t.Shop,
    sku: t.Sku | None,
    *,
    share: int | None = None,
    cap: int | None = None,
    no_cap: bool = False,
    floor: int | None = None,
    warehouses: list[str] | None = None,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Create or change ``shop``'s rule (for ``sku``, or for every SKU); fields left None
    keep their value (a new rule: 100%, no cap, floor 0, every warehouse). ``warehouses``:
    codes (created if missing), ``[]`` for all. Audited; returns the rule as stored."""
    sku_id = sku.id if sku is not None else None
    rule = s.scalar(
        select(t.AllocationRule).where(
            t.AllocationRule.shop_id == shop.id,
            t.AllocationRule.sku_id.is_(sku_id) if sku_id is None else t.AllocationRule.sku_id == sku_id,
        )
    )
    if rule is None:
        rule = t.AllocationRule(shop_id=shop.id, sku_id=sku_id, share=100, floor=0)
        s.add(rule)
    if share is not None:
        rule.share = share
    if cap is not None or no_cap:
        rule.cap = None if no_cap else cap
    if floor is not None:
        rule.floor = floor
    if warehouses is not None:
        for code in warehouses:
            catalog.warehouse(s, code)
        rule.warehouses = warehouses or None
    new = {"share": rule.share, "cap": rule.cap, "floor": rule.floor, "warehouses": rule.warehouses}
    audit.record(
        s,
        actor=actor,
        action="rule.set",
        now=now,
        sku=sku.code if sku is not None else None,
        shop=shop.name,
        new=new,
        source="hub stock rules set",
    )
    return new
