"""Backtests: run a strategy's signals over candles with IG-like bid/ask fills; stats and plots.

* :func:`backtest` → :class:`BacktestResult` (``trades``, ``equity``, ``positions``, ``signals``,
  ``stats``, ``plot()``)
* :func:`compute_stats` — the statistics alone, for any equity curve
* :class:`Sizing` — the protocol of a position sizing rule

Fill model (the rules every result follows):

1. A target decided at bar t's close is traded at bar t+1's open on the right side: buy at
   ``ask_open``, sell at ``bid_open``, so the spread is paid on every round trip. The first bar is
   always flat. A reversal closes the position, then opens the opposite one, at the same open.
2. ``slippage`` (price units) moves every fill against the trader: buys ``+ slippage``, sells
   ``- slippage`` (entries, signal exits and stop/take-profit exits).
3. Commission, in account currency, is charged on every fill (the entry and the exit of each trade):
   ``commission × size + commission_per_trade`` — ``commission`` per unit of size, per side, and
   ``commission_per_trade`` a flat fee per fill (a round trip pays it twice). Both are in the trades'
   ``pnl``, the equity curve (at the bar of each fill) and every statistic.
4. ``stop``/``take_profit`` are distances in price units from the entry fill price (or in pips with
   ``pip=``, the instrument's pip size). They are checked in every bar the position is held, the entry
   bar included, on the side it would close at: a long exits when ``bid_low ≤ entry − stop`` or
   ``bid_high ≥ entry + take_profit``, a short when ``ask_high ≥ entry + stop`` or ``ask_low ≤ entry −
   take_profit``. If both are touched in one bar the stop wins. The fill is at the level, or at the bar's
   open if the open is already beyond it (a gap), less slippage.
5. After a stop or take-profit exit the position stays flat until the strategy's target *changes*;
   then the new target is taken at the next open (re-entry needs a new signal, not a persisting one).
6. A position still open after the last bar is closed at that bar's close: ``bid_close`` for a long,
   ``ask_close`` for a short, exit reason ``"end"``. This close is a valuation: no slippage and no
   commission, so the last equity equals ``capital`` + the sum of the trades' pnl.
7. ``sizing(candles, i, direction, stop_distance) -> size`` (or ``None`` for a fixed ``size``) is asked
   at each entry; a size ≤ 0 skips that entry (flat until the target changes, as after a stop).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd

from igkit.backtest._engine import REASONS, Sizing, run_engine
from igkit.backtest._result import TRADE_COLUMNS, BacktestResult
from igkit.backtest._stats import compute_stats, periods_per_year
from igkit.errors import DataError
from igkit.strategy import Strategy

__all__ = ["TRADE_COLUMNS", "BacktestResult", "Sizing", "backtest", "compute_stats", "periods_per_year"]

log = logging.getLogger(__name__)

_REASON_DTYPE = pd.CategoricalDtype(list(REASONS))


def _distance(value: float | None, what: str, pip: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise DataError(f"backtest: {what} must be a number or None, got {value!r}")
    v = float(value) * (pip if pip is not None else 1.0)
    if not np.isfinite(v) or v <= 0:
        raise DataError(f"backtest: {what}={value!r} must be a positive finite distance")
    return v


def _nonneg(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise DataError(f"backtest: {what} must be a number, got {value!r}")
    v = float(value)
    if not np.isfinite(v) or v < 0:
        raise DataError(f"backtest: {what}={value!r} must be a finite number ≥ 0")
    return v


def _signals(candles: pd.DataFrame, strategy: Strategy | pd.Series) -> tuple[pd.Series, str]:
    if isinstance(strategy, Strategy):
        sig = strategy.signals(candles)
        label = repr(strategy)
    elif isinstance(strategy, pd.Series):
        sig, label = strategy, "signals"
    else:
        raise DataError(f"backtest: strategy must be a Strategy or a Series of signals, got {type(strategy)}")
    if not isinstance(sig, pd.Series) or len(sig) != len(candles):
        raise DataError(
            f"backtest: {label} returned {len(sig) if hasattr(sig, '__len__') else sig!r} signals "
            f"for {len(candles)} candles"
        )
    if not sig.index.equals(candles.index):
        raise DataError(f"backtest: the signals of {label} are not indexed like the candles")
    raw = sig.to_numpy()
    if raw.dtype.kind not in "iub" and (
        raw.dtype.kind != "f" or not np.isfinite(raw).all() or not (raw == np.round(raw)).all()
    ):
        raise DataError(f"backtest: signals of {label} must be integers in {{-1, 0, 1}}, got dtype {raw.dtype}")
    arr = raw.astype(np.int8, copy=False)
    if arr.shape[0] and (int(arr.min()) < -1 or int(arr.max()) > 1):
        raise DataError(
            f"backtest: signals of {label} must be in {{-1, 0, 1}}, got values from {raw.min()} to {raw.max()}"
        )
    if arr is not raw or sig.name != "signal":
        sig = pd.Series(arr, index=candles.index, name="signal", copy=False)
    return sig, label


def backtest(
    candles: pd.DataFrame,
    strategy: Strategy | pd.Series,
    *,
    size: float = 1.0,
    commission: float = 0.0,
    commission_per_trade: float = 0.0,
    slippage: float = 0.0,
    stop: float | None = None,
    take_profit: float | None = None,
    sizing: Sizing | Callable[..., float] | None = None,
    pip: float | None = None,
    capital: float = 10_000.0,
) -> BacktestResult:
    """Backtest ``strategy`` (or a ready Series of target signals) on ``candles`` (igkit's schema).

    Args:
        size: units per trade when ``sizing`` is None.
        commission: account currency per unit of size, per side (entry and exit).
        commission_per_trade: a flat fee in account currency per fill (entry and exit), whatever the size.
        slippage: price units against the trader on every fill.
        stop, take_profit: distances from the entry price, in price units (in pips if ``pip`` is given).
        sizing: ``(candles, i, direction, stop_distance) -> size`` asked at each entry, or None.
        pip: the pip size (e.g. 0.0001 for EURUSD): ``stop``/``take_profit`` are then in pips.
        capital: starting equity for ``equity`` and the returns.

    See the module docstring for the complete fill rules. Raises :class:`~igkit.errors.DataError` naming
    the column, argument or value that is wrong.
    """
    if not isinstance(candles, pd.DataFrame) or not isinstance(candles.index, pd.DatetimeIndex):
        raise DataError("backtest: candles must be a DataFrame with a DatetimeIndex (igkit's candle schema)")
    if len(candles) and not candles.index.is_monotonic_increasing:
        raise DataError("backtest: the candles' index must be increasing (sorted bar open times)")
    if pip is not None:
        pip = _distance(pip, "pip", None)
    size = _nonneg(size, "size")
    commission = _nonneg(commission, "commission")
    commission_per_trade = _nonneg(commission_per_trade, "commission_per_trade")
    slippage = _nonneg(slippage, "slippage")
    capital = _nonneg(capital, "capital")
    if capital == 0:
        raise DataError("backtest: capital must be > 0")
    stop_d = _distance(stop, "stop", pip)
    take_d = _distance(take_profit, "take_profit", pip)
    if sizing is not None and not callable(sizing):
        raise DataError(f"backtest: sizing must be callable (candles, i, direction, stop_distance), got {sizing!r}")
    sig, label = _signals(candles, strategy)
    book = run_engine(
        candles,
        sig.to_numpy(),
        size=size,
        commission=commission,
        commission_per_trade=commission_per_trade,
        slippage=slippage,
        stop=stop_d,
        take_profit=take_d,
        sizing=sizing,
        capital=capital,
    )
    t = book.trades
    index = candles.index
    trades = pd.DataFrame(
        {
            "entry_time": index[t.entry_bar],
            "exit_time": index[t.exit_bar],
            "direction": t.direction,
            "size": t.size,
            "entry_price": t.entry_price,
            "exit_price": t.exit_price,
            "pnl": book.pnl,
            "exit_reason": pd.Categorical.from_codes(t.reason, dtype=_REASON_DTYPE),
            "entry_bar": t.entry_bar,
            "exit_bar": t.exit_bar,
        },
        columns=list(TRADE_COLUMNS),
    )
    settings = {
        "size": size,
        "commission": commission,
        "commission_per_trade": commission_per_trade,
        "slippage": slippage,
        "stop": stop_d,
        "take_profit": take_d,
        "sizing": sizing,
        "pip": pip,
        "capital": capital,
    }
    log.debug("backtest %s: %d bars, %d trades", label, len(candles), len(trades))
    return BacktestResult(
        trades=trades,
        signals=sig,
        capital=capital,
        strategy=label,
        settings=settings,
        candles=candles,
        book=book,
    )
