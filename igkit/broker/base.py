"""The one protocol every broker speaks (paper and IG), so the engine never knows which it talks to.

Threading: the engine thread calls every method; ``kill``-style calls (``flatten``, ``cancel_all``) may
also come from any other thread (a notebook button), so implementations guard their state with a lock.
Events (fills, position changes, rejections) go to listeners added with ``add_listener``; listeners must
not block.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from igkit.types import AccountState, Fill, Order, OrderResult, Position, WorkingOrder

__all__ = ["Broker", "BrokerEvent", "BrokerListener"]

# ("fill", Fill) | ("position", Position — a closed one is sent with size 0.0) | ("order", OrderResult)
# | ("account", AccountState)
BrokerEvent = tuple[str, object]
BrokerListener = Callable[[BrokerEvent], None]


@runtime_checkable
class Broker(Protocol):
    name: str

    def start(self) -> None:
        """Connect / reconcile; idempotent."""

    def stop(self) -> None:
        """Release resources; positions stay as they are."""

    def on_tick(self, epic: str, ts_ns: int, bid: float, ask: float) -> list[Fill]:
        """Feed a tick: fills pending market orders (paper), triggers stops, limits, trailing stops and
        working orders (paper), marks positions to market. Returns the fills it caused."""

    def submit(self, order: Order) -> OrderResult:
        """Send an order. Its ``deal_reference`` is the client's own: a broker never sends it twice."""

    def close_position(self, deal_id: str, size: float | None = None, *, reason: str = "manual") -> OrderResult:
        """Close (part of) a position."""

    def amend_position(
        self, deal_id: str, *, stop_level: float | None = None, limit_level: float | None = None
    ) -> OrderResult:
        """Change a position's stop and limit levels."""

    def cancel_order(self, deal_id: str) -> OrderResult:
        """Delete a working order."""

    def positions(self) -> list[Position]: ...

    def working_orders(self) -> list[WorkingOrder]: ...

    def net_position(self, epic: str) -> float:
        """Signed net size held in ``epic`` (+ long, - short)."""

    def account(self) -> AccountState: ...

    def flatten(self, epic: str | None = None, *, reason: str = "flatten") -> list[OrderResult]:
        """Close every position (of ``epic``, or all). Safe to call from any thread."""

    def cancel_all(self) -> list[OrderResult]:
        """Delete every working order. Safe to call from any thread."""

    def reconcile(self) -> dict[str, object]:
        """Re-read positions and working orders from the source of truth; report differences."""

    def add_listener(self, listener: BrokerListener) -> None: ...
