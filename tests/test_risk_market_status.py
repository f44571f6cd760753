"""The MARKET_CLOSED rule from the config (``risk.respect_hours``): the catalog's hours (daylight saving
included) in the IG modes, an injected market status (IG's own, from the simulator over loopback), and
the Demo path, whose synthetic market trades at weekends and is never refused."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from _ig_sim import make_client

from igkit.broker import IGBroker, PaperBroker
from igkit.config import Config, RiskConfig
from igkit.engine import LiveEngine
from igkit.engine.factory import build_engine
from igkit.feeds import DemoFeed
from igkit.ig import IGClient
from igkit.risk import RiskLimits, RiskManager
from igkit.sim import IGSimulator, SimClock
from igkit.strategy import SmaCross
from igkit.ticks import TickHub
from igkit.types import Direction, Order

EURUSD, GBPUSD = "CS.D.EURUSD.MINI.IP", "CS.D.GBPUSD.MINI.IP"
SATURDAY = pd.Timestamp("2026-11-21T12:00Z")
WEDNESDAY = pd.Timestamp("2026-11-18T12:00Z")
HOURS = Config(risk=RiskConfig(respect_hours=True))


def ns(t: pd.Timestamp) -> int:
    return int(t.value)


def buy(epic: str = EURUSD) -> Order:
    return Order(epic, Direction.BUY, 1.0)


def test_the_config_key_defaults_to_true_and_reaches_the_manager() -> None:
    assert RiskConfig().respect_hours is True
    glob = json.loads((Path(__file__).parent.parent / "config" / "global.json").read_text())
    assert glob["risk"]["respect_hours"] is True
    assert RiskManager.from_config(HOURS).respect_hours is True
    assert RiskManager.from_config(Config(risk=RiskConfig(respect_hours=False))).respect_hours is False
    assert RiskManager.from_config(HOURS, respect_hours=False).respect_hours is False  # a keyword wins
    with pytest.raises(TypeError, match="market_open must be a callable"):
        RiskManager(RiskLimits(), market_open="TRADEABLE")  # type: ignore[arg-type]


def test_from_config_refuses_eurusd_on_saturday_and_accepts_on_wednesday() -> None:
    now = {"t": ns(SATURDAY)}
    risk = RiskManager.from_config(HOURS, clock=lambda: now["t"])
    v = risk.check(buy())
    assert not v.ok and v.rule == "MARKET_CLOSED"
    assert EURUSD in v.message and "Sat 2026-11-21 12:00:00 UTC" in v.message and "catalog hours" in v.message
    assert risk.check(buy()).to_result(buy()).reason == "MARKET_CLOSED"
    now["t"] = ns(WEDNESDAY)
    assert risk.check(buy()).ok
    # without the key the same Saturday order passes
    assert RiskManager.from_config(Config(risk=RiskConfig(respect_hours=False)), clock=lambda: ns(SATURDAY)).check(
        buy()).ok


def test_catalog_hours_follow_daylight_saving() -> None:
    """FX opens Sunday 17:00 New York: 21:00 UTC in July, 22:00 UTC in November."""
    risk = RiskManager.from_config(HOURS)
    assert risk.check(buy(), now_ns=ns(pd.Timestamp("2026-07-19T21:30Z"))).ok
    assert risk.check(buy(), now_ns=ns(pd.Timestamp("2026-11-22T21:30Z"))).rule == "MARKET_CLOSED"
    assert risk.check(buy(), now_ns=ns(pd.Timestamp("2026-11-22T22:30Z"))).ok


def test_closing_orders_are_never_refused_for_the_market_clock() -> None:
    broker = PaperBroker(balance=100_000.0)
    broker.on_tick(EURUSD, ns(WEDNESDAY), 1.1, 1.1002)
    broker.submit(buy())
    broker.on_tick(EURUSD, ns(WEDNESDAY) + 1, 1.1, 1.1002)
    risk = RiskManager.from_config(HOURS, market_open=lambda epic: False)
    assert risk.check(buy()).rule == "MARKET_CLOSED"
    assert risk.check(Order(EURUSD, Direction.SELL, 1.0), broker=broker).ok  # reduces the long


@pytest.fixture
def saturday_sim() -> Iterator[IGSimulator]:
    with IGSimulator(seed=0, clock=SimClock(SATURDAY, frozen=True)) as s:
        yield s


@pytest.fixture
def client(saturday_sim: IGSimulator) -> Iterator[IGClient]:
    c = make_client(saturday_sim)
    c.login(saturday_sim.username, saturday_sim.password)
    yield c
    c.close()


def test_ig_mode_uses_igs_own_market_status_or_an_injected_one(saturday_sim: IGSimulator,
                                                                client: IGClient) -> None:
    """The IG broker answers with IG's marketStatus (GET /markets/{epic}): it wins over the check's clock;
    an injected status wins over the broker's."""
    broker = IGBroker(client, poll_interval=None)
    broker.status_ttl = 0.0  # read IG's status at every check (the default trusts a read for 30 s)
    try:
        risk = RiskManager.from_config(HOURS, broker=broker)
        v = risk.check(buy(), now_ns=ns(WEDNESDAY))  # the simulator's market is at Saturday: CLOSED
        assert v.rule == "MARKET_CLOSED" and "ig broker" in v.message
        saturday_sim.clock.set(WEDNESDAY)
        assert risk.check(buy(), now_ns=ns(SATURDAY)).ok  # IG says TRADEABLE
        broker.status_ttl = 30.0
        assert broker.market_open(EURUSD) and broker.market_open(EURUSD)  # the second from the cache
        reads = [r for r in saturday_sim.request_log if r.path == f"/markets/{EURUSD}"]
        calls: list[str] = []

        def closed(epic: str) -> bool:
            calls.append(epic)
            return False

        ig = RiskManager.from_config(HOURS, broker=broker, market_open=closed)
        v = ig.check(buy(), now_ns=ns(WEDNESDAY))
        assert v.rule == "MARKET_CLOSED" and "market status" in v.message and calls == [EURUSD]
        assert [r for r in saturday_sim.request_log if r.path == f"/markets/{EURUSD}"] == reads
    finally:
        broker.stop()


