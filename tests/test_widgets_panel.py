"""ControlPanel with a real Demo engine (DemoFeed → LiveEngine → PaperBroker), no browser: Start, the
refresher's widget updates, the kill switch from another thread, Stop, the live confirmation, bad
parameters, re-creation replacing the old panel, close(). Every widget is guarded: a write from any
thread but the refresher's fails the test."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from igkit.config import load_config
from igkit.engine import EngineStatus
from igkit.strategy import STRATEGIES, Param, Strategy, register
from igkit.widgets import ControlPanel, EngineSettings, demo_engine, demo_start_ns, live_panels
from igkit.widgets.theme import MODE_COLORS

EURUSD, GBPUSD = "CS.D.EURUSD.MINI.IP", "CS.D.GBPUSD.MINI.IP"
START = "2026-11-17T10:00:00Z"  # a Tuesday: every FX market trades


def wait_for(cond: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or cond}")


class as_user:
    """The user's own input in the browser arrives on the kernel's thread: not the panel's write."""

    def __init__(self, panel: ControlPanel) -> None:
        self.r = panel.refresher

    def __enter__(self) -> None:
        self.r.guard_armed = False

    def __exit__(self, *exc: object) -> None:
        self.r.guard_armed = True


def fast_factory(calls: list[EngineSettings] | None = None) -> Any:
    def make(config: Any, settings: EngineSettings, progress: Any) -> Any:
        if calls is not None:
            calls.append(settings)
        return demo_engine(config, settings, progress, speed=60.0, start=START)

    return make


def configure(panel: ControlPanel, instruments: tuple[str, ...] = (EURUSD, GBPUSD)) -> None:
    w = panel.widgets
    w.timeframe.value = "5s"
    w.instruments.value = instruments
    w.strategy.value = "sma"
    w.param_inputs["fast"].value = 2
    w.param_inputs["slow"].value = 3


@pytest.fixture
def panel() -> Iterator[ControlPanel]:
    p = ControlPanel(load_config(), engine_factory=fast_factory())
    configure(p)
    p.guard()
    yield p
    p.close()
    assert p.refresher.writes_off_thread == 0, list(p.refresher.off_thread_examples)


def test_start_streams_into_widgets_kill_from_a_thread_and_stop(panel: ControlPanel) -> None:
    w = panel.widgets
    panel.start()
    eng = panel.engine
    assert eng is not None and eng.running
    wait_for(lambda: "RUNNING" in w.status.value, what="status RUNNING in the header")
    assert "DEMO" in w.badge.value
    assert w.start.disabled and not w.stop.disabled and w.mode.disabled
    count = wait_for(lambda: panel._renderer.source is not None and panel._renderer.source.count >= 3,
                     what="closed candles on the chart")
    assert count
    wait_for(lambda: len(panel.chart.widget.data[0].x) >= 3, what="candles in the figure")
    wait_for(lambda: "data-candles='" in w.candle_count.value and "data-candles='0'" not in w.candle_count.value)
    wait_for(lambda: eng.state.positions, what="a position opened by sma(2, 3)")
    wait_for(lambda: any(getattr(r, "children", None) and r.children[0].description == "Close"
                         for r in w.positions.children), what="a position row with a Close button")
    wait_for(lambda: "<td" in w.fills.value and "<td" in w.signals.value, what="signals and fills tables")
    wait_for(lambda: len(panel.chart.widget.data[1].x) + len(panel.chart.widget.data[2].x) > 0,
             what="signal markers on the chart")
    assert "balance" in w.balance.value and "P&amp;L" in w.pnl.value and "last tick" in w.tick_age.value

    killer = threading.Thread(target=panel.kill, name="not-the-refresher")
    killer.start()
    killer.join(10)
    assert eng.state.status is EngineStatus.HALTED
    assert eng.broker.positions() == []  # flattened at once
    wait_for(lambda: "HALTED" in w.status.value, what="HALTED in the header")
    wait_for(lambda: w.error.layout.display != "none" and "kill" in w.error.value, what="the error line")
    assert not w.resume.disabled
    n_fills = len(eng.fills)
    time.sleep(0.6)  # bars keep closing, but no order goes out while halted
    assert eng.broker.positions() == [] and len(eng.fills) == n_fills

    w.stop.click()
    assert eng.state.status is EngineStatus.STOPPED and not eng.running
    wait_for(lambda: "STOPPED" in w.status.value and not w.start.disabled, what="STOPPED, Start enabled")


class HoldLong(Strategy):
    """Long from the first bar on, for ever: a position the test can close by hand."""

    name = "test_hold_long"
    bars = Param(1, min=1)

    @property
    def warmup(self) -> int:
        return 1

    def signals(self, candles: pd.DataFrame) -> pd.Series:
        return self.to_signals(np.ones(len(candles), dtype=np.int8), candles)


