"""Batch resampling: ticks (arrays or a frame) → candles, with the live builder's exact semantics.

The input is treated as an arrival-ordered stream, exactly as :class:`CandleBuilder` sees it: a tick
whose bar is older than the latest bar seen so far is late (dropped and counted in
``attrs["late_ticks"]``); a tick out of order inside the current bar is merged in arrival order (open =
first arrival, close = last arrival). On sorted input the result equals ``resample().ohlc()``.

This module validates the input and builds the frame; the pass over the ticks is the compiled kernel in
:mod:`igkit.candles._kernel` (why it is hand-written and compiled is told there). Measured
(``bench/bench_candles.py``): see the kernel's docstring.
Mid highs and lows are the kernel's ``bid + ask`` extremes halved: halving is monotone and exact, so
``max((b + a) / 2) == max(b + a) / 2`` bit for bit, and per-tick mids are never materialised.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from igkit.candles._schema import FLOAT_COLUMNS, _frame, empty_candles, freq_to_ns
from igkit.errors import DataError

__all__ = ["resample_arrays", "resample_ticks"]

_FIRST_ROWS = 0  # the first output capacity at most this; 0: 65,536 or one row per 8 ticks, whichever is more
# (a stray far-future tick must not allocate a row per tick; 1-s bars of 10 ticks fit at once). The kernel
# says when it needs more, and the capacity doubles.
_NO_BAR = -(1 << 62)  # below any bar id (int64 ns // f ≥ -2^63): every bar may open


class NonFiniteError(DataError):
    """A tick that would join a bar has a NaN or infinite price (the live builder drops those instead)."""


class _Bars(NamedTuple):
    """Reduced bars, one row per bar with ticks, in bar order."""

    bars: np.ndarray  # int64 bar ids (bar open time // f)
    pos: np.ndarray  # 2 × k int64: positions (in the input) of each bar's first and last arrival
    values: np.ndarray  # 10 × k float64: bid o/h/l/c, ask o/h/l/c, high and low of bid + ask
    ticks: np.ndarray  # int64 tick counts

    def rows(self, lo: int, hi: int) -> _Bars:
        return _Bars(self.bars[lo:hi], self.pos[:, lo:hi], self.values[:, lo:hi], self.ticks[lo:hi])


def _read_only(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view


def _reduce(ts: np.ndarray, bid: np.ndarray, ask: np.ndarray, f: int, floor: int = _NO_BAR) -> tuple[_Bars, int]:
    """The whole stream → (bars, late count); bars below ``floor`` are late from the start.

    Inputs: C-contiguous int64 ns, float64, float64 of one length. The first capacity is the span of
    ``ts[0]..ts[-1]`` in bars (enough for sorted input), capped; when it runs short the kernel stops
    before the bar it cannot write, the capacity doubles and the kernel resumes at that bar's first tick.
    NaT raises :class:`DataError`, a non-finite price of a tick that is not late :class:`NonFiniteError`.
    """
    from igkit.candles import _kernel as kern  # numba: imported (and compiled, once) on first use

    ts, bid, ask = (_read_only(x) for x in (ts, bid, ask))  # one compiled signature, whatever the source
    n = ts.shape[0]
    span = (int(ts[-1]) - int(ts[0])) // f + 2 if n and ts[0] != kern.NAT_NS and ts[-1] != kern.NAT_NS else 1
    cap = max(1, min(n, span, _FIRST_ROWS or max(1 << 16, n // 8)))
    bars = np.empty(cap, np.int64)
    pos = np.empty((2, cap), np.int64)
    values = np.empty((kern.VALUE_ROWS, cap), np.float64)
    counts = np.empty(cap, np.int64)
    i, k, cur, late = 0, 0, floor, 0
    while True:
        status, i, k, late = kern.scan(ts, bid, ask, f, i, cur, late, bars, pos, values, counts, k)
        if status == kern.DONE:
            return _Bars(bars, pos, values, counts).rows(0, k), late
        if status != kern.FULL:
            break
        cap *= 2
        bars, pos, values, counts = (np.concatenate((a[..., :k], np.empty((*a.shape[:-1], cap - k), a.dtype)),
                                                    axis=-1) for a in (bars, pos, values, counts))
        cur = int(bars[k - 1])
    at = f"tick {i:,}" if ts[i] == kern.NAT_NS else f"tick {i:,} ({pd.Timestamp(int(ts[i]), tz='UTC')})"
    if status == kern.NAT:
        raise DataError(f"tick timestamps contain NaT (first at {at})")
    b, a = float(bid[i]), float(ask[i])
    what = (f"bid {b}" if not np.isfinite(b) else f"ask {a}" if not np.isfinite(a)
            else f"bid + ask overflows ({b} + {a})")
    raise NonFiniteError(f"bid and ask prices must be finite numbers: {what} at {at}")


def _columns(r: _Bars, f: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Bar open times (ns) and the 12 float columns in schema order."""
    bo, bh, bl, bc, ao, ah, al, ac, sh, sl = r.values
    mo = bo + ao  # the very sum the first tick's mid is made of
    mo *= 0.5
    mc = bc + ac
    mc *= 0.5
    return r.bars * f, [bo, bh, bl, bc, ao, ah, al, ac, mo, sh * 0.5, sl * 0.5, mc]


