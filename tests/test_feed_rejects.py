"""Feeds reject bad ticks at entry and count them: a recorded dataset with crossed, NaN, infinite, null,
zero and negative prices replayed through ``ReplayFeed``, and a market that emits bad quotes streamed by
``DemoFeed``. Both feeds' hub counters mean the same: ``ticks`` = accepted, ``rejected`` = refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from igkit.feeds import DemoFeed
from igkit.feeds.replay import ReplayFeed
from igkit.market import SyntheticMarket
from igkit.store import read_arrays, write_ticks
from igkit.ticks import FeedStatus, TickHub

EURUSD = "CS.D.EURUSD.MINI.IP"
GBPUSD = "CS.D.GBPUSD.MINI.IP"
SEC = 1_000_000_000
T0 = int(pd.Timestamp("2024-03-04 10:00", tz="UTC").value)
NAN, INF = float("nan"), float("inf")


def good_ticks(n: int, start: int, base: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = start + np.arange(n, dtype=np.int64) * SEC
    bid = base + np.cumsum(rng.normal(0, 1e-4, n))
    return ts, bid, bid + 1e-4 * rng.integers(1, 4, n)


def with_bad_rows(
    good: tuple[np.ndarray, np.ndarray, np.ndarray], bad: dict[int, tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``good`` with a bad quote inserted before each given good-row position (same timestamp)."""
    ts, bid, ask = (list(a) for a in good)
    for pos in sorted(bad, reverse=True):
        b, a = bad[pos]
        ts.insert(pos, ts[pos])
        bid.insert(pos, b)
        ask.insert(pos, a)
    return np.array(ts, dtype=np.int64), np.array(bid), np.array(ask)


def test_replay_rejects_bad_recorded_ticks_and_counts_them(tmp_path: Path) -> None:
    eur = good_ticks(400, T0, 1.08, seed=1)
    gbp = good_ticks(300, T0 + SEC // 2, 1.27, seed=2)
    eur_bad = {  # position → (bid, ask)
        5: (1.0810, 1.0800),  # crossed
        50: (1.0900, 1.0899),  # crossed
        120: (NAN, 1.0800),
        121: (1.0800, INF),
        200: (0.0, 1.0800),
        333: (1.0800, -1.0),
    }
    write_ticks(tmp_path, EURUSD, with_bad_rows(eur, eur_bad))
    gbp_first = with_bad_rows((gbp[0][:150], gbp[1][:150], gbp[2][:150]), {10: (1.2710, 1.2700)})  # crossed
    write_ticks(tmp_path, GBPUSD, gbp_first)
    # a file from another tool: a null bid among good rows (nullable column, read back as NaN)
    rest = slice(150, None)
    bids: list[float | None] = [float(x) for x in gbp[1][rest]]
    asks = [float(x) for x in gbp[2][rest]]
    ts_rest = [int(x) for x in gbp[0][rest]]
    ts_rest.insert(40, ts_rest[40])
    bids.insert(40, None)
    asks.insert(40, 1.2700)
    schema = pa.schema([pa.field("ts", pa.timestamp("ns", tz="UTC"), nullable=False),
                        pa.field("bid", pa.float64()), pa.field("ask", pa.float64())])  # the store's layout
    table = pa.Table.from_arrays(
        [pa.array(ts_rest, pa.int64()).cast(pa.timestamp("ns", tz="UTC")), pa.array(bids), pa.array(asks)],
        schema=schema,
    )
    day = tmp_path / f"instrument={GBPUSD}" / "date=2024-03-04"
    pq.write_table(table, day / "part-99999999999999999999-0-00000000-zzzzzzzz.parquet")  # sorts last
    assert np.isnan(read_arrays(tmp_path, GBPUSD)[1]).sum() == 1
    sent = len(eur[0]) + len(eur_bad) + len(gbp[0]) + 2

    hub = TickHub()
    feed = ReplayFeed(hub, tmp_path, speed=None, batch=37)  # small batches: bad rows land in many of them
    feed.start()
    assert feed.join(30) and feed.error is None
    assert feed.finished and hub.statuses()["replay"][:2] == (FeedStatus.DISCONNECTED, "finished")

    # every good tick arrived, in its recorded order, and nothing else
    for epic, good in ((EURUSD, eur), (GBPUSD, gbp)):
        for got, want in zip(hub.buffer(epic).arrays(), good, strict=True):
            np.testing.assert_array_equal(got, want)
    assert hub.buffer(EURUSD).rejected == {"non_finite": 2, "non_positive": 2, "crossed": 2}
    assert hub.buffer(GBPUSD).rejected == {"non_finite": 1, "non_positive": 0, "crossed": 1}
    # the hub's counters: ticks = accepted, rejected = refused; together what the feed offered
    assert hub.counters()["replay"] == {"ticks": len(eur[0]) + len(gbp[0]), "rejected": 8}
    assert feed.pushed == sent and feed.progress == 1.0


class BadQuoteMarket(SyntheticMarket):
    """The synthetic market, with some quotes spoiled by a fixed rule on their timestamp."""

    def ticks(self, epic: str, start: object, end: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ts, bid, ask = (a.copy() for a in super().ticks(epic, start, end))
        key = (ts // 1000) % 50
        ask[key == 0] = bid[key == 0] - 0.5  # crossed
        bid[key == 1] = np.nan
        ask[key == 2] = -ask[key == 2]  # non-positive
        return ts, bid, ask


def test_demo_feed_counts_accepted_ticks_and_rejected_ones_like_replay() -> None:
    epics = [EURUSD, GBPUSD]
    market = BadQuoteMarket(3, tick_rate=5.0, instruments=epics)
    hub = TickHub()
    feed = DemoFeed(hub, epics, market=market, speed=None, start=T0, duration=1800)
    feed.start()
    assert feed.join(30) and feed.error is None and feed.finished

    clean = SyntheticMarket(3, tick_rate=5.0, instruments=epics)
    accepted = rejected = 0
    for epic in epics:
        ts, bid, ask = clean.ticks(epic, T0, T0 + 1800 * SEC)
        key = (ts // 1000) % 50
        ok = key > 2
        for got, want in zip(hub.buffer(epic).arrays(), (ts[ok], bid[ok], ask[ok]), strict=True):
            np.testing.assert_array_equal(got, want)
        expected = {
            "non_finite": int((key == 1).sum()),
            "non_positive": int((key == 2).sum()),
            "crossed": int((key == 0).sum()),
        }
        assert hub.buffer(epic).rejected == expected and min(expected.values()) > 0
        accepted += int(ok.sum())
        rejected += sum(expected.values())
    assert hub.counters()["demo"] == {"ticks": accepted, "rejected": rejected}
    assert feed.pushed == accepted


def test_replay_of_a_demo_recording_counts_the_same_as_the_demo_feed(tmp_path: Path) -> None:
    # what DemoFeed let in, recorded and replayed: the same "ticks" count, nothing rejected
    market = BadQuoteMarket(8, tick_rate=5.0, instruments=[EURUSD])
    hub = TickHub()
    demo = DemoFeed(hub, EURUSD, market=market, speed=None, start=T0, duration=600)
    demo.start()
    assert demo.join(30)
    write_ticks(tmp_path, EURUSD, hub.buffer(EURUSD).arrays())
    again = TickHub()
    replay = ReplayFeed(again, tmp_path, speed=None)
    replay.start()
    assert replay.join(30) and replay.error is None
    assert again.counters()["replay"]["ticks"] == hub.counters()["demo"]["ticks"] == hub.buffer(EURUSD).total
    assert "rejected" not in again.counters()["replay"] and hub.counters()["demo"]["rejected"] > 0
