"""The built-in strategies: SMA crossover, Donchian breakout, RSI reversion and Bollinger bands.

Each reads the ``mid`` columns of the candles, is vectorised with numpy (see ``_indicators``), and is
causal: the signal of bar t uses bars ≤ t only.

Live, one bar at a time (``Strategy.step``): ``SmaCross`` depends on its windows only (``lookback`` =
``slow``). The three enter-and-hold strategies hold a position since some earlier bar, and RSI's averages
reach back to the first bar, so they carry that state from bar to bar (the position; Wilder's averages) and
compute only the newest bar from a window of ``lookback`` bars: the same bits as ``signals`` over every bar,
at a cost that does not grow with the history. A subclass that replaces ``signals`` gets the plain live path
back (``signals`` over every bar), since the carried state follows the built-in's own rules.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from igkit.strategy._base import Param, Strategy
from igkit.strategy._indicators import (
    RsiCarry,
    hold_state,
    rolling_max,
    rolling_mean,
    rolling_min,
    rolling_std,
    rsi_run,
    window_sums,
)

__all__ = ["BollingerBands", "DonchianBreakout", "RsiReversion", "SmaCross"]

# Two moving averages closer than this (relative to the price) count as equal: summation rounding
# (~1e-15 relative) must not flip a signal, and real quotes differ far more.
_EQ_REL = 1e-10
_CHUNK = 1 << 15  # bars per chunk in SmaCross: 256 KiB per float scratch array

Rules = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # long entry, short entry, long exit, short exit


def _replaced(strategy: Strategy, owner: type[Strategy]) -> bool:
    """True when a subclass replaced ``owner.signals``: its live ``step`` then falls back to the plain one
    (``signals`` over every bar, ``lookback`` None), since the carried state follows ``owner``'s rules."""
    return type(strategy).signals is not owner.signals


class _Hold(Strategy):
    """An enter-and-hold strategy: entry and exit conditions per bar (:meth:`_rules`, window-stable) and
    :func:`hold_state`; live, the held position is the state carried from bar to bar."""

    def _rules(self, candles: pd.DataFrame) -> Rules:
        raise NotImplementedError

    def _window(self) -> int:
        raise NotImplementedError

    @property
    def lookback(self) -> int | None:
        return None if _replaced(self, _Hold) else self._window()

    def signals(self, candles: pd.DataFrame) -> pd.Series:
        pos = hold_state(*self._rules(candles)) if len(candles) else np.empty(0, np.int8)
        return pd.Series(pos, index=candles.index, name="signal", copy=False)

    def start_state(self, candles: pd.DataFrame) -> int:
        return int(self.signals(candles).to_numpy()[-1]) if len(candles) else 0

    def step(self, candles: pd.DataFrame, state: Any) -> tuple[int, Any]:
        if _replaced(self, _Hold):
            return super().step(candles, state)
        li, si, lx, sx = (r[-1:] for r in self._rules(candles))
        pos = int(hold_state(li, si, lx, sx, initial=int(state or 0))[0])
        return pos, pos


class SmaCross(Strategy):
    """Trend following on two simple moving averages of ``mid_close``.

    +1 while SMA(``fast``) > SMA(``slow``), -1 while below, 0 while either is undefined (the first
    ``slow - 1`` bars) or the two are equal (closer than 1e-10 of the price: rounding noise). Each
    average depends on its own window only, so any history that covers a bar's window gives it the same
    signal.
    Always in the market after the warm-up: a crossing reverses the position. Warm-up: ``slow`` bars.
    """

    name = "sma"
    description = "long when the fast SMA of mid_close is above the slow one, short when below"
    fast = Param(20, min=1, lt="slow", doc="bars in the fast moving average")
    slow = Param(50, min=2, doc="bars in the slow moving average")

    @property
    def warmup(self) -> int:
        return self.slow

    @property
    def lookback(self) -> int:
        return self.slow

    @property
    def columns_step(self) -> bool:
        return not _replaced(self, SmaCross)

    def signals(self, candles: pd.DataFrame) -> pd.Series:
        close = self.column(candles, "mid_close")
        n = close.shape[0]
        sig = np.zeros(n, dtype=np.int8)
        if n >= self.slow:
            _sma_cross(close, self.fast, self.slow, sig)
        return pd.Series(sig, index=candles.index, name="signal", copy=False)

    def step(self, candles: Any, state: Any) -> tuple[int, Any]:
        if _replaced(self, SmaCross):
            return super().step(candles, state)
        close = self.column(candles, "mid_close")
        if close.shape[0] < self.slow:
            return 0, state
        sig = np.zeros(self.slow, dtype=np.int8)  # the last bar's windows only: the bits signals() gives it
        _sma_cross(close[-self.slow :], self.fast, self.slow, sig)
        return int(sig[-1]), state


class DonchianBreakout(_Hold):
    """Turtle-style channel breakout on the ``mid`` prices.

    Enters long when ``mid_close`` rises above the highest ``mid_high`` of the previous ``period`` bars
    (the current bar excluded), short when it falls below their lowest ``mid_low``. A long is held until
    ``mid_close`` falls below the lowest ``mid_low`` of the previous ``exit_period`` bars (then flat), or
    an opposite breakout reverses it; a short likewise with the highest ``mid_high``.
    Warm-up: ``period + 1`` bars; live it carries the position and reads the last ``period + 1`` bars.
    """

    name = "donchian"
    description = "breakout of the N-bar high/low channel, exit on the shorter opposite channel"
    period = Param(20, min=2, doc="bars in the entry channel")
    exit_period = Param(10, min=1, le="period", doc="bars in the exit channel")

    @property
    def warmup(self) -> int:
        return self.period + 1

    def _window(self) -> int:
        return self.period + 1

    def _rules(self, candles: pd.DataFrame) -> Rules:
        close = self.column(candles, "mid_close")
        high = self.column(candles, "mid_high")
        low = self.column(candles, "mid_low")
        upper, lower = _previous(rolling_max(high, self.period)), _previous(rolling_min(low, self.period))
        xup = _previous(rolling_max(high, self.exit_period))
        xlow = _previous(rolling_min(low, self.exit_period))
        with np.errstate(invalid="ignore"):
            return close > upper, close < lower, close < xlow, close > xup


