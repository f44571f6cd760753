"""CandleChart and Refresher without a browser: the figure's traces after updates (window, follow,
markers, levels, diffs), input errors, and the refresher's thread rules."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest

from igkit.candles import resample_arrays
from igkit.errors import DataError
from igkit.market import SyntheticMarket
from igkit.plotting import LONG_COLOR, SHORT_COLOR, backtest_figure, live_figure
from igkit.types import Direction, Fill, Position, Signal
from igkit.widgets import TRACE_INDEX, CandleChart, PanelProgress, Refresher, guard_widget

EPIC = "CS.D.EURUSD.MINI.IP"
T0 = pd.Timestamp("2026-11-17 08:00", tz="UTC").value


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    ts, bid, ask = SyntheticMarket(3).ticks(EPIC, T0, T0 + 14 * 3600 * 10**9)
    frame = resample_arrays(ts, bid, ask, "1min")
    assert len(frame) > 700
    return frame


def ms(index: pd.DatetimeIndex) -> np.ndarray:
    return index.as_unit("ns").asi8 / 1e6


def trace(chart: CandleChart, name: str):
    return chart.widget.data[TRACE_INDEX[name]]


def test_window_keeps_the_latest_bars(candles: pd.DataFrame) -> None:
    chart = CandleChart(EPIC, window=500)
    chart.update(candles.iloc[:700])
    c = trace(chart, "candles")
    assert len(c.x) == 500
    np.testing.assert_array_equal(np.asarray(c.x), ms(candles.index[200:700]))
    np.testing.assert_array_equal(np.asarray(c.close), candles["mid_close"].to_numpy()[200:700])
    ticks = trace(chart, "ticks")
    np.testing.assert_array_equal(np.asarray(ticks.y), candles["ticks"].to_numpy()[200:700].astype(float))
    assert chart.widget.layout.xaxis.type == "date"
    assert chart.bars == 500 and chart.total_bars == 700


def test_short_frame_and_bid_side(candles: pd.DataFrame) -> None:
    chart = CandleChart(EPIC, side="bid", window=50)
    chart.update(candles.iloc[:10])
    c = trace(chart, "candles")
    assert len(c.x) == 10
    np.testing.assert_array_equal(np.asarray(c.low), candles["bid_low"].to_numpy()[:10])


def test_update_before_display_builds_a_complete_figure(candles: pd.DataFrame) -> None:
    chart = CandleChart(EPIC, window=100)
    chart.update(candles.iloc[:150])
    assert not chart.figure_built  # nothing was edited: the widget does not exist yet
    w = chart.widget
    assert len(w.data) == len(TRACE_INDEX)
    np.testing.assert_array_equal(np.asarray(w.data[0].x), ms(candles.index[50:150]))
    assert chart.sent == 0  # built with the data, not edited afterwards


def test_follow_and_frozen_view(candles: pd.DataFrame) -> None:
    chart = CandleChart(EPIC, window=100, follow=True)
    chart.update(candles.iloc[:200])
    assert chart.widget.layout.xaxis.autorange is True
    chart.follow = False
    chart.update(candles.iloc[:200])
    frozen = tuple(chart.widget.layout.xaxis.range)
    assert chart.widget.layout.xaxis.autorange is False
    assert frozen[0] == ms(candles.index[100:101])[0]
    chart.update(candles.iloc[:260])  # data slides, the view stays
    assert tuple(chart.widget.layout.xaxis.range) == frozen
    assert np.asarray(chart.widget.data[0].x)[-1] == ms(candles.index[259:260])[0]
    chart.follow = True
    chart.update(candles.iloc[:261])
    assert chart.widget.layout.xaxis.autorange is True


def test_diff_sends_only_changed_traces(candles: pd.DataFrame) -> None:
    chart = CandleChart(EPIC, window=100)
    _ = chart.widget
    assert chart.update(candles.iloc[:120]) == 2  # candles + ticks
    assert chart.update(candles.iloc[:120]) == 0  # nothing changed: nothing sent
    last = candles.iloc[:120].copy()
    last.iloc[-1, last.columns.get_loc("mid_close")] += 0.0001  # the open bar moved
    assert chart.update(last) == 1  # only the candles; tick counts are the same
    assert chart.update(candles.iloc[:121]) == 2
    frame = candles.iloc[:130].copy()
    chart.update(frame)
    frame.iloc[-1, frame.columns.get_loc("mid_high")] += 0.001  # the caller edits its frame in place
    assert chart.update(frame) == 1
    assert np.asarray(trace(chart, "candles").high)[-1] == frame["mid_high"].iloc[-1]


def test_render_report_resends_everything(candles: pd.DataFrame) -> None:
    chart = CandleChart(EPIC, window=100)
    _ = chart.widget
    chart.update(candles.iloc[:120])
    chart._on_render({"new": {"trace_deltas": [], "trace_edit_id": 1}})  # what plotly.js sends after newPlot
    assert chart.update(candles.iloc[:120]) == len(TRACE_INDEX)


def test_signal_series_markers(candles: pd.DataFrame) -> None:
    frame = candles.iloc[:300]
    target = np.zeros(300, dtype=np.int8)
    target[50:120] = 1  # long at 50 (outside the 200-bar window: dropped)
    target[220:260] = -1  # short at 220
    target[260:] = 1  # long at 260
    chart = CandleChart(EPIC, window=200)
    chart.update(frame, signals=pd.Series(target, index=frame.index))
    longs, shorts, flats = (trace(chart, n) for n in ("signal_long", "signal_short", "signal_flat"))
    np.testing.assert_array_equal(np.asarray(longs.x), ms(frame.index[[260]]))
    assert np.asarray(longs.y)[0] == frame["mid_low"].iloc[260]
    np.testing.assert_array_equal(np.asarray(shorts.x), ms(frame.index[[220]]))
    assert np.asarray(shorts.y)[0] == frame["mid_high"].iloc[220]
    assert list(np.asarray(flats.x)) == [] or np.asarray(flats.x)[0] >= ms(frame.index[100:101])[0]


def test_signal_records_and_fills(candles: pd.DataFrame) -> None:
    frame = candles.iloc[:100]
    idx = frame.index.as_unit("ns").asi8
    sigs = [Signal(int(idx[10]), EPIC, 1, 1.0), Signal(int(idx[30]), EPIC, 0, 1.0),
            Signal(int(idx[40]) + 1, EPIC, -1, 1.0)]
    fills = [
        Fill("r1", "d1", EPIC, Direction.BUY, 1.0, 1.1, int(idx[11]) + 5, opening=True),
        Fill("r2", "d1", EPIC, Direction.SELL, 1.0, 1.2, int(idx[31]) + 5, opening=False),
        Fill("r3", "d2", EPIC, Direction.SELL, 1.0, 1.3, int(idx[41]), opening=True),
        Fill("r0", "d0", EPIC, Direction.BUY, 1.0, 1.0, int(idx[0]) - 10**9, opening=True),  # before the window
    ]
    chart = CandleChart(EPIC, window=90)
    chart.update(frame, signals=sigs, fills=fills)
    assert len(trace(chart, "signal_long").x) == 1
    assert len(trace(chart, "signal_flat").x) == 1
    assert len(trace(chart, "signal_short").x) == 0  # not a bar open time: no bar to put it on
    entry, exit_ = trace(chart, "entry"), trace(chart, "exit")
    assert list(np.asarray(entry.y)) == [1.1, 1.3]
    assert list(entry.marker.symbol) == ["triangle-up", "triangle-down"]
    assert list(entry.marker.color) == [LONG_COLOR, SHORT_COLOR]
    assert list(np.asarray(exit_.y)) == [1.2]


def test_position_levels(candles: pd.DataFrame) -> None:
    frame = candles.iloc[:60]
    pos = Position("d1", EPIC, Direction.BUY, 2.0, 1.15, int(frame.index[5].value), stop_level=1.14, limit_level=1.17)
    pos2 = Position("d2", EPIC, Direction.BUY, 1.0, 1.18, int(frame.index[6].value))
    chart = CandleChart(EPIC)
    chart.update(frame, position=[pos, pos2])
    level, stop, limit = (np.asarray(trace(chart, n).y) for n in ("position", "stop", "limit"))
    assert level[0] == pytest.approx((2 * 1.15 + 1.18) / 3)
    assert list(stop) == [1.14, 1.14] and list(limit) == [1.17, 1.17]
    assert np.asarray(trace(chart, "position").x)[0] == ms(frame.index[:1])[0]
    chart.update(frame, position={"level": 1.2, "stop": None, "limit": 1.3})
    assert len(trace(chart, "stop").x) == 0 and list(np.asarray(trace(chart, "limit").y)) == [1.3, 1.3]
    chart.update(frame, position=None)
    assert all(len(trace(chart, n).x) == 0 for n in ("position", "stop", "limit"))


def test_bad_input_is_named(candles: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="side"):
        CandleChart(EPIC, side="last")
    with pytest.raises(DataError, match="window"):
        CandleChart(EPIC, window=1)
    chart = CandleChart(EPIC)
    with pytest.raises(DataError, match="ticks"):
        chart.update(candles.drop(columns=["ticks"]))
    with pytest.raises(DataError, match="naive"):
        chart.update(candles.tz_localize(None))
    with pytest.raises(DataError, match="DataFrame"):
        chart.update([1, 2, 3])  # type: ignore[arg-type]


def test_live_and_backtest_figures_share_the_look(candles: pd.DataFrame) -> None:
    frame = candles.iloc[:50]
    live = live_figure(frame)
    bt = backtest_figure(frame, pd.Series(np.zeros(50, dtype=np.int8), index=frame.index),
                         pd.DataFrame(), pd.Series(np.ones(50), index=frame.index))
    assert live.data[0].increasing.line.color == bt.data[0].increasing.line.color == LONG_COLOR
    assert live.data[0].decreasing.line.color == bt.data[0].decreasing.line.color == SHORT_COLOR
    assert [t.name for t in live.data[1:4]] == ["signal long", "signal short", "signal flat"]


def test_refresher_runs_jobs_on_its_thread_and_survives_errors() -> None:
    r = Refresher(5.0)
    seen: list[str] = []
    r.add("ok", lambda: seen.append(threading.current_thread().name))
    r.add("bad", lambda: 1 / 0)
    once = threading.Event()
    r.call_soon(once.set)
    r.start()
    try:
        assert once.wait(5)
        deadline = time.monotonic() + 5
        while r.cycles < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert r.cycles >= 3
        assert set(seen) == {"igkit-refresher"}
        assert r.errors >= 3 and "ZeroDivisionError" in r.last_error
        with pytest.raises(RuntimeError, match="running"):
            r.run_once()
    finally:
        r.stop()
    assert not r.running
    with pytest.raises(ValueError, match="hz"):
        Refresher(10.0)


def test_guard_counts_writes_off_the_refresher_thread() -> None:
    import ipywidgets as w

    r = Refresher(5.0)
    label = w.HTML()
    guard_widget(label, r)
    r.add("write", lambda: setattr(label, "value", str(r.cycles)))
    r.start()
    try:
        deadline = time.monotonic() + 5
        while r.cycles < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert r.writes_off_thread == 0
        label.value = "from the test thread"  # the very thing the panel must never do
        assert r.writes_off_thread == 1
        assert "MainThread" in r.off_thread_examples[-1]
    finally:
        r.stop()
        label.close()


def test_panel_progress_counts_and_fails() -> None:
    bar = PanelProgress(4, "history")
    bar.update(3)
    bar.update(5)
    assert bar.n == 4 and bar.fraction == 1.0
    with pytest.raises(ValueError, match="total"):
        PanelProgress(-1)
    with pytest.raises(KeyError), PanelProgress(2, "x") as b2:
        raise KeyError("boom")
    assert b2.closed and "KeyError" in b2.text()
