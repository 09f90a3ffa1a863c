"""What `hub stock show` and the console print per SKU: the picture beside the plan's targets."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.stock.picture import Picture
from hub.core.stock.plan import targets
from hub.storage import tables as t


def sku_rows(
    session: Session, picture: Picture, *, code: str | None = None, search: str | None = None
) -> list[dict[str, Any]]:
    """Per SKU: on hand (per warehouse), reserved, safety, sellable, mode and why, and per shop the
    quantity shown now and the target. ``code`` picks one SKU; ``search`` matches the
    商家编码 or the title (case-insensitive substring). Used by `hub stock show` and the console."""
    shops = dict(session.execute(select(t.Shop.id, t.Shop.name)).all())
    titles = dict(session.execute(select(t.Sku.id, t.Sku.title)).all())
    wanted = targets(picture)
    needle = search.strip().casefold() if search else ""
    rows = []
    for info in sorted(picture.skus.values(), key=lambda x: x.code):
        if code and info.code != code:
            continue
        title = titles.get(info.id, "")
        if needle and needle not in info.code.casefold() and needle not in title.casefold():
            continue
        rows.append(
            {
                "sku": info.code,
                "title": title,
                "on_hand": sum(info.on_hand.values()),
                "warehouses": info.on_hand,
                # a bundle's components (code -> units per bundle); {} for an ordinary SKU
                "bundle_of": {picture.skus[c].code: q for c, q in info.recipe.items()},
                "reserved": info.reserved,
                "safety": info.safety,
                "sellable": info.sellable,
                "counted": info.counted,
                "mode": ("partitioned" if info.partitioned else "shared") if info.counted else "not counted",
                "why": info.mode_reason if info.counted else "not counted: its listings are left alone",
                "shops": [
                    {
                        "shop": shops[x.shop_id],
                        "platform_sku_id": x.ref.platform_sku_id,
                        "shown": x.model,
                        # a SKU nobody counted is never pushed: its listings keep what they show
                        "target": wanted[x.id] if info.counted else None,
                    }
                    for x in picture.by_sku.get(info.id, [])
                ],
            }
        )
    return rows
