"""Backtest fills, trades, equity and stats: trade by trade against a plain reference loop written
here, small hand-computed cases, stats on tiny curves, bad input, and the plot."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from igkit.backtest import BacktestResult, backtest, compute_stats
from igkit.errors import DataError
from igkit.strategy import BollingerBands, DonchianBreakout, RsiReversion, SmaCross, Strategy

COLS = [f"{s}_{p}" for s in ("bid", "ask", "mid") for p in ("open", "high", "low", "close")]


def random_candles(n: int, seed: int, *, step: float = 3e-4, gap: float = 1e-4) -> pd.DataFrame:
    """Random bars with a varying spread and gapped opens, highs/lows enclosing open and close."""
    rng = np.random.default_rng(seed)
    mid_c = 1.2 + np.cumsum(rng.normal(0.0, step, n))
    mid_o = np.concatenate(([1.2], mid_c[:-1])) + rng.normal(0.0, gap, n)
    mid_h = np.maximum(mid_o, mid_c) + np.abs(rng.normal(0.0, step, n))
    mid_l = np.minimum(mid_o, mid_c) - np.abs(rng.normal(0.0, step, n))
    half = rng.uniform(2e-5, 1e-4, n)
    cols = {}
    for part, arr in (("open", mid_o), ("high", mid_h), ("low", mid_l), ("close", mid_c)):
        cols[f"bid_{part}"] = arr - half
        cols[f"ask_{part}"] = arr + half
        cols[f"mid_{part}"] = arr
    frame = pd.DataFrame(cols, index=pd.date_range("2024-01-02", periods=n, freq="5min", tz="UTC", name="time"))
    frame["ticks"] = np.int64(7)
    return frame[[*COLS, "ticks"]]


def hand_candles(rows: list[tuple[float, float, float, float]], spread: float = 0.2) -> pd.DataFrame:
    """Bars from mid (open, high, low, close) rows with a constant spread (bid = mid - spread/2)."""
    arr = np.array(rows, dtype=float)
    cols = {}
    for i, part in enumerate(("open", "high", "low", "close")):
        cols[f"bid_{part}"] = arr[:, i] - spread / 2
        cols[f"ask_{part}"] = arr[:, i] + spread / 2
        cols[f"mid_{part}"] = arr[:, i]
    frame = pd.DataFrame(cols, index=pd.date_range("2024-01-01", periods=len(rows), freq="1h", tz="UTC",
                                                   name="time"))
    frame["ticks"] = np.int64(1)
    return frame[[*COLS, "ticks"]]


def sig(candles: pd.DataFrame, values: list[int]) -> pd.Series:
    return pd.Series(np.array(values, dtype=np.int8), index=candles.index, name="signal")


# -- the reference: a plain bar-by-bar loop of the documented rules ------------------------------


def reference(candles: pd.DataFrame, signals: list[int], *, size: float = 1.0, commission: float = 0.0,
              slippage: float = 0.0, stop: float | None = None, take_profit: float | None = None,
              sizing=None, capital: float = 10_000.0, commission_per_trade: float = 0.0):  # type: ignore[no-untyped-def]
    c = {k: candles[k].tolist() for k in COLS}
    n = len(candles)
    trades: list[dict] = []
    equity, positions = [], []
    cash, prev_target = capital, 0
    pos = 0  # direction
    units = entry = s_lvl = t_lvl = 0.0
    entry_bar = 0

    def close(i: int, price: float, reason: str, fee: bool = True) -> None:
        nonlocal cash, pos, units
        per_fill = commission * abs(units) + commission_per_trade
        cost = per_fill if fee else 0.0
        cash += units * price - cost
        trades.append({"entry_bar": entry_bar, "exit_bar": i, "direction": pos, "size": abs(units),
                       "entry_price": entry, "exit_price": price, "exit_reason": reason,
                       "pnl": units * (price - entry) - per_fill - cost})
        pos, units = 0, 0.0

    for i in range(n):
        target = signals[i - 1] if i > 0 else 0
        changed = target != prev_target
        prev_target = target
        if pos != 0 and changed:
            close(i, c["bid_open"][i] - slippage if pos > 0 else c["ask_open"][i] + slippage, "signal")
        if changed and target != 0:
            u = size if sizing is None else sizing(candles, i, target, stop)
            if u > 0:
                pos, entry_bar = target, i
                entry = c["ask_open"][i] + slippage if pos > 0 else c["bid_open"][i] - slippage
                units = pos * u
                cash -= units * entry + commission * u + commission_per_trade
                s_lvl = entry - pos * stop if stop is not None else math.nan
                t_lvl = entry + pos * take_profit if take_profit is not None else math.nan
        if pos > 0:
            o, hi, lo = c["bid_open"][i], c["bid_high"][i], c["bid_low"][i]
            if stop is not None and lo <= s_lvl:
                close(i, min(s_lvl, o) - slippage, "stop")
            elif take_profit is not None and hi >= t_lvl:
                close(i, max(t_lvl, o) - slippage, "take_profit")
        elif pos < 0:
            o, hi, lo = c["ask_open"][i], c["ask_high"][i], c["ask_low"][i]
            if stop is not None and hi >= s_lvl:
                close(i, max(s_lvl, o) + slippage, "stop")
            elif take_profit is not None and lo <= t_lvl:
                close(i, min(t_lvl, o) + slippage, "take_profit")
        mark = c["bid_close"][i] if units > 0 else c["ask_close"][i]
        equity.append(cash + units * mark)
        positions.append(units)
        if i == n - 1 and pos != 0:
            close(i, mark, "end", fee=False)
    return pd.DataFrame(trades), np.array(equity), np.array(positions)


def assert_matches(result: BacktestResult, ref: tuple) -> None:  # type: ignore[type-arg]
    ref_trades, ref_equity, ref_pos = ref
    t = result.trades
    assert len(t) == len(ref_trades)
    if len(t):
        for col in ("entry_bar", "exit_bar", "direction", "exit_reason"):
            assert t[col].tolist() == ref_trades[col].tolist(), col
        for col in ("size", "entry_price", "exit_price", "pnl"):
            np.testing.assert_allclose(t[col].to_numpy(), ref_trades[col].to_numpy(), rtol=0, atol=1e-9,
                                       err_msg=col)
        idx = result.candles.index
        assert (t["entry_time"].to_numpy() == idx[t["entry_bar"]].to_numpy()).all()
        assert (t["exit_time"].to_numpy() == idx[t["exit_bar"]].to_numpy()).all()
    np.testing.assert_allclose(result.equity.to_numpy(), ref_equity, rtol=0, atol=1e-7)
    np.testing.assert_allclose(result.positions.to_numpy(), ref_pos, rtol=0, atol=0)


STRATS = [SmaCross(fast=4, slow=15), DonchianBreakout(period=10, exit_period=4),
          RsiReversion(period=5, lower=35, upper=65), BollingerBands(period=12, width=1.2)]
SETTINGS = [
    {},
    {"commission": 0.01, "slippage": 1e-5, "size": 3.0},
    {"stop": 6e-4},
    {"take_profit": 5e-4},
    {"stop": 4e-4, "take_profit": 4e-4, "commission": 0.02, "slippage": 2e-5},
    {"commission_per_trade": 0.7, "commission": 0.01, "stop": 5e-4, "size": 2.0},
]


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("strategy", STRATS, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda d: ",".join(d) or "plain")
def test_trade_by_trade_against_reference_loop(seed: int, strategy: Strategy, settings: dict) -> None:
    candles = random_candles(700, seed)
    result = backtest(candles, strategy, **settings)
    ref = reference(candles, strategy.signals(candles).tolist(), **settings)
    assert_matches(result, ref)
    assert len(result.trades) > 5
    if "stop" in settings or "take_profit" in settings:
        assert set(result.trades["exit_reason"]) & {"stop", "take_profit"}
    assert result.equity.iloc[-1] == pytest.approx(10_000 + result.trades["pnl"].sum(), abs=1e-7)


def test_sizing_callable_against_reference() -> None:
    candles = random_candles(600, 4)
    seen: list[tuple[int, int, float | None]] = []

    def sizing(c: pd.DataFrame, i: int, direction: int, stop_distance: float | None) -> float:
        seen.append((i, direction, stop_distance))
        return 0.0 if i % 7 == 0 else 1.0 + (i % 3)  # some entries skipped

    for stop in (None, 5e-4):
        seen.clear()
        s = SmaCross(fast=3, slow=9)
        result = backtest(candles, s, sizing=sizing, stop=stop)
        ref = reference(candles, s.signals(candles).tolist(), sizing=lambda *a: 0.0 if a[1] % 7 == 0
                        else 1.0 + (a[1] % 3), stop=stop)
        assert_matches(result, ref)
        assert seen and all(d in (-1, 1) and sd == stop for _, d, sd in seen)
        targets = np.concatenate(([0], s.signals(candles).to_numpy()[:-1]))
        asked = [i for i in range(1, len(targets)) if targets[i] != targets[i - 1] and targets[i] != 0]
        assert [i for i, _, _ in seen] == asked  # asked once per entry the strategy wants, in order
        assert set(result.trades["size"]) <= {1.0, 2.0, 3.0}
        assert not (result.trades["entry_bar"] % 7 == 0).any()


def test_unreachable_stop_changes_nothing() -> None:
    candles = random_candles(800, 9)
    s = BollingerBands(period=10, width=1.0)
    plain = backtest(candles, s, commission=0.1)
    looped = backtest(candles, s, commission=0.1, stop=100.0, take_profit=100.0)
    pd.testing.assert_frame_equal(plain.trades, looped.trades)
    np.testing.assert_allclose(plain.equity.to_numpy(), looped.equity.to_numpy(), rtol=0, atol=1e-9)


# -- hand-computed cases --------------------------------------------------------------------------

FLAT = (100.0, 100.5, 99.5, 100.0)


def test_spread_is_paid_on_a_round_trip() -> None:
    c = hand_candles([FLAT] * 5, spread=0.2)
    r = backtest(c, sig(c, [1, 1, 0, 0, 0]))
    t = r.trades
    assert len(t) == 1
    row = t.iloc[0]
    assert (row.direction, row.entry_bar, row.exit_bar, row.exit_reason) == (1, 1, 3, "signal")
    assert row.entry_price == pytest.approx(100.1) and row.exit_price == pytest.approx(99.9)
    assert row.pnl == pytest.approx(-0.2)
    assert r.equity.tolist() == pytest.approx([10_000, 10_000 - 0.2, 10_000 - 0.2, 10_000 - 0.2, 10_000 - 0.2])
    assert r.positions.tolist() == [0, 1, 1, 0, 0]


def test_reversal_closes_then_opens_at_the_same_open() -> None:
    c = hand_candles([(100, 101, 99, 100), (100, 102, 99, 101), (101, 103, 100, 102), (104, 105, 103, 104)],
                     spread=0.2)
    r = backtest(c, sig(c, [1, -1, -1, -1]), size=2.0)
    t = r.trades
    assert t["direction"].tolist() == [1, -1] and t["exit_reason"].tolist() == ["signal", "end"]
    assert t["entry_bar"].tolist() == [1, 2] and t["exit_bar"].tolist() == [2, 3]
    # long: buy 100.1 (ask), sell 100.9 (bid_open of bar 2); short: sell 100.9, buy back 104.1 (ask_close)
    assert t["entry_price"].tolist() == pytest.approx([100.1, 100.9])
    assert t["exit_price"].tolist() == pytest.approx([100.9, 104.1])
    assert t["pnl"].tolist() == pytest.approx([2 * 0.8, -2 * 3.2])
    assert r.equity.iloc[-1] == pytest.approx(10_000 + 1.6 - 6.4)


def test_commission_per_side_and_slippage_against_the_trader() -> None:
    c = hand_candles([FLAT, FLAT, (100, 101, 99, 100.5), (102, 103, 101, 102)], spread=0.2)
    r = backtest(c, sig(c, [-1, -1, 0, 0]), size=10.0, commission=0.05, slippage=0.01)
    row = r.trades.iloc[0]
    assert row.entry_price == pytest.approx(99.9 - 0.01)  # sell at bid - slippage
    assert row.exit_price == pytest.approx(102.1 + 0.01)  # buy back at ask_open of bar 3 + slippage
    assert row.pnl == pytest.approx(-10 * (102.11 - 99.89) - 2 * 0.05 * 10)
    # equity after the entry fill, marked at ask_close: cash 10000 + 998.9 - 0.5, minus 10 × 100.1
    assert r.equity.iloc[1] == pytest.approx(10_000 + 998.9 - 0.5 - 1001.0)


def test_flat_commission_per_trade_on_every_fill() -> None:
    """A reversal and an end-of-data close, by hand: size 2, spread 0.2, 0.1 per unit and 3.0 per fill."""
    c = hand_candles([(100, 101, 99, 100), (100, 102, 99, 101), (101, 103, 100, 102), (104, 105, 103, 104)],
                     spread=0.2)
    r = backtest(c, sig(c, [1, -1, -1, -1]), size=2.0, commission=0.1, commission_per_trade=3.0)
    t = r.trades
    # long: buy 2 at 100.1, sell at 100.9 → 1.6, minus two fills of 0.2 + 3.0
    # short: sell 2 at 100.9, valued at 104.1 at the end → -6.4, minus one fill (the end close is a valuation)
    assert t["pnl"].tolist() == pytest.approx([1.6 - 2 * 3.2, -6.4 - 3.2])
    # cash: bar 1 pays the long's entry fill; bar 2 the long's exit and the short's entry fills
    long_open = 10_000 - 200.2 - 3.2 + 2 * 100.9  # marked at bid_close 100.9
    reversed_ = 10_000 - 200.2 - 3.2 + 201.8 - 3.2 + 201.8 - 3.2 - 2 * 102.1  # short marked at ask_close
    end = 10_000 + 1.6 - 6.4 - 3 * 3.2  # three fills paid
    assert r.equity.tolist() == pytest.approx([10_000, long_open, reversed_, end])
    assert r.equity.iloc[-1] == pytest.approx(10_000 + t["pnl"].sum())
    assert r.stats["total_pnl"] == pytest.approx(1.6 - 6.4 - 3 * 3.2)
    assert r.settings["commission_per_trade"] == 3.0
    flat_only = backtest(c, sig(c, [1, -1, -1, -1]), size=2.0, commission_per_trade=3.0)
    assert flat_only.trades["pnl"].tolist() == pytest.approx([1.6 - 6.0, -6.4 - 3.0])  # not scaled by size


def test_stop_and_take_profit_in_the_same_bar_takes_the_stop() -> None:
    c = hand_candles([FLAT, FLAT, (100, 103, 97, 100), FLAT], spread=0.2)
    r = backtest(c, sig(c, [1, 1, 1, 1]), stop=2.0, take_profit=2.0)
    row = r.trades.iloc[0]
    assert (row.entry_bar, row.exit_bar, row.exit_reason) == (1, 2, "stop")
    assert row.exit_price == pytest.approx(100.1 - 2.0)
    assert len(r.trades) == 1  # target never changed: no re-entry
    assert r.positions.tolist() == [0, 1, 0, 0]


def test_take_profit_and_short_stop_levels_on_the_ask() -> None:
    c = hand_candles([FLAT, FLAT, (100, 100.5, 98.5, 99), FLAT, (100, 101.5, 99.5, 101), FLAT], spread=0.2)
    # short at 99.9 (bid_open): take profit 1.2 → 98.7 on the ask: ask_low of bar 2 is 98.6 → tp
    r = backtest(c, sig(c, [-1, -1, 0, -1, -1, -1]), take_profit=1.2, stop=1.5)
    t = r.trades
    assert t["exit_reason"].tolist() == ["take_profit", "stop"]
    assert t["exit_price"].tolist() == pytest.approx([98.7, 99.9 + 1.5])
    assert t["entry_bar"].tolist() == [1, 4]  # re-entered only after the target went 0 → -1; stopped in
    # its entry bar: ask_high 101.6 ≥ 99.9 + 1.5


def test_gap_through_the_stop_fills_at_the_open() -> None:
    c = hand_candles([FLAT, FLAT, (95, 96, 94, 95), FLAT], spread=0.2)
    r = backtest(c, sig(c, [1, 1, 1, 1]), stop=1.0)
    row = r.trades.iloc[0]
    assert row.exit_reason == "stop" and row.exit_price == pytest.approx(94.9)  # bid_open, not 99.1


def test_stop_in_pips() -> None:
    c = hand_candles([FLAT, FLAT, (100, 100.2, 99.0, 99.5), FLAT], spread=0.2)
    r = backtest(c, sig(c, [1, 1, 1, 1]), stop=10, pip=0.1)  # 10 pips of 0.1 = 1.0
    assert r.trades.iloc[0].exit_price == pytest.approx(99.1)
    assert r.settings["stop"] == pytest.approx(1.0)


def test_position_open_at_the_end_is_valued_at_the_close_side() -> None:
    c = hand_candles([FLAT, FLAT, (100, 101, 99, 100.7)], spread=0.2)
    r = backtest(c, sig(c, [1, 1, 1]), commission=0.5)
    row = r.trades.iloc[0]
    assert (row.exit_reason, row.exit_bar, row.exit_price) == ("end", 2, pytest.approx(100.6))
    assert row.pnl == pytest.approx(0.5 - 0.5)  # entry commission only: the end close is a valuation
    assert r.equity.iloc[-1] == pytest.approx(10_000.0)
    assert r.positions.iloc[-1] == 1.0


def test_no_signal_no_trades() -> None:
    c = hand_candles([FLAT] * 4)
    r = backtest(c, sig(c, [0, 0, 0, 0]))
    assert r.trades.empty and list(r.trades.columns)[:8] == [
        "entry_time", "exit_time", "direction", "size", "entry_price", "exit_price", "pnl", "exit_reason"]
    assert (r.equity == 10_000).all() and r.stats["n_trades"] == 0
    assert math.isnan(r.stats["win_rate"]) and math.isnan(r.stats["sharpe"])


def test_signal_on_the_last_bar_is_not_traded() -> None:
    c = hand_candles([FLAT] * 3)
    assert backtest(c, sig(c, [0, 0, 1])).trades.empty


# -- stats ---------------------------------------------------------------------------------------


def test_stats_on_a_tiny_curve_by_hand() -> None:
    idx = pd.date_range("2024-01-01", periods=4, freq="1D", tz="UTC")
    equity = pd.Series([110.0, 99.0, 121.0, 108.9], index=idx)
    pnl = np.array([10.0, -11.0, 22.0, -12.1])
    st = compute_stats(equity, pnl, np.array([1.0, 0.0, -1.0, 0.0]), 100.0)
    r = np.array([0.1, -0.1, 121 / 99 - 1, -0.1])
    assert st["total_pnl"] == pytest.approx(8.9) and st["total_return"] == pytest.approx(0.089)
    assert st["ppy"] == pytest.approx(365.25)
    assert st["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(365.25))
    assert st["sortino"] == pytest.approx(r.mean() / math.sqrt((0.01 + 0.01) / 4) * math.sqrt(365.25))
    assert st["cagr"] == pytest.approx(1.089 ** (365.25 / 4) - 1)
    # peaks 110 then 121: worst fall 110 → 99 = 10 %, then 121 → 108.9 = 10 %
    assert st["max_drawdown"] == pytest.approx(0.1)
    assert st["max_drawdown_duration"] == pd.Timedelta(days=1)
    assert st["n_trades"] == 4 and st["win_rate"] == 0.5
    assert st["profit_factor"] == pytest.approx(32.0 / 23.1)
    assert st["exposure"] == 0.5


def test_drawdown_duration_counts_time_below_the_peak() -> None:
    idx = pd.date_range("2024-01-01", periods=6, freq="1h", tz="UTC")
    equity = pd.Series([100.0, 105.0, 101.0, 99.0, 104.0, 106.0], index=idx)
    st = compute_stats(equity, np.array([6.0]), np.ones(6), 100.0)
    assert st["max_drawdown"] == pytest.approx(6 / 105)
    assert st["max_drawdown_duration"] == pd.Timedelta(hours=3)  # peak at 01:00, still below at 04:00
    assert st["profit_factor"] == math.inf and st["win_rate"] == 1.0


def test_drawdown_from_the_start_never_recovered() -> None:
    idx = pd.date_range("2024-01-01", periods=3, freq="1h", tz="UTC")
    st = compute_stats(pd.Series([95.0, 90.0, 92.0], index=idx), np.array([-8.0]), np.ones(3), 100.0)
    assert st["max_drawdown"] == pytest.approx(0.10)  # capital 100 is the first peak
    assert st["max_drawdown_duration"] == pd.Timedelta(hours=2)
    assert st["total_return"] == pytest.approx(-0.08) and st["profit_factor"] == 0.0


def test_result_stats_match_compute_stats_on_its_equity() -> None:
    c = random_candles(300, 3)
    r = backtest(c, SmaCross(fast=3, slow=10))
    st = r.stats
    assert st["n_trades"] == len(r.trades)
    assert st["total_pnl"] == pytest.approx(r.trades["pnl"].sum())
    assert st["exposure"] == pytest.approx((r.positions != 0).mean())
    assert st["ppy"] == pytest.approx(365.25 * 24 * 12)
    assert r.summary()["n_trades"] == len(r.trades)
    assert repr(r).startswith("<BacktestResult SmaCross(fast=3, slow=10): 300 bars (")
    assert f"{len(r.trades)} trades, pnl {r.trades['pnl'].sum():,.2f}>" in repr(r)


# -- bad input -----------------------------------------------------------------------------------


def test_bad_inputs_raise_clear_errors() -> None:
    c = hand_candles([FLAT] * 4)
    s = sig(c, [1, 0, 0, 0])
    with pytest.raises(DataError, match="'ask_open'"):
        backtest(c.drop(columns=["ask_open"]), s)
    bad = c.copy()
    bad.iloc[2, bad.columns.get_loc("bid_open")] = np.nan
    with pytest.raises(DataError, match="'bid_open' has a non-finite value at 2024-01-01 02:00"):
        backtest(bad, s)
    with pytest.raises(DataError, match="'bid_low'"):
        backtest(c.drop(columns=["bid_low"]), s, stop=1.0)
    with pytest.raises(DataError, match=r"\{-1, 0, 1\}"):
        backtest(c, sig(c, [2, 0, 0, 0]))
    with pytest.raises(DataError, match="integers"):
        backtest(c, pd.Series([0.5, 0, 0, 0], index=c.index))
    with pytest.raises(DataError, match="not indexed like the candles"):
        backtest(c, pd.Series([1, 0, 0, 0], index=c.index + pd.Timedelta("1min")))
    with pytest.raises(DataError, match="commission=-1"):
        backtest(c, s, commission=-1)
    with pytest.raises(DataError, match="commission_per_trade=nan"):
        backtest(c, s, commission_per_trade=math.nan)
    with pytest.raises(DataError, match="stop=0"):
        backtest(c, s, stop=0)
    with pytest.raises(DataError, match="increasing"):
        backtest(c.iloc[::-1], s.iloc[::-1])
    with pytest.raises(DataError, match="sizing must be callable"):
        backtest(c, s, sizing=3)  # type: ignore[arg-type]


# -- plot ----------------------------------------------------------------------------------------


def test_plot_has_candles_markers_and_equity() -> None:
    c = random_candles(400, 8)
    r = backtest(c, SmaCross(fast=3, slow=10), stop=5e-4)
    fig = r.plot()
    assert isinstance(fig, go.Figure)
    kinds = [type(t).__name__ for t in fig.data]
    assert kinds[0] == "Candlestick" and "Scatter" in kinds
    names = [t.name for t in fig.data]
    assert {"entry", "exit", "equity", "signal long", "signal short"} <= set(names)
    entries = next(t for t in fig.data if t.name == "entry")
    assert len(entries.x) == len(r.trades)
    small = r.plot(max_bars=50)
    assert len(small.data[0].x) == 50
    assert len(next(t for t in small.data if t.name == "entry").x) < len(r.trades)
    with pytest.raises(DataError, match="side"):
        r.plot(side="last")


@pytest.mark.parametrize("seed", range(6))
def test_random_signal_runs_against_reference(seed: int) -> None:
    """Random targets with runs of every length (reversals, flats, one-bar positions)."""
    rng = np.random.default_rng(100 + seed)
    candles = random_candles(400, seed)
    values = np.repeat(rng.integers(-1, 2, 200), rng.integers(1, 5, 200))[:400]
    values = np.pad(values, (0, 400 - values.shape[0]))
    settings = [{}, {"stop": 3e-4, "take_profit": 6e-4, "slippage": 1e-5, "commission": 0.003}][seed % 2]
    result = backtest(candles, sig(candles, values.tolist()), **settings)
    assert_matches(result, reference(candles, values.tolist(), **settings))


def test_empty_and_single_bar_candles() -> None:
    empty = random_candles(0, 1)
    r = backtest(empty, SmaCross())
    assert r.trades.empty and r.equity.empty and r.stats["n_trades"] == 0
    one = hand_candles([FLAT])
    r1 = backtest(one, sig(one, [1]), stop=1.0)
    assert r1.trades.empty and r1.equity.tolist() == [10_000.0]


def test_demo_market_candles_against_reference() -> None:
    """Candles resampled from the synthetic market's ticks (varying spreads, quiet and busy hours)."""
    from igkit.candles import resample_arrays
    from igkit.market import SyntheticMarket

    ts, bid, ask = SyntheticMarket(9).ticks("CS.D.GBPUSD.MINI.IP", "2024-05-06T06:00Z", "2024-05-07T06:00Z")
    candles = resample_arrays(ts, bid, ask, "1min")
    for strategy, settings in ((SmaCross(fast=10, slow=30), {"stop": 15, "take_profit": 25, "pip": 1e-4}),
                               (RsiReversion(period=14), {"slippage": 1e-5, "commission": 0.5, "size": 2.0})):
        result = backtest(candles, strategy, **settings)
        kw = {k: v * 1e-4 if k in ("stop", "take_profit") else v for k, v in settings.items() if k != "pip"}
        assert_matches(result, reference(candles, strategy.signals(candles).tolist(), **kw))
        assert len(result.trades) > 10
