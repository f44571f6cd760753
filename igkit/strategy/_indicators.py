"""Causal indicators on numpy arrays for the built-in strategies.

Every function is causal and prefix-stable: the value at bar ``t`` depends on bars ``≤ t`` only and is
computed by a single forward pass, so a longer history never changes an earlier value (the no-look-ahead
tests rely on this). Undefined values are NaN.

The window indicators (:func:`rolling_mean`, :func:`rolling_std`, :func:`rolling_max`, :func:`rolling_min`)
are also window-stable: a bar's value is computed from its own window only, bit for bit the same whatever
history precedes it, so the live engine can keep just the bars a window needs. The path-dependent parts
(Wilder's averages in :func:`rsi_run`, the held position in :func:`hold_state`) take their state at the
bar before the first one given and hand it back, so a computation split anywhere gives the same bits as
one pass over everything.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

__all__ = ["RsiCarry", "hold_state", "rolling_max", "rolling_mean", "rolling_min", "rolling_std", "rsi", "rsi_run",
           "window_sums"]


def window_sums(y: np.ndarray, widths: tuple[int, ...]) -> dict[int, np.ndarray]:
    """Sums of every window of each width in ``widths``: ``out[w][k] = y[k] + ... + y[k + w - 1]``.

    Built by doubling (windows of 1, 2, 4, ... bars, each the sum of two halves) and adding the powers
    of two that make up ``w``: O(log w) vectorised passes, and each sum is a fixed tree over its own
    window only, so the value is the same whatever history comes before (a live engine with a short
    window of bars computes exactly what a backtest over years does). Arrays are ``len(y) - w + 1`` long
    (empty when the window does not fit).
    """
    n = y.shape[0]
    top = max(widths)
    powers: dict[int, np.ndarray] = {1: y}
    h = 1
    while 2 * h <= top:
        p = powers[h]
        m = max(n - 2 * h + 1, 0)
        powers[2 * h] = np.add(p[:m], p[h : h + m])
        h *= 2
    out: dict[int, np.ndarray] = {}
    for w in widths:
        m = max(n - w + 1, 0)
        bits = [1 << k for k in range(w.bit_length() - 1, -1, -1) if w >> k & 1]
        acc = powers[bits[0]][:m].copy() if len(bits) > 1 else powers[bits[0]][:m]
        offset = bits[0]
        for bit in bits[1:]:
            acc += powers[bit][offset : offset + m]
            offset += bit
        out[w] = acc
    return out


def rolling_mean(x: np.ndarray, n: int) -> np.ndarray:
    """Simple moving average over ``n`` bars (NaN for the first ``n - 1``), from :func:`window_sums`."""
    out = np.full(x.shape[0], np.nan)
    if x.shape[0] >= n:
        np.divide(window_sums(x, (n,))[n], n, out=out[n - 1 :])
    return out


def rolling_max(x: np.ndarray, n: int) -> np.ndarray:
    """Highest value of the last ``n`` bars including the current one (NaN for the first ``n - 1``)."""
    return pd.Series(x).rolling(n, min_periods=n).max().to_numpy()


def rolling_min(x: np.ndarray, n: int) -> np.ndarray:
    """Lowest value of the last ``n`` bars including the current one (NaN for the first ``n - 1``)."""
    return pd.Series(x).rolling(n, min_periods=n).min().to_numpy()


def rolling_std(x: np.ndarray, n: int) -> np.ndarray:
    """Population standard deviation (ddof=0) over ``n`` bars (NaN for the first ``n - 1``).

    Two passes per window: its mean (:func:`window_sums`), then the squared deviations from it added in
    a fixed order, one vectorised pass per bar of the window. Unlike a running (add one, drop one)
    variance, each value depends on its own window only (window-stable) and there is no cancellation.
    """
    out = np.full(x.shape[0], np.nan)
    m = x.shape[0] - n + 1
    if m <= 0:
        return out
    mean = window_sums(x, (n,))[n] / n
    acc = np.zeros(m)
    for k in range(n):
        d = x[k : k + m] - mean
        d *= d
        acc += d
    acc /= n
    np.sqrt(acc, out=out[n - 1 :])
    return out


class RsiCarry(NamedTuple):
    """Wilder's averages after a bar, to continue :func:`rsi_run` from the next one."""

    gain: float = float("nan")  # average gain (NaN before the first price change)
    loss: float = float("nan")  # average loss
    changes: int = 0  # price changes seen so far
    close: float = float("nan")  # the bar's close


