"""``hub promo``: promotions that start and end on every shop at once."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import click
import yaml
from sqlalchemy.orm import Session

from hub.app import App
from hub.cli.app import run_async
from hub.cli.output import emit, fen, info, json_option, print_table
from hub.cli.params import Percent
from hub.core import audit
from hub.core import promotions as promo_mod
from hub.core.engine import SyncEngine
from hub.errors import InputError
from hub.models import Promotion, PromotionKind


@click.group("promo")
def group() -> None:
    """Promotions (限时折扣, 秒杀, 满减) across shops, started and ended on time."""


def build(values: dict[str, Any], where: str) -> Promotion:
    """A promotion from people's input (:func:`hub.core.promotions.from_input`), printing
    notices (full-width digits read) on stderr."""
    return promo_mod.from_input(values, where, on_notice=lambda notice: info(f"note: {notice}"))


def read_file(path: Path) -> list[Promotion]:
    """Promotions from YAML (one mapping, or a list) or CSV (one per row)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        return [
            build({k.strip().lower(): v for k, v in row.items() if k}, f"{path.name}:{n}")
            for n, row in enumerate(rows, start=2)
        ]
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}") from None
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(x, dict) for x in items):
        raise InputError(f"{path}: expected a promotion (mapping) or a list of them")
    return [build(item, f"{path.name}#{n}") for n, item in enumerate(items, start=1)]


def _run_now(app: App) -> int:
    """Push what is due now; returns the exit code (1 or 2 when a shop failed)."""
    report = run_async(lambda: SyncEngine(app.runtime(), app.settings).run_cycle(None, ["promotions"]))
    failed = [r for r in report.results if r.exit_code]
    if failed:
        info(f"{len(failed)} shop(s) failed: " + "; ".join(f"{r.shop}: {r.error}" for r in failed))
        info("the promotion is saved; the next `hub sync` retries (see `hub promo show`)")
    else:
        info("promotions pushed")
    return report.exit_code


@group.command("create")
@click.option(
    "--file",
    "path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Read promotions from YAML or CSV instead of flags.",
)
@click.option("--name")
@click.option("--kind", type=click.Choice([k.value for k in PromotionKind]))
@click.option("--percent-off", type=Percent(1, 99), help="percent_discount: e.g. 20 = 20% off.")
@click.option("--flash-price", help="flash_price: the price in yuan, e.g. 99.00.")
@click.option("--spend", "spend_threshold", help="spend_save: spend at least this (yuan)…")
@click.option("--save", "spend_discount", help="…to save this (yuan).")
@click.option("--sku", "skus", multiple=True, help="Master SKU code (repeatable).")
@click.option("--shop", "shops", multiple=True, help="Shop (repeatable).")
@click.option("--start", help="Start, e.g. '2026-11-11 00:00' (Asia/Shanghai unless an offset is given).")
@click.option("--end", help="End, same format.")
@click.option("--push", is_flag=True, help="Apply what is due now instead of waiting for `hub sync`.")
@json_option
@click.pass_obj
def create(app: App, path: Path | None, push: bool, as_json: bool, **flags: Any) -> int:
    """Create a promotion (or several from --file).

    \b
    Refused with every reason listed: unknown SKUs or shops, an end before the start,
    a promotion price under a SKU's floor or not below its regular price, an overlap
    with another promotion on the same SKU and shop, and spend-X-save-Y on a shop whose
    platform has no native API for it. Where a platform's native promotion API has
    limits (WeChat: at most 24 h, 10-85 % of the price and 10 yuan off) and the promotion
    is outside them, that shop gets price changes instead, as each note says.
    Exit code 1 or 2 when --push fails on a shop."""
    wanted = read_file(path) if path else [build(dict(flags), "flags")]
    host = app.host

    def write(s: Session) -> list[int]:
        ids = []
        for promotion in wanted:
            row = promo_mod.create(s, host, promotion, app.clock.now())
            audit.record(
                s,
                actor=app.actor,
                action="promo.create",
                now=app.clock.now(),
                new=row.name,
                source=str(path) if path else "hub promo create",
            )
            ids.append(row.id)
        return ids

    ids = app.db.run_sync(write)
    notes = app.db.run_sync(
        lambda s: [
            {"promotion": i, "shop": x["shop"], "sku": x["sku"], "note": x["error"]}
            for i in ids
            for x in promo_mod.targets_of(s, i)
            if x["error"]
        ]
    )

    def say() -> None:
        info(f"created promotion(s) {', '.join(f'#{i}' for i in ids)}")
        for n in notes:
            info(f"  #{n['promotion']} {n['shop']} {n['sku']}: {n['note']}")

    emit(as_json, {"created": ids, "notes": notes}, say)
    return _run_now(app) if push else 0


def _describe(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={fen(v) if k in promo_mod.MONEY else v}" for k, v in params.items())


@group.command("list")
@json_option
@click.pass_obj
def list_(app: App, as_json: bool) -> None:
    """List promotions, latest start first."""
    rows = app.db.run_sync(promo_mod.promotion_rows)
    emit(
        as_json,
        rows,
        lambda: print_table(
            ["id", "name", "kind", "terms", "start", "end", "state"],
            [
                (
                    r["id"],
                    r["name"],
                    r["kind"],
                    _describe(r["params"]),
                    r["starts_at"],
                    r["ends_at"],
                    r["state"],
                )
                for r in rows
            ],
            empty="no promotions",
        ),
    )


@group.command("show")
@click.argument("promotion_id", type=int)
@json_option
@click.pass_obj
def show(app: App, promotion_id: int, as_json: bool) -> None:
    """A promotion and where it stands on each shop."""

    def read(s: Session) -> dict[str, Any]:
        rows = promo_mod.promotion_rows(s, promotion_id)
        if not rows:
            raise InputError(f"no promotion #{promotion_id}; see `hub promo list`")
        return {**rows[0], "targets": promo_mod.targets_of(s, promotion_id)}

    data = app.db.run_sync(read)
    emit(
        as_json,
        data,
        lambda: print_table(
            ["shop", "sku", "method", "state", "price", "platform ref", "note"],
            [
                (
                    x["shop"],
                    x["sku"],
                    x["method"],
                    x["state"],
                    fen(x["promo_price"]),
                    x["platform_ref"],
                    x["error"],
                )
                for x in data["targets"]
            ],
            title=f"#{data['id']} {data['name']} ({data['state']})",
        ),
    )


@group.command("cancel")
@click.argument("promotion_id", type=int)
@click.option("--queue-only", is_flag=True, help="Record it; the next `hub sync` reverts the shops.")
@click.pass_obj
def cancel(app: App, promotion_id: int, queue_only: bool) -> int:
    """Cancel a promotion and revert every shop at once."""

    def write(s: Session) -> None:
        row = promo_mod.cancel(s, promotion_id, app.clock.now())
        audit.record(
            s,
            actor=app.actor,
            action="promo.cancel",
            now=app.clock.now(),
            old=row.name,
            source="hub promo cancel",
        )

    app.db.run_sync(write)
    info(f"promotion #{promotion_id} cancelled")
    return 0 if queue_only else _run_now(app)
