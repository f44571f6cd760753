"""Tests for igkit.store (Parquet layout, reads, Recorder) and igkit.feeds.replay.ReplayFeed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from igkit.errors import DataError
from igkit.store import list_dates, list_instruments, read_arrays, read_ticks, write_ticks

EURUSD = "CS.D.EURUSD.MINI.IP"
GBPUSD = "CS.D.GBPUSD.MINI.IP"
DAY = 86_400_000_000_000
SEC = 1_000_000_000
T0 = int(pd.Timestamp("2024-03-04 22:00", tz="UTC").value)  # 2 h before midnight


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
    np.testing.assert_array_equal(e.index.asi8, e_ts)
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
    assert list(got.index.asi8) == [*ts, *(ts[:2] - SEC)]
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
    np.testing.assert_array_equal(got.index.asi8, ts)
    assert str(got.index.tz) == "UTC"

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
    np.testing.assert_array_equal(got.index.asi8, ts[want])
    np.testing.assert_array_equal(got["bid"].to_numpy(), bid[want])
    assert got.index[0] == start and got.index[-1] == end - pd.Timedelta(hours=1)
    # an end exactly at midnight does not open the next date; int ns bounds work too
    midnight = int(pd.Timestamp("2024-03-04", tz="UTC").value)
    got2 = read_arrays(tmp_path, EURUSD, start=start.value, end=midnight)
    assert got2[0][-1] == midnight - 3600 * SEC
    assert len(read_ticks(tmp_path, EURUSD, start=end, end=end)) == 0
    with pytest.raises(Exception, match=r"(?i)parquet|magic"):
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
