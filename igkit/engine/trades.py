"""Fills → round-trip trades, in the backtest's trade schema, so a live run reads like a backtest.

Each opening fill starts a trade under its ``deal_id``; closing fills with that ``deal_id`` end it (a
partial close splits it: one row per closing fill, sized by that fill). A position still open gives a
row with ``exit_time`` NaT and ``exit_reason`` ``"open"``. With ``freq``, ``entry_time``/``exit_time`` are
the open times of the bars the fills fell in — the backtest's convention (a decision at bar t's close
fills at the first tick of bar t+1, i.e. at bar t+1's open). A close by a market order (the strategy's)
reads ``"signal"`` as in the backtest; other exits keep the fill's reason (stop, limit, kill, ...).

Hand-written: a short pass over the fills in time order.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from igkit.candles import freq_to_ns
from igkit.types import Fill

__all__ = ["LIVE_TRADE_COLUMNS", "fills_to_trades"]

LIVE_TRADE_COLUMNS = ("epic", "entry_time", "exit_time", "direction", "size", "entry_price", "exit_price",
                      "pnl", "exit_reason", "deal_id")


def fills_to_trades(fills: Iterable[Fill], *, freq: str | None = None) -> pd.DataFrame:
    """One row per closed (part of a) position, plus one per position still open; time order of entry."""
    step = None if freq is None else freq_to_ns(freq)
    opened: dict[str, Fill] = {}
    left: dict[str, float] = {}
    rows: list[tuple[object, ...]] = []
    order: dict[str, int] = {}
    for f in sorted(fills, key=lambda f: f.time_ns):
        if f.opening:
            opened[f.deal_id] = f
            left[f.deal_id] = f.size
            order[f.deal_id] = len(order)
            continue
        o = opened.get(f.deal_id)
        if o is None:  # closing a position opened before these fills: no entry to pair with
            continue
        rows.append((order[f.deal_id], o.epic, o.time_ns, f.time_ns, o.direction.sign, f.size, o.price, f.price,
                     f.pnl, "signal" if f.reason == "market" else f.reason, f.deal_id))
        left[f.deal_id] = round(left[f.deal_id] - f.size, 10)
        if left[f.deal_id] <= 1e-9:
            del opened[f.deal_id]
    for deal_id, o in opened.items():
        rows.append((order[deal_id], o.epic, o.time_ns, None, o.direction.sign, left[deal_id], o.price, np.nan,
                     np.nan, "open", deal_id))
    rows.sort(key=lambda r: (r[0], r[3] is None, r[3] or 0))

    def times(values: list[object]) -> pd.DatetimeIndex:
        ns = np.array([-(1 << 63) if v is None else int(v) for v in values], dtype=np.int64)  # type: ignore[call-overload]
        if step is not None:
            ok = ns != -(1 << 63)
            ns[ok] -= ns[ok] % step
        return pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC")

    cols = list(zip(*rows, strict=True)) if rows else [()] * 11
    return pd.DataFrame({
        "epic": pd.Series(cols[1], dtype=object),
        "entry_time": times(list(cols[2])),
        "exit_time": times(list(cols[3])),
        "direction": np.array(cols[4], dtype=np.int8),
        "size": np.array(cols[5], dtype=np.float64),
        "entry_price": np.array(cols[6], dtype=np.float64),
        "exit_price": np.array(cols[7], dtype=np.float64),
        "pnl": np.array(cols[8], dtype=np.float64),
        "exit_reason": pd.Series(cols[9], dtype=object),
        "deal_id": pd.Series(cols[10], dtype=object),
    }, columns=list(LIVE_TRADE_COLUMNS))
