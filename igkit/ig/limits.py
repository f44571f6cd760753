"""Client-side rate limits: request budgets that wait, and the weekly historical-data allowance.

Hand-written because it is small and must match IG's budgets exactly: a sliding one-minute window per
budget (per-app non-trading, per-account non-trading, per-account trading). ``acquire`` blocks until the
request fits the window instead of failing, so a burst of calls is smoothed out rather than answered with
IG's 403 ``exceeded-*``. Thread-safe; the clock and the sleep are injectable for tests.

The historical-data allowance (points per week) is not a rate: it is tracked from the allowance IG
reports with each price response, and a request that would exceed what is left is refused up front with
:class:`~igkit.errors.RateLimitError` (waiting days is not an option).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from enum import StrEnum

from igkit.errors import RateLimitError

__all__ = ["Budget", "HistoricalAllowance", "RateLimiter", "RateLimits"]

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class Budget(StrEnum):
    """Which budgets a request draws from."""

    NON_TRADING = "non_trading"  # per-app and per-account non-trading
    TRADING = "trading"  # per-account trading
    NONE = "none"  # not counted (e.g. logout while closing)


class RateLimiter:
    """At most ``limit`` acquisitions in any ``period`` seconds (sliding window); ``acquire`` waits."""

    def __init__(
        self,
        limit: int,
        period: float = 60.0,
        *,
        name: str = "budget",
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if limit <= 0:
            raise ValueError(f"{name}: limit must be > 0, got {limit}")
        if period <= 0:
            raise ValueError(f"{name}: period must be > 0, got {period}")
        self.name = name
        self._limit = int(limit)
        self.period = float(period)
        self._clock = clock
        self._sleep = sleep
        self._stamps: deque[float] = deque()
        self._lock = threading.Lock()
        self.waited_s = 0.0  # total time spent waiting (for diagnostics)

    @property
    def limit(self) -> int:
        return self._limit

    def set_limit(self, limit: int) -> None:
        """Change the budget (e.g. from ``/operations/application``); takes effect at once."""
        if limit <= 0:
            raise ValueError(f"{self.name}: limit must be > 0, got {limit}")
        with self._lock:
            self._limit = int(limit)

    def try_acquire(self) -> float:
        """Take a slot if one is free now and return 0.0, else return the seconds to wait."""
        with self._lock:
            now = self._clock()
            cutoff = now - self.period
            stamps = self._stamps
            while stamps and stamps[0] <= cutoff:
                stamps.popleft()
            if len(stamps) < self._limit:
                stamps.append(now)
                return 0.0
            # the oldest stamp that must leave the window for a slot to free up
            return max(stamps[len(stamps) - self._limit] + self.period - now, 1e-6)

    def acquire(self) -> float:
        """Take a slot, waiting as long as needed; returns the seconds waited."""
        waited = 0.0
        while True:
            wait = self.try_acquire()
            if wait == 0.0:
                if waited:
                    with self._lock:
                        self.waited_s += waited
                return waited
            self._sleep(wait)
            waited += wait

    def in_window(self) -> int:
        """Acquisitions currently inside the window."""
        with self._lock:
            cutoff = self._clock() - self.period
            return sum(1 for s in self._stamps if s > cutoff)

    def __repr__(self) -> str:
        return f"RateLimiter({self.name!r}, {self._limit}/{self.period:g}s)"


class RateLimits:
    """The three IG request budgets; ``acquire(budget)`` waits on every limiter the request draws from."""

    def __init__(
        self,
        app_non_trading_per_min: int = 60,
        account_non_trading_per_min: int = 30,
        account_trading_per_min: int = 100,
        *,
        period: float = 60.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.app_non_trading = RateLimiter(
            app_non_trading_per_min, period, name="app non-trading", clock=clock, sleep=sleep
        )
        self.account_non_trading = RateLimiter(
            account_non_trading_per_min, period, name="account non-trading", clock=clock, sleep=sleep
        )
        self.account_trading = RateLimiter(
            account_trading_per_min, period, name="account trading", clock=clock, sleep=sleep
        )

    @classmethod
    def from_config(cls, limits: object) -> RateLimits:
        """From ``config.limits`` (any object with the ``*_per_min`` attributes)."""
        return cls(
            int(getattr(limits, "app_non_trading_per_min", 60)),
            int(getattr(limits, "account_non_trading_per_min", 30)),
            int(getattr(limits, "account_trading_per_min", 100)),
        )

    def acquire(self, budget: Budget) -> float:
        """Wait until the request fits its budgets; returns the seconds waited."""
        if budget is Budget.TRADING:
            return self.account_trading.acquire()
        if budget is Budget.NON_TRADING:
            return self.app_non_trading.acquire() + self.account_non_trading.acquire()
        return 0.0

    def update(
        self,
        *,
        app_non_trading: int | None = None,
        account_non_trading: int | None = None,
        account_trading: int | None = None,
    ) -> None:
        """New per-minute budgets (None leaves one unchanged)."""
        if app_non_trading:
            self.app_non_trading.set_limit(app_non_trading)
        if account_non_trading:
            self.account_non_trading.set_limit(account_non_trading)
        if account_trading:
            self.account_trading.set_limit(account_trading)

    def __repr__(self) -> str:
        return (
            f"RateLimits(app_non_trading={self.app_non_trading.limit}, "
            f"account_non_trading={self.account_non_trading.limit}, "
            f"account_trading={self.account_trading.limit}, period={self.app_non_trading.period:g}s)"
        )


class HistoricalAllowance:
    """Historical price points left this week, as IG last reported them (thread-safe).

    Until IG has reported, the configured weekly total is assumed. ``check(points)`` refuses a request
    estimated to need more points than are left, before anything is sent.
    """

    def __init__(self, points_per_week: int = 10_000, *, clock: Clock = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.total = int(points_per_week)
        self.remaining = int(points_per_week)
        self._resets_at: float | None = None  # clock time when IG's window expires

    def update(self, remaining: int, total: int, expiry_s: float | None = None) -> None:
        """Record what IG reported (``remainingAllowance``, ``totalAllowance``, ``allowanceExpiry``)."""
        with self._lock:
            self.remaining = int(remaining)
            self.total = int(total)
            self._resets_at = None if expiry_s is None else self._clock() + float(expiry_s)

    def set_total(self, total: int) -> None:
        """A new weekly total (from ``/operations/application``); what is left never exceeds it."""
        with self._lock:
            self.total = int(total)
            self.remaining = min(self.remaining, self.total)

    def _current(self) -> int:
        if self._resets_at is not None and self._clock() >= self._resets_at:
            self.remaining = self.total
            self._resets_at = None
        return self.remaining

    def left(self) -> int:
        with self._lock:
            return self._current()

    def check(self, points: int, *, what: str = "price history") -> None:
        """Raise :class:`RateLimitError` if ``points`` exceed the allowance left."""
        with self._lock:
            left = self._current()
            if points > left:
                raise RateLimitError(
                    f"{what} needs about {points} points but only {left} of the weekly historical-data "
                    f"allowance ({self.total}) are left; narrow the range or wait for the allowance to reset",
                    error_code="igkit.historical-allowance",
                )

    def __repr__(self) -> str:
        return f"HistoricalAllowance(remaining={self.remaining}, total={self.total})"
