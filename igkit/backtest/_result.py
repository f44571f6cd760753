"""``BacktestResult``: the frames a backtest produces, its statistics and its plot."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pandas as pd

from igkit.backtest._engine import Book, mark_to_market
from igkit.backtest._stats import compute_stats

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["TRADE_COLUMNS", "BacktestResult"]

log = logging.getLogger(__name__)

TRADE_COLUMNS = (
    "entry_time",
    "exit_time",
    "direction",
    "size",
    "entry_price",
    "exit_price",
    "pnl",
    "exit_reason",
    "entry_bar",
    "exit_bar",
)


@dataclass(eq=False)
class BacktestResult:
    """What :func:`igkit.backtest.backtest` returns.

    Attributes:
        trades: one row per round trip, columns ``entry_time`` (bar open time of the entry fill),
            ``exit_time`` (open time of the bar whose open filled a signal exit, of the bar during which a
            stop/take-profit filled, or of the last bar for an ``"end"`` close), ``direction`` (+1/-1),
            ``size`` (units), ``entry_price``/``exit_price`` (fill prices, spread and slippage included),
            ``pnl`` (net of commission, account currency), ``exit_reason`` (categorical: "signal",
            "stop", "take_profit", "end"), ``entry_bar``/``exit_bar`` (positions in the candles).
        equity: per bar, cash + the open position marked at the side it would close at (bid_close for a
            long, ask_close for a short), starting from ``capital``.
        positions: per bar, signed units held at the bar's close (the last bar shows the position that
            the end-of-data close then valued).
        signals: the strategy's target positions (int8), as decided at each bar's close.
        capital: starting equity.
        strategy: the strategy's repr; settings: the backtest's arguments.
        book: the engine's arrays (trades, P&L, prices) behind ``equity`` and ``positions``, which are
            computed from it on first access, like the statistics.
    """

    trades: pd.DataFrame
    signals: pd.Series
    capital: float
    strategy: str
    settings: dict[str, Any]
    candles: pd.DataFrame = field(repr=False)
    book: Book = field(repr=False)

    @cached_property
    def _marked(self) -> tuple[pd.Series, pd.Series]:
        pos, equity = mark_to_market(self.book)
        index = self.candles.index
        return (
            pd.Series(pos, index=index, name="position", copy=False),
            pd.Series(equity, index=index, name="equity", copy=False),
        )

    @property
    def equity(self) -> pd.Series:
        """Cash + the open position marked at the side it would close at, per bar (computed on first use)."""
        return self._marked[1]

    @property
    def positions(self) -> pd.Series:
        """Signed units held at each bar's close (computed on first use)."""
        return self._marked[0]

    @cached_property
    def stats(self) -> dict[str, Any]:
        """Statistics (see :func:`igkit.backtest.compute_stats`), computed on first access."""
        return compute_stats(self.equity, self.book.pnl, self.positions.to_numpy(), self.capital)

    def plot(
        self,
        start: object = None,
        end: object = None,
        *,
        side: str = "mid",
        max_bars: int = 5000,
    ) -> go.Figure:
        """Candles (``side``: mid, bid or ask) with signals, entries and exits, over the equity curve.

        ``start``/``end`` (anything ``DataFrame.loc`` takes on a UTC index) narrow the window; a window
        longer than ``max_bars`` keeps its last ``max_bars`` bars (browsers choke on millions of candles).
        """
        from igkit.plotting import backtest_figure  # plotly is imported on first plot only

        candles = self.candles.loc[start:end]
        if len(candles) > max_bars:
            log.info("plot: showing the last %d of %d bars", max_bars, len(candles))
            candles = candles.iloc[-max_bars:]
        if len(candles):
            lo, hi = candles.index[0], candles.index[-1]
            t = self.trades
            trades = t[(t["entry_time"] >= lo) & (t["entry_time"] <= hi)]
        else:
            trades = self.trades.iloc[:0]
        return backtest_figure(
            candles,
            self.signals.loc[candles.index],
            trades,
            self.equity.loc[candles.index],
            side=side,
            title=f"{self.strategy}: pnl {self.equity.iloc[-1] - self.capital:,.2f}" if len(self.equity) else "",
        )

    def __repr__(self) -> str:
        n = len(self.candles)
        span = f"{self.candles.index[0]} → {self.candles.index[-1]}" if n else "no bars"
        pnl = float(self.book.pnl.sum())
        return f"<BacktestResult {self.strategy}: {n} bars ({span}), {len(self.trades)} trades, pnl {pnl:,.2f}>"

    def summary(self) -> pd.Series:
        """The statistics as a Series (handy in a notebook)."""
        return pd.Series(self.stats, name=self.strategy)
