"""Position sizing shared by the backtester and the live engine.

Hand-written because the formulas are two lines each and must be identical in research and live:

* :func:`fixed_fractional` — the size at which hitting the stop loses ``risk_fraction`` of equity:
  ``equity × risk_fraction / (stop_distance × value_per_point)``, rounded DOWN to the size step, 0 below
  the minimum size;
* :func:`atr` / :func:`atr_size` — the stop distance is ``k × ATR(n)``, where ATR is the simple mean of
  the last ``n`` true ranges up to and including bar ``i`` (no look-ahead);
* :class:`FixedFractional`, :class:`ATRSizing` — callables with the backtester's sizing hook signature
  ``(candles, i, direction, stop_distance) -> size``. The backtester asks at the entry bar ``i`` (filled
  at bar ``i``'s open, decided at bar ``i - 1``'s close), so these read candles up to ``i - 1`` only.
  The hook receives no equity: they size from a fixed ``equity`` (no compounding), which is what a
  risk budget set in account currency means.

Candles use igkit's schema (``mid_high``/``mid_low``/``mid_close``; ``high``/``low``/``close`` also work).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from igkit.errors import DataError

__all__ = ["ATRSizing", "FixedFractional", "atr", "atr_size", "fixed_fractional", "round_down"]


def _positive(value: float, what: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise ValueError(f"{what} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{what} must be a finite number {'>=' if allow_zero else '>'} 0, got {value!r}")
    return v


def round_down(size: float, step: float | None = None, min_size: float = 0.0) -> float:
    """``size`` rounded DOWN to a multiple of ``step`` (float noise tolerated); 0.0 below ``min_size``."""
    if not math.isfinite(size) or size <= 0:
        return 0.0
    if step is not None:
        size = round(math.floor(size / step + 1e-9) * step, 10)
    return size if size > 0 and size >= min_size - 1e-12 else 0.0


def fixed_fractional(
    equity: float,
    risk_fraction: float,
    stop_distance: float,
    value_per_point: float = 1.0,
    *,
    min_size: float = 0.0,
    step: float | None = None,
) -> float:
    """The size so that a stop ``stop_distance`` away (price units) loses ``risk_fraction`` of ``equity``.

    ``size = equity × risk_fraction / (stop_distance × value_per_point)``, rounded DOWN to ``step`` (so the
    risk never exceeds the budget), 0.0 if that is below ``min_size``. Non-positive equity gives 0.0.
    """
    risk_fraction = _positive(risk_fraction, "risk_fraction")
    if risk_fraction > 1:
        raise ValueError(f"risk_fraction must be <= 1, got {risk_fraction!r}")
    stop_distance = _positive(stop_distance, "stop_distance")
    value_per_point = _positive(value_per_point, "value_per_point")
    min_size = _positive(min_size, "min_size", allow_zero=True)
    if step is not None:
        step = _positive(step, "step")
    if not math.isfinite(equity):
        raise ValueError(f"equity must be finite, got {equity!r}")
    if equity <= 0:
        return 0.0
    return round_down(equity * risk_fraction / (stop_distance * value_per_point), step, min_size)


def _hlc(candles: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    for h, lo, c in (("mid_high", "mid_low", "mid_close"), ("high", "low", "close")):
        if h in candles.columns and lo in candles.columns and c in candles.columns:
            return (candles[h].to_numpy(np.float64), candles[lo].to_numpy(np.float64),
                    candles[c].to_numpy(np.float64))
    raise DataError(f"sizing: candles need mid_high/mid_low/mid_close (or high/low/close) columns, "
                    f"got {list(candles.columns)[:8]}")


def atr(candles: pd.DataFrame, n: int = 14) -> pd.Series:
    """The average true range: the simple mean of the last ``n`` true ranges; NaN for the first ``n`` bars.

    True range of bar j = max(high_j − low_j, |high_j − close_{j−1}|, |low_j − close_{j−1}|), so bar j's
    ATR needs bars j−n … j.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"atr: n must be an int >= 1, got {n!r}")
    h, lo, c = _hlc(candles)
    tr = np.full(h.shape[0], np.nan)
    if h.shape[0] > 1:
        prev = c[:-1]
        tr[1:] = np.maximum(h[1:] - lo[1:], np.maximum(np.abs(h[1:] - prev), np.abs(lo[1:] - prev)))
    out = pd.Series(tr, index=candles.index).rolling(n, min_periods=n).mean()
    return out.rename(f"atr{n}")