def _to_frame(r: _Bars, late: int, f: int) -> pd.DataFrame:
    if r.bars.shape[0] == 0:
        frame = empty_candles()
    else:
        times, values = _columns(r, f)
        cols = dict(zip(FLOAT_COLUMNS, values, strict=True))
        cols["ticks"] = r.ticks
        frame = _frame(times, cols)
    frame.attrs["late_ticks"] = late
    return frame


def _price_array(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise DataError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.dtype.kind not in "fiu" and arr.shape[0]:
        raise DataError(f"{name} must be numeric prices, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float64)


def _ts_array(values: Any) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise DataError(f"ts_ns must be one-dimensional, got shape {arr.shape}")
    if arr.shape[0] == 0:
        return np.empty(0, dtype=np.int64)
    if arr.dtype.kind == "M":
        arr = arr.astype("datetime64[ns]").view(np.int64)
    elif arr.dtype.kind in "iu":
        arr = arr.astype(np.int64, copy=False)
    else:
        raise DataError(f"ts_ns must be int64 nanoseconds since the epoch (UTC) or datetime64, "
                        f"got dtype {arr.dtype}")
    return np.ascontiguousarray(arr)


def resample_arrays(ts_ns: Any, bid: Any, ask: Any, freq: str | pd.Timedelta = "1min") -> pd.DataFrame:
    """Arrival-ordered tick arrays → candle frame (same semantics and schema as :func:`resample_ticks`).

    ``ts_ns``: int64 ns since the epoch, UTC (or ``datetime64`` values taken as UTC); ``bid``/``ask``:
    numeric, same length. Late ticks are dropped and counted in ``result.attrs["late_ticks"]``.
    """
    f = freq_to_ns(freq)
    ts = _ts_array(ts_ns)
    b = _price_array(bid, "bid")
    a = _price_array(ask, "ask")
    if not ts.shape[0] == b.shape[0] == a.shape[0]:
        raise DataError(f"ts_ns, bid and ask must have the same length, got {ts.shape[0]}, {b.shape[0]}, "
                        f"{a.shape[0]}")
    return _to_frame(*_reduce(ts, b, a, f), f)


def resample_ticks(ticks: pd.DataFrame, freq: str | pd.Timedelta = "1min") -> pd.DataFrame:
    """Tick frame (UTC ``DatetimeIndex``; columns ``bid``, ``ask``) → one candle row per bar with ticks.

    Rows are read in frame order as an arrival-ordered stream (see the module docstring): ticks at the
    same timestamp keep their order, out-of-order ticks inside the latest bar are merged, ticks for an
    older bar are dropped and counted in ``result.attrs["late_ticks"]``. Bars open on multiples of
    ``freq`` since the Unix epoch (UTC). A tz-aware non-UTC index is converted to UTC; a naive index,
    missing or non-numeric columns, NaT, NaN or inf raise :class:`~igkit.errors.DataError`.
    """
    f = freq_to_ns(freq)
    if not isinstance(ticks, pd.DataFrame):
        raise DataError(f"ticks must be a pandas DataFrame, got {type(ticks).__name__}")
    missing = [c for c in ("bid", "ask") if c not in ticks.columns]
    if missing:
        raise DataError(f"ticks frame is missing column(s) {missing}; it has {list(ticks.columns)}")
    idx = ticks.index
    if not isinstance(idx, pd.DatetimeIndex):
        raise DataError(f"ticks frame needs a UTC DatetimeIndex, got {type(idx).__name__}")
    if idx.tz is None:
        raise DataError("ticks frame has a naive DatetimeIndex; localize it to UTC first "
                        "(igkit never guesses a time zone)")
    if str(idx.tz) != "UTC":
        idx = idx.tz_convert("UTC")
    ts = (idx if idx.unit == "ns" else idx.as_unit("ns")).asi8  # as_unit copies even when a no-op
    cols = []
    for name in ("bid", "ask"):
        col = ticks[name]
        if isinstance(col, pd.DataFrame):
            raise DataError(f"ticks frame has more than one column named {name!r}")
        if not pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            raise DataError(f"ticks column {name!r} must be numeric, got dtype {col.dtype}")
        try:
            cols.append(np.ascontiguousarray(col.to_numpy(dtype=np.float64)))
        except (TypeError, ValueError) as exc:  # e.g. nullable dtypes holding <NA>
            raise DataError(f"ticks column {name!r} cannot be read as float64 prices: {exc}") from None
    return _to_frame(*_reduce(ts, cols[0], cols[1], f), f)
