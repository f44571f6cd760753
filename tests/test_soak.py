"""Bounded soak: 40 instruments at ~20 ticks/s each through StreamingFeed (real client, IGSimulator on
127.0.0.1), two injected drops (a lost session and an aborted socket), then: nothing lost after backfill
(engine-style candles equal to the market's own, every instrument) and memory flat.

Length: ``IGKIT_SOAK_SECONDS`` (default 60 s when ``CI`` is set, else 20 s). Memory: the process RSS,
sampled twice a second, with the simulator's own bounded logs shrunk so that what grows is ours. Measured
here: RSS is flat between drops (~0.005 MB/s) and steps up once per reconnect (~9 MB at the first new
session, ~1 MB later: connection and session objects of the library). So the drops come early (at 20 %
and 40 % of the run) and the trend is fitted over the drop-free rest (it must stay under 4 MB over the
whole run's length); the total rise, steps included, must stay under 32 MB.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from _stream_feed import HUGE, LiveCandles, assert_candles_match, client_for, compare_with_truth, make_feed, wait

from igkit.sim import IGSimulator, RateLimits
from igkit.ticks import FeedStatus, TickHub

SECONDS = float(os.environ.get("IGKIT_SOAK_SECONDS") or (60 if os.environ.get("CI") else 20))

pytestmark = [pytest.mark.slow, pytest.mark.timeout(SECONDS + 90)]


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_soak_forty_instruments_two_drops_nothing_lost_memory_flat() -> None:
    with IGSimulator(always_open=True, seed=11, tick_rate=20, rate_limits=RateLimits.unlimited(HUGE)) as sim:
        sim.stream.log_limit = 100  # the simulator's delivery log and recovery history: bounded, and small so
        sim.stream.history = 2000  # that they are full after the warm-up (what might grow then is ours)
        client = client_for(sim)
        epics = list(sim.prices.market.instruments)[:40]
        hub = TickHub(8192)
        feed = make_feed(client, hub, epics)
        live = LiveCandles(hub, epics, "1s")
        feed.start()
        samples: list[tuple[float, int]] = []
        drops = {SECONDS * 0.2: "end", SECONDS * 0.4: "abort"}
        quiet_from = SECONDS * 0.4 + min(5.0, SECONDS * 0.2)  # after the last drop has settled
        try:
            assert feed.wait_connected(15), feed.error
            t0 = time.monotonic()
            next_sample = t0 + min(5.0, SECONDS * 0.15)  # a short warm-up: bounded structures fill up first
            while (now := time.monotonic()) < t0 + SECONDS:
                live.drain()
                live.repairs.extend(feed.take_repairs())
                for at in [a for a in drops if now >= t0 + a]:
                    assert sim.drop_streams(drops.pop(at)) == 1
                if now >= next_sample:
                    samples.append((now - t0, rss_bytes()))
                    next_sample += 0.5
                time.sleep(0.2)
            assert feed.status is FeedStatus.CONNECTED
            assert wait(lambda: not feed.gaps.open_gaps and not feed.gaps.pending, 15), feed.stats()
            live.repairs.extend(feed.take_repairs())
            time.sleep(1.2)
        finally:
            feed.stop()
            client.close()
        live.drain()
        assert not drops
        counters = hub.counters()["ig-stream"]
        assert counters["reconnects"] >= 2 and counters["repairs"] >= 2 * len(epics)
        for e in epics:
            ours, want = compare_with_truth(sim, live, e)
            assert_candles_match(ours, want, e)
        total = sum(int(hub.buffer(e).total) for e in epics)
        assert total > 40 * 15 * SECONDS * 0.8  # the load really was ~20 ticks/s per instrument
        assert all(sum(hub.buffer(e).rejected.values()) == 0 for e in epics)
    t = np.array([s[0] for s in samples])
    m = np.array([s[1] for s in samples], dtype=float) / 2**20
    quiet = t >= quiet_from
    assert quiet.sum() >= 5
    slope = np.polyfit(t[quiet], m[quiet], 1)[0]  # MB per second, no drop in the window
    assert slope * SECONDS < 4.0, (slope, m[quiet].min(), m[quiet].max())
    assert m.max() - m[0] < 32.0, (m[0], m.max())
