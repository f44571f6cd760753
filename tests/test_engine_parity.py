"""Parity: recorded ticks replayed through LiveEngine (ReplayFeed, PaperBroker) give the same signals, the
same trades and the same P&L as ``backtest()`` on ``resample_ticks`` of the same ticks.

Every registered built-in strategy is checked, with parameters that exercise its state (RSI's hysteresis
with a narrow band and Wilder's averages over a long period, Donchian holding through a long exit channel,
tight Bollinger bands), plus a user strategy that declares nothing (``lookback`` None: the engine keeps
every bar) and is path-dependent. Some runs use 15-second bars so the history outgrows its first capacity.

The one difference is the end: the backtest closes a position still open after the last bar at that
bar's close (exit reason "end"); the engine never sees the last bar close (no later tick) and holds the
position. The test compares the closed trades, then checks the engine's open position against the
backtest's "end" trade and its unrealised P&L against that trade's P&L.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from igkit.backtest import backtest
from igkit.broker.paper import PaperBroker
from igkit.candles import resample_ticks
from igkit.engine import LiveEngine, read_audit
from igkit.errors import DataError
from igkit.feeds import ReplayFeed
from igkit.market import SyntheticMarket
from igkit.store import write_ticks
from igkit.strategy import STRATEGIES, Param, Strategy, get_strategy
from igkit.ticks import TickHub

EPICS = ("CS.D.EURUSD.MINI.IP", "CS.D.GBPUSD.MINI.IP")
START = pd.Timestamp("2026-11-17 07:00", tz="UTC")  # a Tuesday: the market is open
SIZE = 2.0


class EwmaBand(Strategy):
    """A user strategy written the plain way (``signals`` only, no ``lookback``): long above an EWMA band,
    short below, held in between — both the average and the position depend on every bar since the first."""

    span = Param(40, min=2)
    band = Param(2e-4, min=0.0)

    @property
    def warmup(self) -> int:
        return 2

    def signals(self, candles: pd.DataFrame) -> pd.Series:
        close = candles["mid_close"]
        ewma = close.ewm(span=self.span, adjust=True).mean().to_numpy()
        c = close.to_numpy()
        pos, out = 0, np.zeros(len(c), np.int8)
        for t in range(len(c)):
            if c[t] > ewma[t] + self.band:
                pos = 1
            elif c[t] < ewma[t] - self.band:
                pos = -1
            out[t] = pos
        return pd.Series(out, index=candles.index, name="signal")


# every registered built-in (a new one must be added here) with parameters that exercise its state
BUILTINS: dict[str, dict] = {
    "sma": {"fast": 5, "slow": 20},
    "donchian": {"period": 20, "exit_period": 20},
    "rsi": {"period": 30, "lower": 40.0, "upper": 60.0},
    "bollinger": {"period": 30, "width": 1.0},
}
CASES = [
    pytest.param(lambda: get_strategy("sma", fast=5, slow=20), "1min", id="sma-5-20-1min"),
    pytest.param(lambda: get_strategy("sma", fast=3, slow=9), "5min", id="sma-3-9-5min"),
    pytest.param(lambda: get_strategy("donchian", **BUILTINS["donchian"]), "1min", id="donchian-1min"),
    pytest.param(lambda: get_strategy("donchian", period=12, exit_period=4), "15s", id="donchian-15s"),
    pytest.param(lambda: get_strategy("rsi", **BUILTINS["rsi"]), "15s", id="rsi-hysteresis-15s"),
    pytest.param(lambda: get_strategy("rsi"), "15s", id="rsi-default-15s"),
    pytest.param(lambda: get_strategy("bollinger", **BUILTINS["bollinger"]), "1min", id="bollinger-1min"),
    pytest.param(lambda: EwmaBand(), "15s", id="user-unbounded-15s"),
]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, pd.DataFrame]]:
    root = tmp_path_factory.mktemp("ticks")
    market = SyntheticMarket(11, tick_rate=3.0, instruments=list(EPICS))
    frames = {}
    for epic in EPICS:
        frame = market.ticks_frame(epic, START, START + pd.Timedelta("5h"))
        write_ticks(root, epic, frame)
        frames[epic] = frame
    return str(root), frames


def _run_engine(root: str, tmp_path, strategy, freq: str) -> tuple[LiveEngine, PaperBroker, int]:
    hub = TickHub()
    feed = ReplayFeed(hub, root, speed=None)
    # P&L in price units x size, as the backtest books it (the catalog's default converts contract values)
    broker = PaperBroker(balance=100_000.0, value_per_point=dict.fromkeys(EPICS, 1.0))
    audit = tmp_path / "audit.jsonl"
    engine = LiveEngine(None, feed=feed, strategy=strategy, broker=broker, hub=hub, instruments=EPICS,
                        freq=freq, size=SIZE, audit_path=str(audit))
    engine.start()
    assert feed.join(60), "replay did not finish"
    deadline = time.monotonic() + 60
    while engine.ticks < feed.pushed and time.monotonic() < deadline:
        time.sleep(0.02)
    engine.stop(flatten=False)
    return engine, broker, feed.pushed


def test_every_registered_builtin_is_checked() -> None:
    assert {k for k, c in STRATEGIES.items() if c.__module__.startswith("igkit.strategy")} == set(BUILTINS)


@pytest.mark.parametrize(("make_strategy", "freq"), CASES)
def test_replay_through_engine_equals_backtest(recorded, tmp_path, make_strategy, freq: str) -> None:
    root, frames = recorded
    strategy = make_strategy()
    engine, broker, pushed = _run_engine(root, tmp_path, strategy, freq)
    assert engine.history_bars == strategy.lookback  # only what the strategy needs (None: every bar)
    assert pushed == sum(len(f) for f in frames.values()) and engine.ticks == pushed
    live = engine.trades()
    audit = read_audit(tmp_path / "audit.jsonl")
    for epic in EPICS:
        candles = resample_ticks(frames[epic], freq)
        result = backtest(candles, strategy, size=SIZE, capital=100_000.0)
        bt = result.trades

        # signals: every bar the engine closed (all but the last) has the backtest's signal
        sig = [r for r in audit if r["kind"] == "signal" and r["epic"] == epic]
        assert len(sig) == len(candles) - 1
        got = pd.Series([r["target"] for r in sig], index=pd.DatetimeIndex([r["bar"] for r in sig]))
        np.testing.assert_array_equal(got.to_numpy(), result.signals.iloc[:-1].to_numpy())
        assert (got.index == candles.index[:-1]).all()
        assert {-1, 1} <= set(got.tolist())  # the strategy takes both sides
        if strategy.lookback is None:
            assert len(engine.instruments[epic].history) == len(candles) - 1  # every bar kept

        # closed trades: identical times, direction, size and prices; P&L equal to rounding
        mine = live[live["epic"] == epic].reset_index(drop=True)
        closed = mine[mine["exit_reason"] != "open"].reset_index(drop=True)
        bt_closed = bt[bt["exit_reason"] != "end"].reset_index(drop=True)
        assert len(bt_closed) >= 5, "the scenario must trade"
        assert len(closed) == len(bt_closed)
        for col in ("entry_time", "exit_time", "direction", "size", "entry_price", "exit_price", "exit_reason"):
            assert closed[col].tolist() == bt_closed[col].tolist(), col
        np.testing.assert_allclose(closed["pnl"].to_numpy(), bt_closed["pnl"].to_numpy(), rtol=0, atol=1e-9)

        # the end: the backtest's "end" trade is the engine's open position, valued the same
        opened = mine[mine["exit_reason"] == "open"]
        ends = bt[bt["exit_reason"] == "end"]
        assert len(opened) == len(ends) <= 1
        held = [p for p in broker.positions() if p.epic == epic]
        if len(ends):
            end = ends.iloc[0]
            assert opened["entry_time"].iloc[0] == end["entry_time"]
            assert opened["entry_price"].iloc[0] == end["entry_price"]
            assert opened["direction"].iloc[0] == end["direction"]
            (pos,) = held
            last = frames[epic].iloc[-1]
            assert pos.upl(last["bid"], last["ask"]) == pytest.approx(end["pnl"], abs=1e-9)
        else:
            assert held == []
        realized = sum(f.pnl for f in engine.fills if f.epic == epic and not f.opening)
        assert realized == pytest.approx(bt_closed["pnl"].sum(), abs=1e-9)
        assert realized + sum(p.upl(frames[epic].iloc[-1]["bid"], frames[epic].iloc[-1]["ask"]) for p in held) == \
            pytest.approx(result.equity.iloc[-1] - 100_000.0, abs=1e-9)


@pytest.mark.parametrize("make_strategy", [
    pytest.param(lambda: get_strategy("sma", fast=5, slow=20), id="sma"),
    *[pytest.param(lambda n=n: get_strategy(n, **BUILTINS[n]), id=n) for n in ("donchian", "rsi", "bollinger")],
    pytest.param(lambda: EwmaBand(), id="user-unbounded"),
])
def test_history_warm_up_gives_the_backtests_signals_from_the_first_live_bar(recorded, tmp_path, make_strategy
                                                                            ) -> None:
    """Prior candles passed as ``history=`` make the live bars' signals those of the backtest on the whole
    series (history included) from the first live bar on: the window-bound strategies read them, the
    path-dependent ones start their carried state from them (without, the first ``slow - 1`` SMA signals
    would be 0 and an RSI would start its averages afresh)."""
    _root, frames = recorded
    strategy = make_strategy()
    split = START + pd.Timedelta("2h")
    live_root = tmp_path / "live"
    history = {}
    for epic in EPICS:
        write_ticks(live_root, epic, frames[epic].loc[split:])
        history[epic] = resample_ticks(frames[epic].loc[: split - pd.Timedelta(1, "ns")], "1min")
    hub = TickHub()
    feed = ReplayFeed(hub, live_root, speed=None)
    engine = LiveEngine(None, feed=feed, strategy=strategy, broker=PaperBroker(), hub=hub, instruments=EPICS,
                        freq="1min", size=SIZE, history=history, audit_path=str(tmp_path / "a.jsonl"))
    engine.start()
    assert feed.join(60)
    deadline = time.monotonic() + 60
    while engine.ticks < feed.pushed and time.monotonic() < deadline:
        time.sleep(0.02)
    engine.stop()
    sig = [r for r in read_audit(tmp_path / "a.jsonl") if r["kind"] == "signal"]
    for epic in EPICS:
        full = backtest(resample_ticks(frames[epic], "1min"), strategy, size=SIZE).signals
        mine = [(pd.Timestamp(r["bar"]), r["target"]) for r in sig if r["epic"] == epic]
        assert mine[0][0] == split and len(mine) > 100
        assert [t for _, t in mine] == [int(full.loc[b]) for b, _ in mine]
        if strategy.name == "sma":
            assert mine[0][1] != 0  # warmed: a defined signal at once


def test_history_for_an_unknown_instrument_is_refused(recorded) -> None:
    root, frames = recorded
    hub = TickHub()
    with pytest.raises(DataError, match=r"NOT\.AN\.EPIC"):
        LiveEngine(None, feed=ReplayFeed(hub, root, speed=None), strategy=get_strategy("sma"), broker=PaperBroker(),
                   hub=hub, instruments=EPICS, history={"NOT.AN.EPIC": resample_ticks(frames[EPICS[0]], "1min")})
