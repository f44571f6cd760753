"""LiveEngine end to end on the Demo market with the paper broker: candles, signals and fills; the state
seen by traitlets observers (tick rate, last tick age, connection, working orders); a failing strategy;
the kill switch from another thread; a daily-loss breach; an order the broker rejects for lack of funds;
the audit log; start/stop; live refused without confirmation.

Nothing is mocked: a real DemoFeed thread, TickHub, PaperBroker and RiskManager.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

import pandas as pd
import pytest

from igkit.broker.paper import PaperBroker
from igkit.config import Config
from igkit.engine import EngineStatus, LiveEngine, read_audit
from igkit.errors import ConfigError, DataError
from igkit.feeds import DemoFeed
from igkit.risk.limits import RiskLimits
from igkit.risk.manager import RiskManager
from igkit.strategy import SmaCross
from igkit.ticks import TickHub
from igkit.types import Direction, Mode, Order, OrderStatus, OrderType

EPICS = ("CS.D.EURUSD.MINI.IP", "CS.D.GBPUSD.MINI.IP")
START = pd.Timestamp("2026-11-17 08:00", tz="UTC")  # a Tuesday


def wait_for(cond: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Flaky(SmaCross):
    """SmaCross that raises while ``fail`` is set (not registered: no ``name`` of its own)."""

    fail: ClassVar[threading.Event] = threading.Event()
    calls: ClassVar[int] = 0

    def signals(self, candles: pd.DataFrame) -> pd.Series:
        type(self).calls += 1
        if self.fail.is_set():
            raise RuntimeError("boom in the strategy")
        return super().signals(candles)


def make(tmp_path, *, speed: float | None = None, duration: float | None = 4 * 3600, strategy: Any = None,
         limits: RiskLimits | None = None, config: Config | None = None, **kw: Any) -> tuple[LiveEngine, DemoFeed,
                                                                                             PaperBroker]:
    hub = TickHub()
    feed = DemoFeed(hub, EPICS, seed=3, tick_rate=4.0, speed=speed, start=START, duration=duration)
    broker = PaperBroker(balance=10_000.0)
    risk = RiskManager(limits or RiskLimits(size=1.0, max_order_size=10, max_position=5, max_daily_loss=1_000),
                       broker=broker)
    kw.setdefault("freq", "1min")
    kw.setdefault("size", 1.0)
    engine = LiveEngine(config, feed=feed, strategy=strategy or SmaCross(fast=2, slow=5), broker=broker, risk=risk,
                        hub=hub, audit_path=str(tmp_path / "audit.jsonl"), **kw)
    return engine, feed, broker


def test_demo_run_produces_candles_signals_fills_and_consistent_state(tmp_path) -> None:
    engine, feed, broker = make(tmp_path)
    seen: list[dict[str, Any]] = []

    def on_version(change: dict) -> None:  # the engine thread calls this; everything read is one update
        st = engine.state
        seen.append({"status": st.status, "balance": st.balance, "upl": st.unrealized_pnl, "equity": st.equity,
                     "positions": st.positions, "views": st.instrument_states, "fills": st.fills,
                     "realized": st.realized_pnl})

    engine.state.observe(on_version, "version")
    engine.start()
    assert feed.join(60)
    wait_for(lambda: engine.ticks == feed.pushed, what="the engine to drain the feed")
    wait_for(lambda: engine.state.ticks == feed.pushed, what="the state to catch up")
    engine.stop(flatten=False)

    st = engine.state
    assert st.status is EngineStatus.STOPPED
    assert st.candle_count >= 2 * (4 * 60 - 2)  # ~240 one-minute bars per instrument, minus the open one
    assert {v.epic for v in st.instrument_states} == set(EPICS)
    assert all(v.candles > 200 and v.signal in (-1, 1) for v in st.instrument_states)
    assert st.last_signal is not None and st.signals and len(st.signals) <= engine.max_recent
    assert len(engine.fills) > 10 and st.fills
    assert st.positions == tuple(broker.positions())
    assert st.balance == pytest.approx(broker.account().balance)
    assert st.realized_pnl == pytest.approx(sum(f.pnl for f in engine.fills if not f.opening))
    assert st.latency_p50_us is not None and st.latency_p99_us is not None
    assert st.last_tick_time is not None and st.last_tick_time.tzinfo is not None
    assert st.risk["limits"]["max_position"] == 5
    assert set(st.quality) <= set(EPICS) and all(q["ticks"] > 0 for q in st.quality.values())

    statuses = [s["status"] for s in seen]
    assert statuses[0] is EngineStatus.STARTING and statuses[-1] is EngineStatus.STOPPED
    assert EngineStatus.RUNNING in statuses
    assert len(seen) > 3
    for snap in seen:  # every update is self-consistent
        assert snap["equity"] == pytest.approx(snap["balance"] + snap["upl"])
        nets: dict[str, float] = {}
        for p in snap["positions"]:
            nets[p.epic] = nets.get(p.epic, 0.0) + p.signed_size
        for v in snap["views"]:
            assert v.net == pytest.approx(nets.get(v.epic, 0.0))
        assert isinstance(snap["positions"], tuple) and isinstance(snap["fills"], tuple)


def test_strategy_exception_stops_trading_not_the_feed_and_restart_resumes(tmp_path) -> None:
    Flaky.fail.clear()
    engine, feed, _broker = make(tmp_path, speed=1200.0, duration=None, strategy=Flaky(fast=2, slow=5))
    try:
        engine.start()
        wait_for(lambda: engine.candle_count >= 12, what="first candles")
        Flaky.fail.set()
        wait_for(lambda: engine.state.status is EngineStatus.ERROR, what="status ERROR")
        err = engine.state.errors[-1]
        assert err.where == "strategy" and "boom in the strategy" in err.message
        assert "Traceback" in err.traceback and "RuntimeError" in err.traceback
        assert "boom" in engine.state.status_detail
        calls, candles, ticks, n_orders = Flaky.calls, engine.candle_count, engine.ticks, len(engine.orders)
        wait_for(lambda: engine.candle_count >= candles + 6, what="candles to keep growing")
        assert engine.ticks > ticks and feed.running
        assert Flaky.calls == calls  # the strategy is not called again while in ERROR
        assert len(engine.orders) == n_orders  # and nothing is traded
        Flaky.fail.clear()
        engine.restart_trading()
        assert engine.state.status is EngineStatus.RUNNING
        wait_for(lambda: Flaky.calls > calls + 3, what="the strategy to run again")
        # start() again is the other way back, and is harmless while running
        Flaky.fail.set()
        wait_for(lambda: engine.status is EngineStatus.ERROR, what="ERROR again")
        Flaky.fail.clear()
        engine.start()
        assert engine.status is EngineStatus.RUNNING
    finally:
        Flaky.fail.clear()
        engine.stop()


def test_kill_from_another_thread_flattens_within_2s_and_blocks_orders(tmp_path) -> None:
    engine, _feed, broker = make(tmp_path, speed=1200.0, duration=None, strategy=SmaCross(fast=1, slow=2))
    try:
        engine.start()
        wait_for(lambda: len(broker.positions()) == len(EPICS), what="positions in both instruments")
        t0 = time.monotonic()
        killer = threading.Thread(target=engine.kill, args=("test button",))
        killer.start()
        wait_for(lambda: not broker.positions() and engine.state.status is EngineStatus.HALTED, timeout=2.0,
                 what="flat and HALTED within 2 s")
        killer.join(2.0)
        assert time.monotonic() - t0 < 2.0
        assert "test button" in engine.state.status_detail
        assert engine.state.errors == ()  # the kill switch swept the book without an error
        assert engine.kill_switch.fired and engine.risk.halted
        ticks, n_fills = engine.ticks, len(engine.fills)
        wait_for(lambda: engine.candle_count > 0 and engine.ticks > ticks + 500, what="ticks after the kill")
        assert not broker.positions() and not broker.pending_orders()
        assert all(not f.opening for f in engine.fills[n_fills:])  # nothing opened after the kill
        assert engine.state.positions == ()
        engine.resume()
        assert engine.state.status is EngineStatus.RUNNING
        assert not engine.kill_switch.fired and not engine.risk.halted
        wait_for(lambda: len(broker.positions()) > 0, what="trading again after resume")
    finally:
        engine.stop(flatten=True)
    assert not broker.positions()
    kinds = [r["kind"] for r in read_audit(tmp_path / "audit.jsonl")]
    assert "kill" in kinds


def test_daily_loss_breach_halts(tmp_path) -> None:
    """A tiny max_daily_loss: the first adverse move on an open position breaches it."""
    limits = RiskLimits(size=1.0, max_order_size=10, max_position=5, max_daily_loss=0.00005)
    engine, _feed, broker = make(tmp_path, limits=limits, speed=1200.0, duration=None,
                                strategy=SmaCross(fast=1, slow=2))
    try:
        engine.start()
        wait_for(lambda: engine.state.status is EngineStatus.HALTED, timeout=20, what="HALTED by the daily loss")
        wait_for(lambda: not broker.positions(), timeout=2, what="flat after the breach")
        assert "MAX_DAILY_LOSS" in engine.state.status_detail
        assert engine.risk.halted
        assert broker.account().realized_pnl < 0
        ticks = engine.ticks
        wait_for(lambda: engine.ticks > ticks + 300, what="ticks keep coming")
        assert not broker.positions()
    finally:
        engine.stop()


def test_audit_log_records_every_decision(tmp_path) -> None:
    engine, feed, broker = make(tmp_path, duration=2 * 3600)
    engine.start()
    assert feed.join(60)
    wait_for(lambda: engine.ticks == feed.pushed, what="drained")
    engine.stop(flatten=True)
    recs = read_audit(tmp_path / "audit.jsonl")
    kinds = {r["kind"] for r in recs}
    assert {"status", "signal", "risk", "order", "confirm", "fill"} <= kinds
    for r in recs:
        assert pd.Timestamp(r["ts"]).tzinfo is not None
    statuses = [r["status"] for r in recs if r["kind"] == "status"]
    assert statuses[:2] == ["STARTING", "RUNNING"] and statuses[-2:] == ["STOPPING", "STOPPED"]
    signals = [r for r in recs if r["kind"] == "signal"]
    assert len(signals) == engine.candle_count
    sent = [r for r in recs if r["kind"] == "order" and r["sent"]]
    risk_ok = {r["deal_reference"] for r in recs if r["kind"] == "risk" and r["ok"]}
    confirms = {r["deal_reference"] for r in recs if r["kind"] == "confirm"}
    assert sent and all(r["deal_reference"] in risk_ok and r["deal_reference"] in confirms for r in sent)
    fills = [r for r in recs if r["kind"] == "fill"]
    assert len(fills) == len(engine.fills)
    assert [(f["deal_id"], f["price"], f["time_ns"]) for f in fills] == \
        [(f.deal_id, f.price, f.time_ns) for f in engine.fills]
    assert not broker.positions()  # flatten=True


def test_start_stop_idempotent_and_restartable(tmp_path) -> None:
    engine, feed, broker = make(tmp_path, speed=600.0, duration=None)
    engine.start()
    engine.start()
    assert sum(t.name == "igkit-engine" for t in threading.enumerate()) == 1
    wait_for(lambda: engine.ticks > 0, what="ticks")
    engine.stop()
    engine.stop()
    assert engine.status is EngineStatus.STOPPED and not engine.running and not feed.running
    ticks = engine.ticks
    with engine:  # context manager: start again, then stop (and close the audit log)
        assert engine.running
        wait_for(lambda: engine.ticks > ticks, what="ticks after a restart")
    assert engine.status is EngineStatus.STOPPED and not engine.running
    assert sum(t.name == "igkit-engine" and t.is_alive() for t in threading.enumerate()) == 0
    assert engine.audit.closed  # close() closed it; a later start appends to the same file
    assert engine._on_broker_event not in broker._listeners  # a closed engine no longer hears the broker
    engine.start()
    engine.stop()
    statuses = [r["status"] for r in read_audit(tmp_path / "audit.jsonl") if r["kind"] == "status"]
    assert statuses == ["STARTING", "RUNNING", "STOPPING", "STOPPED"] * 3


def test_live_refused_without_both_confirmations(tmp_path) -> None:
    live = Config.model_validate({"broker": "ig", "ig": {"environment": "live"}})
    assert live.mode is Mode.IG_LIVE
    engine, feed, _broker = make(tmp_path, config=live)
    with pytest.raises(ConfigError, match="real money"):
        engine.start()
    with pytest.raises(ConfigError, match="real money"):
        engine.start(confirm_live=True)  # the config does not confirm
    assert not engine.running and not feed.running
    confirmed = Config.model_validate({"broker": "ig", "ig": {"environment": "live", "confirm_live": True}})
    engine2, _feed2, _ = make(tmp_path, config=confirmed)
    with pytest.raises(ConfigError, match="real money"):
        engine2.start()  # the call does not confirm
    engine2.start(confirm_live=True)
    try:
        assert engine2.running and engine2.state.mode == "ig-live"
    finally:
        engine2.stop()
    refused = [r for r in read_audit(tmp_path / "audit.jsonl") if r.get("status") == "REFUSED"]
    assert len(refused) == 3


def test_bad_arguments_fail_clearly(tmp_path) -> None:
    with pytest.raises(ConfigError, match="size"):
        make(tmp_path, size=0)
    with pytest.raises(DataError, match="frequency '0s'"):
        make(tmp_path, freq="0s")
    with pytest.raises(ConfigError, match="history_bars"):
        make(tmp_path, history_bars=3)


def test_an_observer_may_kill_from_inside_an_update(tmp_path) -> None:
    """A user rule in an observer ("kill when equity drops") runs on the engine thread inside an update:
    calling kill() there must not deadlock."""
    engine, _feed, broker = make(tmp_path, speed=1200.0, duration=None, strategy=SmaCross(fast=1, slow=2))

    def rule(change: dict) -> None:
        if engine.state.positions and engine.status is EngineStatus.RUNNING:
            engine.kill("observer rule")

    engine.state.observe(rule, "version")
    try:
        engine.start()
        wait_for(lambda: engine.state.status is EngineStatus.HALTED, what="HALTED by the observer")
        wait_for(lambda: not broker.positions(), timeout=2, what="flat")
        assert engine.state.status_detail == "kill: observer rule"
        ticks = engine.ticks
        wait_for(lambda: engine.ticks > ticks + 200, what="the engine thread still running")
    finally:
        engine.stop()


class FlakyBroker(PaperBroker):
    """A paper broker whose ``submit`` raises for the first ``failures`` orders (a broker/network fault)."""

    def __init__(self, failures: int) -> None:
        super().__init__(balance=10_000.0)
        self.failures = failures

    def submit(self, order):  # type: ignore[no-untyped-def]
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError(f"gateway unreachable for {order.deal_reference}")
        return super().submit(order)


def test_a_broker_exception_on_one_order_is_logged_audited_shown_not_fatal(tmp_path) -> None:
    hub = TickHub()
    feed = DemoFeed(hub, EPICS, seed=3, tick_rate=4.0, speed=None, start=START, duration=2 * 3600)
    broker = FlakyBroker(failures=1)
    engine = LiveEngine(None, feed=feed, strategy=SmaCross(fast=2, slow=5), broker=broker,
                        risk=RiskManager(RiskLimits(size=1.0), broker=broker), hub=hub, freq="1min", size=1.0,
                        audit_path=str(tmp_path / "audit.jsonl"))
    engine.start()
    assert feed.join(60)
    wait_for(lambda: engine.ticks == feed.pushed, what="drained")
    engine.stop()
    (err,) = [e for e in engine.state.errors if e.where == "broker"]
    assert "gateway unreachable" in err.message and "ConnectionError" in err.traceback
    assert engine.state.status is EngineStatus.STOPPED  # not ERROR: trading went on
    assert len(engine.fills) > 4  # later orders filled
    failed = [r for r in engine.orders if r.reason == "ERROR: ConnectionError"]
    assert len(failed) == 1
    recs = read_audit(tmp_path / "audit.jsonl")
    errors = [r for r in recs if r["kind"] == "error"]
    assert len(errors) == 1 and errors[0]["where"] == "broker" and "gateway unreachable" in errors[0]["message"]
    ref = failed[0].order.deal_reference
    assert [r["status"] for r in recs if r["kind"] == "confirm" and r["deal_reference"] == ref] == ["REJECTED"]


def test_risk_refusals_block_orders_and_are_audited_as_risk(tmp_path) -> None:
    limits = RiskLimits(size=1.0, max_order_size=10, max_position=0.5, max_daily_loss=1_000)
    engine, feed, broker = make(tmp_path, limits=limits, duration=2 * 3600)
    engine.start()
    assert feed.join(60)
    wait_for(lambda: engine.ticks == feed.pushed, what="drained")
    engine.stop()
    assert engine.fills == [] and broker.positions() == []
    assert engine.state.status is EngineStatus.STOPPED
    refused = [r for r in engine.orders if r.reason == "MAX_POSITION"]
    assert refused and all(r.status.value == "REJECTED" for r in refused)
    recs = read_audit(tmp_path / "audit.jsonl")
    risk = [r for r in recs if r["kind"] == "risk"]
    assert risk and all(not r["ok"] and r["rule"] == "MAX_POSITION" and "0.5" in r["message"] for r in risk)
    assert not [r for r in recs if r["kind"] in ("order", "confirm", "fill")]
    assert engine.state.risk["last_refusal"]["rule"] == "MAX_POSITION"


class BrokenTicks(PaperBroker):
    def on_tick(self, epic, ts_ns, bid, ask):  # type: ignore[no-untyped-def]
        raise RuntimeError("quote handler broken")


def test_a_broker_failing_on_every_tick_is_reported_once_a_second_not_per_tick(tmp_path) -> None:
    hub = TickHub()
    feed = DemoFeed(hub, EPICS, seed=3, tick_rate=4.0, speed=None, start=START, duration=3 * 3600)
    engine = LiveEngine(None, feed=feed, strategy=SmaCross(fast=2, slow=5), broker=BrokenTicks(), hub=hub,
                        freq="1min", size=1.0, audit_path=str(tmp_path / "audit.jsonl"))
    t0 = time.monotonic()
    engine.start()
    assert feed.join(60)
    wait_for(lambda: engine.ticks == feed.pushed, what="drained")
    engine.stop()
    elapsed = time.monotonic() - t0
    assert engine.candle_count > 300  # candles and the strategy went on
    errors = [e for e in engine.errors if e.where == "broker"]
    assert 1 <= len(errors) <= len(EPICS) * (int(elapsed) + 1)  # at most one per epic per second
    assert engine.suppressed_errors > 10_000 > len(errors)
    assert "quote handler broken" in errors[0].message
    audit_errors = [r for r in read_audit(tmp_path / "audit.jsonl") if r["kind"] == "error"]
    assert len(audit_errors) == len(errors)


def test_state_reports_tick_rate_tick_age_connection_and_working_orders(tmp_path) -> None:
    """The feed-health and order-book fields of the state: ``tick_rate`` follows the ticks actually handled,
    ``last_tick_age`` is the age of the newest tick at the update, ``connection`` follows the feed, and a
    working order resting at the paper broker shows in ``working_orders`` until it is cancelled."""
    engine, _feed, broker = make(tmp_path, speed=20.0, duration=None)  # 2 × 4 ticks/s × 20 = ~160 ticks/s
    st = engine.state
    assert (st.connection, st.tick_rate, st.last_tick_age, st.working_orders) == ("DISCONNECTED", 0.0, None, ())
    seen: list[tuple[float | None, int | None, int]] = []
    st.observe(lambda _c: seen.append((st.last_tick_age, st.last_tick_ns, st.updated_ns)), "version")
    epic = EPICS[0]
    try:
        engine.start()
        wait_for(lambda: st.connection == "CONNECTED" and engine.ticks > 0, what="CONNECTED and ticking")
        t0, n0 = time.monotonic(), engine.ticks
        time.sleep(3.0)
        measured = (engine.ticks - n0) / (time.monotonic() - t0)
        wait_for(lambda: st.ticks >= engine.ticks - 50, what="the state to catch up")
        assert measured > 50
        assert 0.5 * measured < st.tick_rate < 1.5 * measured, (st.tick_rate, measured)

        # last_tick_age: now - the newest tick (market time) at each update
        ages = [(a, last, upd) for a, last, upd in seen if a is not None]
        assert len(ages) > 10
        for age, last, upd in ages:
            assert age > 0 and age == pytest.approx((upd - last) / 1e9, abs=0.05)
        assert st.last_tick_ns == max(v.last_tick_ns for v in st.instrument_states)

        # a working order placed through the paper broker shows in the state, then goes when cancelled
        _ts, bid, _ask = broker.quote(epic)
        result = broker.submit(Order(epic, Direction.BUY, 1.0, OrderType.LIMIT, level=round(bid * 0.95, 5)))
        assert result.status is OrderStatus.WORKING and result.deal_id
        wait_for(lambda: any(w.deal_id == result.deal_id for w in st.working_orders), what="the working order")
        (wo,) = [w for w in st.working_orders if w.deal_id == result.deal_id]
        assert (wo.epic, wo.direction, wo.size, wo.order_type, wo.level) == (
            epic, Direction.BUY, 1.0, OrderType.LIMIT, round(bid * 0.95, 5))
        assert st.working_orders == tuple(broker.working_orders())
        assert st.connection == "CONNECTED" and st.status is EngineStatus.RUNNING
        broker.cancel_order(result.deal_id)
        wait_for(lambda: st.working_orders == (), what="the cancelled order to leave the state")
    finally:
        engine.stop()
    assert st.connection == "DISCONNECTED"  # the feed stopped


def test_an_order_rejected_for_insufficient_funds_is_shown_audited_and_trading_goes_on(tmp_path) -> None:
    """An order too big for the paper account (margin > available funds): the broker rejects it with IG's
    INSUFFICIENT_FUNDS; the engine shows it REJECTED in the state, audits it as the broker's answer, and
    keeps running (later bars are decided and tried again; no error, no ERROR status)."""
    size = 60.0  # ~60 × 280 GBP of margin on a 10 000 GBP account
    limits = RiskLimits(size=size, max_order_size=1_000, max_position=1_000, max_daily_loss=1e9)
    engine, _feed, broker = make(tmp_path, speed=1200.0, duration=None, limits=limits, size=size,
                                 strategy=SmaCross(fast=1, slow=2))
    assert broker.rules(EPICS[0]).margin(size, 1.0) > broker.account().available

    def rejected() -> list:
        return [r for r in engine.state.orders if r.status is OrderStatus.REJECTED]

    try:
        engine.start()
        wait_for(lambda: len(rejected()) >= 1, what="a REJECTED order in the state")
        first = rejected()[0]
        assert first.reason == "INSUFFICIENT_FUNDS" and first.order.size == size
        candles = engine.candle_count
        wait_for(lambda: engine.candle_count >= candles + 6 and len(rejected()) >= 4,
                 what="more bars decided and tried after the rejection")
        st = engine.state
        assert st.status is EngineStatus.RUNNING and engine.running
        assert all(r.reason == "INSUFFICIENT_FUNDS" for r in rejected())
        assert st.positions == () and st.fills == () and broker.positions() == []
        assert st.errors == ()
    finally:
        engine.stop()
    recs = read_audit(tmp_path / "audit.jsonl")
    ref = first.order.deal_reference
    assert [r["ok"] for r in recs if r["kind"] == "risk" and r["deal_reference"] == ref] == [True]
    assert [r["sent"] for r in recs if r["kind"] == "order" and r["deal_reference"] == ref] == [True]
    (confirm,) = [r for r in recs if r["kind"] == "confirm" and r["deal_reference"] == ref]
    assert confirm["status"] == "REJECTED" and confirm["broker_reason"] == "INSUFFICIENT_FUNDS"
    assert confirm["size"] == size
    assert not [r for r in recs if r["kind"] in ("fill", "error")]
    assert [r["status"] for r in recs if r["kind"] == "status"] == ["STARTING", "RUNNING", "STOPPING", "STOPPED"]
    first_t = next(i for i, r in enumerate(recs) if r.get("deal_reference") == ref)
    assert sum(r["kind"] == "signal" for r in recs[first_t:]) >= 6  # the engine went on deciding
