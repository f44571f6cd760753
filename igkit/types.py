"""Small immutable values shared across igkit.

Hot paths carry ``int64`` nanoseconds since the Unix epoch (UTC); these records are for the edges.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

import pandas as pd

__all__ = ["Direction", "Mode", "Tick", "ns_to_timestamp"]


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
