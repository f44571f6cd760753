"""Performance statistics of an equity curve and its trades, as a plain dict.

Definitions (all documented in :func:`compute_stats`) follow the usual conventions: returns are simple
per-bar returns of the equity curve, annualised with the number of bars in a year estimated from the bar
spacing, risk-free rate zero.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["YEAR", "compute_stats", "periods_per_year"]

YEAR = pd.Timedelta(days=365.25)


def _ns(index: pd.DatetimeIndex) -> np.ndarray:
    return index.asi8 if index.unit == "ns" else index.as_unit("ns").asi8


def periods_per_year(index: pd.DatetimeIndex) -> float:
    """Bars per year from the median spacing of ``index`` (NaN with fewer than two bars).

    Over long indexes the median is taken over 100,000 evenly spread pairs of consecutive bars.
    """
    if len(index) < 2:
        return math.nan
    ts = _ns(index)
    step_by = max(1, (ts.shape[0] - 1) // 100_000)
    starts = np.arange(0, ts.shape[0] - 1, step_by)
    step = float(np.median(ts[starts + 1] - ts[starts]))
    return float(YEAR.value / step) if step > 0 else math.nan


def compute_stats(
    equity: pd.Series,
    pnl: np.ndarray,
    positions: np.ndarray,
    capital: float,
    *,
    ppy: float | None = None,
) -> dict[str, float | int | pd.Timedelta]:
    """Statistics of a backtest.

    Keys:

    * ``total_pnl``: final equity − ``capital``; ``total_return``: that / ``capital``.
    * ``cagr``: ``(final / capital) ** (1 / years) − 1`` with ``years`` = (last − first bar time + one bar
      spacing) / 365.25 days; NaN if the final equity is ≤ 0 or the span is unknown.
    * ``sharpe``: mean / standard deviation (ddof=1) of per-bar returns × √``ppy``; ``sortino``: mean /
      downside deviation × √``ppy``, downside deviation = √mean(min(r, 0)²) over all bars. Per-bar
      return r_i = equity_i / equity_{i−1} − 1, the first against ``capital``. NaN when undefined.
    * ``max_drawdown``: largest fall from a running peak as a fraction of the peak (0.1 = 10 %, ≥ 0);
      ``max_drawdown_duration``: the longest time spent below a previous peak (Timedelta, from the bar
      of the peak to the last bar still below it).
    * ``n_trades``; ``win_rate``: share of trades with pnl > 0; ``profit_factor``: gross profit / gross
      loss (inf with no losing trade, NaN with no trade); ``exposure``: share of bars holding a position.
    * ``ppy``: the bars per year used (from :func:`periods_per_year` unless given).
    """
    eq = equity.to_numpy(dtype=np.float64, copy=False)
    n = eq.shape[0]
    index = equity.index
    if not isinstance(index, pd.DatetimeIndex):
        raise TypeError("compute_stats: equity must have a DatetimeIndex")
    ts = _ns(index)
    ppy = periods_per_year(index) if ppy is None else float(ppy)
    final = float(eq[-1]) if n else float(capital)
    out: dict[str, float | int | pd.Timedelta] = {}
    out["total_pnl"] = final - capital
    out["total_return"] = final / capital - 1.0
    if n >= 2 and ppy == ppy:
        years = (int(ts[-1] - ts[0]) + YEAR.value / ppy) / YEAR.value
        out["cagr"] = (final / capital) ** (1.0 / years) - 1.0 if final > 0 and years > 0 else math.nan
    else:
        out["cagr"] = math.nan
    if n:
        r = np.empty(n)
        r[0] = eq[0] / capital
        np.divide(eq[1:], eq[:-1], out=r[1:])
        r -= 1.0
        mean = float(r.mean())
        sd = float(r.std(ddof=1)) if n > 1 else math.nan
        neg = np.minimum(r, 0.0, out=r)  # r is not needed any more
        down = math.sqrt(float(np.dot(neg, neg)) / n)
        root = math.sqrt(ppy) if ppy == ppy else math.nan
        out["sharpe"] = mean / sd * root if sd > 0 else math.nan
        out["sortino"] = mean / down * root if down > 0 else math.nan
        peak = np.maximum.accumulate(eq)
        np.maximum(peak, capital, out=peak)
        at_peak = np.flatnonzero(eq >= peak)
        dd = np.subtract(peak, eq, out=r)
        dd /= peak
        out["max_drawdown"] = float(dd.max())
        out["max_drawdown_duration"] = _longest_underwater(ts, at_peak)
    else:
        out.update(sharpe=math.nan, sortino=math.nan, max_drawdown=0.0,
                   max_drawdown_duration=pd.Timedelta(0))
    nt = int(pnl.shape[0])
    out["n_trades"] = nt
    wins = pnl[pnl > 0]
    losses = pnl[pnl < 0]
    out["win_rate"] = wins.shape[0] / nt if nt else math.nan
    gross_loss = float(-losses.sum())
    out["profit_factor"] = (float(wins.sum()) / gross_loss if gross_loss > 0 else math.inf) if nt else math.nan
    out["exposure"] = float(np.count_nonzero(positions)) / n if n else 0.0
    out["ppy"] = ppy
    return out


def _longest_underwater(ts: np.ndarray, at_peak: np.ndarray) -> pd.Timedelta:
    """Longest time from a bar at its running peak to the last bar before the next one at a peak (or the
    end); before the first peak, from the first bar. ``at_peak``: sorted positions of bars at a peak."""
    n = ts.shape[0]
    starts = np.concatenate(([0], at_peak)) if (at_peak.shape[0] == 0 or at_peak[0] > 0) else at_peak
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:] - 1
    ends[-1] = n - 1
    return pd.Timedelta(int((ts[ends] - ts[starts]).max()), unit="ns")