def _atr_at(candles: pd.DataFrame, i: int, n: int) -> float:
    if i < n:
        return math.nan
    window = candles.iloc[i - n: i + 1]
    h, lo, c = _hlc(window)
    prev = c[:-1]
    tr = np.maximum(h[1:] - lo[1:], np.maximum(np.abs(h[1:] - prev), np.abs(lo[1:] - prev)))
    return float(tr.mean())


def atr_size(
    candles: pd.DataFrame,
    i: int,
    *,
    equity: float,
    risk_fraction: float,
    n: int = 14,
    k: float = 2.0,
    value_per_point: float = 1.0,
    min_size: float = 0.0,
    step: float | None = None,
) -> float:
    """:func:`fixed_fractional` with stop distance ``k × ATR(n)`` from bars up to and including ``i``.

    0.0 when there is not enough history yet (``i < n``) or the ATR is 0.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"atr_size: n must be an int >= 1, got {n!r}")
    if not (0 <= i < len(candles)):
        raise ValueError(f"atr_size: bar i={i} is outside the {len(candles)} candles")
    k = _positive(k, "k")
    a = _atr_at(candles, i, n)
    if not math.isfinite(a) or a <= 0:
        return 0.0
    return fixed_fractional(equity, risk_fraction, k * a, value_per_point, min_size=min_size, step=step)


@dataclass(frozen=True)
class FixedFractional:
    """Sizing hook: risk ``risk_fraction`` of ``equity`` over the backtest's (or engine's) stop distance.

    ``default_stop`` (price units) is used when the order has no stop; without either, sizing raises.
    """

    equity: float = 10_000.0
    risk_fraction: float = 0.01
    value_per_point: float = 1.0
    min_size: float = 0.0
    step: float | None = None
    default_stop: float | None = None

    def __call__(self, candles: pd.DataFrame, i: int, direction: int, stop_distance: float | None) -> float:
        stop = stop_distance if stop_distance is not None else self.default_stop
        if stop is None:
            raise DataError("FixedFractional sizing needs a stop distance: give the backtest a stop= or set "
                            "default_stop")
        return fixed_fractional(self.equity, self.risk_fraction, stop, self.value_per_point,
                                min_size=self.min_size, step=self.step)


@dataclass(frozen=True)
class ATRSizing:
    """Sizing hook: stop distance ``k × ATR(n)`` from the bars *before* the entry bar (``i − 1`` and earlier).

    With ``use_stop=True`` the backtest's own stop distance wins when it has one. Returns 0.0 (the
    backtester then skips the entry) until ``n + 1`` bars of history exist.
    """

    equity: float = 10_000.0
    risk_fraction: float = 0.01
    n: int = 14
    k: float = 2.0
    value_per_point: float = 1.0
    min_size: float = 0.0
    step: float | None = None
    use_stop: bool = False

    def __call__(self, candles: pd.DataFrame, i: int, direction: int, stop_distance: float | None) -> float:
        if self.use_stop and stop_distance is not None:
            return fixed_fractional(self.equity, self.risk_fraction, stop_distance, self.value_per_point,
                                    min_size=self.min_size, step=self.step)
        if i < 1:
            return 0.0
        return atr_size(candles, i - 1, equity=self.equity, risk_fraction=self.risk_fraction, n=self.n, k=self.k,
                        value_per_point=self.value_per_point, min_size=self.min_size, step=self.step)
