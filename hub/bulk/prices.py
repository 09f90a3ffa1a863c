"""Price files: regular prices per SKU, for every shop or one shop."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.bulk.columns import PRICE_COLUMNS, parse_price_cell
from hub.bulk.kind import FileKind, Progress, Record
from hub.bulk.staging import Staging, fetch_groups
from hub.core import prices
from hub.errors import InputError, Problem
from hub.storage import tables as t
from hub.units import fen_to_yuan


class PriceFile(FileKind):
    """Regular prices: sku, price (yuan), shop (blank: the SKU's price for every shop)."""

    kind = "prices"
    columns = PRICE_COLUMNS
    value = "price"
    place = "shop"

    def parse_value(self, text: str) -> tuple[int | None, str | None]:
        return parse_price_cell(text)

    def describe_place(self, place: str) -> str:
        return f"in shop {place!r}" if place else "for all shops"

    def load(self, session: Session) -> None:
        self.shops: dict[str, int] = dict(session.execute(select(t.Shop.name, t.Shop.id)).all())

    def guard(self, sku: t.Sku, old: int, new: int) -> str | None:
        """The price guard's verdict as a row problem (None: allowed)."""
        verdict = prices.check(sku, old, new, limit=self.options.price_change_limit)
        if not verdict.problems:
            return None
        reasons = "; ".join(p.replace(" (use --force)", "") for p in verdict.problems)
        return f"price guard: {fen_to_yuan(old)} -> {fen_to_yuan(new)} {reasons} (--force allows it)"

    def resolve(self, session: Session, records: Sequence[Record]) -> list[tuple[Any, ...]]:
        codes = list({r.sku for r in records if r.sku})
        skus = {s.code: s for s in session.scalars(select(t.Sku).where(t.Sku.code.in_(codes)))}
        own = {
            (sku_id, shop_id): price
            for sku_id, shop_id, price in session.execute(
                select(t.ShopPrice.sku_id, t.ShopPrice.shop_id, t.ShopPrice.price).where(
                    t.ShopPrice.sku_id.in_([s.id for s in skus.values()])
                )
            )
        }
        out = []
        for r in records:
            problems = r.problems
            note = r.note
            sku = skus.get(r.sku) if r.sku else None
            if r.sku and sku is None:
                problems.append(f"unknown SKU {r.sku!r}")
            shop_id = None
            if r.place:
                shop_id = self.shops.get(r.place)
                if shop_id is None:
                    problems.append(f"unknown shop {r.place!r}; see `hub shops list`")
            old = has_own = None
            if sku is not None:
                override = own.get((sku.id, shop_id)) if shop_id is not None else None
                old = override if override is not None else sku.price
                has_own = int(not r.place or override is not None)
            changed = not problems and r.new != old
            if changed and sku is not None and r.new is not None and old is not None:
                refusal = self.guard(sku, old, r.new)
                if refusal and self.options.force:
                    forced = "forced: " + refusal.removeprefix("price guard: ").removesuffix(
                        " (--force allows it)"
                    )
                    note = f"{note}; {forced}" if note else forced
                elif refusal:
                    problems.append(refusal)
                    changed = False
            out.append(
                (
                    r.line,
                    r.sku or None,
                    sku.id if sku is not None else None,
                    r.place,
                    shop_id,
                    r.new,
                    old,
                    has_own,
                    int(changed),
                    "; ".join(problems) or None,
                    int(r.fatal),
                    note,
                )
            )
        return out

    def cross_rows(self, staging: Staging) -> None:
        super().cross_rows(staging)
        # A shop row that equals today's SKU price keeps that price only if it becomes the
        # shop's own price: the file also changes the price for all shops.
        staging.query(
            """UPDATE rows SET changed = 1,
                   note = 'becomes this shop''s own price (the file changes the price for all shops)'
               WHERE place != '' AND has_own = 0 AND changed = 0 AND problem IS NULL
                 AND sku_id IS NOT NULL
                 AND EXISTS (SELECT 1 FROM rows w WHERE w.sku_id = rows.sku_id AND w.place = ''
                             AND w.problem IS NULL AND w.changed = 1)"""
        )

    def apply(
        self,
        session: Session,
        staging: Staging,
        *,
        now: datetime,
        source: str,
        progress: Progress,
        total: int,
    ) -> tuple[int, set[int]]:
        shop_names = {v: k for k, v in self.shops.items()}
        written = 0
        shops: set[int] = set()
        conflicts: list[Problem] = []
        cursor = staging.query(
            "SELECT line, sku, sku_id, place_id, new, old, has_own, note FROM rows "
            "WHERE problem IS NULL AND changed = 1 ORDER BY sku_id, line"
        )
        for rows in fetch_groups(cursor, key=2):
            sku_ids = list({r[2] for r in rows})
            skus = {s.id: s for s in session.scalars(select(t.Sku).where(t.Sku.id.in_(sku_ids)))}
            own = {
                (p.sku_id, p.shop_id): p
                for p in session.scalars(select(t.ShopPrice).where(t.ShopPrice.sku_id.in_(sku_ids)))
            }
            # Check every row against the values of this transaction before writing any:
            # a price someone changed since the file was checked was not guarded.
            for line, _code, sku_id, shop_id, _new, old, _has_own, _note in rows:
                sku = skus.get(sku_id)
                override = own.get((sku_id, shop_id)) if shop_id is not None else None
                now_old = None if sku is None else (override.price if override is not None else sku.price)
                if now_old != old:
                    shown = "gone" if now_old is None else fen_to_yuan(now_old)
                    conflicts.append(
                        Problem(
                            f"line {line}",
                            f"the price changed from {fen_to_yuan(old)} to {shown} while the file was "
                            "being checked; run the import again",
                        )
                    )
            if conflicts:
                continue
            wide: dict[int, int] = {}
            by_shop: dict[tuple[int, int], int] = {}
            audits = []
            for line, code, sku_id, shop_id, new, old, _has_own, note in rows:
                sku = skus[sku_id]
                if shop_id is None:
                    sku.price, sku.updated_at = new, now
                    wide[sku_id] = new
                else:
                    override = own.get((sku_id, shop_id))
                    if override is None:
                        override = t.ShopPrice(sku_id=sku_id, shop_id=shop_id, price=new)
                        session.add(override)
                        own[(sku_id, shop_id)] = override
                    else:
                        override.price = new
                    by_shop[(sku_id, shop_id)] = new
                audits.append(
                    self._audit_row(
                        action="price.set",
                        sku=code,
                        shop=shop_names.get(shop_id) if shop_id is not None else None,
                        old=old,
                        new=new,
                        # A change the price guard refused and --force let through says so.
                        source=f"{source}:{line}" + (" --force" if (note or "").startswith("forced") else ""),
                        now=now,
                    )
                )
            session.flush()
            self._audit(session, audits)
            shops |= prices.queue_prices(
                session, prices.repriced_listings(session, sku_ids, wide, by_shop, now), now
            )
            written += len(audits)
            progress("applying", written, written / total if total else None)
        if conflicts:
            raise InputError(
                f"{source}: prices changed while the file was being checked; nothing changed", conflicts
            )
        return written, shops
