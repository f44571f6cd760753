"""Candle repairs after a streaming gap: bars rebuilt from IG's SECOND history, and their merge into live candles.

Tick buffers are single-writer (the Lightstreamer listener thread writes a streamed epic's buffer), so
missed data is never pushed back into ticks: it is repaired at the candle level. A feed produces
:class:`Repair` records (epic + a candle frame with a boolean ``backfilled`` column); whoever owns a
candle history merges them: the engine thread (``igkit.engine``) or :func:`repair_candles` in a
notebook or test.

Exactness of a bar rebuilt from SECOND bars (IG's ``/prices`` at SECOND resolution):

* ``bid_*``/``ask_*`` open, high, low, close: exact (first/last/max/min of exact per-second values);
* ``ticks``: exact when IG reports each second's tick count in ``lastTradedVolume`` (it does for OTC
  markets, and so does the simulator);
* ``mid_open``/``mid_close``: exact ((bid + ask) / 2 of the first/last tick);
* ``mid_high``/``mid_low``: **bounds**, not exact. IG gives no per-second mid extremes; the mid's high
  within a second is at most ``(bid_high + ask_high) / 2`` and its low at least
  ``(bid_low + ask_low) / 2``. A repaired bar's ``mid_high`` is therefore >= the true one and its
  ``mid_low`` <= the true one, and both stay within ``[mid_low, mid_high]`` of the bid/ask envelope.

Hand-written because it is the small core that decides what a repaired candle is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
import pandas as pd

from igkit.candles import CANDLE_COLUMNS, empty_candles, freq_to_ns
from igkit.errors import DataError

__all__ = ["REPAIR_COLUMNS", "Repair", "bars_from_seconds", "repair_candles"]

#: the candle schema plus the ``backfilled`` flag
REPAIR_COLUMNS: tuple[str, ...] = (*CANDLE_COLUMNS, "backfilled")


class Repair(NamedTuple):
    """Bars of ``epic`` to put in place of live ones (``frame``: candle schema + ``backfilled``).

    ``start_ns``/``end_ns`` is the repaired span (whole bars, ``end_ns`` exclusive): every live bar opening
    in it is replaced by the frame's bar of the same open time, or dropped if the frame has none (no
    ticks in that bar). ``reason`` says what caused the gap, ``+``-joined when several
    did: the client status that opened it in lower case (``stalled``, ``disconnected:will-retry``,
    ``disconnected:trying-recovery``, ...), ``lost`` (the client reported lost updates: subscribed again
    after a lost session, or the server's overflow notice) or ``stale`` (no tick from an open market).
    """

    epic: str
    frame: pd.DataFrame
    start_ns: int
    end_ns: int
    reason: str = ""


def bars_from_seconds(seconds: pd.DataFrame, freq: str | pd.Timedelta = "1min") -> pd.DataFrame:
    """IG SECOND bars (``igkit.ig.prices`` schema: bid/ask/mid OHLC + ``volume`` = ticks) → candles of ``freq``.

    Returns the candle schema plus ``backfilled`` (all True); one row per bar with at least one tick.
    ``mid_high``/``mid_low`` are bounds (see the module docstring). Seconds without a tick count are
    counted as one tick (IG leaves ``lastTradedVolume`` empty for some markets).
    """
    f = freq_to_ns(freq)
    need = [f"{s}_{p}" for s in ("bid", "ask") for p in ("open", "high", "low", "close")]
    missing = [c for c in need if c not in seconds.columns]
    if missing:
        raise DataError(f"bars_from_seconds: SECOND bars lack columns {missing}")
    if not isinstance(seconds.index, pd.DatetimeIndex) or seconds.index.tz is None:
        raise DataError("bars_from_seconds: SECOND bars need a tz-aware (UTC) DatetimeIndex of open times")
    sec = seconds.dropna(subset=need)
    if sec.empty:
        empty = empty_candles()
        empty["backfilled"] = np.zeros(0, dtype=bool)
        return empty
    ts = pd.DatetimeIndex(sec.index).as_unit("ns").asi8
    order = np.argsort(ts, kind="stable")
    ts = ts[order]
    col = {c: sec[c].to_numpy(dtype=np.float64)[order] for c in need}
    if "volume" in sec.columns:
        vol = sec["volume"].to_numpy(dtype=np.float64)[order]
        ticks = np.where(np.isfinite(vol) & (vol > 0), vol, 1.0).astype(np.int64)
    else:
        ticks = np.ones(len(ts), dtype=np.int64)
    bar = ts - ts % f
    starts = np.flatnonzero(np.r_[True, bar[1:] != bar[:-1]])
    ends = np.r_[starts[1:], len(ts)] - 1
    out: dict[str, np.ndarray] = {}
    for side in ("bid", "ask"):
        out[f"{side}_open"] = col[f"{side}_open"][starts]
        out[f"{side}_high"] = np.maximum.reduceat(col[f"{side}_high"], starts)
        out[f"{side}_low"] = np.minimum.reduceat(col[f"{side}_low"], starts)
        out[f"{side}_close"] = col[f"{side}_close"][ends]
    out["mid_open"] = (out["bid_open"] + out["ask_open"]) / 2.0
    out["mid_high"] = np.maximum.reduceat((col["bid_high"] + col["ask_high"]) / 2.0, starts)
    out["mid_low"] = np.minimum.reduceat((col["bid_low"] + col["ask_low"]) / 2.0, starts)
    out["mid_close"] = (out["bid_close"] + out["ask_close"]) / 2.0
    out["ticks"] = np.add.reduceat(ticks, starts)
    index = pd.DatetimeIndex(bar[starts].view("M8[ns]"), name="time").tz_localize("UTC")
    frame = pd.DataFrame({c: out[c] for c in CANDLE_COLUMNS}, index=index)
    frame["backfilled"] = True
    return frame


def repair_candles(
    live: pd.DataFrame, repairs: Iterable[Repair | pd.DataFrame], *, epic: str | None = None
) -> pd.DataFrame:
    """Merge repairs into live candles: bars in a repaired span are replaced (or dropped when the repair
    found no tick there), missing ones added; the result is sorted, with a ``backfilled`` column.

    ``repairs`` are :class:`Repair` records (only those of ``epic`` when it is given) or plain repair
    frames (their span is taken from the first to the last bar they hold). ``live`` is a candle frame
    (its own ``backfilled`` column is kept if present, else all False).
    """
    missing = [c for c in CANDLE_COLUMNS if c not in live.columns]
    if missing:
        raise DataError(f"repair_candles: live candles lack columns {missing}")
    out = live[list(CANDLE_COLUMNS)].copy()
    out["backfilled"] = live["backfilled"].astype(bool) if "backfilled" in live.columns else False
    for rep in repairs:
        if isinstance(rep, Repair):
            if epic is not None and rep.epic != epic:
                continue
            frame, lo, hi = rep.frame, rep.start_ns, rep.end_ns
        else:
            frame = rep
            if frame.empty:
                continue
            idx = pd.DatetimeIndex(frame.index).as_unit("ns").asi8
            lo, hi = int(idx[0]), int(idx[-1]) + 1
        miss = [c for c in CANDLE_COLUMNS if c not in frame.columns]
        if miss:
            raise DataError(f"repair_candles: a repair frame lacks columns {miss}")
        t = pd.DatetimeIndex(out.index).as_unit("ns").asi8 if len(out) else np.empty(0, np.int64)
        keep = (t < lo) | (t >= hi)
        add = frame[list(CANDLE_COLUMNS)].copy()
        add["backfilled"] = frame["backfilled"].astype(bool) if "backfilled" in frame.columns else True
        if len(add):
            add.index = pd.DatetimeIndex(add.index).as_unit("ns")
            out.index = pd.DatetimeIndex(out.index).as_unit("ns")
            out = pd.concat([out[keep], add]) if keep.any() else add
        else:
            out = out[keep]
        out = out[~out.index.duplicated(keep="last")].sort_index(kind="stable")
    out["ticks"] = out["ticks"].astype(np.int64)
    out.index.name = "time"
    return out
