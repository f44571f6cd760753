"""The engine's per-instrument history sized by the strategy: ``lookback`` bars, or every bar (None) in
columns that grow; bulk warm-up; repairs that outgrow the capacity; and the engine's checks of
``history_bars`` against what the strategy needs.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from igkit.broker.paper import PaperBroker
from igkit.candles import Candle
from igkit.engine import LiveEngine
from igkit.engine._instrument import History
from igkit.errors import ConfigError
from igkit.feeds import DemoFeed
from igkit.history import random_candles
from igkit.strategy import RsiReversion, SmaCross, Strategy
from igkit.ticks import TickHub

EPIC = "CS.D.EURUSD.MINI.IP"


def _candles(frame: pd.DataFrame) -> list[Candle]:
    return [Candle(int(t), *row) for t, row in zip(frame.index.asi8, frame.itertuples(index=False), strict=True)]


def test_unbounded_history_keeps_every_bar_through_growth() -> None:
    c = random_candles(3000, seed=1)
    h = History(None)
    assert h.extend_frame(c.iloc[:500]) == 500  # bulk warm-up
    for bar in _candles(c.iloc[500:]):  # 2500 appends: the 1024-row start capacity doubles twice
        h.append(bar)
    assert len(h) == h.total == 3000
    pd.testing.assert_frame_equal(h.frame(), c, check_freq=False)


def test_bounded_history_keeps_the_newest_bars() -> None:
    c = random_candles(300, seed=2)
    h = History(7)
    h.extend_frame(c.iloc[:100])  # only the last 7 are taken
    assert len(h) == 7 and h.total == 7
    for bar in _candles(c.iloc[100:]):
        h.append(bar)
    pd.testing.assert_frame_equal(h.frame(), c.iloc[-7:], check_freq=False)


def test_unbounded_merge_inserting_bars_past_the_capacity() -> None:
    c = random_candles(1500, seed=3)
    h = History(None)
    kept = c.drop(c.index[100:1100])  # 500 bars held (capacity 1024), a 1000-bar hole
    h.extend_frame(kept)
    start, end = c.index[100].value, c.index[1100].value
    assert h.merge(c.iloc[100:1100], start, end) == 1000
    pd.testing.assert_frame_equal(h.frame(), c, check_freq=False)


def test_history_size_must_be_positive_or_none() -> None:
    with pytest.raises(ValueError, match="size"):
        History(0)


class _Everything(Strategy):
    def signals(self, candles: pd.DataFrame) -> pd.Series:
        return self.to_signals(np.zeros(len(candles)), candles)


class _BadLookback(SmaCross):
    @property
    def lookback(self) -> int:
        return 0


def _engine(strategy: Strategy, **kw: object) -> LiveEngine:
    hub = TickHub()
    feed = DemoFeed(hub, [EPIC], seed=1, speed=None, start=pd.Timestamp("2026-11-17 08:00", tz="UTC"), duration=60)
    return LiveEngine(None, feed=feed, strategy=strategy, broker=PaperBroker(), hub=hub, freq="1min", size=1.0,
                      **kw)  # type: ignore[arg-type]


def test_bars_kept_follow_the_strategy(caplog: pytest.LogCaptureFixture) -> None:
    assert _engine(SmaCross(fast=3, slow=9)).history_bars == 9
    assert _engine(RsiReversion()).history_bars == 1  # its averages and position are carried, not re-read
    assert _engine(_Everything()).history_bars is None  # undeclared: every bar
    assert _engine(SmaCross(fast=3, slow=9), history_bars=50).history_bars == 50
    with pytest.raises(ConfigError, match=r"history_bars=8 is below what the strategy needs \(9 bars"):
        _engine(SmaCross(fast=3, slow=9), history_bars=8)
    with pytest.raises(ConfigError, match="lookback=0"):
        _engine(_BadLookback(fast=3, slow=9))
    with pytest.raises(ConfigError, match="history_bars must be an int"):
        _engine(SmaCross(fast=3, slow=9), history_bars=20.5)
    with caplog.at_level(logging.WARNING, logger="igkit.engine.engine"):
        assert _engine(_Everything(), history_bars=30).history_bars == 30
    assert "may then differ from a backtest" in caplog.text


def test_warm_up_history_starts_the_carried_state() -> None:
    """``history=`` starts a path-dependent strategy's state from the whole warm-up series, even though
    the engine keeps only ``lookback`` bars of it."""
    c = random_candles(400, seed=5, start="2026-11-16")
    s = RsiReversion(period=10, lower=45.0, upper=55.0)
    engine = _engine(s, history=c)
    inst = engine.instruments[EPIC]
    assert len(inst.history) == 1
    assert inst.state == s.start_state(c)
    assert inst.state.position == int(s.signals(c).iloc[-1]) and inst.state.carry.changes == 399
