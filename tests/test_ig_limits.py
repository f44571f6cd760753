"""Rate limiters wait instead of failing and hold their budget under threads; history allowance refuses."""

from __future__ import annotations

import threading
from collections import deque

import pytest

from igkit.errors import RateLimitError
from igkit.ig import Budget, HistoricalAllowance, RateLimiter, RateLimits


class FakeClock:
    """A clock whose sleep advances time (no real waiting)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, s: float) -> None:
        with self._lock:
            self.slept.append(s)
            self.now += s


def test_limiter_waits_for_the_oldest_slot_with_fake_clock() -> None:
    clock = FakeClock()
    lim = RateLimiter(3, 60.0, clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(7):
        lim.acquire()
        stamps.append(clock.now)
    # the 4th call had to wait for the 1st to leave the 60 s window, and so on
    assert stamps[:3] == [1000.0] * 3
    assert stamps[3] == pytest.approx(1060.0)
    assert stamps[6] == pytest.approx(1120.0)
    for i in range(len(stamps)):
        in_window = [t for t in stamps if stamps[i] - 60.0 < t <= stamps[i]]
        assert len(in_window) <= 3


def test_limiter_does_not_wait_under_budget() -> None:
    clock = FakeClock()
    lim = RateLimiter(5, 1.0, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        assert lim.acquire() == 0.0
    assert clock.slept == []
    assert lim.in_window() == 5
    assert lim.acquire() > 0.0


def test_limiter_holds_budget_under_four_threads() -> None:
    limit, period = 5, 0.3
    lim = RateLimiter(limit, period)
    stamps: list[float] = []  # the limiter's own stamps, recorded as it grants each slot

    class RecordingDeque(deque[float]):
        def append(self, x: float) -> None:
            stamps.append(x)
            super().append(x)

    lim._stamps = RecordingDeque()

    def worker() -> None:
        for _ in range(4):
            lim.acquire()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(stamps) == 16
    assert stamps == sorted(stamps)
    # no sliding window of `period` seconds ever holds more than `limit` grants
    for i, t in enumerate(stamps):
        assert sum(1 for s in stamps[i:] if s < t + period) <= limit
    assert stamps[-1] - stamps[0] >= period * (16 // limit - 1)
    assert lim.waited_s > 0


def test_set_limit_and_bad_limits() -> None:
    clock = FakeClock()
    lim = RateLimiter(1, 60.0, clock=clock, sleep=clock.sleep)
    lim.acquire()
    lim.set_limit(2)
    assert lim.acquire() == 0.0
    with pytest.raises(ValueError, match="limit"):
        RateLimiter(0)
    with pytest.raises(ValueError, match="limit"):
        lim.set_limit(-1)


def test_rate_limits_budgets() -> None:
    clock = FakeClock()
    rl = RateLimits(2, 1, 1, clock=clock, sleep=clock.sleep)
    rl.acquire(Budget.NON_TRADING)
    rl.acquire(Budget.TRADING)  # separate budget: no wait
    assert clock.slept == []
    rl.acquire(Budget.NON_TRADING)  # account non-trading (1/min) must wait
    assert clock.slept and clock.slept[0] == pytest.approx(60.0)
    rl.acquire(Budget.NONE)
    rl.update(app_non_trading=10, account_non_trading=None, account_trading=7)
    assert (rl.app_non_trading.limit, rl.account_non_trading.limit, rl.account_trading.limit) == (10, 1, 7)


def test_historical_allowance_refuses_and_resets() -> None:
    clock = FakeClock()
    a = HistoricalAllowance(100, clock=clock)
    a.check(100)
    with pytest.raises(RateLimitError, match="101 points"):
        a.check(101)
    a.update(remaining=5, total=100, expiry_s=60)
    with pytest.raises(RateLimitError) as ei:
        a.check(6, what="prices('X')")
    assert "prices('X')" in str(ei.value) and ei.value.error_code == "igkit.historical-allowance"
    clock.now += 61
    a.check(100)  # the window expired: the full allowance is back
    assert a.left() == 100
