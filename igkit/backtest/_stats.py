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


def periods_per_year(index: pd.DatetimeIndex) -> float:
    """Bars per year from the median spacing of ``index`` (NaN with fewer than two bars)."""
    if len(index) < 2:
        return math.nan
    step = np.median(np.diff(index.as_unit("ns").asi8))
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
    ts = index.as_unit("ns").asi8
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
        prev = np.empty(n)
        prev[0] = capital
        prev[1:] = eq[:-1]
        r = eq / prev - 1.0
        mean = float(r.mean())
        sd = float(r.std(ddof=1)) if n > 1 else math.nan
        down = float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2)))
        root = math.sqrt(ppy) if ppy == ppy else math.nan
        out["sharpe"] = mean / sd * root if sd > 0 else math.nan
        out["sortino"] = mean / down * root if down > 0 else math.nan
        peak = np.maximum.accumulate(np.concatenate(([capital], eq)))[1:]
        dd = (peak - eq) / peak
        out["max_drawdown"] = float(dd.max())
        at_peak = eq >= peak
        last_peak = np.maximum.accumulate(np.where(at_peak, np.arange(n), -1))
        start_ns = np.where(last_peak >= 0, ts[np.maximum(last_peak, 0)], ts[0])
        out["max_drawdown_duration"] = pd.Timedelta(int((ts - start_ns).max()), unit="ns")
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
