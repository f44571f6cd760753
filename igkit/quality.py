"""Data quality metrics for tick streams: counts, gaps, staleness, bad quotes and spread percentiles.

Hand-written because the measurements are ours: they define what "good data" means for igkit, they
run on millions of ticks (one vectorised numpy pass, no Python loop per tick), and the same report is
shown for a Parquet file, a live :class:`~igkit.ticks.TickBuffer` and a recorded replay.

Report keys (``quality_report`` / ``quality_from_arrays`` / ``quality_of_buffer``):

===================== ==========================================================================
``ticks``             number of ticks
``start`` / ``end``   earliest / latest timestamp (UTC ``Timestamp``; None when empty)
``duration_s``        ``end - start`` in seconds (None when empty)
``rate_per_s``        ticks per second over that span (None when the span is zero)
``gaps``              inter-arrival gaps longer than ``gap_threshold`` (measured on the timestamps in
                      time order, so a tick that arrives late does not invent a gap)
``longest_gap_s``     longest inter-arrival gap in seconds (None with fewer than two ticks)
``seconds_since_last````now - end`` in seconds (None when empty)
``out_of_order``      ticks whose timestamp is earlier than their predecessor's (arrival order)
``duplicates``        ticks with the same timestamp, bid and ask as the previous tick
``crossed``           bid > ask
``locked``            bid == ask
``non_finite``        rows where bid or ask is NaN or infinite
``non_positive``      rows where a finite bid or ask is zero or negative
``valid``             rows that are finite, positive and not crossed (the spread statistics use these)
``spread_p50`` ...    50th / 95th percentile (linear interpolation) and maximum of ``ask - bid``
``spread_p95``        over the valid rows (None when there are none)
``spread_max``
``gap_threshold_s``   the threshold used, in seconds
===================== ==========================================================================
"""

from __future__ import annotations

import datetime as _dt
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from igkit.errors import DataError

if TYPE_CHECKING:
    from igkit.ticks import TickBuffer

__all__ = ["compare_candles", "quality_from_arrays", "quality_of_buffer", "quality_report"]

_NS = 1_000_000_000


def _threshold_ns(gap_threshold: float | str | pd.Timedelta | _dt.timedelta) -> int:
    """``gap_threshold`` as a positive number of nanoseconds (floats are seconds)."""
    try:
        if isinstance(gap_threshold, bool):
            raise TypeError
        if isinstance(gap_threshold, int | float | np.integer | np.floating):
            value = float(gap_threshold)
            if not np.isfinite(value):
                raise ValueError
            ns = round(value * _NS)
        else:
            ns = pd.Timedelta(gap_threshold).value
    except (TypeError, ValueError) as exc:
        raise DataError(f"gap_threshold={gap_threshold!r} is not a duration (seconds or e.g. '5s')") from exc
    if ns <= 0:
        raise DataError(f"gap_threshold={gap_threshold!r} must be positive")
    return int(ns)


def _now_ns(now: pd.Timestamp | _dt.datetime | int | None) -> int:
    """``now`` as UTC nanoseconds; ints are nanoseconds since the epoch, naive times are refused."""
    if now is None:
        return time.time_ns()
    if isinstance(now, int | np.integer) and not isinstance(now, bool):
        return int(now)
    if isinstance(now, _dt.datetime | str):
        ts = pd.Timestamp(now)
        if ts.tzinfo is None:
            raise DataError(f"now={now!r} is a naive time; pass a tz-aware UTC timestamp")
        return int(ts.tz_convert("UTC").value)
    raise DataError(f"now={now!r} must be a tz-aware Timestamp, int nanoseconds or None")


def _empty_report(threshold_ns: int) -> dict[str, Any]:
    return {
        "ticks": 0,
        "start": None,
        "end": None,
        "duration_s": None,
        "rate_per_s": None,
        "gaps": 0,
        "longest_gap_s": None,
        "seconds_since_last": None,
        "out_of_order": 0,
        "duplicates": 0,
        "crossed": 0,
        "locked": 0,
        "non_finite": 0,
        "non_positive": 0,
        "valid": 0,
        "spread_p50": None,
        "spread_p95": None,
        "spread_max": None,
        "gap_threshold_s": threshold_ns / _NS,
    }


