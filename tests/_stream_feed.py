"""Shared pieces of the StreamingFeed / soak tests: a simulator with streaming, a logged-in client, the
feed with the client's timers shortened (reference/lightstreamer.md §1), engine-style candles (a reader
and a CandleBuilder per buffer, plus the feed's repairs) and the truth built from the market's own ticks."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd
from _ig_sim import make_client
from _waiting import wait as wait  # re-exported for the feed tests

from igkit.candles import CandleBuilder, candles_to_frame, freq_to_ns, resample_arrays
from igkit.feeds import Repair, StreamingFeed, repair_candles
from igkit.ig import IGClient
from igkit.sim import IGSimulator, RateLimits
from igkit.ticks import TickHub

FAST = {"stalled_timeout_ms": 500, "reconnect_timeout_ms": 500, "keepalive_ms": 1000, "retry_delay_ms": 500}
HUGE = 10**9  # historical points: backfills never hit the weekly allowance in tests


def client_for(sim: IGSimulator) -> IGClient:
    c = make_client(sim, historical_points_per_week=HUGE)
    c.login(sim.username, sim.password)
    return c


def stream_sim(seed: int) -> Iterator[IGSimulator]:
    """Body of a ``sim`` fixture: always open, 20 ticks/s per epic, no rate limits."""
    with IGSimulator(always_open=True, seed=seed, tick_rate=20, rate_limits=RateLimits.unlimited(HUGE)) as s:
        yield s


def stream_client(sim: IGSimulator) -> Iterator[IGClient]:
    """Body of a ``client`` fixture: :func:`client_for`, closed afterwards."""
    c = client_for(sim)
    yield c
    c.close()


def epics_of(sim: IGSimulator, n: int) -> list[str]:
    return list(sim.prices.market.instruments)[:n]


def make_feed(client: Any, hub: TickHub, epics: Iterable[str], **kw: Any) -> StreamingFeed:
    kw.setdefault("freq", "1s")
    kw.setdefault("settle", 0.3)
    kw.setdefault("client_options", FAST)
    kw.setdefault("backoff", (0.3, 2.0))
    return StreamingFeed(client, hub, list(epics), **kw)


class LiveCandles:
    """What the engine does per instrument: a reader on the buffer feeding a CandleBuilder; repairs merged."""

    def __init__(self, hub: TickHub, epics: Iterable[str], freq: str) -> None:
        self.freq = freq
        self.readers = {e: hub.buffer(e).reader("test-candles") for e in epics}
        self.builders = {e: CandleBuilder(freq) for e in epics}
        self.closed: dict[str, list[Any]] = {e: [] for e in epics}
        self.first: dict[str, int] = {}
        self.last: dict[str, int] = {}
        self.repairs: list[Repair] = []

    def drain(self) -> None:
        for e, r in self.readers.items():
            b = r.read()
            if len(b):
                self.first.setdefault(e, int(b.ts_ns[0]))
                self.last[e] = int(b.ts_ns[-1])
                self.closed[e].extend(self.builders[e].update_many(b.ts_ns, b.bid, b.ask))

    def frame(self, epic: str) -> pd.DataFrame:
        live = candles_to_frame(self.closed[epic])
        return repair_candles(live, self.repairs, epic=epic)


def truth(sim: IGSimulator, epic: str, start_ns: int, end_ns: int, freq: str) -> pd.DataFrame:
    """Bars of the market's own ticks (what the server published), at the stream's ms precision."""
    ts, bid, ask = sim.prices.ticks(epic, start_ns, end_ns)
    ts = (np.asarray(ts) // 1_000_000) * 1_000_000
    return resample_arrays(ts, bid, ask, freq)


def compare_with_truth(sim: IGSimulator, live: LiveCandles, epic: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ours, truth) over the whole bars between the first and the last live tick of ``epic``."""
    f = freq_to_ns(live.freq)
    lo = live.first[epic] - live.first[epic] % f + f  # first whole bar
    hi = live.last[epic] - live.last[epic] % f  # the bar of the last tick may be unfinished
    ours = live.frame(epic)
    t = pd.DatetimeIndex(ours.index).as_unit("ns").asi8
    ours = ours[(t >= lo) & (t < hi)]
    want = truth(sim, epic, lo, hi, live.freq)
    return ours, want


EXACT = ["bid_open", "bid_high", "bid_low", "bid_close", "ask_open", "ask_high", "ask_low", "ask_close", "ticks"]


def assert_candles_match(ours: pd.DataFrame, want: pd.DataFrame, epic: str) -> None:
    """bid/ask OHLC and ticks exact, mid open/close exact, mid high/low within the documented bounds."""
    assert len(want) > 0, epic
    extra, missing = ours.index.difference(want.index), want.index.difference(ours.index)
    assert list(ours.index) == list(want.index), (epic, extra, missing)
    for c in EXACT:
        np.testing.assert_array_equal(ours[c].to_numpy(), want[c].to_numpy(), err_msg=f"{epic} {c}")
    for c in ("mid_open", "mid_close"):
        np.testing.assert_allclose(ours[c].to_numpy(), want[c].to_numpy(), rtol=0, atol=1e-9, err_msg=f"{epic} {c}")
    bf = ours["backfilled"].to_numpy()
    hi, lo = ours["mid_high"].to_numpy(), ours["mid_low"].to_numpy()
    whi, wlo = want["mid_high"].to_numpy(), want["mid_low"].to_numpy()
    np.testing.assert_allclose(hi[~bf], whi[~bf], rtol=0, atol=1e-9)
    np.testing.assert_allclose(lo[~bf], wlo[~bf], rtol=0, atol=1e-9)
    assert (hi[bf] >= whi[bf] - 1e-9).all() and (lo[bf] <= wlo[bf] + 1e-9).all(), epic
    env_hi = (want["bid_high"] + want["ask_high"]).to_numpy() / 2
    env_lo = (want["bid_low"] + want["ask_low"]).to_numpy() / 2
    assert (hi[bf] <= env_hi[bf] + 1e-9).all() and (lo[bf] >= env_lo[bf] - 1e-9).all(), epic


def collect_repairs(feed: StreamingFeed, live: LiveCandles) -> None:
    """Once the feed's gaps are all closed: hand its repairs to ``live``, then wait for whole live bars
    after the repaired span."""
    assert wait(lambda: not feed.gaps.open_gaps and not feed.gaps.pending, 10), feed.stats()
    live.repairs.extend(feed.take_repairs())
    time.sleep(1.2)


def assert_whole_candles(sim: IGSimulator, live: LiveCandles, epics: Iterable[str]) -> dict[str, pd.DataFrame]:
    """After the feed stopped: every epic's live candles (with repairs) equal those of the market's full tick
    log. Returns our candles per epic."""
    live.drain()
    ours_by_epic = {}
    for e in epics:
        ours, want = compare_with_truth(sim, live, e)
        assert_candles_match(ours, want, e)
        ours_by_epic[e] = ours
    return ours_by_epic
