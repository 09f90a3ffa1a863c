"""Promotions across channels: start and end on every shop at once.

A promotion names SKUs and shops; each (shop, SKU) is a *target* applied one of two ways:

* **native** — the shop's platform declares the kind in
  ``Capabilities.native_promotions``: one platform activity per promotion and shop,
  started with the client's ``start_promotion`` and ended with ``end_promotion``;
* **price** — otherwise the listing's price is changed to the promotion price, and at
  the end set back to the *then-current* regular price (a regular-price change made
  during the promotion is what is restored; it never overwrites the promotion price).

The schedule runs in every ``hub sync`` cycle (the promotions stream): targets whose
start has come are started, those whose end has come (or whose promotion was cancelled)
are ended. A hub that was down at a start or an end catches up on its next run; a
promotion missed entirely is closed without touching any shop. A native start the
platform refuses falls back to a price change. Spend-X-save-Y cannot be expressed as a
unit price, so it is refused for shops whose platform has no native support.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import validation
from hub.core import outbox
from hub.core.catalog import REMOVED
from hub.core.delivery import register_sender
from hub.core.prices import queue_listing_price, regular_price
from hub.errors import InputError, Problem
from hub.models import (
    ListingRef,
    Promotion,
    PromotionItem,
    PromotionKind,
    PromotionPush,
    PushResult,
)
from hub.platform import ShopContext
from hub.plugins import PluginHost
from hub.report import StreamResult
from hub.storage import tables as t
from hub.units import CN_TZ

OPEN = ("scheduled", "active")
PARAMS = ("percent_off", "flash_price", "spend_threshold", "spend_discount")


MONEY = ("flash_price", "spend_threshold", "spend_discount")  # promotion fields in fen


def parse_time(text: str, field: str) -> datetime:
    """ISO date/time; without an offset it is Asia/Shanghai wall-clock time."""
    try:
        when = datetime.fromisoformat(str(text).strip())
    except ValueError:
        raise InputError(f"{field}: invalid time {text!r}; use e.g. 2026-11-11 20:00") from None
    return when.replace(tzinfo=CN_TZ) if when.tzinfo is None else when


def from_input(
    values: dict[str, Any], where: str, *, on_notice: Callable[[str], None] | None = None
) -> Promotion:
    """A promotion from people's input (command flags, a file row, a console form): yuan
    amounts, lists or ';'-separated text, China wall-clock times. ``where`` names the
    input in errors; ``on_notice`` hears what was read leniently (full-width digits)."""
    data = {k: v for k, v in values.items() if v not in (None, "")}
    for name in ("skus", "shops"):
        if isinstance(data.get(name), str):
            data[name] = [x.strip() for x in data[name].replace("|", ";").split(";") if x.strip()]
    try:
        for name in MONEY:
            if name in data:
                text = str(data[name])
                data[name] = validation.price(text, name)
                notice = validation.fullwidth_notice(text)
                if notice and on_notice is not None:
                    on_notice(notice)
        if "percent_off" in data:
            data["percent_off"] = validation.whole_number(
                str(data["percent_off"]).rstrip("%"), "percent_off", 1, 99
            )
        data["starts_at"] = parse_time(data.pop("start", data.get("starts_at", "")), "start")
        data["ends_at"] = parse_time(data.pop("end", data.get("ends_at", "")), "end")
        return Promotion(**data)
    except ValidationError as exc:
        problems = [
            Problem(
                f"{where} {'.'.join(str(p) for p in e['loc']) or 'promotion'}",
                e["msg"].removeprefix("Value error, "),
            )
            for e in exc.errors()
        ]
        raise InputError("invalid promotion", problems) from None
    except (InputError, ValueError) as exc:
        raise InputError(f"{where}: {exc}") from None


def to_model(row: t.Promotion, shops: Sequence[str], skus: Sequence[str]) -> Promotion:
    return Promotion(
        name=row.name,
        kind=PromotionKind(row.kind),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        skus=tuple(skus),
        shops=tuple(shops),
        **row.params,
    )


# --- creating ----------------------------------------------------------------------------


def create(session: Session, host: PluginHost, promotion: Promotion, now: datetime) -> t.Promotion:
    """Validate ``promotion`` completely and store it with its targets, or raise
    :class:`~hub.errors.InputError` listing every problem (nothing stored)."""
    problems: list[Problem] = []
    if promotion.ends_at <= now:
        problems.append(Problem("end", f"{promotion.ends_at.isoformat()} is already past"))
    skus = {s.code: s for s in session.scalars(select(t.Sku).where(t.Sku.code.in_(promotion.skus)))}
    shops = {s.name: s for s in session.scalars(select(t.Shop).where(t.Shop.name.in_(promotion.shops)))}
    for code in promotion.skus:
        if code not in skus:
            problems.append(Problem(f"sku {code}", "unknown SKU"))
    for name in promotion.shops:
        if name not in shops:
            problems.append(Problem(f"shop {name}", "unknown shop"))
    methods: dict[str, str] = {}
    for name, shop in shops.items():
        native = promotion.kind in host.platform(shop.platform).capabilities.native_promotions
        methods[name] = "native" if native else "price"
        if not native and promotion.kind is PromotionKind.SPEND_SAVE:
            problems.append(
                Problem(
                    f"shop {name}",
                    f"{shop.platform} has no spend-X-save-Y API, and it "
                    "cannot be applied as a price change; leave this shop out",
                )
            )
    for (sku_code, shop_name), other in _overlaps(session, promotion, skus, shops).items():
        problems.append(
            Problem(f"sku {sku_code} on {shop_name}", f"overlaps promotion #{other.id} {other.name!r}")
        )
    duration = promotion.ends_at - max(promotion.starts_at, now)
    plan: dict[tuple[str, str], tuple[str, str | None, int | None]] = {}  # method, note, price
    for code, sku in skus.items():
        for name, shop in shops.items():
            regular = regular_price(session, sku, shop.id)
            price = promotion.price_for(regular)
            plan[(code, name)] = (methods[name], None, price)
            if methods[name] == "native":
                # Decided now, not when the platform refuses the start: outside the limits its
                # plugin declares, the native start would fail, so the price-change way is used.
                limits = host.platform(shop.platform).capabilities.promotion_limits
                if refusals := limits.refusals(duration=duration, regular=regular, price=price):
                    why = f"{'; '.join(refusals)} ({shop.platform}'s limit for native promotions)"
                    if price is None:  # spend-X-save-Y has no price-change way
                        problems.append(Problem(f"sku {code} on {name}", why))
                    plan[(code, name)] = ("price", f"applied as a price change: {why}", price)
            if price is None:
                continue
            if price <= 0:
                problems.append(Problem(f"sku {code} on {name}", "the promotion price must be positive"))
            elif sku.price_floor is not None and price < sku.price_floor:
                problems.append(
                    Problem(
                        f"sku {code} on {name}",
                        f"promotion price {price / 100:.2f} is under the floor {sku.price_floor / 100:.2f}",
                    )
                )
            elif price >= regular:
                problems.append(
                    Problem(
                        f"sku {code} on {name}",
                        f"promotion price {price / 100:.2f} is not below the regular {regular / 100:.2f}",
                    )
                )
    if problems:
        raise InputError(f"promotion {promotion.name!r} refused", problems)
    row = t.Promotion(
        name=promotion.name,
        kind=promotion.kind.value,
        params={k: getattr(promotion, k) for k in PARAMS if getattr(promotion, k) is not None},
        starts_at=promotion.starts_at,
        ends_at=promotion.ends_at,
        state="scheduled",
        created_at=now,
    )
    session.add(row)
    session.flush()
    for sku in skus.values():
        for name, shop in shops.items():
            method, note, price = plan[(sku.code, name)]
            session.add(
                t.PromotionTarget(
                    promotion_id=row.id,
                    shop_id=shop.id,
                    sku_id=sku.id,
                    method=method,
                    state="pending",
                    promo_price=price,
                    error=note,
                    updated_at=now,
                )
            )
    return row


def _overlaps(
    session: Session, promotion: Promotion, skus: dict[str, t.Sku], shops: dict[str, t.Shop]
) -> dict[tuple[str, str], t.Promotion]:
    if not skus or not shops:
        return {}
    rows = session.execute(
        select(t.PromotionTarget, t.Promotion, t.Sku.code, t.Shop.name)
        .join(t.Promotion, t.Promotion.id == t.PromotionTarget.promotion_id)
        .join(t.Sku, t.Sku.id == t.PromotionTarget.sku_id)
        .join(t.Shop, t.Shop.id == t.PromotionTarget.shop_id)
        .where(
            t.Promotion.state.in_(OPEN),
            t.PromotionTarget.state.in_(("pending", "active", "failed")),
            t.Sku.code.in_(list(skus)),
            t.Shop.name.in_(list(shops)),
            t.Promotion.starts_at < promotion.ends_at,
            t.Promotion.ends_at > promotion.starts_at,
        )
    )
    return {(code, name): promo for _target, promo, code, name in rows}


def cancel(session: Session, promotion_id: int, now: datetime) -> t.Promotion:
    row = session.get(t.Promotion, promotion_id)
    if row is None:
        raise InputError(f"no promotion #{promotion_id}; see `hub promo list`")
    if row.state not in OPEN:
        raise InputError(f"promotion #{promotion_id} is already {row.state}")
    row.state, row.cancelled_at = "cancelled", now
    return row


# --- the schedule --------------------------------------------------------------------------


def schedule(session: Session, host: PluginHost, now: datetime, shop_ids: set[int]) -> dict[str, int]:
    """Queue the starts and ends that are due for shops in ``shop_ids``; returns counts."""
    counts = {"started": 0, "ended": 0, "missed": 0}
    rows = session.execute(
        select(t.PromotionTarget, t.Promotion)
        .join(t.Promotion, t.Promotion.id == t.PromotionTarget.promotion_id)
        .where(
            t.Promotion.state.in_((*OPEN, "cancelled")),
            t.PromotionTarget.shop_id.in_(shop_ids),
            t.PromotionTarget.state.in_(("pending", "active")),
        )
    ).all()
    native_starts: dict[tuple[int, int], list[t.PromotionTarget]] = defaultdict(list)
    native_ends: dict[tuple[int, int], list[t.PromotionTarget]] = defaultdict(list)
    for target, promo in rows:
        over = promo.state == "cancelled" or now >= promo.ends_at
        if target.state == "pending" and over:
            target.state, target.updated_at, target.error = "ended", now, "never started (ended before)"
            counts["missed"] += 1
        elif target.state == "pending" and now >= promo.starts_at:
            if target.method == "native":
                native_starts[(promo.id, target.shop_id)].append(target)
            else:
                _price_start(session, target, now, promo)
            counts["started"] += 1
        elif target.state == "active" and over:
            if target.method == "native":
                native_ends[(promo.id, target.shop_id)].append(target)
            else:
                _price_end(session, target, now)
            counts["ended"] += 1
    for (promo_id, shop_id), targets in native_starts.items():
        _queue_native(session, "promotion_start", promo_id, shop_id, targets, now)
    for (promo_id, shop_id), targets in native_ends.items():
        _queue_native(session, "promotion_end", promo_id, shop_id, targets, now)
    _settle_states(session, now)
    return counts


def anything_due(session: Session, now: datetime) -> bool:
    """Whether any promotion target must start or end now (one cheap query per cycle)."""
    starting = (t.PromotionTarget.state == "pending") & (t.Promotion.starts_at <= now)
    ending = (t.PromotionTarget.state == "active") & (
        (t.Promotion.ends_at <= now) | (t.Promotion.state == "cancelled")
    )
    pending = (t.PromotionTarget.state == "pending") & (
        (t.Promotion.ends_at <= now) | (t.Promotion.state == "cancelled")
    )
    query = (
        select(t.PromotionTarget.id)
        .join(t.Promotion, t.Promotion.id == t.PromotionTarget.promotion_id)
        .where(t.Promotion.state.in_((*OPEN, "cancelled")), starting | ending | pending)
        .limit(1)
    )
    return session.scalar(query) is not None


def _listings(session: Session, target: t.PromotionTarget) -> list[t.Listing]:
    return list(
        session.scalars(
            select(t.Listing).where(
                t.Listing.shop_id == target.shop_id,
                t.Listing.sku_id == target.sku_id,
                t.Listing.status != REMOVED,
            )
        )
    )


def _price_start(session: Session, target: t.PromotionTarget, now: datetime, promo: t.Promotion) -> None:
    sku = session.get(t.Sku, target.sku_id)
    assert sku is not None
    # A percent discount is taken off the regular price as it is at the start.
    price = to_model(promo, ["-"], [sku.code]).price_for(regular_price(session, sku, target.shop_id))
    target.promo_price = price if price is not None else target.promo_price
    assert target.promo_price is not None
    for listing in _listings(session, target):
        queue_listing_price(session, listing, target.promo_price, now, reason="promo")
    target.state, target.updated_at = "active", now


def _price_end(session: Session, target: t.PromotionTarget, now: datetime) -> None:
    sku = session.get(t.Sku, target.sku_id)
    assert sku is not None
    price = regular_price(session, sku, target.shop_id)
    for listing in _listings(session, target):
        queue_listing_price(session, listing, price, now, reason="unpromo")
    target.state, target.updated_at = "ended", now


def _queue_native(
    session: Session,
    kind: str,
    promo_id: int,
    shop_id: int,
    targets: Sequence[t.PromotionTarget],
    now: datetime,
) -> None:
    promo = session.get(t.Promotion, promo_id)
    assert promo is not None
    items, target_ids = [], []
    for target in targets:
        sku = session.get(t.Sku, target.sku_id)
        assert sku is not None
        for listing in _listings(session, target):
            items.append(
                PromotionItem(
                    ref=ListingRef(
                        platform_item_id=listing.platform_item_id,
                        platform_sku_id=listing.platform_sku_id,
                        master_code=listing.master_code,
                    ),
                    regular_price=regular_price(session, sku, shop_id),
                    promotion_price=target.promo_price,
                )
            )
        target_ids.append(target.id)
        target.updated_at = now
    shop_names = [n for n in session.scalars(select(t.Shop.name).where(t.Shop.id == shop_id))]
    skus = [c for c in session.scalars(select(t.Sku.code).where(t.Sku.id.in_([x.sku_id for x in targets])))]
    push = PromotionPush(
        promotion_id=promo_id,
        promotion=to_model(promo, shop_names, skus),
        items=tuple(items),
        idempotency_key=outbox.stable_key(kind, promo_id, shop_id),
    )
    outbox.enqueue(
        session,
        shop_id=shop_id,
        kind=kind,
        target=f"promotion {promo_id}",
        key=push.idempotency_key,
        now=now,
        supersede=False,
        payload={
            "push": push.model_dump(mode="json"),
            "targets": target_ids,
            "platform_ref": targets[0].platform_ref,
        },
    )
    if kind == "promotion_end":
        for target in targets:
            target.state = "ending"


def _settle_states(session: Session, now: datetime) -> None:
    """A promotion is active once any target is, and ended once none is left to end."""
    for promo in session.scalars(select(t.Promotion).where(t.Promotion.state.in_(OPEN))):
        states = set(
            session.scalars(select(t.PromotionTarget.state).where(t.PromotionTarget.promotion_id == promo.id))
        )
        if states and states <= {"ended", "failed"} and now >= promo.ends_at:
            promo.state = "ended"
        elif promo.state == "scheduled" and states & {"active", "ending"}:
            promo.state = "active"


# --- native delivery -----------------------------------------------------------------------


async def _send_start(
    host: PluginHost, shop: ShopContext, entries: Sequence[t.OutboxEntry]
) -> list[PushResult]:
    [entry] = entries
    return [await shop.client.start_promotion(PromotionPush.model_validate(entry.payload["push"]))]


async def _send_end(
    host: PluginHost, shop: ShopContext, entries: Sequence[t.OutboxEntry]
) -> list[PushResult]:
    [entry] = entries
    push = PromotionPush.model_validate(entry.payload["push"])
    return [await shop.client.end_promotion(push, entry.payload.get("platform_ref") or "")]


def _started(session: Session, entry: t.OutboxEntry, result: PushResult, state: str) -> None:
    now = entry.updated_at
    targets = [session.get(t.PromotionTarget, i) for i in entry.payload["targets"]]
    fell_back = False
    for target in filter(None, targets):
        if result.ok:
            target.state, target.platform_ref, target.error = "active", result.platform_ref, None
        elif state == "failed":  # the platform refused: fall back to a price change
            target.method, target.error = (
                "price",
                f"native start refused ({result.error}); applied as a price",
            )
            promo = session.get(t.Promotion, target.promotion_id)
            assert promo is not None
            _price_start(session, target, now, promo)
            fell_back = True
        target.updated_at = now
    if fell_back:
        # The price writes just queued do this entry's work: it is not left failed for ever
        # (and `hub outbox retry` cannot start the promotion twice).
        row = session.get(t.OutboxEntry, entry.id)
        if row is not None:
            row.state = "superseded"
            row.last_error = f"native start refused ({result.error}); applied as price changes instead"
    _settle_states(session, now)


def _ended(session: Session, entry: t.OutboxEntry, result: PushResult, state: str) -> None:
    now = entry.updated_at
    for target in filter(None, (session.get(t.PromotionTarget, i) for i in entry.payload["targets"])):
        if result.ok:
            target.state = "ended"
        elif state == "failed":
            target.state, target.error = "failed", f"native end refused: {result.error}"
        target.updated_at = now
    _settle_states(session, now)


register_sender("promotion_start", _send_start, lambda shop: 1, _started)
register_sender("promotion_end", _send_end, lambda shop: 1, _ended)


# --- the engine's promotions phase ----------------------------------------------------------


async def schedule_step(engine: Any, shops: dict[str, ShopContext], result: StreamResult) -> None:
    """The promotions phase of a sync cycle: queue due starts and ends (delivery follows)."""
    names = list(shops)

    def work(session: Session) -> dict[str, int]:
        ids = set(session.scalars(select(t.Shop.id).where(t.Shop.name.in_(names))))
        return schedule(session, engine.host, engine.clock.now(), ids)

    counts = await engine.db.run(work)
    result.stored = counts["started"] + counts["ended"]


def targets_of(session: Session, promotion_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(t.PromotionTarget, t.Shop.name, t.Sku.code)
        .join(t.Shop, t.Shop.id == t.PromotionTarget.shop_id)
        .join(t.Sku, t.Sku.id == t.PromotionTarget.sku_id)
        .where(t.PromotionTarget.promotion_id == promotion_id)
        .order_by(t.Shop.name, t.Sku.code)
    )
    return [
        {
            "shop": shop,
            "sku": sku,
            "method": x.method,
            "state": x.state,
            "promo_price": x.promo_price,
            "platform_ref": x.platform_ref,
            "error": x.error,
        }
        for x, shop, sku in rows
    ]


def promotion_rows(session: Session, promotion_id: int | None = None) -> list[dict[str, Any]]:
    """Promotions (or the one with ``promotion_id``), latest start first, as plain data."""
    query = select(t.Promotion).order_by(t.Promotion.starts_at.desc())
    if promotion_id is not None:
        query = query.where(t.Promotion.id == promotion_id)
    return [
        {
            "id": p.id,
            "name": p.name,
            "kind": p.kind,
            "params": p.params,
            "starts_at": p.starts_at,
            "ends_at": p.ends_at,
            "state": p.state,
        }
        for p in session.scalars(query)
    ]
