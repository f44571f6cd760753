"""IG's request allowances: per API key, per account (non-trading and trading), and historical data points.

Sliding one-minute windows on the simulator's clock; exceeding one answers IG's 403 ``exceeded-*`` code.
The weekly historical-data allowance is consumed per price point returned and reported in the price
responses' ``allowance`` block.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from igkit.sim._util import ApiError
from igkit.sim.clock import SimClock

__all__ = ["RateLimiter", "RateLimits"]

_MIN_NS = 60 * 1_000_000_000
_WEEK_NS = 7 * 24 * 3600 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Allowances per minute (``None`` = unlimited) and historical points per week."""

    app_non_trading: int | None = 60
    account_non_trading: int | None = 30
    account_trading: int | None = 100
    historical_points: int = 10_000

    @classmethod
    def unlimited(cls, historical_points: int = 10_000) -> RateLimits:
        return cls(None, None, None, historical_points)


class RateLimiter:
    """Counts requests in sliding windows; thread-safe."""

    def __init__(self, limits: RateLimits, clock: SimClock) -> None:
        self.limits = limits
        self.clock = clock
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], deque[int]] = {}
        self._points_used = 0
        self._points_window_start = clock.now_ns()

    def _hit(self, key: tuple[str, str], limit: int | None, code: str) -> None:
        if limit is None:
            return
        now = self.clock.now_ns()
        q = self._windows.setdefault(key, deque())
        while q and q[0] <= now - _MIN_NS:
            q.popleft()
        if len(q) >= limit:
            raise ApiError(403, code)
        q.append(now)

    def check(self, api_key: str, account_id: str | None, trading: bool) -> None:
        """Count one request; 403 if an allowance is exhausted (nothing is counted then)."""
        with self._lock:
            lim = self.limits
            if trading:
                if account_id is not None:
                    self._hit(("trade", account_id), lim.account_trading,
                              "error.public-api.exceeded-account-trading-allowance")
                return
            self._hit(("app", api_key), lim.app_non_trading, "error.public-api.exceeded-api-key-allowance")
            if account_id is not None:
                self._hit(("acct", account_id), lim.account_non_trading,
                          "error.public-api.exceeded-account-allowance")

    # --- historical data -------------------------------------------------------------------------------
    def _roll(self) -> None:
        now = self.clock.now_ns()
        if now - self._points_window_start >= _WEEK_NS:
            self._points_window_start = now
            self._points_used = 0

    def consume_points(self, n: int) -> None:
        """Spend ``n`` historical points; 403 ``exceeded-account-historical-data-allowance`` (nothing spent)
        if fewer than ``n`` are left this week."""
        with self._lock:
            self._roll()
            if n > 0 and self._points_used + n > self.limits.historical_points:
                raise ApiError(403, "error.public-api.exceeded-account-historical-data-allowance")
            self._points_used += max(0, n)

    def points_left(self) -> int:
        with self._lock:
            self._roll()
            return self.limits.historical_points - self._points_used

    def allowance(self) -> dict[str, int]:
        """IG's ``{remainingAllowance, totalAllowance, allowanceExpiry}`` (expiry in seconds)."""
        with self._lock:
            self._roll()
            expiry = (self._points_window_start + _WEEK_NS - self.clock.now_ns()) // 1_000_000_000
            return {"remainingAllowance": self.limits.historical_points - self._points_used,
                    "totalAllowance": self.limits.historical_points, "allowanceExpiry": int(expiry)}
