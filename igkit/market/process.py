"""The seeded synthetic price process: deterministic, random-access bid/ask ticks for any instrument and span.

Hand-written because it is igkit's own model (no library offers a seeded, random-access tick generator),
and because the Demo feed, the IG simulator and research all depend on its exact guarantees:

* **Deterministic**: the same ``seed`` gives the same ticks, on any call order.
* **Random access**: ticks are generated per UTC hour ("chunk"), each from its own generator seeded by
  ``(seed, epic, hour)``, so ``ticks(a, c)`` is exactly ``ticks(a, b)`` followed by ``ticks(b, c)``.

The model, in three layers of the log price ``y`` around the instrument's typical level:

1. **Daily anchors**: an Ornstein–Uhlenbeck path (half-life one year, the instrument's annualised
   volatility) sampled at every UTC midnight from ``y = 0`` at the Unix epoch, so levels stay realistic
   over decades. Computed once per instrument in blocks of days (vectorised, cached).
2. **Hourly anchors**: a Brownian bridge between two daily anchors in *business time*: hours in the
   instrument's session carry more variance than hours outside it (the intraday component).
3. **Ticks**: Poisson arrivals (mean ``tick_rate`` per second over a week, busier in session) and a
   Brownian bridge between two hourly anchors at the arrival times. The spread varies a little around
   the typical one, is wider out of session and widens now and then; bid and ask sit on the
   instrument's price grid with ``ask - bid >= one tick``.

Prices are generated 24/7 (the Demo must work at weekends); opening hours are a separate layer
(:mod:`igkit.market.hours`) that the simulator applies.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import pandas as pd

from igkit.errors import DataError
from igkit.market import hours as _hours
from igkit.market.catalog import CATALOG, InstrumentSpec, resolve
from igkit.types import Tick

__all__ = ["SyntheticMarket", "TickArrays", "to_ns"]

TickArrays = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]

SECOND_NS = 1_000_000_000
HOUR_NS = 3600 * SECOND_NS
DAY_NS = 24 * HOUR_NS
_MAX_NS = int(pd.Timestamp("2200-01-01", tz="UTC").value)  # 2200-01-01: the generator's horizon
_MONDAY0_HOUR = 96  # 1970-01-05 00:00 UTC, the first Monday after the epoch
_YEAR_DAYS = 365.25
_HALF_LIFE_YEARS = 1.0
_BLOCK_DAYS = 1024
_SESSION_BOOST = 1.3  # tick rate and variance in session, relative to the weekly mean
_MIN_OFF_SESSION = 0.3  # floor of the same out of session
_OFF_SESSION_SPREAD = 0.8  # out of session the spread is (1 + this) × the typical one
_SPREAD_JITTER = 0.10  # sd of the log spread tick to tick
_WIDEN_PROB = 0.003  # chance that a tick's spread is widened 1.5–3×
_MAX_SPREAD_FACTOR = 5.0
_MAX_TICKS_PER_CALL = 50_000_000  # ~1.2 GB of arrays

# stream kinds mixed into every chunk's seed
_K_DAYS, _K_HOURS, _K_TICKS = 1, 2, 3


def to_ns(value: object, what: str = "time") -> int:
    """A time → int64 nanoseconds since the epoch (UTC).

    Accepts int ns, a tz-aware ``pandas.Timestamp``/``datetime``, ``numpy.datetime64`` (taken as UTC) or
    an ISO string (a string without a zone is read as UTC). A naive ``datetime``/``Timestamp`` is refused:
    igkit never guesses a local time zone.
    """
    if isinstance(value, bool):
        raise DataError(f"{what}: expected int nanoseconds or a tz-aware time, got {value!r}")
    if isinstance(value, int | np.integer):
        return int(value)
    try:
        return _convert(value, what)
    except (OverflowError, pd.errors.OutOfBoundsDatetime) as exc:
        raise DataError(f"{what}: {value!r} is outside the nanosecond time range: {exc}") from None


def _convert(value: object, what: str) -> int:
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[ns]").astype(np.int64))
    if isinstance(value, str):
        try:
            ts = pd.Timestamp(value)
        except (ValueError, TypeError) as exc:
            raise DataError(f"{what}: cannot parse time string {value!r}: {exc}") from None
        if ts is pd.NaT:
            raise DataError(f"{what}: time string {value!r} is not a time")
        return int((ts.tz_localize("UTC") if ts.tzinfo is None else ts).as_unit("ns").value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise DataError(f"{what}: naive datetime {value!r}; give a tz-aware (UTC) time")
        return int(pd.Timestamp(value).as_unit("ns").value)
    raise DataError(f"{what}: expected int nanoseconds, a tz-aware time or an ISO string, got {value!r}")


class _Instrument:
    """Per-instrument constants and the cached daily anchors."""

    def __init__(self, spec: InstrumentSpec, seed: int, tick_rate: float) -> None:
        self.spec = spec
        self.key = zlib.crc32(spec.epic.encode())
        self.seed = seed
        self.log_p0 = math.log(spec.price)
        self.scale = 10**spec.decimals  # ticks per price unit
        theta = math.log(2.0) / _HALF_LIFE_YEARS
        step = 1.0 / _YEAR_DAYS
        self.a = math.exp(-theta * step)
        self.sd_step = spec.vol * math.sqrt((1.0 - self.a**2) / (2.0 * theta))
        self.day_sigma = spec.vol * math.sqrt(step)
        open_frac = _hours.hour_open_fractions(spec.hours)
        mean_open = float(open_frac.mean())
        boost = _SESSION_BOOST
        off = (1.0 - boost * mean_open) / (1.0 - mean_open) if mean_open < 1.0 else 1.0
        if off < _MIN_OFF_SESSION:
            off = _MIN_OFF_SESSION
            boost = (1.0 - off * (1.0 - mean_open)) / mean_open
        self.activity = off + (boost - off) * open_frac  # per hour of the week; weekly mean 1
        self.rate = tick_rate * self.activity * 3600.0  # expected ticks per hour
        self.spread_factor = 1.0 + _OFF_SESSION_SPREAD * (1.0 - open_frac)
        self.days = np.zeros(1, dtype=np.float64)  # y at midnight of day 0, 1, ...
        self.hour_cache: OrderedDict[int, tuple[npt.NDArray[np.float64], float]] = OrderedDict()

    def rng(self, kind: int, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.key, kind, index])

    def day_anchor(self, day: int) -> float:
        while day >= len(self.days):
            self._grow()
        return float(self.days[day])

    def _grow(self) -> None:
        block = (len(self.days) - 1) // _BLOCK_DAYS
        z = self.rng(_K_DAYS, block).standard_normal(_BLOCK_DAYS)
        k = np.arange(1, _BLOCK_DAYS + 1, dtype=np.float64)
        a_inv = self.a ** -k  # a^-(j+1) for j = 0..B-1
        y = (self.a**k) * (self.days[-1] + self.sd_step * np.cumsum(z * a_inv))
        self.days = np.concatenate([self.days, y])

    def hour_anchors(self, day: int) -> tuple[npt.NDArray[np.float64], float]:
        """y at the 25 hour boundaries of ``day`` (a bridge between two daily anchors in business time),
        and the day's total activity."""
        cached = self.hour_cache.get(day)
        if cached is not None:
            self.hour_cache.move_to_end(day)
            return cached
        y0, y1 = self.day_anchor(day), self.day_anchor(day + 1)
        week_hours = (day * 24 + np.arange(24) - _MONDAY0_HOUR) % 168
        w = self.activity[week_hours]
        tau = np.concatenate([[0.0], np.cumsum(w)]) / w.sum()
        z = self.rng(_K_HOURS, day).standard_normal(24)
        walk = np.concatenate([[0.0], np.cumsum(np.sqrt(np.diff(tau)) * z)])
        anchors = y0 + tau * (y1 - y0) + self.day_sigma * (walk - tau * walk[-1])
        anchors[0], anchors[-1] = y0, y1
        out = (anchors, float(w.sum()))
        self.hour_cache[day] = out
        if len(self.hour_cache) > 64:
            self.hour_cache.popitem(last=False)
        return out

    def chunk(self, hour: int) -> TickArrays:
        """Every tick of the UTC hour ``hour`` (hours since the epoch)."""
        spec = self.spec
        day, h = divmod(hour, 24)
        anchors, day_activity = self.hour_anchors(day)
        ya, yb = anchors[h], anchors[h + 1]
        wh = (hour - _MONDAY0_HOUR) % 168
        share = self.activity[wh] / day_activity
        sigma = self.day_sigma * math.sqrt(share)

        rng = self.rng(_K_TICKS, hour)
        n = int(rng.poisson(self.rate[wh]))
        offsets = np.sort(rng.integers(0, HOUR_NS, n, dtype=np.int64))
        u = offsets / HOUR_NS
        steps = np.sqrt(np.diff(u, prepend=0.0)) * rng.standard_normal(n)
        walk = np.cumsum(steps)
        end = (walk[-1] if n else 0.0) + math.sqrt(1.0 - (u[-1] if n else 0.0)) * rng.standard_normal()
        y = ya + u * (yb - ya) + sigma * (walk - u * end)
        mid_ticks = np.exp(self.log_p0 + y) * self.scale

        factor = self.spread_factor[wh] * np.exp(_SPREAD_JITTER * rng.standard_normal(n))
        widen = rng.random(n) < _WIDEN_PROB
        factor[widen] *= rng.uniform(1.5, 3.0, int(widen.sum()))
        np.minimum(factor, _MAX_SPREAD_FACTOR, out=factor)
        spread_ticks = np.maximum(1.0, np.rint(spec.spread * spec.pip * self.scale * factor))
        bid_ticks = np.maximum(1.0, np.rint(mid_ticks - spread_ticks / 2.0))
        bid = bid_ticks / self.scale
        ask = (bid_ticks + spread_ticks) / self.scale
        ts = offsets + hour * HOUR_NS
        for arr in (ts, bid, ask):
            arr.setflags(write=False)
        return ts, bid, ask


