"""``igkit.engine.factory.build_engine``: one builder for every mode, against the real IGSimulator on 127.0.0.1
(real REST login, real Lightstreamer feed): what each mode is made of, which credentials are used, the
live refusals, the Demo fallback without credentials, a failed login leaving nothing running, and
``EngineResources.close`` tearing it all down."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from igkit.broker import IGBroker, PaperBroker
from igkit.config import Config
from igkit.engine import EngineStatus
from igkit.engine.factory import build_engine, config_for_mode
from igkit.errors import AuthError, ConfigError
from igkit.feeds import DemoFeed
from igkit.feeds.streaming import StreamingFeed
from igkit.sim import IGSimulator
from igkit.strategy import SmaCross
from igkit.types import Mode

pytestmark = pytest.mark.timeout(60)

EURUSD = "CS.D.EURUSD.MINI.IP"


@pytest.fixture(scope="module")
def sim() -> Iterator[IGSimulator]:
    with IGSimulator(seed=0, always_open=True) as s:
        yield s


def cfg(**ig: Any) -> Config:
    return Config.model_validate({"ig": ig} if ig else {})


def wait_for(cond: Any, timeout: float = 15.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or cond}")


def test_demo_is_demo_feed_and_paper_broker() -> None:
    engine, res = build_engine(cfg(), mode="demo", strategy="sma", params={"fast": 2, "slow": 4},
                               instruments=["EURUSD", "GBPUSD"], freq="5s", size=2.0, speed=None)
    with res:
        assert isinstance(engine.feed, DemoFeed) and isinstance(engine.broker, PaperBroker)
        assert engine.mode is Mode.DEMO and engine.size == 2.0 and engine.freq == "5s"
        assert list(engine.instruments) == [EURUSD, "CS.D.GBPUSD.MINI.IP"]
        assert engine.strategy.params == {"fast": 2, "slow": 4} and engine.risk is not None
        assert res.client is None and res.sim is None
        engine.start()
        wait_for(lambda: engine.candle_count > 0, what="Demo candles")
    assert res.closed and engine.status is EngineStatus.STOPPED and engine.audit.closed
    res.close()  # idempotent


def test_the_configs_strategy_and_mode_by_default() -> None:
    c = Config.model_validate({"strategy": {"name": "sma", "params": {"fast": 3, "slow": 9}}})
    engine, res = build_engine(c)
    with res:
        assert engine.mode is Mode.DEMO and isinstance(engine.strategy, SmaCross)
        assert engine.strategy.params == {"fast": 3, "slow": 9}


def test_in_process_simulator_real_rest_and_streaming_then_torn_down() -> None:
    engine, res = build_engine(cfg(environment="sim"), mode=Mode.SIM, strategy="sma", params={"fast": 2, "slow": 3},
                               instruments=["EURUSD"], freq="1s")
    sim = res.sim
    try:
        assert res.owns_sim and sim.running and res.client.logged_in
        assert isinstance(engine.feed, StreamingFeed) and isinstance(engine.broker, IGBroker)
        assert engine.broker.streaming  # confirms from the feed's TRADE events
        engine.start()
        wait_for(lambda: engine.ticks > 5, what="ticks over Lightstreamer")
        wait_for(lambda: engine.fills, timeout=20, what="a fill on the simulator")
        assert sim.positions() or any(not f.opening for f in engine.fills)
        confirms = [r for r in sim.request_log if r.path.startswith("/confirms")]
        assert confirms == []  # every confirm came over the stream
    finally:
        res.close()
    assert not sim.running and not res.client.logged_in and engine.status is EngineStatus.STOPPED
    assert [r.path for r in sim.request_log if r.method == "DELETE" and r.path == "/session"] == ["/session"]


def test_seed_goes_to_the_in_process_simulator() -> None:
    engine, res = build_engine(cfg(), mode="sim", seed=11, instruments=["EURUSD"])
    with res:
        assert engine.mode is Mode.SIM and res.sim.prices.market.seed == 11


def test_a_given_simulator_is_used_and_left_running(sim: IGSimulator) -> None:
    engine, res = build_engine(cfg(), mode="sim", sim=sim, strategy=SmaCross(fast=2, slow=3), instruments=["EURUSD"])
    with res:
        assert engine.mode is Mode.SIM and res.sim is sim and not res.owns_sim and res.client.logged_in
        assert res.client.base_url.rstrip("/") == sim.rest_url.rstrip("/")
    assert sim.running and not res.client.logged_in


def test_configured_simulator_url_with_its_default_credentials(sim: IGSimulator) -> None:
    c = Config.model_validate({"broker": "ig", "ig": {"environment": "sim", "endpoints": {"sim": sim.rest_url}}})
    engine, res = build_engine(c, instruments=["EURUSD"])  # mode from the config
    with res:
        assert engine.mode is Mode.SIM and res.sim is None and not res.owns_sim and res.client.logged_in
    bad = Config.model_validate({"broker": "ig", "ig": {"environment": "sim", "endpoints": {"sim": sim.rest_url},
                                                        "username": sim.username, "password": "wrong"}})
    with pytest.raises(AuthError):
        build_engine(bad, instruments=["EURUSD"])  # configured credentials win over the defaults


def test_ig_demo_uses_the_configured_endpoint_and_credentials(sim: IGSimulator) -> None:
    c = cfg(environment="demo", endpoints={"demo": sim.rest_url}, api_key=sim.api_key, username=sim.username,
            password=sim.password)
    engine, res = build_engine(c, mode="ig-demo", instruments=["EURUSD"])
    with res:
        assert engine.mode is Mode.IG_DEMO and res.warnings == [] and res.client.logged_in
        assert isinstance(engine.broker, IGBroker) and isinstance(engine.feed, StreamingFeed)


def test_ig_demo_without_credentials_is_demo_with_a_warning() -> None:
    engine, res = build_engine(cfg(environment="demo"), mode="ig-demo")
    with res:
        assert engine.mode is Mode.DEMO and isinstance(engine.broker, PaperBroker)
        assert res.warnings and "ig.api_key" in res.warnings[0] and "Demo" in res.warnings[0]


def test_live_needs_both_confirmations(sim: IGSimulator) -> None:
    creds = {"endpoints": {"live": sim.rest_url}, "api_key": sim.api_key, "username": sim.username,
             "password": sim.password}
    unconfirmed = cfg(environment="live", **creds)
    with pytest.raises(ConfigError, match="real money"):
        build_engine(unconfirmed, mode="ig-live", confirm_live=True)  # the config does not confirm
    confirmed = cfg(environment="live", confirm_live=True, **creds)
    with pytest.raises(ConfigError, match="real money"):
        build_engine(confirmed, mode="ig-live")  # the call does not confirm
    n_logins = sum(r.path == "/session" and r.method == "POST" for r in sim.request_log)
    engine, res = build_engine(confirmed, mode="ig-live", confirm_live=True, instruments=["EURUSD"])
    with res:  # the "live" endpoint is the simulator here: no real money
        assert engine.mode is Mode.IG_LIVE and res.client.logged_in
    assert sum(r.path == "/session" and r.method == "POST" for r in sim.request_log) == n_logins + 1


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ConfigError, match="params"):
        build_engine(cfg(), mode="demo", strategy=SmaCross(fast=2, slow=3), params={"fast": 5})
    with pytest.raises(ConfigError, match="no instruments"):
        build_engine(cfg(), mode="demo", instruments=[])
    with pytest.raises(ValueError, match="nope"):
        build_engine(cfg(), mode="nope")


def test_config_for_mode() -> None:
    c = cfg(environment="demo")
    assert config_for_mode(c, "sim").mode is Mode.SIM and config_for_mode(c, "ig-live").ig.environment == "live"
    assert config_for_mode(config_for_mode(c, "ig-demo"), Mode.DEMO).mode is Mode.DEMO
    assert c.mode is Mode.DEMO  # the original is unchanged (configs are immutable)


def test_markets_the_account_cannot_deal_are_warned_about_at_build(sim: IGSimulator) -> None:
    """config/global.json's instruments mix CFDs and spread bets (FTSE, gold: expiry DFB); on the
    simulator's default CFD account the spread bets would be refused on every signal: said once, up
    front, in ``resources.warnings`` (which the control panel shows) and the log."""
    engine, res = build_engine(cfg(), mode="sim", sim=sim, instruments=["EURUSD", "FTSE", "XAUUSD"])
    with res:
        assert list(engine.instruments) == [EURUSD, "IX.D.FTSE.DAILY.IP", "CS.D.USCGC.TODAY.IP"]
        flagged = [w for w in res.warnings if "spread-bet market" in w]
        assert len(flagged) == 2 and all("Z1CFD is a CFD account" in w for w in flagged)
        assert not any(EURUSD in w for w in res.warnings)
    _, res = build_engine(cfg(), mode="sim", sim=sim, instruments=["EURUSD", "GBPUSD"])
    with res:
        assert res.warnings == []


class _Bars:
    """A progress-bar factory that records what it was asked to show."""

    def __init__(self) -> None:
        self.made: list[tuple[str, int]] = []
        self.steps = 0
        self.closed = False

    def __call__(self, desc: str, total: int) -> _Bars:
        self.made.append((desc, total))
        return self

    def update(self, n: int = 1) -> None:
        self.steps += n

    def close(self) -> None:
        self.closed = True


def test_ig_modes_warm_up_from_igs_prices(sim: IGSimulator) -> None:
    """``warmup_bars`` in an IG mode: that many finished bars per instrument from ``GET /prices`` (max),
    the forming bar left to the stream, one progress step per instrument; an epic IG cannot serve is a
    warning, not a failure."""
    bars = _Bars()
    before = len([r for r in sim.request_log if r.path.startswith("/prices/")])
    engine, res = build_engine(cfg(), mode="sim", sim=sim, instruments=["EURUSD", "GBPUSD"], freq="1min",
                               warmup_bars=25, progress=bars)
    with res:
        hist = {e: inst.history.frame() for e, inst in engine.instruments.items()}
        assert all(len(h) == 25 for h in hist.values()), {e: len(h) for e, h in hist.items()}
        now = time.time_ns()
        for h in hist.values():
            times = h.index.asi8.tolist()
            assert times == sorted(times) and times[-1] + 60 * 10**9 <= now  # finished bars only
            assert now - times[-1] < 3 * 60 * 10**9  # and the latest of them
        assert bars.made == [("history 25 bars", 2)] and bars.steps == 2 and bars.closed
        assert len([r for r in sim.request_log if r.path.startswith("/prices/")]) - before == 2
    _, res = build_engine(cfg(), mode="sim", sim=sim, instruments=["EURUSD"], freq="7min", warmup_bars=5)
    with res:
        assert any("no warm-up history from IG" in w and "7min" in w for w in res.warnings), res.warnings