def test_close_button_closes_that_position() -> None:
    register(HoldLong)
    try:
        p = ControlPanel(load_config(), engine_factory=fast_factory())
        try:
            configure(p, (EURUSD,))
            p.widgets.strategy.value = "test_hold_long"
            p.guard()
            p.start()
            eng = p.engine
            row = wait_for(lambda: next((r for r in p.widgets.positions.children if hasattr(r, "children")), None),
                           what="a position row")
            assert "igkit-close-position" in row.children[0]._dom_classes
            deal_id = row.children[1].value.rsplit(" ", 1)[-1]
            assert deal_id in {x.deal_id for x in eng.broker.positions()}
            row.children[0].click()
            fill = wait_for(lambda: next((f for f in eng.fills if f.deal_id == deal_id and not f.opening), None),
                            what="the closing fill")
            assert fill.reason == "close"  # the manual close order, not a strategy order (those say "market")
            wait_for(lambda: deal_id not in p.widgets.positions.children[0].children[1].value
                     if hasattr(p.widgets.positions.children[0], "children") else True, what="the row gone")
        finally:
            p.close()
        assert p.refresher.writes_off_thread == 0, list(p.refresher.off_thread_examples)
    finally:
        STRATEGIES.pop("test_hold_long", None)


def test_start_rebuilds_only_when_the_controls_changed() -> None:
    calls: list[EngineSettings] = []
    p = ControlPanel(load_config(), engine_factory=fast_factory(calls))
    try:
        configure(p, (EURUSD,))
        p.start()
        first = p.engine
        p.start()  # running: idempotent
        assert p.engine is first and len(calls) == 1
        p.stop()
        p.start()  # same settings: the same engine starts again
        assert p.engine is first and len(calls) == 1 and first.running
        p.stop()
        p.widgets.timeframe.value = "15s"
        p.start()
        assert p.engine is not first and len(calls) == 2 and calls[-1].freq == "15s"
        assert first.status is EngineStatus.STOPPED
    finally:
        p.close()


def test_live_mode_asks_for_confirmation_first() -> None:
    calls: list[EngineSettings] = []
    p = ControlPanel(load_config(), engine_factory=fast_factory(calls))
    try:
        p.widgets.mode.value = "ig-live"  # the user's input
        p.guard()
        p.widgets.start.click()
        wait_for(lambda: p.widgets.confirm.layout.display != "none", what="the confirmation box")
        assert calls == [] and p.engine is None
        p.widgets.confirm_no.click()
        wait_for(lambda: p.widgets.confirm.layout.display == "none", what="the box hidden again")
        assert calls == []
        p.widgets.confirm_yes.click()  # our Demo factory refuses a non-demo mode: shown, never a crash
        assert len(calls) == 1 and calls[0].mode == "ig-live"
        wait_for(lambda: "start failed" in p.widgets.error.value and "demo" in p.widgets.error.value,
                 what="the refusal on the error line")
    finally:
        p.close()
    assert p.refresher.writes_off_thread == 0, list(p.refresher.off_thread_examples)


def test_bad_parameters_are_shown_not_raised(panel: ControlPanel) -> None:
    with as_user(panel):
        panel.widgets.param_inputs["fast"].value = 9
        panel.widgets.param_inputs["slow"].value = 4
    panel.widgets.start.click()
    assert panel.engine is None
    wait_for(lambda: "start failed" in panel.widgets.error.value and "fast" in panel.widgets.error.value,
             what="the parameter error on the error line")


def test_strategy_change_rebuilds_parameter_inputs(panel: ControlPanel) -> None:
    panel.refresher.start()
    with as_user(panel):
        panel.widgets.strategy.value = "donchian"
    wanted = set(STRATEGIES["donchian"].param_specs())
    wait_for(lambda: set(panel.widgets.param_inputs) == wanted, what="donchian's parameter inputs")
    assert all("igkit-param" in x._dom_classes for x in panel.widgets.params.children)


def test_a_new_panel_replaces_the_old_one_and_close_tears_down() -> None:
    p1 = ControlPanel(load_config(), engine_factory=fast_factory())
    configure(p1, (EURUSD,))
    p1.start()
    eng1 = p1.engine
    assert eng1.running and p1.refresher.running
    p2 = ControlPanel(load_config(), engine_factory=fast_factory())
    try:
        assert p1.closed and not p1.refresher.running
        assert eng1.status is EngineStatus.STOPPED and not eng1.running
        assert p1.widgets.root.comm is None and p1.chart.widget.comm is None
        assert live_panels() == [p2]
        with pytest.raises(RuntimeError, match="closed"):
            p1.start()
    finally:
        p2.close()
    assert live_panels() == []
    p2.close()  # idempotent


def test_progress_bars_show_in_the_panel(panel: ControlPanel) -> None:
    panel.refresher.start()
    bar = panel.progress("sweep sma", 4)
    threading.Thread(target=bar.update, args=(3,)).start()
    wait_for(lambda: len(panel.widgets.progress.children) == 1, what="a progress row")
    ip = panel.widgets.progress.children[0].children[0]
    wait_for(lambda: ip.value == 3 and ip.max == 4, what="the bar at 3/4")
    bar.close()
    wait_for(lambda: ip.bar_style == "success", what="the bar finished")


