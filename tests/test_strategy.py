"""Strategy base (declared parameters, validation, registry) and the built-ins (rules, no look-ahead)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from igkit.errors import DataError, IgkitError
from igkit.strategy import (
    STRATEGIES,
    BollingerBands,
    DonchianBreakout,
    Param,
    ParamError,
    RsiReversion,
    SmaCross,
    Strategy,
    get_strategy,
)

BUILTINS = [SmaCross(fast=5, slow=12), DonchianBreakout(period=8, exit_period=4),
            RsiReversion(period=6, lower=35, upper=65, exit=50), BollingerBands(period=10, width=1.5)]


def make_candles(n: int, seed: int = 0, *, step: float = 2e-4) -> pd.DataFrame:
    """A random walk with bid/ask/mid OHLC in igkit's candle schema (mid = bid + half the spread)."""
    rng = np.random.default_rng(seed)
    close = 1.1 + np.cumsum(rng.normal(0.0, step, n))
    open_ = np.concatenate(([1.1], close[:-1])) + rng.normal(0.0, step / 4, n)
    high = np.maximum(open_, close) + np.abs(rng.normal(0.0, step / 2, n))
    low = np.minimum(open_, close) - np.abs(rng.normal(0.0, step / 2, n))
    half = 5e-5
    cols: dict[str, np.ndarray] = {}
    for side, off in (("bid", -half), ("ask", half), ("mid", 0.0)):
        for part, arr in (("open", open_), ("high", high), ("low", low), ("close", close)):
            cols[f"{side}_{part}"] = arr + off
    cols["ticks"] = np.full(n, 10, dtype=np.int64)
    index = pd.date_range("2024-03-04", periods=n, freq="1min", tz="UTC", name="time")
    return pd.DataFrame(cols, index=index)


# -- parameters ------------------------------------------------------------------------------------


def test_defaults_repr_params_and_equality() -> None:
    s = SmaCross()
    assert (s.fast, s.slow) == (20, 50)
    assert s.params == {"fast": 20, "slow": 50}
    assert repr(s) == "SmaCross(fast=20, slow=50)"
    assert SmaCross(fast=20) == s and hash(SmaCross(fast=20)) == hash(s)
    assert SmaCross(fast=10) != s


def test_with_params_returns_a_new_validated_strategy() -> None:
    s = SmaCross()
    t = s.with_params(fast=5)
    assert t.params == {"fast": 5, "slow": 50} and s.fast == 20
    with pytest.raises(ParamError, match="fast=60"):
        s.with_params(fast=60)


def test_parameters_are_read_only() -> None:
    s = SmaCross()
    with pytest.raises(AttributeError, match="with_params"):
        s.fast = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "param", "fragment"),
    [
        ({"fast": 50, "slow": 50}, "fast", "must be < slow"),
        ({"fast": 0}, "fast", ">= 1"),
        ({"fast": 2.5}, "fast", "integer"),
        ({"fast": True}, "fast", "not a bool"),
        ({"fast": "5"}, "fast", "integer"),
        ({"speed": 3}, "speed", "not a parameter of SmaCross"),
    ],
)
def test_invalid_parameters_name_the_parameter_and_value(kwargs: dict, param: str, fragment: str) -> None:
    with pytest.raises(ParamError) as info:
        SmaCross(**kwargs)
    err = info.value
    assert err.param == param and err.strategy == "SmaCross"
    assert fragment in str(err) and f"{param}={kwargs[param]!r}" in str(err)
    assert isinstance(err, IgkitError) and isinstance(err, ValueError)


def test_numeric_coercion_accepts_numpy_and_integral_floats() -> None:
    s = SmaCross(fast=np.int64(7), slow=30.0)
    assert s.params == {"fast": 7, "slow": 30} and type(s.fast) is int and type(s.slow) is int
    r = RsiReversion(lower=20)  # int for a float parameter
    assert r.lower == 20.0 and type(r.lower) is float
    with pytest.raises(ParamError, match=r"upper=150\.0 must be <= 100"):
        RsiReversion(upper=150)
    with pytest.raises(ParamError, match="finite"):
        BollingerBands(width=float("nan"))


