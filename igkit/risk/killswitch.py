"""The kill switch: halt risk, delete working orders, flatten every position at once — from any thread.

Hand-written because it is the last line of defence and must be obvious: :meth:`KillSwitch.fire` takes
its own lock (a notebook button and the engine may fire together), halts the risk manager first (so no new
order passes while the book is being emptied), cancels every working order, then flattens every position
immediately (``flatten(immediate=True)`` where the broker offers it: the paper broker then fills at the
last quote instead of waiting for the next tick). It records what it did in a :class:`KillReport`.

Idempotent: a second ``fire`` does not undo or repeat the first; it sweeps again (cancel + flatten, which
are no-ops on an empty book) so a straggler that slipped in is closed too, and reports
``already_fired=True``. :meth:`KillSwitch.reset` re-arms it (and lifts the risk halt it set).
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from igkit.broker.base import Broker
from igkit.risk.manager import RiskManager
from igkit.types import OrderResult, OrderStatus

__all__ = ["KillReport", "KillSwitch"]

log = logging.getLogger(__name__)

_PREFIX = "kill switch: "


@dataclass(frozen=True)
class KillReport:
    """What one :meth:`KillSwitch.fire` did."""

    reason: str
    time_ns: int
    already_fired: bool
    cancelled: tuple[OrderResult, ...] = ()
    closed: tuple[OrderResult, ...] = ()
    errors: tuple[str, ...] = ()
    positions_left: int = 0
    working_left: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def flat(self) -> bool:
        """No position and no working order was left when the sweep ended."""
        return self.positions_left == 0 and self.working_left == 0 and not self.errors


class KillSwitch:
    """Fire to stop trading now. ``risk`` may be None (then only the broker is swept)."""

    def __init__(self, broker: Broker, risk: RiskManager | None = None, *,
                 clock: Callable[[], int] | None = None) -> None:
        self.broker = broker
        self.risk = risk
        self._clock = clock or time.time_ns
        self._lock = threading.Lock()
        self._fired = False
        self.reports: list[KillReport] = []
        try:
            self._immediate = "immediate" in inspect.signature(broker.flatten).parameters
        except (TypeError, ValueError):  # pragma: no cover - a builtin or C callable
            self._immediate = False

    @property
    def fired(self) -> bool:
        return self._fired

    @property
    def armed(self) -> bool:
        return not self._fired

    @property
    def report(self) -> KillReport | None:
        """The first fire's report (None while armed)."""
        first = [r for r in self.reports if not r.already_fired]
        return first[-1] if first else None

    def fire(self, reason: str = "manual") -> KillReport:
        """Halt risk, cancel working orders, flatten every position immediately. Thread-safe, idempotent."""
        with self._lock:
            already = self._fired
            self._fired = True
            if not already:
                log.warning("kill switch fired: %s", reason)
            if self.risk is not None:
                self.risk.halt(_PREFIX + reason)
            errors: list[str] = []
            cancelled: list[OrderResult] = []
            closed: list[OrderResult] = []
            try:
                cancelled = self.broker.cancel_all()
            except Exception as e:  # keep going: flattening matters more than the cancel
                log.exception("kill switch: cancel_all failed")
                errors.append(f"cancel_all: {e!r}")
            try:
                if self._immediate:
                    closed = self.broker.flatten(reason="kill", immediate=True)  # type: ignore[call-arg]
                else:
                    closed = self.broker.flatten(reason="kill")
            except Exception as e:
                log.exception("kill switch: flatten failed")
                errors.append(f"flatten: {e!r}")
            errors += [f"{r.order.epic} {r.deal_id}: {r.reason}" for r in closed if r.status is OrderStatus.REJECTED]
            try:
                positions_left = len(self.broker.positions())
                working_left = len(self.broker.working_orders())
            except Exception as e:  # pragma: no cover - a broker that cannot even list its book
                errors.append(f"state: {e!r}")
                positions_left = working_left = -1
            rep = KillReport(reason, int(self._clock()), already, tuple(cancelled), tuple(closed), tuple(errors),
                             positions_left, working_left)
            self.reports.append(rep)
            if errors or positions_left or working_left:
                log.error("kill switch (%s): %d position(s), %d working order(s) left; errors: %s", reason,
                          positions_left, working_left, errors)
            return rep

    def reset(self) -> None:
        """Re-arm; lifts the risk halt only if the kill switch set it (a daily-loss halt stays)."""
        with self._lock:
            self._fired = False
            if self.risk is not None and (self.risk.halt_reason or "").startswith(_PREFIX):
                self.risk.reset_halt()
            log.warning("kill switch reset")

    def __repr__(self) -> str:
        return f"KillSwitch(fired={self._fired}, fires={len(self.reports)})"
