"""Tests for igkit.store (Parquet layout, reads, Recorder) and igkit.feeds.replay.ReplayFeed."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from igkit.errors import DataError
from igkit.feeds.replay import ReplayFeed
from igkit.market import SyntheticMarket
from igkit.store import Recorder, list_dates, list_instruments, read_arrays, read_ticks, write_ticks
from igkit.ticks import FeedStatus, TickBuffer, TickHub

EURUSD = "CS.D.EURUSD.MINI.IP"
GBPUSD = "CS.D.GBPUSD.MINI.IP"
DAY = 86_400_000_000_000
SEC = 1_000_000_000
T0 = int(pd.Timestamp("2024-03-04 22:00", tz="UTC").value)  # 2 h before midnight


def ns(frame: pd.DataFrame) -> np.ndarray:
    return pd.DatetimeIndex(frame.index).asi8


def ticks(n: int, start: int = T0, step: int = 60 * SEC, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    ts = start + np.arange(n, dtype=np.int64) * step
    bid = 1.08 + np.cumsum(rng.normal(0, 1e-4, n))
    return ts, bid, bid + 1e-4 * rng.integers(1, 4, n)


# -- layout and round trip --------------------------------------------------------------------------
def test_round_trip_across_dates_and_instruments(tmp_path: Path) -> None:
    e_ts, e_bid, e_ask = ticks(3000, step=60 * SEC, seed=1)  # ~50 h: spans 3 UTC dates
    g_ts, g_bid, g_ask = ticks(500, step=17 * SEC, seed=2)
    files = write_ticks(tmp_path, EURUSD, (e_ts, e_bid, e_ask))
    write_ticks(tmp_path, GBPUSD, (g_ts, g_bid, g_ask))
    assert len(files) == 3
    assert list_instruments(tmp_path) == [EURUSD, GBPUSD]
    assert list_dates(tmp_path, EURUSD) == [dt.date(2024, 3, 4), dt.date(2024, 3, 5), dt.date(2024, 3, 6)]
    assert list_dates(tmp_path, GBPUSD) == [dt.date(2024, 3, 4), dt.date(2024, 3, 5)]
    for p in files:  # the documented layout, epic dots as is
        rel = p.relative_to(tmp_path).parts
        assert rel[0] == f"instrument={EURUSD}"
        assert rel[1].startswith("date=2024-03-0")
        assert rel[2].startswith("part-") and rel[2].endswith(".parquet")
    e = read_ticks(tmp_path, EURUSD)
    assert e.index.name == "time"
    assert str(e.index.dtype) == "datetime64[ns, UTC]"
    assert list(e.columns) == ["bid", "ask"]
    np.testing.assert_array_equal(ns(e), e_ts)
    np.testing.assert_array_equal(e["bid"].to_numpy(), e_bid)
    np.testing.assert_array_equal(e["ask"].to_numpy(), e_ask)
    g = read_arrays(tmp_path, GBPUSD)
    for got, want in zip(g, (g_ts, g_bid, g_ask), strict=True):
        np.testing.assert_array_equal(got, want)


def test_file_schema_and_hive_partition_round_trip(tmp_path: Path) -> None:
    odd = "IX.D.FTSE/DAILY IP%x"  # characters that need escaping in a path segment
    write_ticks(tmp_path, EURUSD, ticks(10))
    write_ticks(tmp_path, odd, ticks(5))
    (path,) = (tmp_path / f"instrument={EURUSD}").rglob("*.parquet")
    schema = pq.read_schema(path)
    assert schema.field("ts").type == pa.timestamp("ns", tz="UTC")
    assert schema.field("bid").type == pa.float64()
    assert schema.field("ask").type == pa.float64()
    assert list_instruments(tmp_path) == sorted([EURUSD, odd])
    assert len(read_ticks(tmp_path, odd)) == 5
    # other tools see the same partition values
    table = ds.dataset(tmp_path, format="parquet", partitioning="hive").to_table()
    assert set(table.column("instrument").to_pylist()) == {EURUSD, odd}


def test_arrival_order_kept_within_and_across_writes(tmp_path: Path) -> None:
    ts = np.array([5, 3, 3, 9, 1], dtype=np.int64) * SEC + T0
    write_ticks(tmp_path, EURUSD, (ts, [1.0, 2.0, 3.0, 4.0, 5.0], [1.1, 2.1, 3.1, 4.1, 5.1]))
    write_ticks(tmp_path, EURUSD, (ts[:2] - SEC, [6.0, 7.0], [6.1, 7.1]))  # later write, earlier times
    got = read_ticks(tmp_path, EURUSD)
    assert list(ns(got)) == [*ts, *(ts[:2] - SEC)]
    assert list(got["bid"]) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]


def test_many_writes_across_midnight_read_back_in_write_order(tmp_path: Path) -> None:
    ts, bid, ask = ticks(400, start=T0 + 90 * 60 * SEC, step=30 * SEC)  # 23:30 → 02:50
    for lo in range(0, 400, 37):
        write_ticks(tmp_path, EURUSD, (ts[lo : lo + 37], bid[lo : lo + 37], ask[lo : lo + 37]))
    got = read_arrays(tmp_path, EURUSD)
    np.testing.assert_array_equal(got[0], ts)
    np.testing.assert_array_equal(got[1], bid)


def test_frame_and_batch_inputs(tmp_path: Path) -> None:
    ts, bid, ask = ticks(20)
    idx = pd.DatetimeIndex(pd.to_datetime(ts, unit="ns", utc=True)).tz_convert("America/New_York")
    write_ticks(tmp_path, EURUSD, pd.DataFrame({"bid": bid, "ask": ask}, index=idx))
    got = read_ticks(tmp_path, EURUSD)
    np.testing.assert_array_equal(ns(got), ts)
    assert str(pd.DatetimeIndex(got.index).tz) == "UTC"

    class Batch:  # anything with ts_ns / bid / ask, like a TickBatch
        ts_ns, bid, ask = ticks(3, start=T0 + DAY)

    write_ticks(tmp_path, GBPUSD, Batch())
    assert len(read_ticks(tmp_path, GBPUSD)) == 3


def test_empty_write_creates_nothing(tmp_path: Path) -> None:
    assert write_ticks(tmp_path, EURUSD, (np.empty(0, np.int64), [], [])) == []
    assert list_instruments(tmp_path) == []


# -- time filtering ---------------------------------------------------------------------------------
def test_time_filter_is_half_open_and_skips_other_dates(tmp_path: Path) -> None:
    ts, bid, ask = ticks(5 * 24, start=int(pd.Timestamp("2024-03-01", tz="UTC").value), step=3600 * SEC)
    write_ticks(tmp_path, EURUSD, (ts, bid, ask))  # hourly, 2024-03-01 .. 2024-03-05
    start = pd.Timestamp("2024-03-02 05:00", tz="UTC")
    end = pd.Timestamp("2024-03-03 07:00", tz="UTC")
    want = (ts >= start.value) & (ts < end.value)
    # a corrupt file in a date outside [start, end) proves those directories are never opened
    for date in ("2024-03-01", "2024-03-04", "2024-03-05"):
        (tmp_path / f"instrument={EURUSD}" / f"date={date}" / "part-99999999999999999999-x.parquet").write_bytes(
            b"not parquet"
        )
    got = read_ticks(tmp_path, EURUSD, start=start, end=end)
    np.testing.assert_array_equal(ns(got), ts[want])
    np.testing.assert_array_equal(got["bid"].to_numpy(), bid[want])
    assert got.index[0] == start and got.index[-1] == end - pd.Timedelta(hours=1)
    # an end exactly at midnight does not open the next date; int ns bounds work too
    midnight = int(pd.Timestamp("2024-03-04", tz="UTC").value)
    got2 = read_arrays(tmp_path, EURUSD, start=start.value, end=midnight)
    assert got2[0][-1] == midnight - 3600 * SEC
    assert len(read_ticks(tmp_path, EURUSD, start=end, end=end)) == 0
    with pytest.raises(DataError, match=r"unreadable Parquet file .*part-9999"):
        read_ticks(tmp_path, EURUSD)  # the whole range does open the corrupt files


# -- bad input --------------------------------------------------------------------------------------
def test_missing_root_and_epic_name_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError, match="nowhere"):
        read_ticks(missing, EURUSD)
    with pytest.raises(DataError, match="nowhere"):
        list_instruments(missing)
    write_ticks(tmp_path, EURUSD, ticks(3))
    with pytest.raises(DataError, match=r"CS\.D\.USDJPY\.MINI\.IP"):
        read_ticks(tmp_path, "CS.D.USDJPY.MINI.IP")
    with pytest.raises(DataError, match="USDJPY"):
        list_dates(tmp_path, "CS.D.USDJPY.MINI.IP")


def test_bad_data_and_bounds(tmp_path: Path) -> None:
    ts, bid, ask = ticks(3)
    with pytest.raises(DataError, match="epic"):
        write_ticks(tmp_path, "", (ts, bid, ask))
    with pytest.raises(DataError, match="equally long"):
        write_ticks(tmp_path, EURUSD, (ts, bid[:2], ask))
    with pytest.raises(DataError, match="int64"):
        write_ticks(tmp_path, EURUSD, (ts.astype(float), bid, ask))
    naive = pd.DataFrame({"bid": bid, "ask": ask}, index=pd.to_datetime(ts, unit="ns"))
    with pytest.raises(DataError, match="naive"):
        write_ticks(tmp_path, EURUSD, naive)
    with pytest.raises(DataError, match="'ask'"):
        write_ticks(tmp_path, EURUSD, naive.drop(columns="ask"))
    with pytest.raises(DataError, match=EURUSD):
        write_ticks(tmp_path, EURUSD, "ticks")
    write_ticks(tmp_path, EURUSD, (ts, bid, ask))
    with pytest.raises(DataError, match="naive"):
        read_ticks(tmp_path, EURUSD, start=pd.Timestamp("2024-03-04"))
    with pytest.raises(DataError, match="end"):
        read_ticks(tmp_path, EURUSD, end="tomorrow-ish")


# -- Recorder ---------------------------------------------------------------------------------------
def wait_until(cond: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.005)
    return cond()


def market_ticks(epics: list[str], hours: float = 1.0, seed: int = 5) -> dict[str, tuple[np.ndarray, ...]]:
    """Synthetic market ticks spanning midnight UTC (so recordings cover two date partitions)."""
    market = SyntheticMarket(seed, tick_rate=10.0)
    start = pd.Timestamp("2024-03-05 23:30", tz="UTC")
    return {e: market.ticks(e, start, start + pd.Timedelta(hours=hours)) for e in epics}


def test_recorder_records_while_a_writer_appends(tmp_path: Path) -> None:
    epics = [EURUSD, GBPUSD]
    data = market_ticks(epics)
    hub = TickHub(capacity=200_000)
    rec = Recorder(hub, tmp_path, flush_interval=0.02, flush_rows=3_000)
    seen_midway: list[int] = []

    def writer() -> None:
        n = max(len(v[0]) for v in data.values())
        for i in range(0, n, 1_000):
            for e in epics:
                ts, bid, ask = data[e]
                hub.buffer(e).offer_many(ts[i : i + 1_000], bid[i : i + 1_000], ask[i : i + 1_000])
            if i == 20_000:  # halfway: the recorder must already have written some of it
                wait_until(lambda: rec.stats()["rows_written"] > 0)
                seen_midway.append(rec.stats()["rows_written"])
            time.sleep(0.001)

    with rec:
        t = threading.Thread(target=writer)
        t.start()
        t.join(30)
        assert rec.running
    assert not rec.running
    assert seen_midway and seen_midway[0] > 0
    stats = rec.stats()
    total = sum(len(v[0]) for v in data.values())
    assert stats["rows_written"] == total
    assert stats["lost"] == 0 and stats["pending_rows"] == 0 and stats["error"] is None
    assert stats["files_written"] >= 4  # two instruments × two dates at least
    assert stats["instruments"] == sorted(epics)
    assert hub.counters()["recorder"]["rows_written"] == total
    for e in epics:
        assert stats["rows_by_instrument"][e] == len(data[e][0])
        got = read_arrays(tmp_path, e)
        for g, w in zip(got, data[e], strict=True):
            np.testing.assert_array_equal(g, w)
        assert hub.buffer(e).readers == []  # the context manager closed its readers


def test_stop_flushes_the_unwritten_tail(tmp_path: Path) -> None:
    hub = TickHub(capacity=10_000)
    ts, bid, ask = ticks(2_500)
    rec = Recorder(hub, tmp_path, flush_interval=3600, flush_rows=1_000_000)
    rec.start()
    rec.start()  # idempotent
    hub.buffer(EURUSD).offer_many(ts, bid, ask)
    assert wait_until(lambda: rec.stats()["pending_rows"] == 2_500)
    assert rec.stats()["rows_written"] == 0  # nothing due yet: interval and row limit far away
    hub.buffer(EURUSD).offer_many(ts[-5:] + SEC, bid[-5:], ask[-5:])  # the very tail
    rec.stop()
    assert rec.stats()["rows_written"] == 2_505
    got = read_ticks(tmp_path, EURUSD)
    np.testing.assert_array_equal(ns(got), np.concatenate([ts, ts[-5:] + SEC]))


def test_reader_overflow_is_counted_not_hidden(tmp_path: Path) -> None:
    hub = TickHub(capacity=1_000)
    buf = hub.buffer(EURUSD)
    ts, bid, ask = ticks(5_010)
    buf.offer_many(ts[:10], bid[:10], ask[:10])
    rec = Recorder(hub, tmp_path, flush_interval=0.01)
    rec.start()
    assert wait_until(lambda: bool(buf.readers) and buf.readers[0].position == 10)
    rec.stop()  # readers stay attached: while stopped, 5,000 ticks overflow a 1,000-tick ring
    buf.offer_many(ts[10:], bid[10:], ask[10:])
    rec.start()
    rec.stop()
    stats = rec.stats()
    assert stats["lost"] == 4_000
    assert stats["lost_by_instrument"] == {EURUSD: 4_000}
    assert stats["rows_written"] == 10 + 1_000
    assert hub.counters()["recorder"]["lost"] == 4_000
    got = read_arrays(tmp_path, EURUSD)[0]
    np.testing.assert_array_equal(got, np.concatenate([ts[:10], ts[4_010:]]))
    rec.close()


def test_recorder_instrument_filter_and_late_instruments(tmp_path: Path) -> None:
    hub = TickHub(capacity=10_000)
    ts, bid, ask = ticks(50)
    hub.buffer(EURUSD).offer_many(ts, bid, ask)
    late = "IX.D.FTSE.DAILY.IP"
    with (
        Recorder(hub, tmp_path / "all", flush_interval=0.01) as rec_all,
        Recorder(hub, tmp_path / "some", instruments=[GBPUSD], flush_interval=0.01) as rec_some,
    ):
        assert wait_until(lambda: rec_all.stats()["rows_written"] == 50)
        hub.buffer(GBPUSD).offer_many(ts[:20], bid[:20], ask[:20])  # appear after start
        hub.buffer(late).offer_many(ts[:7], bid[:7], 2 * ask[:7])
    assert list_instruments(tmp_path / "all") == sorted([EURUSD, GBPUSD, late])
    assert list_instruments(tmp_path / "some") == [GBPUSD]
    assert rec_all.stats()["rows_by_instrument"] == {EURUSD: 50, GBPUSD: 20, late: 7}
    assert rec_some.stats()["rows_written"] == 20


def test_write_failure_is_kept_shown_and_retried_on_stop(tmp_path: Path) -> None:
    hub = TickHub(capacity=1_000)
    ts, bid, ask = ticks(30)
    (tmp_path / f"instrument={EURUSD}").write_text("in the way")  # a file where the directory must go
    rec = Recorder(hub, tmp_path, flush_interval=0.01)
    rec.start()
    hub.buffer(EURUSD).offer_many(ts, bid, ask)
    assert wait_until(lambda: not rec.running)  # the thread ended on the error...
    stats = rec.stats()
    assert stats["error"] is not None and "instrument=" in stats["error"]  # ...which is kept and shown
    assert stats["rows_written"] == 0 and stats["pending_rows"] == 30  # and the ticks are still held
    with pytest.raises(OSError):
        rec.stop()  # stop() cannot save them either: it says so
    (tmp_path / f"instrument={EURUSD}").unlink()
    rec.stop()  # the obstacle gone, the tail is written
    assert rec.stats()["rows_written"] == 30 and rec.stats()["pending_rows"] == 0
    np.testing.assert_array_equal(read_arrays(tmp_path, EURUSD)[0], ts)


def test_recorder_bad_arguments(tmp_path: Path) -> None:
    hub = TickHub(capacity=10)
    with pytest.raises(DataError, match="flush_interval"):
        Recorder(hub, tmp_path, flush_interval=0)
    with pytest.raises(DataError, match="flush_rows"):
        Recorder(hub, tmp_path, flush_rows=0)
    rec = Recorder(hub, tmp_path)
    rec.stop()  # never started: nothing to do, no error
    assert rec.stats()["rows_written"] == 0


# -- ReplayFeed -------------------------------------------------------------------------------------
def record(tmp_path: Path, data: dict[str, tuple[np.ndarray, ...]]) -> TickHub:
    hub = TickHub(capacity=500_000)
    with Recorder(hub, tmp_path, flush_interval=0.01, flush_rows=4_000):
        for e, (ts, bid, ask) in data.items():
            for i in range(0, len(ts), 2_500):
                hub.buffer(e).offer_many(ts[i : i + 2_500], bid[i : i + 2_500], ask[i : i + 2_500])
    return hub


def test_record_then_replay_is_lossless(tmp_path: Path) -> None:
    epics = [EURUSD, GBPUSD, "IX.D.FTSE.DAILY.IP"]
    data = market_ticks(epics, hours=1.0, seed=11)
    src = record(tmp_path, data)
    dst = TickHub(capacity=500_000)
    feed = ReplayFeed(dst, tmp_path, speed=None)
    feed.start()
    assert feed.join(30)
    assert feed.error is None
    assert feed.progress == 1.0 and feed.finished
    assert dst.statuses()["replay"][:2] == (FeedStatus.DISCONNECTED, "finished")
    assert sorted(dst.instruments()) == sorted(epics)
    for e in epics:
        want = src.buffer(e).arrays()
        got = dst.buffer(e).arrays()
        assert len(want[0]) == len(data[e][0])  # nothing refused on the way in
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
    assert dst.counters()["replay"]["ticks"] == sum(len(v[0]) for v in data.values())


class SpyBuffer:
    """Wraps a real TickBuffer and notes every offer_many call (to observe the replay order)."""

    def __init__(self, buf: TickBuffer, calls: list[tuple[str, np.ndarray]]) -> None:
        self.buf, self.calls = buf, calls

    def offer_many(self, ts: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> int:
        self.calls.append((self.buf.instrument, ts.copy()))
        return self.buf.offer_many(ts, bid, ask)


class SpyHub(TickHub):
    def __init__(self) -> None:
        super().__init__(capacity=10_000)
        self.calls: list[tuple[str, np.ndarray]] = []

    def buffer(self, instrument: str) -> Any:
        return SpyBuffer(super().buffer(instrument), self.calls)


def test_replay_merges_instruments_in_time_and_keeps_each_order(tmp_path: Path) -> None:
    a = np.array([1, 4, 3, 7, 9], dtype=np.int64) * SEC + T0  # 3 arrives after 4: kept so on replay
    b = np.array([2, 5, 6, 8], dtype=np.int64) * SEC + T0
    write_ticks(tmp_path, EURUSD, (a, np.arange(5) + 1.0, np.arange(5) + 2.0))
    write_ticks(tmp_path, GBPUSD, (b, np.arange(4) + 1.0, np.arange(4) + 2.0))
    hub = SpyHub()
    feed = ReplayFeed(hub, tmp_path, speed=None, batch=1)
    feed.start()
    assert feed.join(10) and feed.error is None
    order = [(epic, int((ts[0] - T0) // SEC)) for epic, ts in hub.calls]
    assert order == [
        (EURUSD, 1), (GBPUSD, 2), (EURUSD, 4), (EURUSD, 3), (GBPUSD, 5),
        (GBPUSD, 6), (EURUSD, 7), (GBPUSD, 8), (EURUSD, 9),
    ]  # fmt: skip


def test_replay_filters_instruments_and_time(tmp_path: Path) -> None:
    ts, bid, ask = ticks(300, step=60 * SEC)  # 22:00 → 03:00, two dates
    write_ticks(tmp_path, EURUSD, (ts, bid, ask))
    write_ticks(tmp_path, GBPUSD, (ts, bid, ask))
    start, end = pd.Timestamp("2024-03-04 23:30", tz="UTC"), pd.Timestamp("2024-03-05 01:00", tz="UTC")
    hub = TickHub(capacity=10_000)
    feed = ReplayFeed(hub, tmp_path, instruments=[GBPUSD], start=start, end=end, speed=None)
    feed.start()
    assert feed.join(10)
    assert hub.instruments() == [GBPUSD]
    keep = (ts >= start.value) & (ts < end.value)
    np.testing.assert_array_equal(hub.buffer(GBPUSD).arrays()[0], ts[keep])
    assert feed.total == int(keep.sum()) == 90


def test_replay_of_an_empty_range_finishes_at_once(tmp_path: Path) -> None:
    write_ticks(tmp_path, EURUSD, ticks(10))
    hub = TickHub(capacity=100)
    feed = ReplayFeed(hub, tmp_path, start=pd.Timestamp("2030-01-01", tz="UTC"))
    feed.start()
    assert feed.join(10)
    assert feed.progress == 1.0 and feed.total == 0
    assert hub.statuses()["replay"][:2] == (FeedStatus.DISCONNECTED, "finished")


def test_paced_replay_follows_the_clock(tmp_path: Path) -> None:
    # 41 ticks 50 ms apart: 2.0 s of data at speed 4 → about 0.5 s of wall time
    ts = T0 + np.arange(41, dtype=np.int64) * 50_000_000
    write_ticks(tmp_path, EURUSD, (ts, np.full(41, 1.1), np.full(41, 1.2)))
    hub = TickHub(capacity=1_000)
    feed = ReplayFeed(hub, tmp_path, speed=4.0)
    t0 = time.monotonic()
    feed.start()
    assert wait_until(lambda: 0.0 < feed.progress < 1.0, timeout=5)  # part-way, not all at once
    midway = hub.buffer(EURUSD).total
    assert feed.join(10)
    elapsed = time.monotonic() - t0
    assert 0 < midway < 41
    assert hub.buffer(EURUSD).total == 41
    assert 0.45 <= elapsed < 5.0  # loose: it is behaviour (pacing), not a benchmark


def test_stopping_a_paced_replay_part_way(tmp_path: Path) -> None:
    ts = T0 + np.arange(100, dtype=np.int64) * SEC  # 99 s of data at real time
    write_ticks(tmp_path, EURUSD, (ts, np.full(100, 1.1), np.full(100, 1.2)))
    hub = TickHub(capacity=1_000)
    feed = ReplayFeed(hub, tmp_path, speed=1.0, name="slow")
    feed.start()
    assert wait_until(lambda: hub.buffer(EURUSD).total >= 1)
    feed.stop()
    assert not feed.running and not feed.finished
    assert feed.progress < 1.0
    assert hub.statuses()["slow"][:2] == (FeedStatus.DISCONNECTED, "stopped")


def test_replay_bad_arguments(tmp_path: Path) -> None:
    hub = TickHub(capacity=10)
    with pytest.raises(DataError, match="nowhere"):
        ReplayFeed(hub, tmp_path / "nowhere")
    write_ticks(tmp_path, EURUSD, ticks(3))
    with pytest.raises(DataError, match="USDJPY"):
        ReplayFeed(hub, tmp_path, instruments=["CS.D.USDJPY.MINI.IP"])
    with pytest.raises(DataError, match="speed"):
        ReplayFeed(hub, tmp_path, speed=0)
    with pytest.raises(DataError, match="naive"):
        ReplayFeed(hub, tmp_path, start=pd.Timestamp("2024-01-01"))


def test_chunked_merge_of_many_files_matches_the_recorded_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import igkit.feeds.replay as replay_mod

    monkeypatch.setattr(replay_mod, "_CHUNK_ROWS", 40)  # force many read-merge rounds
    rng = np.random.default_rng(3)
    epics = [EURUSD, GBPUSD, "IX.D.DAX.DAILY.IP"]
    midnight = int(pd.Timestamp("2024-03-05", tz="UTC").value)
    for i, e in enumerate(epics):
        ts = midnight - 60 * SEC + np.cumsum(rng.integers(0, 2 * SEC, 300)).astype(np.int64) + i
        ts[150] = midnight - 1  # a late tick that belongs to the previous date, written after newer ones
        for lo in range(0, 300, 23):
            part = ts[lo : lo + 23]
            write_ticks(tmp_path, e, (part, np.full(len(part), 1.0 + i), np.full(len(part), 2.0 + i)))
    hub = SpyHub()
    feed = ReplayFeed(hub, tmp_path, speed=None, batch=7)
    feed.start()
    assert feed.join(20) and feed.error is None and feed.finished
    for e in epics:  # each instrument: exactly its recorded ticks, in the recorded order
        want = read_arrays(tmp_path, e)
        got = hub.buffer(e).buf.arrays()
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
    # across instruments, with one tick per call: each call's running maximum (per instrument) of the
    # timestamps seen so far never goes back, i.e. instruments interleave in time order
    hub1 = SpyHub()
    feed1 = ReplayFeed(hub1, tmp_path, speed=None, batch=1)
    feed1.start()
    assert feed1.join(20) and feed1.finished
    seen_max: dict[str, int] = {}
    keys = []
    for epic, ts in hub1.calls:
        seen_max[epic] = max(seen_max.get(epic, int(ts[0])), int(ts[0]))
        keys.append(seen_max[epic])
    assert len(keys) == 900
    assert keys == sorted(keys)
    switches = sum(1 for a, b in zip(hub1.calls, hub1.calls[1:], strict=False) if a[0] != b[0])
    assert switches > 100  # interleaved, not one instrument after another
    assert feed.total == feed.pushed == 900


def test_files_from_other_tools_with_another_nullability_or_unit_read_together(tmp_path: Path) -> None:
    """A dataset may mix our files with files another tool wrote (nullable columns, µs timestamps): they
    are read as one schema, in order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from igkit.store._parquet import read_files

    t0 = 1_700_000_000_000_000_000
    ours = pa.table({"ts": pa.array([t0, t0 + 1_000], pa.timestamp("ns", tz="UTC")),
                     "bid": [1.0, 1.1], "ask": [1.2, 1.3]},
                    schema=pa.schema([pa.field("ts", pa.timestamp("ns", tz="UTC"), nullable=False),
                                      pa.field("bid", pa.float64(), nullable=False),
                                      pa.field("ask", pa.float64(), nullable=False)]))
    theirs = pa.table({"ts": pa.array([t0 // 1000 + 5, t0 // 1000 + 6], pa.timestamp("us", tz="UTC")),
                       "bid": pa.array([1.4, None], pa.float64()), "ask": [1.5, 1.6]})
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(ours, a)
    pq.write_table(theirs, b)
    ts, bid, ask = read_files([a, b])
    assert ts.tolist() == [t0, t0 + 1_000, t0 + 5_000, t0 + 6_000]
    assert bid[:3].tolist() == [1.0, 1.1, 1.4] and np.isnan(bid[3]) and ask.tolist() == [1.2, 1.3, 1.5, 1.6]
