"""End to end on the IG simulator: ``build_engine(mode="sim")`` → real IGClient (REST on 127.0.0.1), real
StreamingFeed (Lightstreamer ticks and TRADE events), IGBroker, risk manager and LiveEngine; faults are
injected on the simulator's side only (nothing mocked).

Covers: a deal IG rejects (REJECTED in the engine and the audit, the engine keeps going), a lost answer to
the order POST (one position, never two), a dropped stream while a position is open (reconciled, kept,
no duplicate), a daily-loss breach (HALTED, flat on the simulator), a strategy exception (ERROR, the feed
alive) and the kill switch with several instruments ticking fast (flat on the simulator at once).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from igkit.config import Config
from igkit.engine import EngineStatus, LiveEngine, read_audit
from igkit.engine.factory import EngineResources, build_engine
from igkit.ig import RateLimits
from igkit.sim import IGSimulator
from igkit.strategy import Param, Strategy
from igkit.ticks import FeedStatus
from igkit.types import OrderStatus

pytestmark = pytest.mark.timeout(60)

EURUSD, GBPUSD, USDJPY, AUDUSD = ("CS.D.EURUSD.MINI.IP", "CS.D.GBPUSD.MINI.IP", "CS.D.USDJPY.MINI.IP",
                                  "CS.D.AUDUSD.MINI.IP")
UNLIMITED = 1_000_000
FAST_STREAM = {"stalled_timeout_ms": 500, "reconnect_timeout_ms": 500, "keepalive_ms": 1000, "retry_delay_ms": 300}


class AlwaysLong(Strategy):
    """Long from the first bar on: one position per instrument, held."""

    name = "e2e_always_long"
    bars = Param(1, min=1)

    @property
    def warmup(self) -> int:
        return 1

    def signals(self, candles: pd.DataFrame) -> pd.Series:
        return self.to_signals(np.ones(len(candles), dtype=np.int8), candles)


class Boom(AlwaysLong):
    """Long, then raises from the ``at``-th bar on (a strategy bug)."""

    name = "e2e_boom"
    at = Param(3, min=1)

    def signals(self, candles: pd.DataFrame) -> pd.Series:
        if len(candles) >= self.at:
            raise RuntimeError(f"boom at bar {len(candles)}")
        return super().signals(candles)


def wait_for(cond: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or cond}")


@pytest.fixture
def sim() -> Iterator[IGSimulator]:
    with IGSimulator(seed=0, always_open=True, tick_rate=8.0) as s:
        yield s


Built = tuple[LiveEngine, EngineResources]


@pytest.fixture
def make(sim: IGSimulator, tmp_path: Path) -> Iterator[Callable[..., Built]]:
    made: list[EngineResources] = []

    def build(strategy: Strategy, instruments: list[str] | None = None, risk: dict[str, Any] | None = None,
              **client: Any) -> Built:
        cfg = Config.model_validate({"risk": {"max_orders_per_minute": 1000, **(risk or {})}})
        engine, res = build_engine(
            cfg, mode="sim", sim=sim, strategy=strategy, instruments=instruments or [EURUSD], freq="1s",
            audit_path=str(tmp_path / "audit.jsonl"),
            client_options={"limits": RateLimits(UNLIMITED, UNLIMITED, UNLIMITED), "backoff": 0.01, **client},
            broker_options={"account_interval": 0.1},
            feed_options={"client_options": FAST_STREAM, "backoff": (0.2, 1.0), "settle": 0.2},
        )
        made.append(res)
        return engine, res

    yield build
    for res in made:
        res.close()


def posts(sim: IGSimulator) -> list[int]:
    return [r.status for r in sim.request_log if r.method == "POST" and r.path == "/positions/otc"]


def test_rejected_deal_is_rejected_in_state_and_audit_and_the_engine_goes_on(
        sim: IGSimulator, make: Callable[..., Built]) -> None:
    huge = 1_000_000.0  # risk limits relaxed: only IG can refuse it
    engine, res = make(AlwaysLong(), risk={"size": huge, "max_order_size": 1e9, "max_position": 1e9,
                                          "max_exposure": 1e12})
    engine.start()
    first = wait_for(lambda: [r for r in engine.orders if r.status is OrderStatus.REJECTED], what="a rejection")[0]
    assert first.reason == "INSUFFICIENT_FUNDS" and first.fills == ()
    assert sim.positions() == [] and engine.broker.positions() == []
    wait_for(lambda: len(engine.orders) >= 3, what="the engine trying again on later bars")
    assert engine.status is EngineStatus.RUNNING and engine.running and res.feed.running
    wait_for(lambda: engine.state.orders and engine.state.orders[-1].status is OrderStatus.REJECTED,
             what="the rejection in the published state")
    engine.stop()
    confirms = [r for r in read_audit(engine.audit.path) if r["kind"] == "confirm"]
    assert len(confirms) >= 3
    assert all(r["status"] == "REJECTED" and r["broker_reason"] == "INSUFFICIENT_FUNDS" for r in confirms)
    assert not [r for r in read_audit(engine.audit.path) if r["kind"] == "fill"]


@pytest.mark.parametrize("fault", ["answer dropped", "answer later than the client's timeout"])
def test_lost_answer_to_the_order_post_one_position_no_duplicate(sim: IGSimulator, make: Callable[..., Built],
                                                                 fault: str) -> None:
    if fault == "answer dropped":
        sim.faults.drop_next(1, path="/positions/otc", method="POST", after=True)  # executed, answer lost
        engine, _ = make(AlwaysLong())
        want = [0]
    else:  # held 1.2 s, the client gives up after 0.5 s and looks the reference up (settling 1.5 s first)
        sim.faults.delay_next(1, 1.2, path="/positions/otc", method="POST")
        engine, _ = make(AlwaysLong(), timeout=0.5, settle=1.5)
        want = [200]
    engine.start()
    wait_for(lambda: engine.fills, what="the fill of the first order")
    time.sleep(2.5)  # two more bars: the engine must know it is long and not buy again
    assert posts(sim) == want  # sent once, never resent
    [pos] = sim.positions()
    assert pos.size == 1.0 and len(engine.fills) == 1 and engine.broker.net_position(EURUSD) == 1.0
    assert [r.status for r in engine.orders] == [OrderStatus.FILLED]


def test_stream_drop_with_a_position_open_is_reconciled_and_kept(sim: IGSimulator,
                                                                 make: Callable[..., Built]) -> None:
    engine, res = make(AlwaysLong())
    engine.start()
    wait_for(lambda: sim.positions() and engine.broker.positions(), what="a position")
    hub = res.feed.hub
    ticks = engine.ticks
    assert sim.drop_streams("abort") >= 1
    wait_for(lambda: hub.counters().get("ig-stream", {}).get("broker_reconciles", 0) >= 1,
             what="the broker reconciled after the reconnect")
    wait_for(lambda: res.feed.status is FeedStatus.CONNECTED and engine.ticks > ticks + 10,
             what="ticks flowing again")
    n_candles = engine.candle_count
    wait_for(lambda: engine.candle_count >= n_candles + 2, what="bars after the reconnect")
    assert len(sim.positions()) == 1 and len(engine.broker.positions()) == 1
    assert engine.broker.positions()[0].deal_id == sim.positions()[0].deal_id
    assert posts(sim) == [200] and len(engine.fills) == 1  # no duplicate order
    assert engine.broker.reconcile()["ok"] is True
    wait_for(lambda: engine.instruments[EURUSD].repaired >= 1, what="the gap's bars repaired from REST history")


def test_daily_loss_breach_halts_and_flattens_on_the_simulator(sim: IGSimulator,
                                                               make: Callable[..., Built]) -> None:
    engine, _ = make(AlwaysLong(), risk={"max_daily_loss": 20.0})
    engine.start()
    wait_for(lambda: sim.positions(), what="a long position")
    time.sleep(0.5)  # the day's starting equity is taken
    assert engine.status is EngineStatus.RUNNING
    bid, _ = sim.quote(EURUSD)
    sim.set_price(EURUSD, round(bid - 0.01, 5))  # 100 pips against a 1-lot long: far beyond 20
    wait_for(lambda: engine.status is EngineStatus.HALTED, what="HALTED by the daily-loss limit")
    assert "MAX_DAILY_LOSS" in engine.state.status_detail
    wait_for(lambda: not sim.positions(), timeout=5, what="flat on the simulator")
    assert engine.broker.positions() == []
    n_posts = len(posts(sim))
    time.sleep(1.5)  # bars go on; no new order while halted
    assert len(posts(sim)) == n_posts and not sim.positions()
    kills = [r for r in read_audit(engine.audit.path) if r["kind"] == "kill"]
    assert kills and "MAX_DAILY_LOSS" in kills[0]["reason"]


def test_strategy_exception_is_error_and_the_feed_stays_alive(sim: IGSimulator, make: Callable[..., Built]) -> None:
    engine, res = make(Boom(at=3))
    engine.start()
    wait_for(lambda: engine.status is EngineStatus.ERROR, what="status ERROR")
    assert "boom" in engine.state.status_detail
    assert any(e.where == "strategy" and "boom" in e.message for e in engine.state.errors)
    ticks, candles = engine.ticks, engine.candle_count
    wait_for(lambda: engine.ticks > ticks + 10 and engine.candle_count > candles, what="ticks and bars go on")
    assert res.feed.running and res.feed.status is FeedStatus.CONNECTED and engine.running
    assert engine.status is EngineStatus.ERROR  # no trading until restart_trading()


def test_kill_switch_under_load_is_flat_on_the_simulator_at_once(make: Callable[..., Built],
                                                                 sim: IGSimulator) -> None:
    epics = [EURUSD, GBPUSD, USDJPY, AUDUSD]
    engine, res = make(AlwaysLong(), instruments=epics)
    engine.start()
    wait_for(lambda: len(sim.positions()) == len(epics), timeout=20, what="a position per instrument")
    ticks = engine.ticks
    wait_for(lambda: engine.ticks > ticks + 50, what="the instruments ticking")
    results: list[Any] = []
    killer = threading.Thread(target=lambda: results.extend(engine.kill("e2e")), name="killer")
    t0 = time.monotonic()
    killer.start()
    wait_for(lambda: not sim.positions(), timeout=5, what="flat on the simulator")
    flat_after = time.monotonic() - t0
    killer.join(5)
    assert flat_after < 2.0, f"flat only after {flat_after:.2f} s"  # the brief's bound for the kill switch
    assert engine.status is EngineStatus.HALTED and engine.broker.positions() == []
    assert results and all(r.status is OrderStatus.FILLED for r in results)
    n = len(posts(sim))
    time.sleep(1.2)  # still ticking, still flat
    assert not sim.positions() and len(posts(sim)) == n and res.feed.running
