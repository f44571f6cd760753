"""``Strategy.step``, the live engine's per-bar call, against ``signals`` over every bar (the backtest's).

For every registered built-in, with parameters that exercise its state (RSI hysteresis with a narrow band
and a long period, Donchian holding through a long exit channel, tight Bollinger bands), a warm-up on a
prefix (``start_state``) and then one ``step`` per bar on exactly ``lookback`` bars must give the very
signals of ``signals`` on the whole series: bit for bit, not "almost". The old engine's bounded window
(``max(2 × warmup, warmup + 100)`` bars, no carried state) is shown to differ on the same data, so the
check can fail.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from igkit.history import load_history
from igkit.strategy import STRATEGIES, DonchianBreakout, RsiReversion, Strategy, get_strategy
from igkit.strategy._indicators import hold_state, rolling_std, rsi, rsi_run

# every registered built-in, with parameters that exercise its carried state
BUILTIN_PARAMS: dict[str, list[dict[str, Any]]] = {
    "sma": [{"fast": 5, "slow": 20}],
    "donchian": [{"period": 30, "exit_period": 30}, {"period": 12, "exit_period": 4}],
    "rsi": [{"period": 30, "lower": 40.0, "upper": 60.0}, {}],
    "bollinger": [{"period": 50, "width": 1.0}, {"period": 10, "width": 2.5}],
}
CASES = [(name, p) for name, ps in BUILTIN_PARAMS.items() for p in ps]


def builtin_names() -> set[str]:
    return {k for k, cls in STRATEGIES.items() if cls.__module__.startswith("igkit.strategy")}


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    return load_history("GBPUSD", "1min", "2024-03-04", "2024-03-06", seed=1, progress=False)


def test_every_builtin_is_covered() -> None:
    assert builtin_names() == set(BUILTIN_PARAMS)


def _live(s: Strategy, c: pd.DataFrame, split: int) -> np.ndarray:
    """Signals as the engine makes them: warm-up on ``c[:split]``, then one step per bar on ``lookback`` bars."""
    state = s.start_state(c.iloc[:split])
    out = []
    lb = s.lookback
    assert lb is not None and lb >= 1
    for t in range(split, len(c)):
        target, state = s.step(c.iloc[max(0, t + 1 - lb) : t + 1], state)
        assert type(target) is int and target in (-1, 0, 1)
        out.append(target)
    return np.array(out, dtype=np.int8)


@pytest.mark.parametrize(("name", "params"), CASES, ids=[f"{n}-{i}" for n, i in
                                                         ((n, i) for n, ps in BUILTIN_PARAMS.items()
                                                          for i in range(len(ps)))])
@pytest.mark.parametrize("split", [0, 7, 300])
def test_step_by_step_equals_signals_over_every_bar(candles: pd.DataFrame, name: str, params: dict, split: int
                                                    ) -> None:
    s = get_strategy(name, **params)
    c = candles.iloc[:1200]
    full = s.signals(c).to_numpy()
    assert {-1, 1} <= set(full.tolist())
    live = _live(s, c, split)
    np.testing.assert_array_equal(live, full[split:])


def _old_window(s: Strategy, c: pd.DataFrame) -> np.ndarray:
    w = s.warmup
    hb = max(2 * w, w + 100)
    return np.array([s.signals(c.iloc[max(0, t + 1 - hb) : t + 1]).to_numpy()[-1] for t in range(len(c))])


def test_the_old_bounded_window_differs_so_the_check_can_fail(candles: pd.DataFrame) -> None:
    s = RsiReversion(period=30, lower=40.0, upper=60.0)
    c = candles.iloc[:1800]
    assert (_old_window(s, c) != s.signals(c).to_numpy()).sum() > 20


def test_lookbacks_and_states() -> None:
    assert get_strategy("sma", fast=3, slow=9).lookback == 9
    assert get_strategy("donchian", period=20, exit_period=5).lookback == 21
    assert get_strategy("bollinger", period=15).lookback == 15
    assert get_strategy("rsi").lookback == 1

    class Mine(Strategy):
        def signals(self, candles: pd.DataFrame) -> pd.Series:
            return self.to_signals(np.ones(len(candles)), candles)

    mine = Mine()
    assert mine.lookback is None and mine.start_state(pd.DataFrame()) is None  # the default: every bar, no state
    c = load_history("EURUSD", "1min", "2024-03-04", "2024-03-04 01:00", seed=2, progress=False)
    assert mine.step(c, "kept") == (1, "kept")


def test_hold_state_initial_position() -> None:
    f, t = np.array([False]), np.array([True])
    assert hold_state(f, f, f, f, initial=1).tolist() == [1]  # held
    assert hold_state(f, f, t, f, initial=1).tolist() == [0]  # long exit
    assert hold_state(f, f, f, t, initial=1).tolist() == [1]  # a short exit leaves a long alone
    assert hold_state(f, t, f, f, initial=1).tolist() == [-1]  # reversal
    assert hold_state(f, f, f, t, initial=-1).tolist() == [0]
    assert hold_state(f, f, t, t, initial=0).tolist() == [0]


def test_rsi_run_continues_bit_for_bit() -> None:
    close = np.cumsum(np.random.default_rng(3).normal(size=2000)) + 100.0
    full = rsi(close, 9)
    for k in (0, 1, 5, 9, 10, 1234):
        head, carry = rsi_run(close[:k], 9)
        tail, end = rsi_run(close[k:], 9, carry)
        np.testing.assert_array_equal(np.concatenate([head, tail]), full)
        assert end == rsi_run(close, 9)[1]


def test_rolling_std_is_window_stable_and_matches_numpy() -> None:
    x = 1.3 + np.cumsum(np.random.default_rng(4).normal(scale=1e-4, size=3000))
    full = rolling_std(x, 20)
    for start in (1, 333, 2900):
        np.testing.assert_array_equal(rolling_std(x[start:], 20)[19:], full[start + 19 :])
    ref = np.array([np.std(x[t - 19 : t + 1]) for t in range(19, len(x))])
    np.testing.assert_allclose(full[19:], ref, rtol=1e-9, atol=0)
    assert np.isnan(full[:19]).all()


class _MyRsi(RsiReversion):
    """A user's variant that replaces ``signals``: the built-in's carried state no longer applies."""

    def signals(self, candles: pd.DataFrame) -> pd.Series:
        return -super().signals(candles)


class _MyDonchian(DonchianBreakout):
    def signals(self, candles: pd.DataFrame) -> pd.Series:
        return -super().signals(candles)


@pytest.mark.parametrize("s", [_MyRsi(period=30, lower=40.0, upper=60.0), _MyDonchian(period=12, exit_period=4)],
                         ids=["rsi", "donchian"])
def test_a_subclass_replacing_signals_falls_back_to_every_bar(candles: pd.DataFrame, s: Strategy) -> None:
    assert s.lookback is None  # the engine keeps every bar and steps with the subclass's own signals
    c = candles.iloc[:400]
    full = s.signals(c).to_numpy()
    state = s.start_state(c.iloc[:100])
    got = []
    for t in range(100, len(c)):
        target, state = s.step(c.iloc[: t + 1], state)
        got.append(target)
    np.testing.assert_array_equal(got, full[100:])


def test_sma_steps_on_numpy_columns_with_the_bits_of_signals() -> None:
    """SmaCross takes the engine's column mapping (no DataFrame per bar) and gives, bar by bar, exactly
    what signals() gives over every bar; a subclass that replaces signals() gets DataFrames again."""
    from igkit.engine._instrument import History
    from igkit.strategy import SmaCross

    candles = load_history("EURUSD", "1min", "2024-03-04", "2024-03-05", seed=3, progress=False)
    s = SmaCross(fast=3, slow=8)
    assert s.columns_step
    want = s.signals(candles).to_numpy()
    h = History(s.lookback)
    got = []
    for row in candles.itertuples():
        h.extend_frame(candles.loc[[row.Index]])
        cols = h.columns()
        assert set(cols) == set(candles.columns) and all(isinstance(v, np.ndarray) for v in cols.values())
        got.append(s.step(cols, None)[0])
    assert got == want.tolist() and {-1, 1} <= set(got)

    class Inverted(SmaCross):
        def signals(self, candles: pd.DataFrame) -> pd.Series:
            return -super().signals(candles)

    inv = Inverted(fast=3, slow=8)
    assert not inv.columns_step and inv.lookback == 8
    assert inv.step(candles.iloc[:50], None)[0] == -want[49]
    with pytest.raises(Exception, match="mid_close"):
        s.step({"bid_close": np.ones(10)}, None)