def test_the_demo_factory_path_is_not_refused_at_weekends() -> None:
    engine, res = build_engine(HOURS, mode="demo", instruments=[EURUSD])
    try:
        assert isinstance(engine.broker, PaperBroker) and engine.risk is not None
        assert engine.risk.respect_hours is True
        assert engine.risk.check(buy(), broker=engine.broker, now_ns=ns(SATURDAY)).ok
    finally:
        res.close()


def _demo_run(tmp_path: Path, broker: PaperBroker) -> LiveEngine:
    """One hour of the Demo market on a Saturday, as fast as possible, with risk from the config."""
    hub = TickHub()
    feed = DemoFeed(hub, (EURUSD, GBPUSD), seed=3, tick_rate=4.0, speed=None, start=SATURDAY, duration=3600)
    risk = RiskManager.from_config(HOURS, broker=broker)
    engine = LiveEngine(None, feed=feed, strategy=SmaCross(fast=2, slow=5), broker=broker, risk=risk, hub=hub,
                        instruments=(EURUSD, GBPUSD), freq="1min", size=1.0, audit_path=str(tmp_path / "a.jsonl"))
    engine.start()
    try:
        assert feed.join(60)
        deadline = time.monotonic() + 30
        while engine.ticks < feed.pushed and time.monotonic() < deadline:
            time.sleep(0.02)
        assert engine.ticks == feed.pushed
    finally:
        engine.stop(flatten=False)
    return engine


def test_a_demo_engine_trades_on_a_saturday_with_hours_respected(tmp_path: Path) -> None:
    engine = _demo_run(tmp_path / "demo", PaperBroker(balance=100_000.0))
    assert engine.fills and not [r for r in engine.orders if r.reason == "MARKET_CLOSED"]
    # the contrast: a paper broker that itself respects hours makes the rule refuse the same run
    strict = _demo_run(tmp_path / "strict", PaperBroker(balance=100_000.0, respect_hours=True))
    assert not strict.fills and [r for r in strict.orders if r.reason == "MARKET_CLOSED"]


def test_a_failing_market_status_refuses_to_open_and_says_why() -> None:
    def broken(epic: str) -> bool:
        raise ConnectionError("gateway unreachable")

    v = RiskManager.from_config(HOURS, market_open=broken).check(buy(), now_ns=ns(WEDNESDAY))
    assert v.rule == "MARKET_CLOSED" and "status unknown" in v.message and "gateway unreachable" in v.message