def _as_array(values: Any, name: str, dtype: type) -> np.ndarray:
    try:
        arr = np.asarray(values)
    except Exception as exc:  # ragged lists and the like
        raise DataError(f"{name}: cannot be read as an array ({exc})") from exc
    if arr.ndim != 1:
        raise DataError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    if dtype is np.int64:
        if arr.dtype.kind == "M":
            arr = arr.astype("datetime64[ns]").view(np.int64)
        elif arr.dtype.kind not in "iu" and arr.size:
            raise DataError(f"{name}: expected int64 nanoseconds, got dtype {arr.dtype}")
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind not in "fiu" and arr.size:
        raise DataError(f"{name}: expected numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def quality_from_arrays(
    ts_ns: Any,
    bid: Any,
    ask: Any,
    *,
    gap_threshold: float | str = "5s",
    now: pd.Timestamp | int | None = None,
) -> dict[str, Any]:
    """Quality report over parallel arrays in arrival order: ``ts_ns`` (UTC ns), ``bid``, ``ask``.

    Raises :class:`~igkit.errors.DataError` when the arrays are not 1-D numbers of the same length or a
    parameter is not usable.
    """
    threshold = _threshold_ns(gap_threshold)
    now_ns = _now_ns(now)
    ts = _as_array(ts_ns, "ts_ns", np.int64)
    b = _as_array(bid, "bid", np.float64)
    a = _as_array(ask, "ask", np.float64)
    if not (len(ts) == len(b) == len(a)):
        raise DataError(f"ts_ns, bid, ask lengths differ: {len(ts)}, {len(b)}, {len(a)}")
    n = len(ts)
    report = _empty_report(threshold)
    if n == 0:
        return report

    start, end = int(ts.min()), int(ts.max())
    duration_ns = end - start
    report.update(
        ticks=n,
        start=pd.Timestamp(start, unit="ns", tz="UTC"),
        end=pd.Timestamp(end, unit="ns", tz="UTC"),
        duration_s=duration_ns / _NS,
        rate_per_s=(n / (duration_ns / _NS)) if duration_ns > 0 else None,
        seconds_since_last=(now_ns - end) / _NS,
    )

    if n > 1:
        step = np.diff(ts)
        backwards = step < 0
        out_of_order = int(np.count_nonzero(backwards))
        # gaps are about time coverage: measure them on the timestamps in time order
        gaps = np.diff(np.sort(ts)) if out_of_order else step
        at = np.flatnonzero(step == 0)  # rare: compare prices only where timestamps repeat
        same = (b[at + 1] == b[at]) & (a[at + 1] == a[at])
        report.update(
            gaps=int(np.count_nonzero(gaps > threshold)),
            longest_gap_s=int(gaps.max()) / _NS,
            out_of_order=out_of_order,
            duplicates=int(np.count_nonzero(same)),
        )

    finite = np.isfinite(b) & np.isfinite(a)
    with np.errstate(invalid="ignore"):
        positive = (b > 0) & (a > 0)
        crossed = b > a
        locked = b == a
    valid = finite & positive & ~crossed
    n_valid = int(np.count_nonzero(valid))
    report.update(
        crossed=int(np.count_nonzero(crossed)),
        locked=int(np.count_nonzero(locked)),
        non_finite=n - int(np.count_nonzero(finite)),
        non_positive=int(np.count_nonzero(finite & ~positive)),
        valid=n_valid,
    )
    if n_valid:
        spread = a[valid] - b[valid] if n_valid < n else a - b
        p50, p95 = np.percentile(spread, [50.0, 95.0])
        report.update(spread_p50=float(p50), spread_p95=float(p95), spread_max=float(spread.max()))
    return report