def _wilder(x: np.ndarray, n: int, seed: np.ndarray) -> np.ndarray:
    """Wilder's exponential averages (alpha = 1/n) of each column of ``x``, continuing from ``seed`` (the
    averages at the bar before; NaN: none yet, the first observation starts them). pandas' ``adjust=False``
    recurrence keeps no state but the last average, so seeding it with that average continues a longer run
    bit for bit."""
    rows = np.concatenate((seed[None, :], x))
    frame = pd.DataFrame(rows).ewm(alpha=1.0 / n, adjust=False, ignore_na=True).mean()
    return frame.to_numpy()[1:]


def rsi_run(close: np.ndarray, n: int, carry: RsiCarry | None = None) -> tuple[np.ndarray, RsiCarry]:
    """Wilder's RSI of ``close`` continuing from ``carry`` (the state after the bar before ``close[0]``;
    None: ``close`` is the whole series), and the state after the last bar. See :func:`rsi`."""
    c = carry if carry is not None else RsiCarry()
    if close.shape[0] == 0:
        return np.empty(0), c
    d = np.diff(close, prepend=c.close)
    g = np.where(d > 0, d, 0.0)
    lo = np.where(d < 0, -d, 0.0)
    gap = np.isnan(d)
    g[gap] = np.nan
    lo[gap] = np.nan
    avg = _wilder(np.column_stack((g, lo)), n, np.array([c.gain, c.loss]))
    ag, al = avg[:, 0], avg[:, 1]
    changes = c.changes + np.cumsum(~gap)
    total = ag + al
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(total > 0, 100.0 * ag / total, 50.0)
    out[np.isnan(total) | (changes < n)] = np.nan
    return out, RsiCarry(float(ag[-1]), float(al[-1]), int(changes[-1]), float(close[-1]))


def rsi(close: np.ndarray, n: int) -> np.ndarray:
    """Wilder's RSI in [0, 100]: exponential averages (alpha = 1/n) of gains and losses.

    The first ``n`` bars are NaN (bar ``n`` is the first with ``n`` price changes). A bar with no losses
    at all in its average reads 100, one with no gains 0, one with neither 50.
    """
    return rsi_run(close, n)[0]


def hold_state(
    long_entry: np.ndarray, short_entry: np.ndarray, long_exit: np.ndarray, short_exit: np.ndarray,
    initial: int = 0,
) -> np.ndarray:
    """Positions of an enter-and-hold rule, vectorised: int8 in {-1, 0, +1}.

    At each bar an entry (long wins if both) sets the position; otherwise a long stays long until a
    ``long_exit`` bar and a short stays short until a ``short_exit`` bar, then it is flat until the next
    entry. Equivalent to the loop ``pos = +1 if long_entry else -1 if short_entry else (0 if exit else pos)``
    starting from ``pos = initial`` (the position held at the bar before the first one).
    """
    n = long_entry.shape[0]
    idx = np.arange(n)
    entry = np.where(long_entry, 1, np.where(short_entry, -1, 0)).astype(np.int8)
    last_entry = np.maximum.accumulate(np.where(entry != 0, idx, -1))
    direction = np.where(last_entry >= 0, entry[np.maximum(last_entry, 0)], int(initial))
    last_lx = np.maximum.accumulate(np.where(long_exit, idx, -1))
    last_sx = np.maximum.accumulate(np.where(short_exit, idx, -1))
    exited = np.where(direction > 0, last_lx > last_entry, last_sx > last_entry)
    return np.where(exited, 0, direction).astype(np.int8)
