"""The simulator's clock: real UTC time by default, or a settable/advanceable time for tests.

Hand-written because it is tiny and the simulator needs one shared notion of "now" (prices, token expiry,
rate-limit windows, market hours) that tests can move deterministically.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

import pandas as pd

__all__ = ["SimClock", "to_ns"]


def to_ns(value: int | float | str | datetime | pd.Timestamp) -> int:
    """UTC nanoseconds from an int (ns), a float (epoch seconds), an ISO string or a datetime.

    Naive strings and datetimes are read as UTC.
    """
    if isinstance(value, bool):
        raise TypeError(f"clock time must be a time, not {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value * 1e9)
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return int(ts.tz_convert("UTC").value)


class SimClock:
    """A clock that runs at real speed from an offset, and can be frozen, set and advanced.

    ``SimClock()`` is real time. ``SimClock("2026-11-21T12:00Z")`` starts at that time and runs on;
    ``SimClock("2026-11-21T12:00Z", frozen=True)`` stays there until ``set``/``advance`` moves it.
    """

    def __init__(self, start: int | float | str | datetime | pd.Timestamp | None = None, *,
                 frozen: bool = False) -> None:
        self._lock = threading.Lock()
        self._frozen_at: int | None = None
        self._offset = 0
        if start is not None:
            self._offset = to_ns(start) - time.time_ns()
        if frozen:
            self._frozen_at = self._real() + self._offset

    @staticmethod
    def _real() -> int:
        return time.time_ns()

    def now_ns(self) -> int:
        """Current simulated time, UTC ns since the epoch."""
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return self._real() + self._offset

    def now(self) -> pd.Timestamp:
        """Current simulated time as a tz-aware UTC timestamp."""
        return pd.Timestamp(self.now_ns(), unit="ns", tz="UTC")

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def set(self, when: int | float | str | datetime | pd.Timestamp) -> None:
        """Jump to ``when`` (keeps running unless frozen)."""
        target = to_ns(when)
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = target
            else:
                self._offset = target - self._real()

    def advance(self, seconds: float) -> None:
        """Move time forward (or back, if negative) by ``seconds``."""
        delta = int(seconds * 1e9)
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += delta
            else:
                self._offset += delta

    def freeze(self) -> None:
        """Stop time where it is."""
        with self._lock:
            if self._frozen_at is None:
                self._frozen_at = self._real() + self._offset

    def resume(self) -> None:
        """Let time run again from where it was frozen."""
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - self._real()
                self._frozen_at = None

    def __repr__(self) -> str:
        state = "frozen" if self.frozen else "running"
        return f"SimClock({self.now().isoformat()}, {state})"
