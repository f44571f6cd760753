"""PollingFeed (REST fallback) against IGSimulator on 127.0.0.1 with the real requests-based IGClient:
ticks arrive, the client's request budget is never exceeded (counted server-side), a 403 allowance fault
backs off and recovers, metrics."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import numpy as np
import pytest
from _ig_sim import make_client
from _stream_feed import wait

from igkit.errors import DataError
from igkit.feeds import PollingFeed
from igkit.ig import IGClient, RateLimits
from igkit.sim import IGSimulator
from igkit.ticks import FeedStatus, TickHub

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def sim() -> Iterator[IGSimulator]:
    with IGSimulator(always_open=True, seed=2, tick_rate=20, stream=False) as s:
        yield s


def client_with(sim: IGSimulator, limits: RateLimits | None = None) -> IGClient:
    c = make_client(sim, limits=limits) if limits is not None else make_client(sim)
    c.login(sim.username, sim.password)
    return c


def markets_calls(sim: IGSimulator) -> list[int]:
    return [r.ts_ns for r in sim.request_log if r.method == "GET" and r.path == "/markets"]


def epics_of(sim: IGSimulator, n: int) -> list[str]:
    return list(sim.prices.market.instruments)[:n]


def test_ticks_arrive_when_prices_change(sim: IGSimulator) -> None:
    client = client_with(sim)
    hub = TickHub(10_000)
    epics = epics_of(sim, 3)
    feed = PollingFeed(client, hub, epics, interval=0.05)
    feed.start()
    try:
        assert wait(lambda: all(hub.buffer(e).total >= 5 for e in epics), 10)
        assert feed.status is FeedStatus.CONNECTED
        epic = epics[0]
        sim.set_price(epic, 1.5, 1.5002)
        assert wait(lambda: (last := hub.buffer(epic).last()) is not None and last[1:] == (1.5, 1.5002), 5)
        n = hub.buffer(epic).total
        time.sleep(0.5)  # the forced price does not change: no new tick for it
        assert hub.buffer(epic).total == n
    finally:
        feed.stop()
        client.close()
    batch = hub.buffer(epics[1]).reader().read()
    assert (np.diff(batch.ts_ns) > 0).all() and (batch.bid < batch.ask).all()
    q = list(zip(batch.bid.tolist(), batch.ask.tolist(), strict=True))
    assert all(a != b for a, b in itertools.pairwise(q))  # only changes are pushed
    m = feed.metrics()
    assert m["requests"] == len(markets_calls(sim)) and m["errors"] == 0
    assert m["ticks"] == sum(hub.buffer(e).total for e in epics) and hub.counters()["ig-poll"]["ticks"] == m["ticks"]
    assert m["latency_ms"]["mean"] > 0 and all(0 <= s < 5 for s in m["staleness_s"].values())
    assert hub.status("ig-poll") is FeedStatus.DISCONNECTED


def test_request_budget_is_never_exceeded(sim: IGSimulator) -> None:
    limits = RateLimits(8, 8, 100, period=1.0)  # 8 non-trading requests per second, shared
    client = client_with(sim, limits)
    hub = TickHub(10_000)
    feed = PollingFeed(client, hub, epics_of(sim, 10), interval=0.001, budget_share=1.0)
    sim.clear_request_log()
    feed.start()
    time.sleep(3.0)
    feed.stop()
    client.close()
    calls = np.array(markets_calls(sim))
    assert len(calls) >= 12  # it did use the budget (unpaced, interval=0.001 s would be ~1000 calls)
    window = np.searchsorted(calls, calls + 1_000_000_000) - np.arange(len(calls))
    assert window.max() <= 8, window.max()
    assert feed.metrics()["min_gap_s"] == pytest.approx(1.05 / 8)


def test_allowance_fault_backs_off_and_recovers(sim: IGSimulator) -> None:
    client = client_with(sim)
    hub = TickHub(10_000)
    statuses: list[tuple[str, str]] = []
    hub.on_status(lambda name, st, detail: statuses.append((st.value, detail)))
    feed = PollingFeed(client, hub, epics_of(sim, 2), interval=0.02, backoff=(0.3, 1.0))
    feed.start()
    try:
        assert wait(lambda: feed.status is FeedStatus.CONNECTED, 5)
        sim.clear_request_log()
        sim.faults.allowance_next(3, path="/markets")
        assert wait(lambda: feed.metrics()["rate_limited"] == 3, 10)
        assert wait(lambda: feed.status is FeedStatus.CONNECTED, 5)
        n = hub.buffer(epics_of(sim, 1)[0]).total
        assert wait(lambda: hub.buffer(epics_of(sim, 1)[0]).total > n, 5)
    finally:
        feed.stop()
        client.close()
    refused = [r.ts_ns for r in sim.request_log if r.path == "/markets" and r.status == 403]
    assert len(refused) == 3
    gaps = np.diff(refused) / 1e9
    assert gaps[0] >= 0.25 and gaps[1] >= 0.55  # 0.3 s then 0.6 s: doubling, not a tight loop
    assert any(s == "STALLED" and "rate limited" in d for s, d in statuses)
    m = feed.metrics()
    assert m["errors"] == 3 and hub.counters()["ig-poll"]["rate_limited"] == 3


def test_arguments_are_checked(sim: IGSimulator) -> None:
    hub = TickHub(10)
    with pytest.raises(DataError, match="no epics"):
        PollingFeed(None, hub, [])
    with pytest.raises(DataError, match="interval"):
        PollingFeed(None, hub, ["X"], interval=0)
    with pytest.raises(DataError, match="budget_share"):
        PollingFeed(None, hub, ["X"], budget_share=1.5)
