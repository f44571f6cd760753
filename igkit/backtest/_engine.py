"""The backtest core: target positions → fills, trades, positions and equity, on numpy arrays.

Hand-written because this is igkit's own fill model (bid/ask sides, stops checked on bid/ask extremes,
re-entry rule) and it must be fast without a JIT: vectorbt's first call compiles for ~6 s. Two paths:

* no stop and no take-profit: fully vectorised — positions are the signals shifted one bar, trades are
  the bars where the position changes;
* stop and/or take-profit: a loop over *trades*, not bars. Each trade lives from a target change to the
  next one; numpy finds the first bar of that span whose bid/ask extreme touches the stop or the target,
  so the work is O(bars) in numpy plus O(trades) in Python.

Both paths end in a :class:`Book` (trades and their P&L); :func:`mark_to_market` turns it into per-bar
positions and equity when they are first asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol

import numpy as np
import pandas as pd

from igkit.errors import DataError

__all__ = ["REASONS", "Book", "Sizing", "Trades", "mark_to_market", "run_engine"]

REASONS = ("signal", "stop", "take_profit", "end")
_CHUNK = 1 << 15  # bars per chunk when marking to market: scratch arrays stay in L2
SIGNAL, STOP, TAKE_PROFIT, END = 0, 1, 2, 3


class Sizing(Protocol):
    """Position sizing rule: ``(candles, i, direction, stop_distance) -> size`` (units, ≥ 0).

    ``i`` is the position of the bar at whose open the entry fills (decided at bar ``i - 1``'s close);
    use candles up to ``i - 1`` (and bar ``i``'s open). ``stop_distance`` is the stop distance in price
    units, or None without a stop. A size ≤ 0 skips the entry.
    """

    def __call__(self, candles: pd.DataFrame, i: int, direction: int, stop_distance: float | None) -> float: ...


class Trades(NamedTuple):
    """One entry per trade, in time order."""

    entry_bar: np.ndarray  # int64: bar at whose open the entry filled
    exit_bar: np.ndarray  # int64: bar at whose open (signal) / during which (stop, tp) / at whose close (end)
    held_until: np.ndarray  # int64: first bar whose close no longer holds the position
    direction: np.ndarray  # int8: +1 long, -1 short
    size: np.ndarray  # float64 units
    entry_price: np.ndarray  # float64 fill price (spread and slippage included)
    exit_price: np.ndarray  # float64
    reason: np.ndarray  # int8 index into REASONS


class Prices(NamedTuple):
    bid_open: np.ndarray
    ask_open: np.ndarray
    bid_close: np.ndarray
    ask_close: np.ndarray
    bid_high: np.ndarray | None
    bid_low: np.ndarray | None
    ask_high: np.ndarray | None
    ask_low: np.ndarray | None


def prices(candles: pd.DataFrame, extremes: bool) -> Prices:
    """The price arrays the engine needs, checked: present, float, finite."""
    names = ["bid_open", "ask_open", "bid_close", "ask_close"]
    if extremes:
        names += ["bid_high", "bid_low", "ask_high", "ask_low"]
    out: dict[str, np.ndarray | None] = dict.fromkeys(Prices._fields)
    for name in names:
        if name not in candles.columns:
            raise DataError(f"backtest: candles have no column {name!r} (columns: {list(candles.columns)})")
        arr = candles[name].to_numpy(dtype=np.float64, copy=False)
        if not np.isfinite(arr.sum()):  # NaN and ±inf propagate into the sum: one cheap pass
            bad = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise DataError(f"backtest: column {name!r} has a non-finite value at {candles.index[bad]}")
        out[name] = arr
    return Prices(**out)  # type: ignore[arg-type]


def _sizes(
    sizing: Callable[..., float] | None,
    size: float,
    candles: pd.DataFrame,
    bars: np.ndarray,
    dirs: np.ndarray,
    stop: float | None,
) -> np.ndarray:
    if sizing is None:
        return np.full(bars.shape[0], size)
    out = np.empty(bars.shape[0])
    for k in range(bars.shape[0]):
        out[k] = float(sizing(candles, int(bars[k]), int(dirs[k]), stop))
    return out


def _vectorised(
    target: np.ndarray,
    p: Prices,
    candles: pd.DataFrame,
    size: float,
    slip: float,
    sizing: Callable[..., float] | None,
) -> Trades:
    """No stop, no take-profit: the position at bar i is ``target[i]`` (0 where sizing skipped the entry)."""
    n = target.shape[0]
    change = np.flatnonzero(target[1:] != target[:-1]) + 1
    seg = target[change]  # the target from each change to the next
    opens = np.flatnonzero(seg)
    sizes = _sizes(sizing, size, candles, change[opens], seg[opens], None)
    if sizing is not None and (sizes <= 0).any():  # skipped entries: flat until the target changes
        seg = seg.copy()
        seg[opens[sizes <= 0]] = 0
        sizes = sizes[sizes > 0]
    before = np.empty_like(seg)  # the target before each change (0 before the first)
    before[:1] = 0
    before[1:] = seg[:-1]
    ebars = change[seg != 0]
    edirs = seg[seg != 0]
    xbars = change[before != 0]
    xdirs = before[before != 0]
    entry_price = np.where(edirs > 0, p.ask_open[ebars] + slip, p.bid_open[ebars] - slip)
    held = np.empty(ebars.shape[0], dtype=np.int64)
    exit_price = np.empty(ebars.shape[0])
    reason = np.full(ebars.shape[0], SIGNAL, dtype=np.int8)
    m = xbars.shape[0]
    held[:m] = xbars
    exit_price[:m] = np.where(xdirs > 0, p.bid_open[xbars] - slip, p.ask_open[xbars] + slip)
    if m < ebars.shape[0]:  # the last trade is still open at the end
        d = edirs[-1]
        held[m] = n
        exit_price[m] = p.bid_close[n - 1] if d > 0 else p.ask_close[n - 1]
        reason[m] = END
    exit_bar = np.minimum(held, n - 1)
    return Trades(
        ebars.astype(np.int64),
        exit_bar.astype(np.int64),
        held,
        edirs.astype(np.int8),
        sizes,
        entry_price,
        exit_price,
        reason,
    )


def _loop(
    target: np.ndarray,
    p: Prices,
    candles: pd.DataFrame,
    size: float,
    slip: float,
    stop: float | None,
    take: float | None,
    sizing: Callable[..., float] | None,
) -> Trades:
    """Stops and take-profits: one iteration per target change, numpy scans inside each span."""
    n = target.shape[0]
    change = np.flatnonzero(target[1:] != target[:-1]) + 1
    rows: list[tuple[int, int, int, int, float, float, float, int]] = []
    bo, ao, bc, ac = p.bid_open, p.ask_open, p.bid_close, p.ask_close
    bh, bl, ah, al = p.bid_high, p.bid_low, p.ask_high, p.ask_low
    for k in range(change.shape[0]):
        e = int(change[k])
        d = int(target[e])
        if d == 0:
            continue
        end = int(change[k + 1]) if k + 1 < change.shape[0] else n
        u = size if sizing is None else float(sizing(candles, e, d, stop))
        if not u > 0:
            continue
        price = float(ao[e]) + slip if d > 0 else float(bo[e]) - slip
        hit = end
        why = SIGNAL
        fill = 0.0
        if stop is not None or take is not None:
            if d > 0:
                assert bl is not None and bh is not None
                lo, hi, op = bl[e:end], bh[e:end], bo[e:end]
                s_lvl = price - stop if stop is not None else None
                t_lvl = price + take if take is not None else None
                s_hit = lo <= s_lvl if s_lvl is not None else None
                t_hit = hi >= t_lvl if t_lvl is not None else None
            else:
                assert al is not None and ah is not None
                lo, hi, op = al[e:end], ah[e:end], ao[e:end]
                s_lvl = price + stop if stop is not None else None
                t_lvl = price - take if take is not None else None
                s_hit = hi >= s_lvl if s_lvl is not None else None
                t_hit = lo <= t_lvl if t_lvl is not None else None
            any_hit = s_hit if t_hit is None else (t_hit if s_hit is None else s_hit | t_hit)
            assert any_hit is not None
            j = int(np.argmax(any_hit)) if any_hit.shape[0] else 0
            if any_hit.shape[0] and any_hit[j]:
                hit = e + j
                o = float(op[j])
                if s_hit is not None and s_hit[j]:  # stop first when both are touched
                    why = STOP
                    assert s_lvl is not None
                    lvl = min(s_lvl, o) if d > 0 else max(s_lvl, o)  # a gap through the stop fills at the open
                    fill = lvl - slip if d > 0 else lvl + slip
                else:
                    why = TAKE_PROFIT
                    assert t_lvl is not None
                    lvl = max(t_lvl, o) if d > 0 else min(t_lvl, o)  # a gap through the target: the open
                    fill = lvl - slip if d > 0 else lvl + slip
        if why == SIGNAL:
            if end < n:
                fill = float(bo[end]) - slip if d > 0 else float(ao[end]) + slip
                rows.append((e, end, end, d, u, price, fill, SIGNAL))
            else:
                fill = float(bc[n - 1]) if d > 0 else float(ac[n - 1])
                rows.append((e, n - 1, n, d, u, price, fill, END))
        else:
            rows.append((e, hit, hit, d, u, price, fill, why))
    if not rows:
        z = np.empty(0, dtype=np.int64)
        return Trades(z, z, z, np.empty(0, np.int8), np.empty(0), np.empty(0), np.empty(0), np.empty(0, np.int8))
    cols = list(zip(*rows, strict=True))
    return Trades(
        np.array(cols[0], dtype=np.int64),
        np.array(cols[1], dtype=np.int64),
        np.array(cols[2], dtype=np.int64),
        np.array(cols[3], dtype=np.int8),
        np.array(cols[4], dtype=np.float64),
        np.array(cols[5], dtype=np.float64),
        np.array(cols[6], dtype=np.float64),
        np.array(cols[7], dtype=np.int8),
    )


class Book(NamedTuple):
    """The trades with their P&L, and what :func:`mark_to_market` needs for the per-bar series."""

    trades: Trades
    pnl: np.ndarray  # per trade, net of commission
    prices: Prices
    n: int
    capital: float
    commission: float


def _book(t: Trades, p: Prices, n: int, capital: float, commission: float) -> Book:
    """Per-trade P&L (net of commission; the end-of-data close is a valuation and pays none)."""
    units = t.direction * t.size
    fee = commission * t.size
    exit_fee = np.where(t.reason == END, 0.0, fee)
    pnl = units * (t.exit_price - t.entry_price) - fee - exit_fee
    return Book(t, pnl, p, n, capital, commission)


def mark_to_market(book: Book) -> tuple[np.ndarray, np.ndarray]:
    """Per-bar (positions, equity): signed units held at each close (before the end-of-data close) and
    cash + those units marked at the side they would close at (bid_close long, ask_close short)."""
    t, p, n, capital = book.trades, book.prices, book.n, book.capital
    units = t.direction * t.size
    fee = book.commission * t.size
    end = t.reason == END
    exit_fee = np.where(end, 0.0, fee)
    # cash: -units * entry - fee at the entry bar; +units * exit - fee at the exit bar (the end close is a
    # valuation: it adds nothing to cash, the open position is marked instead). Cash is constant between
    # fills: sum the flows in fill order, then repeat each level up to the next fill.
    closed = ~end
    bars = np.concatenate((t.entry_bar, t.exit_bar[closed]))
    amounts = np.concatenate((-units * t.entry_price - fee, (units * t.exit_price - exit_fee)[closed]))
    order = np.argsort(bars, kind="stable")
    bars, amounts = bars[order], amounts[order]
    levels = np.empty(bars.shape[0] + 1)
    levels[0] = capital
    np.cumsum(amounts, out=levels[1:])
    levels[1:] += capital
    # level k holds from the k-th fill to the next; several fills in one bar give empty runs
    cash = np.repeat(levels, np.diff(np.concatenate(([0], bars, [n]))))
    # positions: each trade's units over [entry_bar, held_until), zero in the gaps (trades never overlap)
    m = t.entry_bar.shape[0]
    if m:
        starts = np.empty(2 * m + 1, dtype=np.int64)
        starts[0] = 0
        starts[1::2] = t.entry_bar
        starts[2::2] = t.held_until
        lengths = np.diff(np.append(starts, n))
        values = np.zeros(2 * m + 1)
        values[1::2] = units
        pos = np.repeat(values, lengths)
    else:
        pos = np.zeros(n)
    # equity = cash + pos * (bid_close if long else ask_close), in cache-sized chunks of scratch
    equity = cash
    size = min(_CHUNK, n)
    scratch, long_ = np.empty(size), np.empty(size, dtype=np.bool_)
    for i in range(0, n, _CHUNK):
        j = min(i + _CHUNK, n)
        mark, lg, q = scratch[: j - i], long_[: j - i], pos[i:j]
        np.subtract(p.bid_close[i:j], p.ask_close[i:j], out=mark)
        np.greater(q, 0.0, out=lg)
        mark *= lg
        mark += p.ask_close[i:j]
        mark *= q
        equity[i:j] += mark
    return pos, equity


def run_engine(
    candles: pd.DataFrame,
    signals: np.ndarray,
    *,
    size: float,
    commission: float,
    slippage: float,
    stop: float | None,
    take_profit: float | None,
    sizing: Callable[..., float] | None,
    capital: float,
) -> Book:
    """Target signals (decided at each close) → the :class:`Book`. Arguments are already validated."""
    n = signals.shape[0]
    target = np.empty(n, dtype=np.int8)
    if n:
        target[0] = 0
        target[1:] = signals[:-1]
    exits = stop is not None or take_profit is not None
    p = prices(candles, extremes=exits)
    if exits:
        trades = _loop(target, p, candles, size, slippage, stop, take_profit, sizing)
    else:
        trades = _vectorised(target, p, candles, size, slippage, sizing)
    return _book(trades, p, n, capital, commission)
