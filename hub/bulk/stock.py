"""Stock files: counted on-hand quantities per SKU and warehouse."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from hub.bulk.columns import STOCK_COLUMNS, parse_quantity
from hub.bulk.kind import FileKind, Progress, Record
from hub.bulk.staging import Staging, fetch_chunks
from hub.core import bundles, catalog
from hub.storage import tables as t


class StockFile(FileKind):
    """On-hand counts: sku, quantity, warehouse (default ``main``)."""

    kind = "stock"
    columns = STOCK_COLUMNS
    value = "quantity"
    place = "warehouse"
    default_place = catalog.DEFAULT_WAREHOUSE
    # A SKU nobody counted is exported with an empty quantity (0 would be a count): such a
    # row leaves it uncounted. For a counted SKU an empty cell is a mistake.
    blank_allowed = True

    def parse_value(self, text: str) -> tuple[int | None, str | None]:
        return parse_quantity(text)

    def describe_place(self, place: str) -> str:
        return f"in warehouse {place!r}"

    def load(self, session: Session) -> None:
        self.warehouses: dict[str, int] = dict(
            session.execute(select(t.Warehouse.code, t.Warehouse.id)).all()
        )

    def resolve(self, session: Session, records: Sequence[Record]) -> list[tuple[Any, ...]]:
        codes = list({r.sku for r in records if r.sku})
        ids = dict(session.execute(select(t.Sku.code, t.Sku.id).where(t.Sku.code.in_(codes))).all())
        counts = {
            (sku_id, wh_id): qty
            for sku_id, wh_id, qty in session.execute(
                select(t.StockOnHand.sku_id, t.StockOnHand.warehouse_id, t.StockOnHand.quantity).where(
                    t.StockOnHand.sku_id.in_(list(ids.values()))
                )
            )
        }
        counted = {sku_id for sku_id, _ in counts}
        made_of = bundles.bundle_ids(session, ids.values())
        out = []
        for r in records:
            problems = r.problems
            note = r.note
            sku_id = ids.get(r.sku) if r.sku else None
            if r.sku and sku_id is None:
                problems.append(f"unknown SKU {r.sku!r}")
            elif sku_id in made_of and r.new is not None:
                problems.append(f"{r.sku} is a bundle: it has no stock of its own; count its components")
            wh_id = self.warehouses.get(r.place)
            if wh_id is None:
                if problems:
                    pass  # a code breaking the rule is named already
                elif r.place == catalog.DEFAULT_WAREHOUSE:
                    pass  # the default warehouse is created on first use, as `hub stock set` does
                elif self.options.create_warehouses:
                    note = f"{note}; new warehouse" if note else "new warehouse"
                else:
                    problems.append(f"unknown warehouse {r.place!r} (--create-warehouses creates it)")
            current = counts.get((sku_id, wh_id)) if sku_id is not None and wh_id is not None else None
            old = None if sku_id is None else (current or 0)
            first_count = sku_id is not None and sku_id not in counted
            if r.new is None and not problems:
                if sku_id is not None and not first_count:
                    problems.append(
                        "the quantity cell is empty (the SKU is counted: give a number, 0 included)"
                    )
                elif sku_id is not None:
                    note = "not counted; left as it is"
            changed = not problems and r.new is not None and (r.new != old or first_count)
            if changed and first_count and r.new == 0:  # otherwise the diff speaks for itself
                note = f"{note}; first count" if note else "first count (the SKU was not counted)"
            out.append(
                (
                    r.line,
                    r.sku or None,
                    sku_id,
                    r.place,
                    wh_id,
                    r.new,
                    old,
                    int(current is not None),
                    int(changed),
                    "; ".join(problems) or None,
                    int(r.fatal),
                    note,
                )
            )
        return out

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
        table = t.StockOnHand.__table__
        new_codes = [
            code
            for (code,) in staging.query(
                "SELECT DISTINCT place FROM rows WHERE problem IS NULL AND changed = 1 AND place_id IS NULL"
            )
        ]
        created = {code: catalog.warehouse(session, code, create=True).id for code in new_codes}
        set_count = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(quantity=bindparam("b_quantity"), counted_at=now, updated_at=now)
        )
        written = 0
        shops: set[int] = set()
        cursor = staging.query(
            "SELECT line, sku, sku_id, place, place_id, new FROM rows "
            "WHERE problem IS NULL AND changed = 1 ORDER BY line"
        )
        for rows in fetch_chunks(cursor):
            sku_ids = list({r[2] for r in rows})
            # Re-read inside the transaction: the count the audit log records as "old" is
            # the one this write replaces (a sync may have shipped units meanwhile).
            current = {
                (sku_id, wh_id): (row_id, qty)
                for row_id, sku_id, wh_id, qty in session.execute(
                    select(table.c.id, table.c.sku_id, table.c.warehouse_id, table.c.quantity).where(
                        table.c.sku_id.in_(sku_ids)
                    )
                )
            }
            counted = {sku_id for sku_id, _ in current}
            updates, inserts, audits = [], [], []
            for line, sku, sku_id, place, place_id, new in rows:
                wh_id = place_id if place_id is not None else created[place]
                row_id, old = current.get((sku_id, wh_id), (None, 0))
                if (row_id is not None and old == new) or (row_id is None and new == 0 and sku_id in counted):
                    continue  # became unchanged meanwhile (a 0 is written only as a SKU's first count)
                if row_id is None:
                    inserts.append(
                        {
                            "sku_id": sku_id,
                            "warehouse_id": wh_id,
                            "quantity": new,
                            "counted_at": now,
                            "updated_at": now,
                        }
                    )
                else:
                    updates.append({"b_id": row_id, "b_quantity": new})
                audits.append(
                    self._audit_row(
                        action="stock.set",
                        sku=sku,
                        shop=None,
                        old=old,
                        new=new,
                        source=f"{source}:{line}, warehouse {place}",
                        now=now,
                    )
                )
            if updates:
                session.execute(set_count, updates)
            if inserts:
                session.execute(insert(table), inserts)
            self._audit(session, audits)
            written += len(audits)
            if self.options.collect_shops:
                shops |= self._shops_of(session, sku_ids)
            progress("applying", written, written / total if total else None)
        return written, shops
