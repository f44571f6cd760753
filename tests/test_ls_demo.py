"""The synthetic market served over Lightstreamer (MarketStreamer) to the real client: every tick the
market generates for the streamed window arrives, in order, with the exact prices."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from aiohttp import web

from igkit.ig.stream import CandleUpdate, PriceUpdate, StreamingClient
from igkit.market import SyntheticMarket
from igkit.sim.lightstreamer import LSServer, install_lightstreamer
from igkit.sim.lightstreamer.demo_backend import MarketStreamer
from igkit.sim.lightstreamer.runner import AppThread
from igkit.ticks import TickHub

pytestmark = pytest.mark.timeout(60)

EPICS = ["CS.D.EURUSD.MINI.IP", "CS.D.USDJPY.MINI.IP"]
ACCOUNT = "DEMO1"
PW = "CST-demo|XST-demo"
OPEN_NS = 1_779_105_600_000_000_000  # 2026-05-18 12:00 UTC, a Monday: FX is open


@contextlib.contextmanager
def serving(market: SyntheticMarket) -> Iterator[tuple[str, MarketStreamer, LSServer]]:
    """``market`` streamed from an open hour that advances in real time: (URL, streamer, server)."""
    t0 = time.time_ns()
    ms = MarketStreamer(market, ACCOUNT, lambda u, p: p == PW, clock=lambda: OPEN_NS + time.time_ns() - t0)
    app = web.Application()
    server = install_lightstreamer(app, ms.backend, keepalive_ms=1000)
    with AppThread(app) as thread:
        ms.start(server)
        try:
            yield thread.url, ms, server
        finally:
            ms.stop()


@pytest.fixture(scope="module")
def streamer() -> Iterator[tuple[str, MarketStreamer, SyntheticMarket]]:
    market = SyntheticMarket(seed=7, tick_rate=20.0, instruments=EPICS)
    with serving(market) as (url, ms, _):
        yield url, ms, market


def test_streamed_ticks_are_exactly_the_markets(streamer: tuple[str, MarketStreamer, SyntheticMarket]) -> None:
    url, ms, market = streamer
    assert market.is_open(EPICS[0], OPEN_NS)
    client = StreamingClient(url, ACCOUNT, PW, stalled_timeout_ms=500, reconnect_timeout_ms=500)
    prices: list[PriceUpdate] = []
    candles: list[CandleUpdate] = []
    try:
        client.connect()
        hub = TickHub(capacity=10_000)
        subs: list[Any] = [
            client.subscribe_ticks(EPICS, hub),
            client.subscribe_prices([EPICS[0]], prices.append),
            client.subscribe_candles(EPICS[1], "SECOND", candles.append),
        ]
        assert all(s.wait_subscribed(10) for s in subs)
        end = time.monotonic() + 10
        while time.monotonic() < end and min(hub.buffer(e).total for e in EPICS) < 30:
            time.sleep(0.05)
    finally:
        client.close()
    for epic in EPICS:
        ts, bid, ask = hub.buffer(epic).arrays()
        assert len(ts) >= 30, epic
        # the stream carries prices rounded to the instrument's decimals, in ms: compare on that grid
        want_ts, want_bid, want_ask = market.ticks(epic, int(ts[0]), int(ts[-1]) + 1_000_000)
        want_ms = (want_ts // 1_000_000) * 1_000_000
        # the window's edges are known to the millisecond only: extra market ticks may share the first
        # or last millisecond; inside, the stream must be the market exactly (none lost, none invented)
        n = len(ts)
        dec = market.spec(epic).decimals
        fits = [
            lead
            for lead in range(len(want_ts) - n + 1)
            if np.array_equal(ts, want_ms[lead : lead + n])
            and (want_ms[:lead] == ts[0]).all()
            and (want_ms[lead + n :] == ts[-1]).all()
        ]
        assert fits, epic
        lead = fits[0]
        assert np.allclose(bid, np.round(want_bid[lead : lead + n], dec))
        assert np.allclose(ask, np.round(want_ask[lead : lead + n], dec))
    assert prices and prices[0].bid is not None and prices[0].dealing == "DEAL"  # snapshot first
    assert prices[-1].ts_ns is not None and prices[-1].ts_ns > prices[0].ts_ns  # type: ignore[operator]
    closed = [c for c in candles if c.complete]
    assert closed, "a SECOND candle closes within the run"
    c = closed[0]
    assert c.tick_count and c.bid[1] >= max(c.bid[0], c.bid[3]) and c.bid[2] <= min(c.bid[0], c.bid[3])  # type: ignore[operator, type-var]
    assert ms.published > 0


def test_stop_returns_once_every_published_update_is_generated() -> None:
    """stop() drains the server loop: what the streamer handed over is generated and logged by then, so
    a count read right after stop() is final (the publishing thread hands updates over asynchronously)."""
    market = SyntheticMarket(seed=11, tick_rate=1_000.0, instruments=EPICS)
    with serving(market) as (url, ms, server):
        client = StreamingClient(url, ACCOUNT, PW)
        try:
            client.connect()
            hub = TickHub(capacity=100_000)
            assert client.subscribe_ticks(EPICS, hub).wait_subscribed(10)
            items = [f"CHART:{e}:TICK" for e in EPICS]
            end = time.monotonic() + 10
            while time.monotonic() < end and min(server.sent_count(i) for i in items) < 1_000:
                time.sleep(0.01)
            ms.stop()  # mid-stream: ~50 updates per epic per publishing round are in flight
            at_stop = [server.sent_count(i) for i in items]
            server.sync()
            assert [server.sent_count(i) for i in items] == at_stop
            assert min(at_stop) >= 1_000
        finally:
            client.close()
