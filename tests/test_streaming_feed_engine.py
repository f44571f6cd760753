"""LiveEngine on a StreamingFeed with an IGBroker, all against IGSimulator on 127.0.0.1 (real requests client,
real lightstreamer-client-lib): a position opened by the engine survives a stream drop, the broker is
reconciled after the reconnect (position still there, no duplicate deal), and the engine's candle history
is repaired from the backfill (bid/ask OHLC and ticks equal to the market's own bars)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from _stream_feed import (
    EXACT,
    make_feed,
    stream_client,
    stream_sim,
    truth,
    wait,
)

from igkit.broker import IGBroker
from igkit.engine import LiveEngine
from igkit.ig import IGClient
from igkit.sim import IGSimulator
from igkit.strategy import Strategy
from igkit.ticks import FeedStatus, TickHub

pytestmark = pytest.mark.timeout(90)


class AlwaysLong(Strategy):
    """Target +1 from the first bar on (one buy, then hold)."""

    @property
    def warmup(self) -> int:
        return 1

    def signals(self, candles: pd.DataFrame) -> pd.Series:
        return pd.Series(np.ones(len(candles), dtype=np.int8), index=candles.index, name="signal")


@pytest.fixture
def sim() -> Iterator[IGSimulator]:
    yield from stream_sim(4)


@pytest.fixture
def client(sim: IGSimulator) -> Iterator[IGClient]:
    yield from stream_client(sim)


def test_drop_with_an_open_position_reconciles_and_repairs_candles(sim: IGSimulator, client: IGClient) -> None:
    epic = "CS.D.EURUSD.MINI.IP"
    hub = TickHub(100_000)
    feed = make_feed(client, hub, [epic])
    broker = IGBroker(client, poll_interval=None, account_interval=60.0)
    feed.attach_broker(broker)
    engine = LiveEngine(None, feed=feed, strategy=AlwaysLong(), broker=broker, hub=hub, freq="1s", size=1.0,
                        history_bars=500)  # fmt: skip
    engine.start()
    try:
        assert feed.wait_connected(15), feed.error
        assert wait(lambda: len(sim.positions()) == 1 and broker.net_position(epic) == 1.0, 15), engine.state.errors
        deals = [r for r in sim.request_log if r.method == "POST" and r.path == "/positions/otc"]
        assert len(deals) == 1
        time.sleep(1.5)
        sim.stream.allow_recovery = False  # the session is lost: ticks published meanwhile never arrive
        assert sim.drop_streams("stall") == 1
        assert wait(lambda: feed.status is not FeedStatus.CONNECTED, 5)
        assert wait(lambda: feed.status is FeedStatus.CONNECTED, 8), hub.statuses()
        assert wait(lambda: hub.counters()["ig-stream"].get("broker_reconciles", 0) == 1, 5)
        assert wait(lambda: [(f.status, f.detail) for f in engine.state.feeds if f.feed == "ig-stream"]
                    == [("CONNECTED", "CONNECTED:WS-STREAMING")], 5), engine.state.feeds  # fmt: skip
        assert broker.last_report is not None and broker.last_report["ok"], broker.last_report
        inst = engine.instruments[epic]
        assert wait(lambda: inst.repaired > 0, 15), feed.stats()
        time.sleep(1.5)
        assert len(sim.positions()) == 1 and broker.net_position(epic) == 1.0
        assert len([r for r in sim.request_log if r.method == "POST" and r.path == "/positions/otc"]) == 1
        [pos] = broker.positions()
        assert pos.deal_id == sim.positions()[0].deal_id
        hist = inst.history.frame()
    finally:
        engine.stop(flatten=False)
        broker.stop()
    t = hist.index.as_unit("ns").asi8
    lo, hi = int(t[1]), int(t[-1])  # whole bars: the first may have started mid-bar
    ours = hist[(t >= lo) & (t < hi)]
    want = truth(sim, epic, lo, hi, "1s")
    assert list(ours.index) == list(want.index)
    for c in EXACT:
        np.testing.assert_array_equal(ours[c].to_numpy(), want[c].to_numpy(), err_msg=c)


def test_ig_built_candles_are_compared_in_the_engines_quality_report(sim: IGSimulator, client: IGClient) -> None:
    """With ``ig_candles`` on the feed, the engine's per-instrument quality report carries the comparison of
    its own candles with IG's (the simulator's CHART:<epic>:SECOND): the same bars, equal to the last
    digit."""
    epic = "CS.D.EURUSD.MINI.IP"
    hub = TickHub(100_000)
    feed = make_feed(client, hub, [epic], freq="1s", ig_candles="SECOND")
    broker = IGBroker(client, poll_interval=None, account_interval=60.0)
    engine = LiveEngine(None, feed=feed, strategy=AlwaysLong(), broker=broker, hub=hub, freq="1s", size=1.0,
                        history_bars=500, quality_interval=0.5)  # fmt: skip
    engine.start()
    try:
        assert feed.wait_connected(15), feed.error
        assert wait(lambda: engine.quality.get(epic, {}).get("ig_candles", {}).get("common", 0) >= 4, 15), \
            engine.quality
        rep = engine.quality[epic]["ig_candles"]
        assert "error" not in rep and set(rep["max_abs_diff"]) >= {"bid_open", "bid_close", "ask_high", "ask_low"}
        assert all(v == 0 for v in rep["max_abs_diff"].values()), rep
    finally:
        engine.close()
        feed.stop()