def test_relations_of_every_builtin() -> None:
    with pytest.raises(ParamError, match="exit_period=30 must be <= period"):
        DonchianBreakout(period=20, exit_period=30)
    with pytest.raises(ParamError, match=r"upper=40\.0 must be > exit"):
        RsiReversion(upper=40)
    with pytest.raises(ParamError, match=r"lower=55\.0 must be < exit"):
        RsiReversion(lower=55)


class Momentum(Strategy):
    """A user strategy written as in a notebook."""

    lookback = Param(10, min=2, doc="bars of change")
    side = Param("both", choices=("both", "long"))

    @property
    def warmup(self) -> int:
        return self.lookback + 1

    def check(self) -> None:
        if self.side == "long" and self.lookback > 100:
            self.fail("lookback", "must be <= 100 for long-only")

    def signals(self, candles: pd.DataFrame) -> pd.Series:
        r = candles["mid_close"].diff(self.lookback).to_numpy()
        sig = np.sign(r)
        if self.side == "long":
            sig = np.maximum(sig, 0)
        return self.to_signals(sig, candles)


def test_user_strategy_declaration_choices_and_check() -> None:
    m = Momentum(lookback=5)
    assert repr(m) == "Momentum(lookback=5, side='both')"
    with pytest.raises(ParamError, match="side='short' must be one of"):
        Momentum(side="short")
    with pytest.raises(ParamError, match="lookback=200 must be <= 100 for long-only"):
        Momentum(lookback=200, side="long")
    c = make_candles(50)
    sig = m.signals(c)
    assert sig.dtype == np.int8 and sig.index.equals(c.index)
    assert (sig.iloc[:5] == 0).all()  # NaN diffs → 0
    expected = np.sign(c["mid_close"].to_numpy()[5:] - c["mid_close"].to_numpy()[:-5])
    assert (sig.iloc[5:].to_numpy() == expected).all()
    assert "Momentum" not in STRATEGIES  # no name, not registered
    assert "lookback: int = 10 >=2  bars of change" in Momentum.describe()


def test_registry_by_name_class_name_and_errors() -> None:
    assert set(STRATEGIES) >= {"sma", "donchian", "rsi", "bollinger"}
    assert get_strategy("sma", fast=3, slow=9) == SmaCross(fast=3, slow=9)
    assert isinstance(get_strategy("BollingerBands"), BollingerBands)
    assert isinstance(get_strategy(" RSI "), RsiReversion)
    with pytest.raises(ParamError, match="'nope' is not a registered strategy"):
        get_strategy("nope")

    class Named(Momentum):
        name = "test-momentum"

    try:
        assert STRATEGIES["test-momentum"] is Named
        assert get_strategy("test-momentum", lookback=3).params == {"lookback": 3, "side": "both"}
    finally:
        STRATEGIES.pop("test-momentum")


def test_missing_column_is_a_data_error_naming_it() -> None:
    c = make_candles(30).drop(columns=["mid_close"])
    with pytest.raises(DataError, match="'mid_close'"):
        SmaCross(fast=2, slow=5).signals(c)


# -- built-in rules --------------------------------------------------------------------------------


def test_sma_cross_against_pandas_rolling_means() -> None:
    c = make_candles(400, seed=3)
    s = SmaCross(fast=7, slow=19)
    close = c["mid_close"]
    f, sl = close.rolling(7).mean(), close.rolling(19).mean()
    expected = np.where(f > sl, 1, np.where(f < sl, -1, 0))
    got = s.signals(c)
    assert got.name == "signal" and got.dtype == np.int8
    assert (got.to_numpy() == expected).all()
    assert (got.iloc[:18] == 0).all() and got.iloc[18] != 0


def test_sma_cross_depends_only_on_its_windows() -> None:
    """A live engine holding only the last bars computes the same signals as a backtest over all."""
    c = make_candles(3000, seed=4)
    s = SmaCross(fast=9, slow=30)
    full = s.signals(c).to_numpy()
    for start in (1, 517, 2900):
        part = s.signals(c.iloc[start:]).to_numpy()
        assert (part[29:] == full[start + 29 :]).all()
        assert (part[:29] == 0).all()


def test_sma_cross_is_flat_when_the_averages_are_equal() -> None:
    c = make_candles(60)
    for col in c.columns[:-1]:
        c[col] = 1.23456  # flat market: both averages equal
    assert (SmaCross(fast=3, slow=8).signals(c) == 0).all()


