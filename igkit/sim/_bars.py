"""Historical bars for GET /prices: the synthetic market's ticks aggregated to IG's resolutions.

Bars are built with :func:`igkit.candles.resample_arrays` (the same aggregation research uses); WEEK
(Monday-aligned) and MONTH bars are rolled up from daily bars. Only bars with ticks exist, ticks outside
the instrument's opening hours are left out (unless the simulator is ``always_open``), and nothing after
the simulator's "now" is ever returned. Resolutions of an hour and above come from the coarse market
(same anchors, fewer ticks) so that long ranges stay cheap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from igkit.candles import resample_arrays
from igkit.market import is_open, open_mask
from igkit.sim._prices import PriceSource
from igkit.sim._util import ApiError

__all__ = ["RESOLUTIONS", "build_bars", "resolution_ns"]

_SEC = 1_000_000_000
_MIN = 60 * _SEC
_HOUR = 60 * _MIN
_DAY = 24 * _HOUR
RESOLUTIONS: dict[str, int] = {
    "SECOND": _SEC, "MINUTE": _MIN, "MINUTE_2": 2 * _MIN, "MINUTE_3": 3 * _MIN, "MINUTE_5": 5 * _MIN,
    "MINUTE_10": 10 * _MIN, "MINUTE_15": 15 * _MIN, "MINUTE_30": 30 * _MIN, "HOUR": _HOUR,
    "HOUR_2": 2 * _HOUR, "HOUR_3": 3 * _HOUR, "HOUR_4": 4 * _HOUR, "DAY": _DAY, "WEEK": 7 * _DAY,
    "MONTH": 31 * _DAY,
}
_ALIASES = {"1MINUTE": "MINUTE", "2MINUTE": "MINUTE_2", "3MINUTE": "MINUTE_3", "5MINUTE": "MINUTE_5",
            "10MINUTE": "MINUTE_10", "15MINUTE": "MINUTE_15", "30MINUTE": "MINUTE_30", "1HOUR": "HOUR",
            "2HOUR": "HOUR_2", "3HOUR": "HOUR_3", "4HOUR": "HOUR_4", "1DAY": "DAY", "1WEEK": "WEEK",
            "1MONTH": "MONTH"}
_FINE_SPAN = 10 * _DAY  # finer-than-hour bars over longer spans come from the coarse market too

COLUMNS = ("bid_open", "bid_high", "bid_low", "bid_close", "ask_open", "ask_high", "ask_low", "ask_close",
           "ticks")


def resolution_ns(name: str) -> tuple[str, int]:
    """(canonical IG name, nominal length in ns); 400 ``invalid.input`` for an unknown resolution."""
    key = str(name).strip().upper()
    key = _ALIASES.get(key, key)
    if key not in RESOLUTIONS:
        raise ApiError(400, "invalid.input")
    return key, RESOLUTIONS[key]


def _frame(prices: PriceSource, epic: str, res: str, start: int, end: int) -> pd.DataFrame:
    step = RESOLUTIONS[res]
    coarse = step >= _HOUR or end - start > _FINE_SPAN
    market = prices.coarse if coarse else prices.market
    base = min(step, _DAY)
    start -= start % base
    ts, bid, ask = market.ticks(epic, start, end)
    if not prices.always_open and len(ts):
        keep = open_mask(epic, ts)
        ts, bid, ask = ts[keep], bid[keep], ask[keep]
    frame = resample_arrays(ts, bid, ask, pd.Timedelta(base, unit="ns"))
    frame = frame[list(COLUMNS)]
    if res in ("WEEK", "MONTH") and len(frame):
        key = pd.DatetimeIndex(frame.index).tz_localize(None).to_period("W-SUN" if res == "WEEK" else "M").start_time
        g = frame.groupby(key.tz_localize("UTC").as_unit("ns"))
        frame = pd.DataFrame({
            "bid_open": g["bid_open"].first(), "bid_high": g["bid_high"].max(), "bid_low": g["bid_low"].min(),
            "bid_close": g["bid_close"].last(), "ask_open": g["ask_open"].first(),
            "ask_high": g["ask_high"].max(), "ask_low": g["ask_low"].min(), "ask_close": g["ask_close"].last(),
            "ticks": g["ticks"].sum(),
        })
    return frame


def build_bars(prices: PriceSource, epic: str, res: str, *, start: int | None, end: int | None,
               max_points: int) -> pd.DataFrame:
    """Bars of ``epic`` at ``res``: those opening in [start, end], or the last ``max_points`` up to ``end``.

    ``end`` is clamped to the simulator's now; the frame is indexed by bar open time (UTC).
    """
    now = prices.clock.now_ns()
    end = now if end is None else min(end, now)
    step = RESOLUTIONS[res]
    if start is not None:
        if start > end:
            return _frame(prices, epic, res, end, end)
        last_bar_end = end - end % min(step, _DAY) + min(step, _DAY)  # the bar opening at ``end`` counts
        frame = _frame(prices, epic, res, start, min(last_bar_end, now + 1))
        return frame[_opens(frame) <= end]
    if not prices.always_open:
        end = _last_open(epic, end)
    span = max(1, max_points) * step
    frame = _frame(prices, epic, res, end - span, end + 1)
    for _ in range(4):  # closed hours and weekends leave gaps: look further back until max bars
        if len(frame) >= max_points:
            break
        span *= 3
        frame = _frame(prices, epic, res, end - span, end + 1)
    return frame.iloc[-max_points:] if max_points > 0 else frame.iloc[0:0]


def _last_open(epic: str, t: int) -> int:
    """``t`` if the market is open then, else the moment it last closed (to the minute, within 8 days)."""
    if is_open(epic, t):
        return t
    back = t - t % _HOUR
    for _ in range(8 * 24):
        if is_open(epic, back - _MIN):
            break
        back -= _HOUR
    else:
        return t
    lo, hi = back, min(t, back + _HOUR)  # open at lo - 1 min, closed from some minute in (lo, hi]
    lo -= _MIN
    while hi - lo > _MIN:
        mid = lo + ((hi - lo) // (2 * _MIN)) * _MIN
        if is_open(epic, mid):
            lo = mid
        else:
            hi = mid
    return hi - 1


def _opens(frame: pd.DataFrame) -> np.ndarray:
    """Bar open times as int64 ns (whatever the index's unit)."""
    return pd.DatetimeIndex(frame.index).as_unit("ns").asi8


def to_rows(frame: pd.DataFrame, decimals: int) -> list[tuple[int, list[float], int]]:
    """(open ns, [8 prices rounded], ticks) per bar."""
    values = np.round(frame[list(COLUMNS[:-1])].to_numpy(dtype=np.float64), decimals)
    ticks = frame["ticks"].to_numpy(dtype=np.int64)
    opens = _opens(frame)
    return [(int(t), [float(x) for x in values[i]], int(ticks[i])) for i, t in enumerate(opens)]
