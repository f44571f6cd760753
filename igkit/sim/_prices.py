"""The simulator's view of the synthetic market: specs, live quotes at the sim clock, forced prices, hours.

Hand-written glue: ``igkit.market`` generates prices; this module adds what only the simulator needs
(forced prices for tests, currency conversion between instruments and accounts, day statistics for
market snapshots, ``always_open``).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import numpy.typing as npt

from igkit.market import CATALOG, SyntheticMarket, hours
from igkit.market.catalog import InstrumentSpec
from igkit.sim._util import ApiError
from igkit.sim.clock import SimClock

__all__ = ["PriceSource"]

_DAY_NS = 86_400 * 1_000_000_000
_SAMPLE_NS = 15 * 60 * 1_000_000_000
_COARSE_RATE = 0.05  # ticks/s of the coarse market (history at HOUR and above, day statistics)


class PriceSource:
    """Quotes for the simulator: the market's quote at the sim clock, unless a test forced a price."""

    def __init__(self, *, seed: int, tick_rate: float, clock: SimClock, always_open: bool) -> None:
        self.market = SyntheticMarket(seed, tick_rate=tick_rate)
        # Same seed, same daily/hourly anchors, few ticks: cheap coarse history and day statistics.
        self.coarse = SyntheticMarket(seed, tick_rate=min(tick_rate, _COARSE_RATE))
        self.clock = clock
        self.always_open = always_open
        self._forced: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._day_cache: dict[tuple[str, int], tuple[float, float, float]] = {}

    # --- instruments -------------------------------------------------------------------------------
    @staticmethod
    def epics() -> list[str]:
        return list(CATALOG)

    @staticmethod
    def spec(epic: str) -> InstrumentSpec:
        """The instrument's spec; 404 ``error.public-api.epic-not-found`` for an unknown epic."""
        found = CATALOG.get(epic)
        if found is None:
            raise ApiError(404, "error.public-api.epic-not-found")
        return found

    @staticmethod
    def known(epic: str) -> bool:
        return epic in CATALOG

    # --- quotes ------------------------------------------------------------------------------------
    def quote(self, epic: str, ts_ns: int | None = None) -> tuple[float, float]:
        """(bid, ask) of ``epic`` now (or at ``ts_ns``), a forced price taking precedence."""
        forced = self._forced.get(epic)
        if forced is not None and ts_ns is None:
            return forced
        t = self.clock.now_ns() if ts_ns is None else ts_ns
        tick = self.market.quote(epic, t)
        s = CATALOG[epic]
        return round(float(tick.bid), s.decimals), round(float(tick.ask), s.decimals)

    def force(self, epic: str, bid: float, ask: float | None = None) -> None:
        """Pin ``epic``'s quote at (bid, ask); ask defaults to bid plus the typical spread."""
        s = self.spec(epic)
        a = bid + s.typical_spread if ask is None else ask
        if a < bid:
            raise ValueError(f"{epic}: forced ask {a} is below bid {bid}")
        with self._lock:
            self._forced[epic] = (round(float(bid), s.decimals), round(float(a), s.decimals))

    def unforce(self, epic: str | None = None) -> None:
        """Release a forced price (all of them when ``epic`` is None)."""
        with self._lock:
            if epic is None:
                self._forced.clear()
            else:
                self._forced.pop(epic, None)

    def is_forced(self, epic: str) -> bool:
        return epic in self._forced

    def ticks(self, epic: str, start_ns: int, end_ns: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[
            np.float64], npt.NDArray[np.float64]]:
        """Ticks in [start_ns, end_ns) (a forced price is one tick at ``end_ns``)."""
        forced = self._forced.get(epic)
        if forced is not None:
            return (np.array([end_ns], dtype=np.int64), np.array([forced[0]]), np.array([forced[1]]))
        ts, bid, ask = self.market.ticks(epic, start_ns, end_ns)
        return np.asarray(ts, dtype=np.int64), np.asarray(bid, dtype=np.float64), np.asarray(ask, np.float64)

    def is_open(self, epic: str, ts_ns: int | None = None) -> bool:
        if self.always_open:
            return True
        return bool(hours.is_open(epic, self.clock.now_ns() if ts_ns is None else ts_ns))

    def status(self, epic: str) -> str:
        """IG's marketStatus: TRADEABLE or CLOSED."""
        return "TRADEABLE" if self.is_open(epic) else "CLOSED"

    # --- snapshot statistics -----------------------------------------------------------------------
    def day_stats(self, epic: str) -> dict[str, Any]:
        """Today's high/low/netChange/percentageChange (sampled every 15 minutes plus the live quote)."""
        now = self.clock.now_ns()
        bid, ask = self.quote(epic)
        mid = (bid + ask) / 2
        day0 = now - now % _DAY_NS
        hi, lo, open_mid = self._day_sample(epic, day0, now)
        hi, lo = max(hi, mid), min(lo, mid)
        s = CATALOG[epic]
        change = mid - open_mid
        return {
            "high": round(hi, s.decimals),
            "low": round(lo, s.decimals),
            "netChange": round(change, s.decimals),
            "percentageChange": round(100.0 * change / open_mid, 2) if open_mid else 0.0,
            "bid": bid,
            "offer": ask,
        }

    def _day_sample(self, epic: str, day0: int, now: int) -> tuple[float, float, float]:
        bucket = (now - day0) // _SAMPLE_NS
        key = (epic, day0 + bucket * _SAMPLE_NS)
        cached = self._day_cache.get(key)
        if cached is not None:
            return cached
        times = [day0 + i * _SAMPLE_NS for i in range(int(bucket) + 1)]
        mids = []
        for t in times:
            tk = self.coarse.quote(epic, t)
            mids.append((float(tk.bid) + float(tk.ask)) / 2)
        out = (max(mids), min(mids), mids[0])
        if len(self._day_cache) > 4096:
            self._day_cache.clear()
        self._day_cache[key] = out
        return out

    # --- money -------------------------------------------------------------------------------------
    def fx_rate(self, from_ccy: str, to_ccy: str) -> float:
        """How many ``to_ccy`` one ``from_ccy`` buys, from the catalog's FX mids (via USD if needed)."""
        if from_ccy == to_ccy:
            return 1.0
        direct = self._pair_rate(from_ccy, to_ccy)
        if direct is not None:
            return direct
        a = self._pair_rate(from_ccy, "USD")
        b = self._pair_rate("USD", to_ccy)
        if a is None or b is None:
            raise ValueError(f"no FX route from {from_ccy} to {to_ccy} in the catalog")
        return a * b

    def _pair_rate(self, a: str, b: str) -> float | None:
        if a == b:
            return 1.0
        for base, quote, invert in ((a, b, False), (b, a, True)):
            epic = f"CS.D.{base}{quote}.MINI.IP"
            if epic in CATALOG:
                bid, ask = self.quote(epic)
                mid = (bid + ask) / 2
                return 1.0 / mid if invert else mid
        return None

    def opening_hours(self, epic: str) -> dict[str, Any] | None:
        """IG's ``openingHours`` for a Wednesday of the instrument's weekly schedule (UTC)."""
        table = hours.SCHEDULES[CATALOG[epic].hours]
        wed0, wed1 = 2 * 1440, 3 * 1440
        times = []
        for a, b in table.tolist():
            lo, hi = max(a, wed0), min(b, wed1)
            if lo < hi:
                close = hi - wed0
                close_txt = "23:59" if close >= 1440 else f"{close // 60:02d}:{close % 60:02d}"
                times.append({"openTime": f"{(lo - wed0) // 60:02d}:{(lo - wed0) % 60:02d}",
                              "closeTime": close_txt})
        return {"marketTimes": times}
