"""Small immutable values shared across igkit.

Hot paths carry ``int64`` nanoseconds since the Unix epoch (UTC); these records are for the edges.
"""

from __future__ import annotations

import itertools as _itertools
import time as _time
import uuid as _uuid
from dataclasses import dataclass as _dataclass
from dataclasses import field as _field
from enum import StrEnum
from typing import NamedTuple

import pandas as pd

__all__ = [
    "AccountState",
    "Direction",
    "Fill",
    "Mode",
    "Order",
    "OrderResult",
    "OrderStatus",
    "OrderType",
    "Position",
    "Signal",
    "Tick",
    "WorkingOrder",
    "new_deal_reference",
    "ns_to_timestamp",
]


class Direction(StrEnum):
    """A deal's side, spelled as IG spells it."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Direction.BUY else -1

    def opposite(self) -> Direction:
        return Direction.SELL if self is Direction.BUY else Direction.BUY


class Mode(StrEnum):
    """Where ticks come from and where orders go."""

    DEMO = "demo"  # offline synthetic market + paper broker
    SIM = "sim"  # IG-compatible simulator on loopback
    IG_DEMO = "ig-demo"  # IG's demo gateway (virtual money)
    IG_LIVE = "ig-live"  # IG's live gateway (real money)


class Tick(NamedTuple):
    """One quote: ``ts_ns`` is UTC nanoseconds since the epoch."""

    ts_ns: int
    bid: float
    ask: float

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2.0

    @property
    def time(self) -> pd.Timestamp:
        return ns_to_timestamp(self.ts_ns)


def ns_to_timestamp(ts_ns: int) -> pd.Timestamp:
    """UTC nanoseconds → tz-aware ``pandas.Timestamp``."""
    return pd.Timestamp(int(ts_ns), unit="ns", tz="UTC")


# -- trading records (shared by strategy → risk → broker → engine → widgets) ------------------------------

_REF_COUNTER = _itertools.count(1)
_REF_PREFIX = f"igk{_uuid.uuid4().hex[:12]}"  # unique per process: references never repeat across runs


def new_deal_reference() -> str:
    """A unique client-side deal reference matching IG's pattern ``[A-Za-z0-9_\\-]{1,30}``."""
    return f"{_REF_PREFIX}n{next(_REF_COUNTER)}"


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP = "STOP"


class OrderStatus(StrEnum):
    ACCEPTED = "ACCEPTED"  # taken by the broker (a paper market order fills on the next tick)
    REJECTED = "REJECTED"  # by the broker (IG's reason) or by the risk manager (the rule)
    FILLED = "FILLED"
    WORKING = "WORKING"  # a resting limit/stop order
    CANCELLED = "CANCELLED"


@_dataclass(frozen=True, slots=True)
class Signal:
    """A strategy's target position for one instrument, decided at a bar's close."""

    time_ns: int
    epic: str
    target: int  # -1, 0, +1
    price: float  # the mid close it was decided on
    strategy: str = ""


@_dataclass(frozen=True, slots=True)
class Order:
    """What the engine asks a broker to do. ``deal_reference`` is ours, set before sending (never reused)."""

    epic: str
    direction: Direction
    size: float
    order_type: OrderType = OrderType.MARKET
    level: float | None = None  # LIMIT / STOP working orders
    stop_distance: float | None = None  # price units from the fill
    limit_distance: float | None = None
    trailing_stop: bool = False
    close_deal_id: str | None = None  # set when this order closes (part of) an existing position
    reason: str = "signal"  # signal, flatten, kill, manual, reverse
    deal_reference: str = _field(default_factory=new_deal_reference)
    created_ns: int = _field(default_factory=_time.time_ns)
    good_till_ns: int | None = None  # LIMIT / STOP working orders: expiry (None = good till cancelled)

    def __post_init__(self) -> None:
        if not (self.size > 0):
            raise ValueError(f"order size must be > 0, got {self.size!r} ({self.epic})")


@_dataclass(frozen=True, slots=True)
class Fill:
    """An execution: an opening or closing trade at a price."""

    deal_reference: str
    deal_id: str
    epic: str
    direction: Direction
    size: float
    price: float
    time_ns: int
    reason: str = "market"  # market, stop, limit, trailing_stop, working_order, close, kill, external
    pnl: float = 0.0  # realised P&L of a closing fill, in account currency
    opening: bool = True


@_dataclass(frozen=True, slots=True)
class Position:
    deal_id: str
    epic: str
    direction: Direction
    size: float
    level: float
    open_ns: int
    stop_level: float | None = None
    limit_level: float | None = None
    trailing_distance: float | None = None
    deal_reference: str = ""

    @property
    def signed_size(self) -> float:
        return self.size * self.direction.sign

    def upl(self, bid: float, ask: float, value_per_point: float = 1.0) -> float:
        """Unrealised P&L at the price it would close at (bid for a long, ask for a short)."""
        exit_price = bid if self.direction is Direction.BUY else ask
        return (exit_price - self.level) * self.direction.sign * self.size * value_per_point


@_dataclass(frozen=True, slots=True)
class WorkingOrder:
    deal_id: str
    epic: str
    direction: Direction
    size: float
    level: float
    order_type: OrderType
    created_ns: int
    stop_distance: float | None = None
    limit_distance: float | None = None
    good_till_ns: int | None = None
    deal_reference: str = ""


@_dataclass(frozen=True, slots=True)
class OrderResult:
    """The broker's (or risk manager's) answer to an order."""

    order: Order
    status: OrderStatus
    reason: str = "SUCCESS"  # IG's reason, or the risk rule that refused it
    deal_id: str | None = None
    level: float | None = None
    fills: tuple[Fill, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status is not OrderStatus.REJECTED


@_dataclass(frozen=True, slots=True)
class AccountState:
    balance: float
    equity: float
    margin: float
    available: float
    upl: float
    realized_pnl: float
    currency: str = "GBP"
