"""DemoFeed against the real TickHub: it delivers exactly the market's ticks, paces, ends, stops, restarts."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest

from igkit.errors import DataError
from igkit.feeds import DemoFeed, Feed
from igkit.market import SyntheticMarket
from igkit.ticks import FeedStatus, TickHub

EPICS = ["CS.D.EURUSD.MINI.IP", "IX.D.FTSE.DAILY.IP", "CS.D.USCGC.TODAY.IP"]
START = int(pd.Timestamp("2026-11-24 07:30", tz="UTC").value)
S = 1_000_000_000


class StatusLog:
    """Records every status change the hub announces, for one feed."""

    def __init__(self, hub: TickHub, feed: str) -> None:
        self.seen: list[tuple[FeedStatus, str]] = []
        self._feed = feed
        self._lock = threading.Lock()
        hub.on_status(self._on)

    def _on(self, feed: str, status: FeedStatus, detail: str) -> None:
        if feed == self._feed:
            with self._lock:
                self.seen.append((status, detail))

    @property
    def statuses(self) -> list[FeedStatus]:
        with self._lock:
            return [s for s, _ in self.seen]


def wait_until(cond, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def assert_buffer_equals_market(hub: TickHub, market: SyntheticMarket, epic: str, a: int, b: int) -> int:
    got = hub.buffer(epic).arrays()
    want = market.ticks(epic, a, b)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    return len(want[0])


def test_fast_feed_pushes_exactly_the_market_ticks_and_finishes() -> None:
    hub = TickHub()
    log = StatusLog(hub, "demo")
    market = SyntheticMarket(seed=9, tick_rate=3.0)
    feed = DemoFeed(hub, EPICS, market=market, speed=None, start=START, duration=3 * 3600)
    assert isinstance(feed, Feed)
    feed.start()
    assert feed.join(30), "a speed=None feed with a duration must end by itself"
    assert feed.error is None and feed.finished and not feed.running
    total = sum(assert_buffer_equals_market(hub, market, e, START, START + 3 * 3600 * S) for e in EPICS)
    assert total > 3 * 3 * 3600  # about 3/s × 3 instruments × 3 h
    assert feed.pushed == total
    assert hub.counters()["demo"]["ticks"] == total
    assert "rejected" not in hub.counters()["demo"]
    assert log.statuses == [FeedStatus.CONNECTING, FeedStatus.CONNECTED, FeedStatus.DISCONNECTED]
    assert hub.statuses()["demo"][1] == "finished"
    assert feed.market_time == START + 3 * 3600 * S


def test_default_market_from_seed_and_symbols() -> None:
    hub = TickHub()
    feed = DemoFeed(hub, "eurusd", seed=4, tick_rate=2.0, speed=None, start=START, duration=600)
    assert feed.epics == ("CS.D.EURUSD.MINI.IP",)
    feed.start()
    assert feed.join(30)
    assert_buffer_equals_market(
        hub, SyntheticMarket(4, tick_rate=2.0), "CS.D.EURUSD.MINI.IP", START, START + 600 * S
    )


def test_paced_feed_ends_after_its_market_duration_with_all_ticks() -> None:
    hub = TickHub()
    market = SyntheticMarket(seed=1, tick_rate=20.0, instruments=EPICS[:2])
    # 3 s of market time at 10× real time: about 0.3 s of wall time
    feed = DemoFeed(hub, EPICS[:2], market=market, speed=10.0, start=START, duration=3.0, name="paced")
    feed.start()
    assert feed.join(10), "the feed must stop by itself after `duration` of market time"
    assert feed.finished and hub.status("paced") is FeedStatus.DISCONNECTED
    n = sum(assert_buffer_equals_market(hub, market, e, START, START + 3 * S) for e in EPICS[:2])
    assert n > 0 and hub.counters()["paced"]["ticks"] == n


def test_paced_feed_pushes_in_small_batches_in_time_order() -> None:
    hub = TickHub()
    market = SyntheticMarket(seed=2, tick_rate=200.0, instruments=EPICS[:1])
    feed = DemoFeed(hub, EPICS[0], market=market, speed=1.0, start=START, duration=1.5, name="batches")
    reader = hub.buffer(EPICS[0]).reader("test")
    sizes: list[int] = []
    feed.start()
    while feed.running or reader.lag:
        batch = reader.read()
        if len(batch):
            sizes.append(len(batch))
            # time order within and across batches
            assert (np.diff(batch.ts_ns) >= 0).all()
        time.sleep(0.005)
    assert feed.join(5) and feed.finished
    total = sum(sizes)
    assert total == assert_buffer_equals_market(hub, market, EPICS[0], START, START + int(1.5 * S))
    # ~300 ticks over 1.5 s pushed every ~20 ms: many small batches, not one lump
    assert len(sizes) >= 5 and max(sizes) < total


def test_start_none_is_now_and_stop_is_prompt_and_idempotent() -> None:
    hub = TickHub()
    log = StatusLog(hub, "live")
    feed = DemoFeed(hub, EPICS[:1], tick_rate=100.0, speed=1.0, name="live")
    assert feed.market_time is None and not feed.running
    before = time.time_ns()
    feed.start()
    thread = feed._thread
    feed.start()  # idempotent: the same thread keeps running
    assert feed._thread is thread
    assert wait_until(lambda: hub.buffer(EPICS[0]).total > 0)
    assert feed.start_ns is not None and before <= feed.start_ns <= time.time_ns()
    assert hub.status("live") is FeedStatus.CONNECTED
    feed.stop(timeout=2.0)
    assert not feed.running and feed.error is None and not feed.finished
    feed.stop()  # idempotent
    assert hub.status("live") is FeedStatus.DISCONNECTED
    assert log.statuses == [FeedStatus.CONNECTING, FeedStatus.CONNECTED, FeedStatus.DISCONNECTED]
    # ticks are stamped with (market =) wall time at speed 1
    ts, _, _ = hub.buffer(EPICS[0]).arrays()
    assert before <= ts[0] and ts[-1] <= time.time_ns()


def test_restart_resumes_the_market_clock_without_gaps_or_repeats() -> None:
    hub = TickHub()
    market = SyntheticMarket(seed=3, tick_rate=50.0, instruments=EPICS[:1])
    feed = DemoFeed(hub, EPICS[0], market=market, speed=5.0, start=START, name="resume")
    feed.start()
    assert wait_until(lambda: hub.buffer(EPICS[0]).total > 20)
    feed.stop()
    first_stop = feed.market_time
    assert first_stop is not None and first_stop > START
    feed.start()
    assert wait_until(lambda: (feed.market_time or 0) > first_stop + S // 2)
    feed.stop()
    end = feed.market_time
    assert end is not None
    assert_buffer_equals_market(hub, market, EPICS[0], START, end)


def test_feed_with_zero_duration_pushes_nothing_and_finishes() -> None:
    hub = TickHub()
    feed = DemoFeed(hub, EPICS[:1], speed=None, start=START, duration=0, name="zero")
    feed.start()
    assert feed.join(5) and feed.finished
    assert hub.buffer(EPICS[0]).total == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"speed": 0}, "speed"),
        ({"speed": -1.0}, "speed"),
        ({"speed": float("nan")}, "speed"),
        ({"duration": -1}, "duration"),
        ({"interval": 0}, "interval"),
        ({"start": pd.Timestamp("2026-11-24 10:00")}, "naive"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(DataError, match=match):
        DemoFeed(TickHub(), "EURUSD", **kwargs)  # type: ignore[arg-type]


def test_bad_instruments() -> None:
    with pytest.raises(DataError, match="empty"):
        DemoFeed(TickHub(), [])
    with pytest.raises(DataError, match="EURUSX"):
        DemoFeed(TickHub(), ["EURUSX"])
    market = SyntheticMarket(instruments=["EURUSD"])
    with pytest.raises(DataError, match="not among"):
        DemoFeed(TickHub(), ["GBPUSD"], market=market)


def test_paced_feed_across_an_hour_boundary_delivers_every_tick() -> None:
    hub = TickHub()
    market = SyntheticMarket(seed=6, tick_rate=5.0, instruments=EPICS)
    start = START + 30 * 60 * S - 30 * S  # 08:00 UTC minus 30 s: the next hour is generated ahead
    feed = DemoFeed(hub, EPICS, market=market, speed=60.0, start=start, duration=60, name="boundary")
    feed.start()
    assert feed.join(10) and feed.finished
    for e in EPICS:
        assert_buffer_equals_market(hub, market, e, start, start + 60 * S)