def _frame_arrays(ticks: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(ticks, pd.DataFrame):
        raise DataError(f"ticks must be a DataFrame, got {type(ticks).__name__}")
    missing = [c for c in ("bid", "ask") if c not in ticks.columns]
    if missing:
        raise DataError(f"ticks frame lacks column(s) {missing}; it has {list(ticks.columns)}")
    idx = ticks.index
    if not isinstance(idx, pd.DatetimeIndex):
        raise DataError(f"ticks frame index must be a UTC DatetimeIndex, got {type(idx).__name__}")
    if idx.tz is None:
        raise DataError("ticks frame index is naive; localise it to UTC first (never naive local times)")
    ts = idx.tz_convert("UTC").as_unit("ns").asi8
    for col in ("bid", "ask"):
        if not pd.api.types.is_numeric_dtype(ticks[col].dtype) or pd.api.types.is_bool_dtype(ticks[col]):
            raise DataError(f"ticks column {col!r} must be numeric, got dtype {ticks[col].dtype}")
    bid = ticks["bid"].to_numpy(dtype=np.float64, na_value=np.nan)
    ask = ticks["ask"].to_numpy(dtype=np.float64, na_value=np.nan)
    return ts, bid, ask


def quality_report(
    ticks: pd.DataFrame,
    *,
    gap_threshold: float | str = "5s",
    now: pd.Timestamp | int | None = None,
) -> dict[str, Any]:
    """Quality report of a tick frame (tz-aware DatetimeIndex, ``bid`` and ``ask``, arrival order).

    ``gap_threshold`` is seconds or a pandas duration string; ``now`` (tz-aware or int ns, default the
    current time) is what ``seconds_since_last`` is measured against. See the module docstring for the
    keys. Raises :class:`~igkit.errors.DataError` naming what is wrong with the frame.
    """
    ts, bid, ask = _frame_arrays(ticks)
    return quality_from_arrays(ts, bid, ask, gap_threshold=gap_threshold, now=now)


def quality_of_buffer(
    buf: TickBuffer,
    *,
    gap_threshold: float | str = "5s",
    now: pd.Timestamp | int | None = None,
) -> dict[str, Any]:
    """Quality report of what a live :class:`~igkit.ticks.TickBuffer` currently holds."""
    ts, bid, ask = buf.arrays()
    return quality_from_arrays(ts, bid, ask, gap_threshold=gap_threshold, now=now)


def compare_candles(
    ours: pd.DataFrame,
    theirs: pd.DataFrame,
    *,
    columns: list[str] | None = None,
) -> dict[str, Any]:
    """Compare two candle frames bar by bar (e.g. IG-built candles against ours).

    Returns ``common`` (bars in both), ``only_ours`` / ``only_theirs`` (the bar open times present in
    one frame only, as DatetimeIndex), ``max_abs_diff`` (per compared column, over the common bars;
    NaN only when there are none) and ``columns`` (the columns compared: ``columns`` or every numeric
    column the two frames share).
    """
    for label, frame in (("ours", ours), ("theirs", theirs)):
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"{label} must be a DataFrame, got {type(frame).__name__}")
        if not isinstance(frame.index, pd.DatetimeIndex) or frame.index.tz is None:
            raise DataError(f"{label}: index must be a tz-aware DatetimeIndex of bar open times")
        if frame.index.has_duplicates:
            raise DataError(f"{label}: duplicate bar times, e.g. {frame.index[frame.index.duplicated()][0]}")
    if columns is None:
        columns = [
            c
            for c in ours.columns
            if c in theirs.columns
            and pd.api.types.is_numeric_dtype(ours[c])
            and pd.api.types.is_numeric_dtype(theirs[c])
        ]
    else:
        for label, frame in (("ours", ours), ("theirs", theirs)):
            absent = [c for c in columns if c not in frame.columns]
            if absent:
                raise DataError(f"{label} lacks column(s) {absent}")
    a_idx = pd.DatetimeIndex(ours.index).tz_convert("UTC")
    b_idx = pd.DatetimeIndex(theirs.index).tz_convert("UTC")
    common = a_idx.intersection(b_idx)
    diffs: dict[str, float] = {}
    for col in columns:
        x = pd.Series(ours[col].to_numpy(dtype=np.float64, na_value=np.nan), index=a_idx).reindex(common)
        y = pd.Series(theirs[col].to_numpy(dtype=np.float64, na_value=np.nan), index=b_idx).reindex(common)
        d = np.abs(x.to_numpy() - y.to_numpy())
        diffs[col] = float(np.nanmax(d)) if len(d) and not np.isnan(d).all() else float("nan")
    return {
        "common": len(common),
        "only_ours": a_idx.difference(b_idx),
        "only_theirs": b_idx.difference(a_idx),
        "max_abs_diff": diffs,
        "columns": list(columns),
    }