class SyntheticMarket:
    """A seeded, deterministic, random-access synthetic market over the :data:`CATALOG` instruments.

    ``ticks(epic, start, end)`` returns the same arrays for the same seed whatever was asked before,
    and splitting a span anywhere changes nothing. Thread-safe (one lock around the caches).

    Args:
        seed: non-negative integer; each seed is a different market history.
        tick_rate: mean ticks per second per instrument over a week (busier in session).
        instruments: epics or symbols this market serves (all of the catalog if None).
    """

    def __init__(
        self, seed: int = 0, *, tick_rate: float = 4.0, instruments: Iterable[str] | None = None
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise DataError(f"SyntheticMarket: seed must be a non-negative integer, got {seed!r}")
        if not isinstance(tick_rate, int | float) or not math.isfinite(tick_rate) or not 0 < tick_rate <= 1000:
            raise DataError(f"SyntheticMarket: tick_rate must be in (0, 1000] ticks/s, got {tick_rate!r}")
        self.seed = int(seed)
        self.tick_rate = float(tick_rate)
        names = list(CATALOG) if instruments is None else [resolve(n) for n in instruments]
        if not names:
            raise DataError("SyntheticMarket: instruments is empty; give at least one epic or symbol")
        self.instruments: tuple[str, ...] = tuple(dict.fromkeys(names))
        self._state: dict[str, _Instrument] = {}
        self._chunks: OrderedDict[tuple[str, int], TickArrays] = OrderedDict()
        self._max_chunks = max(64, 3 * len(self.instruments))
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return (
            f"<SyntheticMarket seed={self.seed} tick_rate={self.tick_rate:g}/s "
            f"instruments={len(self.instruments)}>"
        )

    # -- instruments -----------------------------------------------------------------------------------
    def epic(self, name: str) -> str:
        """``name`` (epic or symbol) → the epic, if this market serves it; else a DataError."""
        epic = name if name in CATALOG else resolve(name)
        if epic not in self.instruments:
            raise DataError(
                f"{epic} is not among this market's {len(self.instruments)} instruments "
                f"({', '.join(self.instruments[:5])}{', ...' if len(self.instruments) > 5 else ''})"
            )
        return epic

    def spec(self, name: str) -> InstrumentSpec:
        """The :class:`InstrumentSpec` of an instrument this market serves."""
        return CATALOG[self.epic(name)]

    def _instrument(self, epic: str) -> _Instrument:
        state = self._state.get(epic)
        if state is None:
            state = _Instrument(CATALOG[epic], self.seed, self.tick_rate)
            self._state[epic] = state
        return state

    def _chunk(self, epic: str, hour: int) -> TickArrays:
        key = (epic, hour)
        with self._lock:
            got = self._chunks.get(key)
            if got is not None:
                self._chunks.move_to_end(key)
                return got
            got = self._instrument(epic).chunk(hour)
            self._chunks[key] = got
            if len(self._chunks) > self._max_chunks:
                self._chunks.popitem(last=False)
            return got

    # -- ticks -----------------------------------------------------------------------------------------
    def ticks(self, epic: str, start: object, end: object) -> TickArrays:
        """Every tick of ``epic`` in ``[start, end)``: ``(ts_ns int64, bid float64, ask float64)``.

        ``start``/``end`` are int ns since the epoch or tz-aware times (see :func:`to_ns`). An empty or
        reversed span gives empty arrays.
        """
        epic = self.epic(epic)
        s, e = self._span(start, end)
        if e <= s:
            return _empty()
        first, last = s // HOUR_NS, (e - 1) // HOUR_NS
        expected = (last - first + 1) * 3600 * self.tick_rate
        if expected > _MAX_TICKS_PER_CALL:
            raise DataError(
                f"{epic}: span {pd.Timestamp(s, tz='UTC')} → {pd.Timestamp(e, tz='UTC')} would be "
                f"~{expected:,.0f} ticks at {self.tick_rate:g}/s; ask for a shorter span or a lower tick_rate"
            )
        parts_ts, parts_bid, parts_ask = [], [], []
        for hour in range(first, last + 1):
            ts, bid, ask = self._chunk(epic, hour)
            i = int(np.searchsorted(ts, s, side="left")) if hour == first else 0
            j = int(np.searchsorted(ts, e, side="left")) if hour == last else len(ts)
            parts_ts.append(ts[i:j])
            parts_bid.append(bid[i:j])
            parts_ask.append(ask[i:j])
        return np.concatenate(parts_ts), np.concatenate(parts_bid), np.concatenate(parts_ask)

    def ticks_frame(self, epic: str, start: object, end: object) -> pd.DataFrame:
        """:meth:`ticks` as a DataFrame: UTC ``DatetimeIndex`` named ``time``, columns ``bid``, ``ask``."""
        ts, bid, ask = self.ticks(epic, start, end)
        index = pd.DatetimeIndex(pd.to_datetime(ts, unit="ns", utc=True), name="time")
        return pd.DataFrame({"bid": bid, "ask": ask}, index=index)

    def quote(self, epic: str, ts: object) -> Tick:
        """The last tick of ``epic`` at or before ``ts``."""
        epic = self.epic(epic)
        t = self._check(to_ns(ts, "ts"), "ts")
        hour = t // HOUR_NS
        for back in range(24 * 14):
            if hour - back < 0:
                break
            ts_arr, bid, ask = self._chunk(epic, hour - back)
            i = int(np.searchsorted(ts_arr, t, side="right")) - 1
            if i >= 0:
                return Tick(int(ts_arr[i]), float(bid[i]), float(ask[i]))
        raise DataError(f"{epic}: no tick at or before {pd.Timestamp(t, tz='UTC')} within two weeks")

    # -- hours -----------------------------------------------------------------------------------------
    def is_open(self, epic: str, ts_ns: object) -> bool:
        """Whether ``epic``'s market is open at ``ts_ns`` (see :mod:`igkit.market.hours`)."""
        return _hours.is_open(self.epic(epic), ts_ns)

    def next_open(self, epic: str, ts_ns: object) -> int:
        """The first time at or after ``ts_ns`` when ``epic``'s market is open, in ns."""
        return _hours.next_open(self.epic(epic), ts_ns)

    # -- helpers ---------------------------------------------------------------------------------------
    def _span(self, start: object, end: object) -> tuple[int, int]:
        return self._check(to_ns(start, "start"), "start"), self._check(to_ns(end, "end"), "end")

    @staticmethod
    def _check(t: int, what: str) -> int:
        if not 0 <= t <= _MAX_NS:
            raise DataError(
                f"{what}={t} is outside the synthetic market's range (1970-01-01 to 2200-01-01 UTC)"
            )
        return t


def _empty() -> TickArrays:
    return np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, np.float64)
