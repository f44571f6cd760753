"""The simulator's records (accounts, positions, working orders, history) and its event hub.

Plain mutable dataclasses owned by :class:`igkit.sim.broker.Broker`, which changes them only under its
lock. The event hub is the seam for streaming: every confirm, position update (OPU), working-order update
(WOU) and account change is published to its subscribers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Account",
    "AccountSpec",
    "Activity",
    "EventHub",
    "Position",
    "SimEvent",
    "Transaction",
    "WorkingOrder",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """How to create one simulated account (``account_type``: CFD or SPREADBET)."""

    account_id: str
    account_type: str = "CFD"
    currency: str = "GBP"
    balance: float = 10_000.0
    name: str | None = None
    preferred: bool = False


@dataclass(slots=True)
class Account:
    account_id: str
    name: str
    account_type: str
    currency: str
    balance: float
    preferred: bool
    status: str = "ENABLED"
    trailing_stops_enabled: bool = True


@dataclass(slots=True)
class Position:
    deal_id: str
    deal_reference: str
    account_id: str
    epic: str
    expiry: str
    direction: str
    size: float
    level: float
    currency: str
    created_ns: int
    stop_level: float | None = None
    limit_level: float | None = None
    guaranteed: bool = False
    trailing_distance: float | None = None  # points
    trailing_step: float | None = None  # points

    @property
    def sign(self) -> int:
        return 1 if self.direction == "BUY" else -1


@dataclass(slots=True)
class WorkingOrder:
    deal_id: str
    deal_reference: str
    account_id: str
    epic: str
    expiry: str
    direction: str
    size: float
    level: float
    order_type: str  # LIMIT | STOP
    time_in_force: str  # GOOD_TILL_CANCELLED | GOOD_TILL_DATE
    good_till_ns: int | None
    currency: str
    created_ns: int
    stop_distance: float | None = None
    limit_distance: float | None = None
    guaranteed: bool = False
    force_open: bool = True


@dataclass(slots=True)
class Activity:
    ts_ns: int
    account_id: str
    epic: str
    period: str
    deal_id: str
    channel: str  # PUBLIC_WEB_API | SYSTEM
    type: str  # POSITION | WORKING_ORDER | EDIT_STOP_AND_LIMIT | SYSTEM
    status: str  # ACCEPTED | REJECTED
    description: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Transaction:
    ts_ns: int
    account_id: str
    open_ns: int | None
    instrument_name: str
    period: str
    pnl: float
    transaction_type: str  # DEAL | DEPOSIT | WITHDRAWAL
    reference: str
    open_level: float | None
    close_level: float | None
    size: float | None  # signed
    currency: str  # ISO code of the account
    cash: bool


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One change streaming would push: ``kind`` is CONFIRM, OPU, WOU or ACCOUNT."""

    kind: str
    account_id: str
    data: dict[str, Any]


class EventHub:
    """Callbacks fired on every :class:`SimEvent`, in the thread that made the change.

    Subscribers must return quickly and never call back into the simulator's dealing methods (the broker
    lock is held while they run): hand the event to your own loop or queue.
    """

    def __init__(self) -> None:
        self._subs: list[Callable[[SimEvent], None]] = []
        self._lock = threading.Lock()

    def subscribe(self, callback: Callable[[SimEvent], None]) -> Callable[[], None]:
        """Register ``callback``; returns a function that unsubscribes it."""
        with self._lock:
            self._subs.append(callback)

        def _unsubscribe() -> None:
            self.unsubscribe(callback)

        return _unsubscribe

    def unsubscribe(self, callback: Callable[[SimEvent], None]) -> None:
        with self._lock:
            if callback in self._subs:
                self._subs.remove(callback)

    def emit(self, kind: str, account_id: str, data: dict[str, Any]) -> None:
        event = SimEvent(kind, account_id, data)
        with self._lock:
            subs = list(self._subs)
        for cb in subs:
            try:
                cb(event)
            except Exception:  # a broken subscriber must not break dealing
                log.exception("sim event subscriber %r failed on %s", cb, kind)