def _reference_hold(long_in: list[bool], short_in: list[bool], long_out: list[bool], short_out: list[bool]
                    ) -> list[int]:
    pos, out = 0, []
    for li, si, lo, so in zip(long_in, short_in, long_out, short_out, strict=True):
        if li:
            pos = 1
        elif si:
            pos = -1
        elif (pos == 1 and lo) or (pos == -1 and so):
            pos = 0
        out.append(pos)
    return out


def test_donchian_against_a_bar_by_bar_loop() -> None:
    c = make_candles(500, seed=5)
    s = DonchianBreakout(period=12, exit_period=5)
    close, high, low = (c[f"mid_{k}"].tolist() for k in ("close", "high", "low"))
    li, si, lo, so = [], [], [], []
    for t in range(len(close)):
        ok = t >= 12
        li.append(ok and close[t] > max(high[t - 12 : t]))
        si.append(ok and close[t] < min(low[t - 12 : t]))
        ok5 = t >= 5
        lo.append(ok5 and close[t] < min(low[t - 5 : t]))
        so.append(ok5 and close[t] > max(high[t - 5 : t]))
    expected = _reference_hold(li, si, lo, so)
    got = s.signals(c).tolist()
    assert got == expected
    assert {1, -1, 0} <= set(got)


def test_rsi_reversion_against_a_recursive_loop() -> None:
    c = make_candles(600, seed=7)
    n, lower, upper, ex = 6, 35.0, 65.0, 50.0
    close = c["mid_close"].tolist()
    ag = al = 0.0
    rsi: list[float | None] = [None]
    for t in range(1, len(close)):
        d = close[t] - close[t - 1]
        g, lo = max(d, 0.0), max(-d, 0.0)
        if t == 1:
            ag, al = g, lo
        else:
            ag, al = ag + (g - ag) / n, al + (lo - al) / n
        rsi.append(100.0 * ag / (ag + al) if t >= n else None)
    li = [r is not None and r < lower for r in rsi]
    si = [r is not None and r > upper for r in rsi]
    lx = [r is not None and r >= ex for r in rsi]
    sx = [r is not None and r <= ex for r in rsi]
    got = RsiReversion(period=n, lower=lower, upper=upper, exit=ex).signals(c).tolist()
    assert got == _reference_hold(li, si, lx, sx)
    assert {1, -1} <= set(got)


def test_bollinger_against_window_statistics() -> None:
    c = make_candles(500, seed=11)
    p, w = 10, 1.5
    close = c["mid_close"].to_numpy()
    li, si, lx, sx = [], [], [], []
    for t in range(len(close)):
        if t < p - 1:
            li.append(False), si.append(False), lx.append(False), sx.append(False)
            continue
        win = close[t - p + 1 : t + 1]
        m, sd = float(np.mean(win)), float(np.std(win))
        li.append(close[t] < m - w * sd)
        si.append(close[t] > m + w * sd)
        lx.append(close[t] >= m)
        sx.append(close[t] <= m)
    got = BollingerBands(period=p, width=w).signals(c).tolist()
    assert got == _reference_hold(li, si, lx, sx)
    assert {1, -1, 0} <= set(got)


@pytest.mark.parametrize("strategy", BUILTINS, ids=lambda s: type(s).__name__)
def test_no_look_ahead_on_every_prefix(strategy: Strategy) -> None:
    c = make_candles(160, seed=21)
    full = strategy.signals(c).to_numpy()
    assert len(set(full.tolist())) >= 2  # the series does trade, so the check means something
    for k in range(1, len(c) + 1):
        part = strategy.signals(c.iloc[:k]).to_numpy()
        assert part.shape == (k,)
        assert (part == full[:k]).all(), f"{strategy}: bar values changed when {len(c) - k} bars were added"


@pytest.mark.parametrize("strategy", BUILTINS, ids=lambda s: type(s).__name__)
def test_warmup_bars_are_flat(strategy: Strategy) -> None:
    for seed in range(5):
        sig = strategy.signals(make_candles(200, seed=seed)).to_numpy()
        nonzero = np.flatnonzero(sig)
        assert nonzero.size and nonzero[0] >= strategy.warmup - 1
        assert sig.dtype == np.int8 and set(np.unique(sig)) <= {-1, 0, 1}


def test_empty_and_short_histories() -> None:
    for s in BUILTINS:
        assert len(s.signals(make_candles(0))) == 0
        assert (s.signals(make_candles(3)) == 0).all()
