"""The backtest core: target positions → fills, trades, positions and equity, on numpy arrays.

Hand-written because this is igkit's own fill model (bid/ask sides, stops checked on bid/ask extremes,
re-entry rule) and it must be fast without a JIT: vectorbt's first call compiles for ~6 s. Everything is
vectorised, stops included: a trade lives from one change of the target to the next, and a stop or a
take-profit can only end it early (re-entry waits for the next change), so trades are independent and
the first bar touching each trade's levels is found for all trades in a few numpy passes.

The result is a :class:`Book` (trades and their P&L); :func:`mark_to_market` turns it into per-bar
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


def _trades(
    target: np.ndarray,
    p: Prices,
    candles: pd.DataFrame,
    size: float,
    slip: float,
    stop: float | None,
    take: float | None,
    sizing: Callable[..., float] | None,
) -> Trades:
    """Every trade, vectorised: one per change of the target to a non-zero value.

    A trade opens at the open of a bar where the target changes and lasts until the next change (exit
    at that bar's open) or the end of the data. Its stop or take-profit can only shorten it: after a
    stop the position stays flat until the next change, where the next trade starts anyway, so trades
    never depend on each other and the first touching bar of each is found for all at once.
    """
    n = target.shape[0]
    change = np.flatnonzero(target[1:] != target[:-1]) + 1
    seg = target[change]  # the target from each change to the next
    ends = np.append(change[1:], n)
    wanted = np.flatnonzero(seg)
    sizes = _sizes(sizing, size, candles, change[wanted], seg[wanted], stop)
    if sizing is not None:  # a size <= 0 skips the entry: flat until the target changes
        keep = sizes > 0
        wanted, sizes = wanted[keep], sizes[keep]
    entry = change[wanted].astype(np.int64)
    end = ends[wanted].astype(np.int64)
    d = seg[wanted].astype(np.int8)
    m = entry.shape[0]
    if m == 0:
        z = np.empty(0, dtype=np.int64)
        return Trades(z, z, z, d, np.empty(0), np.empty(0), np.empty(0), np.empty(0, dtype=np.int8))
    long_ = d > 0
    price = np.where(long_, p.ask_open[entry] + slip, p.bid_open[entry] - slip)
    # by default a trade ends at the next change's open (signal) or is valued at the last close (end)
    last = end >= n
    at = np.minimum(end, n - 1)
    exit_price = np.where(long_, p.bid_open[at] - slip, p.ask_open[at] + slip)
    exit_price[last] = np.where(long_[last], p.bid_close[n - 1], p.ask_close[n - 1])
    reason = np.where(last, END, SIGNAL).astype(np.int8)
    exit_bar = at.copy()
    held = end.copy()
    if stop is not None or take is not None:
        assert p.bid_low is not None and p.bid_high is not None
        assert p.ask_low is not None and p.ask_high is not None
        nan = np.full(m, np.nan)
        s_lvl = price - d * stop if stop is not None else nan
        t_lvl = price + d * take if take is not None else nan
        # the trade holding each bar (-1 in the gaps), then its direction and levels per bar
        starts = np.empty(2 * m + 1, dtype=np.int64)
        starts[0] = 0
        starts[1::2] = entry
        starts[2::2] = end
        ids = np.full(2 * m + 1, -1, dtype=np.int64)
        ids[1::2] = np.arange(m)
        tid = np.repeat(ids, np.diff(np.append(starts, n)))
        d_bar = np.append(d, np.int8(0))[tid]
        s_bar = np.append(s_lvl, np.nan)[tid]
        t_bar = np.append(t_lvl, np.nan)[tid]
        lb, sb = d_bar > 0, d_bar < 0
        stop_hit = (lb & (p.bid_low <= s_bar)) | (sb & (p.ask_high >= s_bar))
        any_hit = stop_hit | (lb & (p.bid_high >= t_bar)) | (sb & (p.ask_low <= t_bar))
        first = np.minimum.reduceat(np.where(any_hit, np.arange(n), n), entry)  # gaps never hit
        hit = first < end
        j = first[hit]
        lg = long_[hit]
        is_stop = stop_hit[j]
        o = np.where(lg, p.bid_open[j], p.ask_open[j])
        # fill at the level, or at the open when the bar opened beyond it (a gap); stop first
        lvl_stop = np.where(lg, np.minimum(s_lvl[hit], o), np.maximum(s_lvl[hit], o))
        lvl_take = np.where(lg, np.maximum(t_lvl[hit], o), np.minimum(t_lvl[hit], o))
        lvl = np.where(is_stop, lvl_stop, lvl_take)
        exit_price[hit] = np.where(lg, lvl - slip, lvl + slip)
        reason[hit] = np.where(is_stop, STOP, TAKE_PROFIT)
        exit_bar[hit] = j
        held[hit] = j
    return Trades(entry, exit_bar, held, d, sizes.astype(np.float64), price, exit_price, reason)


class Book(NamedTuple):
    """The trades with their P&L, and what :func:`mark_to_market` needs for the per-bar series."""

    trades: Trades
    pnl: np.ndarray  # per trade, net of commission
    prices: Prices
    n: int
    capital: float
    commission: float  # per unit of size, per fill
    commission_per_trade: float = 0.0  # flat, per fill


def fill_fee(book: Book) -> np.ndarray:
    """The commission of each trade's entry fill (and of its exit fill, unless the exit is the end-of-data
    valuation): ``commission × size + commission_per_trade``."""
    return book.commission * book.trades.size + book.commission_per_trade


def _book(t: Trades, p: Prices, n: int, capital: float, commission: float, per_trade: float) -> Book:
    """Per-trade P&L (net of commission; the end-of-data close is a valuation and pays none)."""
    book = Book(t, np.empty(0), p, n, capital, commission, per_trade)
    units = t.direction * t.size
    fee = fill_fee(book)
    exit_fee = np.where(t.reason == END, 0.0, fee)
    pnl = units * (t.exit_price - t.entry_price) - fee - exit_fee
    return book._replace(pnl=pnl)


def mark_to_market(book: Book) -> tuple[np.ndarray, np.ndarray]:
    """Per-bar (positions, equity): signed units held at each close (before the end-of-data close) and
    cash + those units marked at the side they would close at (bid_close long, ask_close short)."""
    t, p, n, capital = book.trades, book.prices, book.n, book.capital
    units = t.direction * t.size
    fee = fill_fee(book)
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
    commission_per_trade: float = 0.0,
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
    trades = _trades(target, p, candles, size, slippage, stop, take_profit, sizing)
    return _book(trades, p, n, capital, commission, commission_per_trade)
