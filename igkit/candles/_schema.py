"""The candle schema: column names, the ``Candle`` record, frame constructors and bar frequencies.

Bar boundaries
--------------
A bar of frequency ``f`` (in nanoseconds) that contains a tick at ``ts_ns`` opens at
``ts_ns - ts_ns % f`` (Python floor semantics, also before 1970): bar boundaries are whole multiples of
the frequency counted from the Unix epoch, 1970-01-01 00:00 UTC. For every frequency that divides a day
(1s, 5s, 1min, 15min, 1h, 4h, 1D, ...) this is exactly pandas' default ``origin="start_day"`` in UTC.
For frequencies that do not divide a day (say ``7min``) pandas' default origin would restart at each
first day's midnight; igkit keeps the epoch grid so batch and live bars always agree.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
import pandas as pd

from igkit.errors import DataError
from igkit.types import ns_to_timestamp

__all__ = [
    "CANDLE_COLUMNS",
    "FLOAT_COLUMNS",
    "MAX_FREQ_NS",
    "MIN_FREQ_NS",
    "Candle",
    "candles_to_frame",
    "empty_candles",
    "freq_to_ns",
]

FLOAT_COLUMNS: tuple[str, ...] = tuple(
    f"{side}_{part}" for side in ("bid", "ask", "mid") for part in ("open", "high", "low", "close")
)
CANDLE_COLUMNS: tuple[str, ...] = (*FLOAT_COLUMNS, "ticks")

MIN_FREQ_NS = 1_000_000_000  # 1 second
MAX_FREQ_NS = 86_400_000_000_000  # 1 day
_INDEX_NAME = "time"
_DTYPE = "datetime64[ns, UTC]"


class Candle(NamedTuple):
    """One bar. ``ts_ns`` is the bar's open time (UTC ns since the epoch); mid = (bid + ask) / 2 per tick."""

    ts_ns: int
    bid_open: float
    bid_high: float
    bid_low: float
    bid_close: float
    ask_open: float
    ask_high: float
    ask_low: float
    ask_close: float
    mid_open: float
    mid_high: float
    mid_low: float
    mid_close: float
    ticks: int

    @property
    def time(self) -> pd.Timestamp:
        """The bar's open time as a tz-aware UTC ``Timestamp``."""
        return ns_to_timestamp(self.ts_ns)


def freq_to_ns(freq: str | pd.Timedelta | _dt.timedelta | np.timedelta64) -> int:
    """A fixed bar frequency between 1 second and 1 day, in nanoseconds.

    Accepts pandas offset aliases (``"1s"``, ``"5s"``, ``"1min"``, ``"15min"``, ``"1h"``, ``"4h"``,
    ``"1D"``, ...) and ``Timedelta``/``timedelta``/``timedelta64`` values. Anything that is not a fixed
    duration (months, weeks — which are also longer than a day), outside ``[1s, 1D]``, zero, negative or
    unparseable raises :class:`~igkit.errors.DataError` naming the value and the allowed range.
    """
    allowed = "allowed: a fixed frequency from 1s to 1D, e.g. '1s', '5s', '1min', '15min', '1h', '4h', '1D'"
    if isinstance(freq, bool):
        raise DataError(f"bar frequency {freq!r} is not a frequency; {allowed}")
    nanos: int
    if isinstance(freq, str):
        try:
            offset = pd.tseries.frequencies.to_offset(freq)
            nanos = int(offset.nanos)
        except (ValueError, TypeError) as exc:
            raise DataError(f"bar frequency {freq!r} is not a fixed frequency ({exc}); {allowed}") from None
    elif isinstance(freq, pd.Timedelta | _dt.timedelta | np.timedelta64):
        td = pd.Timedelta(freq)
        if td is pd.NaT:
            raise DataError(f"bar frequency {freq!r} is NaT; {allowed}")
        nanos = int(td.value)
    else:
        raise DataError(f"bar frequency {freq!r} has type {type(freq).__name__}, expected str or Timedelta; "
                        f"{allowed}")
    if not MIN_FREQ_NS <= nanos <= MAX_FREQ_NS:
        raise DataError(f"bar frequency {freq!r} ({pd.Timedelta(nanos, unit='ns')}) is out of range; {allowed}")
    return nanos


def _frame(index_ns: np.ndarray, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    index = pd.DatetimeIndex(index_ns.astype("datetime64[ns]", copy=False), name=_INDEX_NAME).tz_localize("UTC")
    return pd.DataFrame(columns, index=index, columns=list(CANDLE_COLUMNS), copy=False)


def empty_candles() -> pd.DataFrame:
    """A candle frame with no rows and the full schema (UTC ns index named ``time``, dtypes set)."""
    cols: dict[str, np.ndarray] = {c: np.empty(0, dtype=np.float64) for c in FLOAT_COLUMNS}
    cols["ticks"] = np.empty(0, dtype=np.int64)
    return _frame(np.empty(0, dtype=np.int64), cols)


def candles_to_frame(candles: Iterable[Candle]) -> pd.DataFrame:
    """A list of :class:`Candle` → a candle frame with the same schema as :func:`resample_ticks`."""
    rows = list(candles)
    if not rows:
        return empty_candles()
    ts = np.fromiter((c[0] for c in rows), dtype=np.int64, count=len(rows))
    floats = np.array([c[1:13] for c in rows], dtype=np.float64)
    cols: dict[str, np.ndarray] = {name: floats[:, i] for i, name in enumerate(FLOAT_COLUMNS)}
    cols["ticks"] = np.fromiter((c[13] for c in rows), dtype=np.int64, count=len(rows))
    return _frame(ts, cols)