class RsiReversion(Strategy):
    """Mean reversion on Wilder's RSI of ``mid_close``.

    Enters long when RSI(``period``) < ``lower`` (oversold), short when RSI > ``upper`` (overbought);
    a long is closed once RSI ≥ ``exit`` and a short once RSI ≤ ``exit`` (flat until the next entry).
    Needs ``0 < lower < exit < upper < 100``. Warm-up: ``period + 1`` bars. Live it carries the position
    and Wilder's averages (:class:`RsiState`) and reads the newest bar only.
    """

    name = "rsi"
    description = "buy oversold / sell overbought RSI, exit at the middle level"
    period = Param(14, min=2, doc="RSI smoothing period (Wilder)")
    lower = Param(30.0, min=0.0, max=100.0, lt="exit", doc="oversold level: enter long below it")
    upper = Param(70.0, min=0.0, max=100.0, gt="exit", doc="overbought level: enter short above it")
    exit = Param(50.0, min=0.0, max=100.0, doc="level at which a position is closed")

    @property
    def warmup(self) -> int:
        return self.period + 1

    @property
    def lookback(self) -> int | None:
        return None if _replaced(self, RsiReversion) else 1

    def _positions(self, close: np.ndarray, state: RsiState | None) -> tuple[np.ndarray, RsiState]:
        pos0, carry = (0, None) if state is None else (state.position, state.carry)
        r, carry = rsi_run(close, self.period, carry)
        if not close.shape[0]:
            return np.empty(0, np.int8), RsiState(pos0, carry)
        with np.errstate(invalid="ignore"):
            pos = hold_state(r < self.lower, r > self.upper, r >= self.exit, r <= self.exit, initial=pos0)
        return pos, RsiState(int(pos[-1]), carry)

    def signals(self, candles: pd.DataFrame) -> pd.Series:
        pos, _ = self._positions(self.column(candles, "mid_close"), None)
        return pd.Series(pos, index=candles.index, name="signal", copy=False)

    def start_state(self, candles: pd.DataFrame) -> RsiState:
        return self._positions(self.column(candles, "mid_close"), None)[1]

    def step(self, candles: pd.DataFrame, state: Any) -> tuple[int, Any]:
        if _replaced(self, RsiReversion):
            return super().step(candles, state)
        _, new = self._positions(self.column(candles, "mid_close")[-1:], state)
        return new.position, new


class RsiState(NamedTuple):
    """What :class:`RsiReversion` carries from bar to bar live: the position and Wilder's averages."""

    position: int = 0
    carry: RsiCarry = RsiCarry()


class BollingerBands(_Hold):
    """Mean reversion on Bollinger bands of ``mid_close``.

    Middle band: SMA(``period``); bands: middle ± ``width`` × the population standard deviation over the
    same bars. Enters long when ``mid_close`` closes below the lower band, short above the upper band;
    a long is closed once the close is back at or above the middle band, a short at or below it.
    Warm-up: ``period`` bars; live it carries the position and reads the last ``period`` bars.
    """

    name = "bollinger"
    description = "fade closes outside the bands, exit at the middle band"
    period = Param(20, min=2, doc="bars in the moving average and standard deviation")
    width = Param(2.0, min=0.1, max=10.0, doc="band half-width in standard deviations")

    @property
    def warmup(self) -> int:
        return self.period

    def _window(self) -> int:
        return self.period

    def _rules(self, candles: pd.DataFrame) -> Rules:
        close = self.column(candles, "mid_close")
        mid = rolling_mean(close, self.period)
        dev = self.width * rolling_std(close, self.period)
        with np.errstate(invalid="ignore"):
            return close < mid - dev, close > mid + dev, close >= mid, close <= mid


def _sma_cross(close: np.ndarray, a: int, b: int, sig: np.ndarray) -> None:
    """Write sign(SMA_a - SMA_b) of ``close`` into ``sig`` from bar ``b - 1`` on (``a < b <= len``).

    Compares ``b * sum_a - a * sum_b`` (that is ``a * b * (SMA_a - SMA_b)``) with window sums from
    :func:`window_sums`, in cache-sized chunks of bars (each chunk with the ``b - 1`` bars before it),
    so every pass stays in L2. Values depend only on each bar's own windows, not on the chunking nor on
    how much history precedes them.
    """
    n = close.shape[0]
    fa, fb = float(a), float(b)
    for i in range(b - 1, n, _CHUNK):
        j = min(i + _CHUNK, n)
        sums = window_sums(close[i - b + 1 : j], (a, b))
        sa, sb = sums[a][b - a :], sums[b]  # both now start at the window ending at bar i
        diff = np.multiply(sa, fb)
        tol = np.multiply(sb, fa)
        diff -= tol
        np.abs(tol, out=tol)
        tol *= _EQ_REL
        out = sig[i:j]
        np.greater(diff, tol, out=out.view(np.bool_))
        np.negative(tol, out=tol)
        out -= diff < tol


def _previous(x: np.ndarray) -> np.ndarray:
    """``x`` shifted one bar later (the value of the previous bar), NaN first."""
    out = np.empty_like(x)
    out[:1] = np.nan
    out[1:] = x[:-1]
    return out