def test_warmup_history_loads_with_a_progress_bar(panel: ControlPanel) -> None:
    with as_user(panel):
        panel.widgets.warmup.value = 20
    panel.start()
    eng = panel.engine
    for inst in eng.instruments.values():  # 20 bars loaded; the engine holds what its strategy reads
        assert len(inst.history) == inst.history.total == min(20, eng.history_bars or 20) > 0
    assert panel.progress_bars and panel.progress_bars[0].n == 2 and panel.progress_bars[0].closed


def test_sim_mode_starts_a_simulator_backed_engine_kill_and_close_tear_down() -> None:
    """The default factory for SIM: an in-process IGSimulator, the real IGClient (REST), the StreamingFeed
    (Lightstreamer ticks and TRADE events) and the IGBroker; the kill switch flattens on the simulator and
    close() stops the simulator and logs out."""
    if HoldLong.name not in STRATEGIES:
        register(HoldLong)
    p = ControlPanel(load_config())  # config/test.json: no ig.endpoints.sim → an in-process simulator
    try:
        w = p.widgets
        with as_user(p):
            w.mode.value = "sim"
            w.timeframe.value = "1s"
            w.instruments.value = (EURUSD,)
            w.strategy.value = HoldLong.name
        p.guard()
        p.start()
        eng = p.engine
        assert eng is not None, list(p.messages)
        res = eng.resources
        sim = res.sim
        assert res.owns_sim and sim.running and res.client.logged_in
        assert type(eng.broker).__name__ == "IGBroker" and type(eng.feed).__name__ == "StreamingFeed"
        wait_for(lambda: "RUNNING" in w.status.value and "SIM" in w.badge.value, what="SIM RUNNING in the header")
        assert f"background:{MODE_COLORS['sim']}" in w.badge.value
        # the account the simulator logged the client in to (config/test.json names none: it was "?")
        acct = res.client.session.account_id
        assert acct and p.config.ig.account_id is None
        wait_for(lambda: w.account.value == f"account <b>{acct}</b>", what=f"account {acct} in the header")
        wait_for(lambda: eng.ticks > 0 and "CONNECTED" in w.connection.value, what="streamed ticks")
        wait_for(lambda: sim.positions(), what="a position on the simulator")
        wait_for(lambda: any(getattr(r, "children", None) for r in w.positions.children),
                 what="the simulator's position in the positions tab")
        killer = threading.Thread(target=p.kill, name="not-the-refresher")
        killer.start()
        killer.join(10)
        assert eng.state.status is EngineStatus.HALTED
        assert sim.positions() == [] and eng.broker.positions() == []
        wait_for(lambda: "HALTED" in w.status.value, what="HALTED in the header")
    finally:
        p.close()
    assert not sim.running and not res.client.logged_in and res.closed
    assert p.refresher.writes_off_thread == 0, list(p.refresher.off_thread_examples)


def test_ig_demo_without_credentials_runs_demo_and_says_so() -> None:
    p = ControlPanel(load_config())  # config/test.json: no IG credentials
    try:
        with as_user(p):
            p.widgets.mode.value = "ig-demo"
        p.start()
        assert p.engine is not None and p.engine.mode.value == "demo" and p.engine.running
        assert any("falling back to Demo" in m for _, m in p.messages)
    finally:
        p.close()


def test_demo_start_skips_the_weekend() -> None:
    saturday = pd.Timestamp("2026-11-21 12:00", tz="UTC").value
    got = demo_start_ns([EURUSD], saturday)
    assert got < saturday
    assert pd.Timestamp(got, tz="UTC").day_of_week == 4  # the synthetic Friday
    tuesday = pd.Timestamp(START).value
    assert demo_start_ns([EURUSD], tuesday) == tuesday


def test_a_given_engine_is_driven_as_it_is() -> None:
    cfg = load_config()
    settings = EngineSettings("demo", (GBPUSD,), "15s", "sma", {"fast": 3, "slow": 7})
    eng = demo_engine(cfg, settings, None, speed=60.0, start=START)
    p = ControlPanel(cfg, engine=eng)
    try:
        w = p.widgets
        assert w.instruments.value == (GBPUSD,) and w.timeframe.value == "15s"
        assert w.param_inputs["fast"].value == 3 and w.param_inputs["slow"].value == 7
        p.guard()
        w.start.click()
        assert p.engine is eng and eng.running
        wait_for(lambda: w.chart_instrument.value == GBPUSD and "RUNNING" in w.status.value,
                 what="the engine's instrument on the chart")
    finally:
        p.close()
    assert eng.status is EngineStatus.STOPPED
    assert p.refresher.writes_off_thread == 0, list(p.refresher.off_thread_examples)
