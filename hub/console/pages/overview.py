"""Overview (看板): today per channel, 30 days of orders, handling time, return rates,
sync health, stock alerts, failed writes. Every figure comes from :mod:`hub.core.reports`."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.console.auth import hub, signed_in
from hub.console.charts import line_chart
from hub.console.templating import render
from hub.core import reports
from hub.core.stock.show import sku_rows

DAYS = 30
RETURNS_SHOWN = 10  # the SKUs with the highest return rates; `hub report returns` has them all


def figures(request: Request) -> Any:
    app = hub(request)
    now = app.clock.now()

    def read(s: Session) -> dict[str, Any]:
        month = reports.last_days(now, DAYS)
        stock = reports.stock(sku_rows(s, app.stock_picture(s)))
        failed_total, failed = reports.failed_writes(s, limit=20)
        return {
            "today": reports.channels(s, reports.today(now)).rows,
            "days": reports.orders_by_day(s, month).rows,
            "handling": reports.handling(s, month).rows,
            "returns": reports.returns(s, month).rows[:RETURNS_SHOWN],
            "health": reports.sync_health(s),
            "alerts": reports.alerts(stock),
            "failed_total": failed_total,
            "failed": failed,
        }

    return app.db.run(read)


async def page(request: Request) -> Response:
    await signed_in(request)
    data = await figures(request)
    series: dict[str, list[int]] = defaultdict(list)
    labels: list[str] = []
    for row in data["days"]:
        if not labels or labels[-1] != row["day"][5:]:
            labels.append(row["day"][5:])
        series[row["channel"]].append(row["orders"])
    chart = line_chart(f"Orders per day, last {DAYS} days", labels, series)
    return render(request, "overview.html", chart=chart, **data)


routes = [Route("/", page)]
