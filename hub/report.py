"""The outcome of a ``hub sync`` cycle (handed to the ``hub_sync_finished`` hook)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.core.alerts import Alert

STREAMS = ("listings", "orders", "aftersales", "stock", "prices", "promotions")
STOPPED = "not started: the run was asked to stop"  # why a stream of a stopped run was skipped


@dataclass
class StreamResult:
    """One stream of one shop (``shop`` is "*" for cross-shop work such as allocation).

    ``exit_code``: 0 done, 1 failed (retry later), 2 needs a human (configuration or
    authentication). ``skipped`` says why nothing was done (e.g. another sync holds the
    lease)."""

    shop: str
    stream: str
    fetched: int = 0
    stored: int = 0
    pushed: int = 0
    failed: int = 0
    seconds: float = 0.0
    error: str | None = None
    skipped: str | None = None
    exit_code: int = 0
    # orders stream of a shop that receives pushes: changes polling found that no push
    # announced (the safety net at work; a steady count means pushes are being lost)
    unannounced: int = 0
    # every error was of a retryable class (hub.errors): a worker job tries it again
    retryable: bool = False

    def fail(self, error: str, exit_code: int = 1, *, retryable: bool = False) -> None:
        self.retryable = retryable if self.error is None else self.retryable and retryable
        self.error = error if self.error is None else f"{self.error}; {error}"
        self.exit_code = max(self.exit_code, exit_code)


@dataclass
class SyncReport:
    """Every stream result of one cycle; ``exit_code`` is the worst of them."""

    started_at: datetime
    finished_at: datetime | None = None
    results: list[StreamResult] = field(default_factory=list)
    calls: int = 0  # platform calls made, retries included
    retries: int = 0
    #: shop -> its circuit breaker (state, failures in a row, seconds to the next probe,
    #: last error), for shops whose circuit is not plainly closed
    circuits: dict[str, dict[str, Any]] = field(default_factory=dict)
    interrupted: bool = False  # asked to stop (a signal) before it was done
    # SKUs with listings in this run's shops that nobody counted: their stock is not pushed
    uncounted: list[str] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)  # stock alerts raised in this cycle (new ones)
    #: when its stock phase began planning: the writes reflect every order stored before
    stock_planned_at: datetime | None = None
    #: when its stock phase's last write ended: the channels show the plan from then on
    stock_written_at: datetime | None = None

    @property
    def exit_code(self) -> int:
        return max((r.exit_code for r in self.results), default=0)

    @property
    def failed(self) -> int:
        return sum(r.failed for r in self.results)

    @property
    def unannounced(self) -> int:
        return sum(r.unannounced for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "exit_code": self.exit_code,
            "calls": self.calls,
            "retries": self.retries,
            "interrupted": self.interrupted,
            "circuits": self.circuits,
            "unannounced": self.unannounced,
            "results": [asdict(r) for r in self.results],
            "uncounted_skus": self.uncounted,
            "alerts": [a.to_dict() for a in self.alerts],
        }
