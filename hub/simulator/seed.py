"""The sandbox seed format: one catalogue (and optional orders) every sandbox reads.

A seed file is YAML or JSON::

    products:
      - title: 纯棉T恤                # item title
        code: TSHIRT                  # item-level merchant code (optional)
        on_sale: true                 # optional, default true
        skus:
          - code: TSHIRT-RED-M        # master SKU code (商家编码); omit it to get a
            spec: "颜色:红;尺码:M"       #   listing the hub cannot match
            price: 5900               # integer fen
            stock: 120                # platform quantity
    orders:                           # optional
      - created: "2026-11-11T00:05:00+08:00"   # ISO 8601 with an offset
        status: awaiting_shipment     # a canonical status (pending_payment, shipped…)
        lines:
          - {sku: TSHIRT-RED-M, quantity: 2}

Orders take their units from the seeded stock like real orders do. Every sandbox assigns
its own platform ids, so the same file lists one catalogue on all four platforms.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from hub.errors import InputError, Problem
from hub.models import OrderStatus, UTCDateTime
from hub.simulator.state import ShopState


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeedSku(_Strict):
    code: str | None = None
    spec: str = ""
    price: StrictInt = Field(gt=0)
    stock: StrictInt = Field(ge=0)


class SeedProduct(_Strict):
    title: str
    code: str | None = None
    on_sale: bool = True
    skus: list[SeedSku] = Field(min_length=1)


class SeedLine(_Strict):
    sku: str
    quantity: StrictInt = Field(gt=0)


class SeedOrder(_Strict):
    created: UTCDateTime
    status: OrderStatus = OrderStatus.AWAITING_SHIPMENT
    lines: list[SeedLine] = Field(min_length=1)
    modified: UTCDateTime | None = None


class Seed(_Strict):
    products: list[SeedProduct] = Field(default_factory=list)
    orders: list[SeedOrder] = Field(default_factory=list)


def load_seed(path: str | Path) -> Seed:
    """Read a seed file (YAML or JSON); errors name the file and the field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        return Seed.model_validate(data or {})
    except OSError as exc:
        raise InputError(f"cannot read seed file {path}: {exc.strerror}") from None
    except (ValueError, yaml.YAMLError) as exc:
        if isinstance(exc, ValidationError):
            problems = [Problem(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
            raise InputError(f"invalid seed file {path}", problems) from None
        raise InputError(f"invalid seed file {path}: {exc}") from None


def apply_seed(state: ShopState, seed: Seed) -> None:
    """Create the seed's items, SKUs and orders in ``state``."""
    by_code: dict[str, str] = {}
    for product in seed.products:
        item = state.add_item(product.title, product.code, on_sale=product.on_sale)
        for index, sku in enumerate(product.skus):
            created = state.add_sku(
                item,
                code=sku.code,
                spec=sku.spec,
                price=sku.price,
                quantity=sku.stock,
                properties=f"1627207:{index + 1}",
            )
            if sku.code:
                by_code.setdefault(sku.code, created.sku_id)
    for number, order in enumerate(seed.orders, start=1):
        lines = []
        for line in order.lines:
            if line.sku not in by_code:
                raise InputError(f"seed order {number}: unknown SKU code {line.sku!r}")
            lines.append((by_code[line.sku], line.quantity))
        placed = state.place_order(
            lines, paid=order.status is not OrderStatus.PENDING_PAYMENT, at=order.created
        )
        if order.status not in (OrderStatus.AWAITING_SHIPMENT, OrderStatus.PENDING_PAYMENT):
            when = order.modified or order.created
            if order.status in (OrderStatus.SHIPPED, OrderStatus.COMPLETED):
                state.ship(placed.order_id, "SF", f"SF{placed.order_id[-10:]}", at=when)
            if placed.status is not order.status:
                state.set_status(placed.order_id, order.status, at=when)


def generate_seed(
    *,
    items: int,
    skus_per_item: int = 1,
    orders: int = 0,
    start: datetime | None = None,
    end: datetime | None = None,
    stock: int = 100,
    rng: random.Random | None = None,
    code_prefix: str = "SKU",
) -> Seed:
    """A catalogue of ``items`` × ``skus_per_item`` SKUs coded ``SKU-000001``… and
    ``orders`` paid orders spread evenly over ``[start, end)``. Deterministic for a
    given ``rng``. Stock is raised where needed so every generated order is accepted."""
    rng = rng or random.Random(0)
    products = []
    codes = []
    for i in range(items):
        skus = []
        for j in range(skus_per_item):
            code = f"{code_prefix}-{i * skus_per_item + j + 1:06d}"
            codes.append(code)
            skus.append(
                SeedSku(code=code, spec=f"规格:{j + 1}", price=rng.randrange(990, 99900, 10), stock=stock)
            )
        products.append(SeedProduct(title=f"商品 {i + 1}", code=f"ITEM-{i + 1:06d}", skus=skus))
    seed_orders = []
    if orders:
        if start is None or end is None:
            raise ValueError("orders need a start and an end time")
        span = (end - start) / orders
        demand: dict[str, int] = {}
        for k in range(orders):
            code = codes[rng.randrange(len(codes))]
            quantity = rng.choice((1, 1, 1, 2, 3))
            demand[code] = demand.get(code, 0) + quantity
            created = start + span * k + timedelta(seconds=rng.random() * span.total_seconds())
            status = rng.choice(
                [OrderStatus.AWAITING_SHIPMENT] * 6
                + [
                    OrderStatus.SHIPPED,
                    OrderStatus.COMPLETED,
                    OrderStatus.CANCELLED,
                    OrderStatus.PENDING_PAYMENT,
                ]
            )
            seed_orders.append(
                SeedOrder(
                    created=min(created, end - timedelta(seconds=1)),
                    status=status,
                    lines=[SeedLine(sku=code, quantity=quantity)],
                )
            )
        for product in products:
            for sku in product.skus:
                if sku.code and demand.get(sku.code, 0) > sku.stock:
                    sku.stock = demand[sku.code] + stock
    return Seed(products=products, orders=seed_orders)


def dump_seed(seed: Seed, path: str | Path) -> None:
    """Write ``seed`` as YAML (or JSON for a ``.json`` path)."""
    path = Path(path)
    data: Any = seed.model_dump(mode="json", exclude_none=True)
    text = (
        json.dumps(data, ensure_ascii=False, indent=1)
        if path.suffix == ".json"
        else yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    )
    path.write_text(text, encoding="utf-8")
