"""Links between listings and SKUs made by hand, as `hub listings map` and the console make them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.app import App
from hub.core import catalog
from hub.errors import InputError, UnknownShop
from hub.storage import tables as t


@pytest.fixture
def listed(app: App) -> App:
    """Shop ``a`` with SKU ``CUP`` and one listing ``p1`` that carries no code."""
    now = app.clock.now()

    def write(s):  # type: ignore[no-untyped-def]
        shop = t.Shop(name="a", platform="fake", app_key="k", app_secret="s", options={}, created_at=now)
        s.add(shop)
        s.flush()
        catalog.add_sku(s, code="CUP", title="Cup", price=100, now=now)
        s.add(
            t.Listing(
                shop_id=shop.id,
                platform_item_id="i1",
                platform_sku_id="p1",
                price=100,
                status="on_sale",
                platform_quantity=0,
                quantity_as_of=now,
                last_seen_at=now,
            )
        )

    app.db.run_sync(write)
    return app


def link(app: App, sku_code: str | None, *, shop: str = "a", platform_sku_id: str = "p1", **who: str) -> None:
    app.db.run_sync(
        lambda s: catalog.link_listing(
            s,
            shop=shop,
            platform_sku_id=platform_sku_id,
            sku_code=sku_code,
            actor=who.get("actor", "olga"),
            source=who.get("source", "console"),
            now=app.clock.now(),
        )
    )


def test_a_link_by_hand_is_kept_and_audited_with_who_and_where(listed: App) -> None:
    link(listed, "CUP", actor="olga", source="console")
    link(listed, None, actor="ops", source="hub listings map")

    def read(s):  # type: ignore[no-untyped-def]
        listing = s.scalar(select(t.Listing).where(t.Listing.platform_sku_id == "p1"))
        audits = s.execute(
            select(
                t.AuditEntry.actor,
                t.AuditEntry.action,
                t.AuditEntry.sku_code,
                t.AuditEntry.shop,
                t.AuditEntry.new,
                t.AuditEntry.source,
            ).order_by(t.AuditEntry.id)
        ).all()
        return listing.sku_id, listing.mapped_manually, [tuple(a) for a in audits]

    sku_id, manual, audits = listed.db.run_sync(read)
    assert sku_id is None and manual  # unlinked by hand: later listing reads keep it so
    assert audits == [
        ("olga", "listing.map", "CUP", "a", "p1", "console"),
        ("ops", "listing.map", None, "a", "p1", "hub listings map"),
    ]


def test_an_unknown_shop_listing_or_sku_changes_nothing(listed: App) -> None:
    with pytest.raises(UnknownShop):
        link(listed, "CUP", shop="nope")
    with pytest.raises(InputError, match="no listing 'p9'"):
        link(listed, "CUP", platform_sku_id="p9")
    with pytest.raises(InputError):
        link(listed, "NOPE")
    audits = listed.db.run_sync(lambda s: s.scalars(select(t.AuditEntry)).all())
    assert audits == []
