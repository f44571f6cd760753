"""Tests for igkit.quality: every expected number is worked out by hand from the frames built here."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from igkit.errors import DataError
from igkit.quality import compare_candles, quality_from_arrays, quality_report

T0 = pd.Timestamp("2024-03-01 10:00:00", tz="UTC")


def frame(offsets_s: list[float], bids: list[float], asks: list[float]) -> pd.DataFrame:
    idx = pd.DatetimeIndex([T0 + pd.Timedelta(seconds=s) for s in offsets_s], name="time")
    return pd.DataFrame({"bid": bids, "ask": asks}, index=idx)


def clean_frame() -> pd.DataFrame:
    # 6 ticks over 20 s; inter-arrival gaps 1, 1, 8, 0.5, 9.5 s; spreads 1, 2, 3, 4, 5, 6 (× 1e-4)
    return frame(
        [0, 1, 2, 10, 10.5, 20],
        [1.1000, 1.1001, 1.1002, 1.1003, 1.1004, 1.1005],
        [1.1001, 1.1003, 1.1005, 1.1007, 1.1009, 1.1011],
    )


def test_clean_frame_counts_span_and_gaps() -> None:
    rep = quality_report(clean_frame(), gap_threshold="5s", now=T0 + pd.Timedelta(seconds=50))
    assert rep["ticks"] == 6
    assert rep["start"] == T0
    assert rep["end"] == T0 + pd.Timedelta(seconds=20)
    assert rep["duration_s"] == pytest.approx(20.0)
    assert rep["rate_per_s"] == pytest.approx(6 / 20)
    assert rep["gaps"] == 2  # 8 s and 9.5 s exceed 5 s
    assert rep["longest_gap_s"] == pytest.approx(9.5)
    assert rep["seconds_since_last"] == pytest.approx(30.0)
    for key in ("out_of_order", "duplicates", "crossed", "locked", "non_finite", "non_positive"):
        assert rep[key] == 0, key
    assert rep["valid"] == 6
    assert rep["gap_threshold_s"] == 5.0


def test_threshold_as_float_seconds_and_strict_comparison() -> None:
    f = clean_frame()
    assert quality_report(f, gap_threshold=8.0, now=T0)["gaps"] == 1  # 8 s is not above 8 s
    assert quality_report(f, gap_threshold=0.75, now=T0)["gaps"] == 4  # 1, 1, 8, 9.5
    assert quality_report(f, gap_threshold="100ms", now=T0)["gaps"] == 5


def test_spread_percentiles_linear_interpolation() -> None:
    rep = quality_report(clean_frame(), now=T0)
    # spreads sorted: 1..6 (×1e-4); p50 at rank 2.5 → 3.5; p95 at rank 4.75 → 5.75
    assert rep["spread_p50"] == pytest.approx(3.5e-4, abs=1e-12)
    assert rep["spread_p95"] == pytest.approx(5.75e-4, abs=1e-12)
    assert rep["spread_max"] == pytest.approx(6e-4, abs=1e-12)


def test_bad_quotes_are_counted_and_excluded_from_spreads() -> None:
    f = frame(
        [0, 1, 1, 3, 2, 4, 5, 6, 7, 8],
        [1.0, 1.0, 1.0, 1.2, 1.0, np.nan, -1.0, 0.0, 1.0, 1.0],
        [1.1, 1.1, 1.1, 1.1, 1.2, 1.3, 1.1, 1.1, np.inf, 1.0],
    )
    # row 0: ok spread .1 | row 1: ok .1 | row 2: duplicate of row 1 (same ts, bid, ask) ok .1
    # row 3: crossed (1.2 > 1.1) | row 4: ts 2 < 3 → out of order, ok spread .2
    # row 5: NaN bid | row 6: negative bid | row 7: zero bid | row 8: inf ask | row 9: locked, spread 0
    rep = quality_report(f, gap_threshold=1.5, now=T0 + pd.Timedelta(seconds=8))
    assert rep["ticks"] == 10
    assert rep["duplicates"] == 1
    assert rep["out_of_order"] == 1
    assert rep["crossed"] == 1
    assert rep["locked"] == 1
    assert rep["non_finite"] == 2
    assert rep["non_positive"] == 2
    assert rep["valid"] == 5  # rows 0, 1, 2, 4, 9
    # valid spreads: .1 .1 .1 .2 0 → sorted 0 .1 .1 .1 .2; p50 = .1; p95 at rank 3.8 → .1 + .8*.1 = .18
    assert rep["spread_p50"] == pytest.approx(0.1)
    assert rep["spread_p95"] == pytest.approx(0.18)
    assert rep["spread_max"] == pytest.approx(0.2)
    # time-ordered timestamps 0 1 1 2 3 4 5 6 7 8: no step above 1.5 s even though arrival had 3 → 2
    assert rep["gaps"] == 0
    assert rep["longest_gap_s"] == pytest.approx(1.0)
    assert rep["start"] == T0
    assert rep["end"] == T0 + pd.Timedelta(seconds=8)
    assert rep["seconds_since_last"] == 0.0


def test_out_of_order_does_not_invent_gaps() -> None:
    # arrival 0, 10, 5, 15, 20 with threshold 6 s: sorted steps are 5 5 5 5 → no gap
    f = frame([0, 10, 5, 15, 20], [1.0] * 5, [1.1] * 5)
    rep = quality_report(f, gap_threshold=6, now=T0)
    assert rep["out_of_order"] == 1
    assert rep["gaps"] == 0
    assert rep["longest_gap_s"] == pytest.approx(5.0)
    assert rep["seconds_since_last"] == pytest.approx(-20.0)


def test_empty_frame_reports_zeros_and_none() -> None:
    empty = pd.DataFrame({"bid": [], "ask": []}, index=pd.DatetimeIndex([], tz="UTC", name="time"))
    rep = quality_report(empty)
    assert rep["ticks"] == 0
    for key in ("gaps", "out_of_order", "duplicates", "crossed", "locked", "non_finite", "non_positive"):
        assert rep[key] == 0
    for key in ("start", "end", "duration_s", "rate_per_s", "longest_gap_s", "seconds_since_last"):
        assert rep[key] is None
    assert rep["spread_p50"] is None and rep["spread_max"] is None


def test_single_tick_has_no_rate_and_no_gap() -> None:
    rep = quality_report(frame([0], [1.0], [1.5]), now=T0 + pd.Timedelta(seconds=2))
    assert rep["ticks"] == 1
    assert rep["duration_s"] == 0.0
    assert rep["rate_per_s"] is None
    assert rep["longest_gap_s"] is None
    assert rep["seconds_since_last"] == pytest.approx(2.0)
    assert rep["spread_p50"] == pytest.approx(0.5)


def test_all_invalid_rows_give_no_spread() -> None:
    rep = quality_report(frame([0, 1], [np.nan, 2.0], [1.0, 1.0]), now=T0)
    assert rep["valid"] == 0
    assert rep["crossed"] == 1 and rep["non_finite"] == 1
    assert rep["spread_p50"] is None


def test_arrays_entry_point_and_int_now() -> None:
    ts = np.array([0, 2_000_000_000, 9_000_000_000], dtype=np.int64)
    rep = quality_from_arrays(ts, [1.0, 1.0, 1.0], [1.2, 1.2, 1.2], gap_threshold="3s", now=10_000_000_000)
    assert rep["ticks"] == 3
    assert rep["gaps"] == 1
    assert rep["longest_gap_s"] == pytest.approx(7.0)
    assert rep["seconds_since_last"] == pytest.approx(1.0)
    assert rep["start"] == pd.Timestamp(0, tz="UTC")
    assert rep["duplicates"] == 0


def test_non_utc_index_is_converted() -> None:
    f = clean_frame()
    f.index = pd.DatetimeIndex(f.index).tz_convert("Europe/London")
    rep = quality_report(f, now=T0)
    assert rep["start"] == T0
    assert str(rep["start"].tz) == "UTC"


def test_default_now_is_current_time() -> None:
    rep = quality_report(frame([0], [1.0], [1.1]))
    expected = (pd.Timestamp.now(tz="UTC") - T0).total_seconds()
    assert rep["seconds_since_last"] == pytest.approx(expected, abs=5.0)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: pd.DataFrame({"bid": [1.0]}, index=pd.DatetimeIndex([T0])), "ask"),
        (lambda: pd.DataFrame({"bid": [1.0], "ask": [1.1]}, index=[0]), "DatetimeIndex"),
        (lambda: pd.DataFrame({"bid": [1.0], "ask": [1.1]}, index=pd.DatetimeIndex(["2024-01-01"])), "naive"),
        (lambda: pd.DataFrame({"bid": ["x"], "ask": [1.1]}, index=pd.DatetimeIndex([T0])), "'bid'"),
        (lambda: [1, 2, 3], "DataFrame"),
    ],
)
def test_bad_frames_raise_data_error_naming_the_problem(build: Callable[[], object], message: str) -> None:
    with pytest.raises(DataError, match=message):
        quality_report(build())  # type: ignore[arg-type]


def test_bad_parameters_and_arrays() -> None:
    f = clean_frame()
    with pytest.raises(DataError, match="gap_threshold"):
        quality_report(f, gap_threshold="soon")
    with pytest.raises(DataError, match="gap_threshold"):
        quality_report(f, gap_threshold=0)
    with pytest.raises(DataError, match="naive"):
        quality_report(f, now=pd.Timestamp("2024-01-01"))
    with pytest.raises(DataError, match="lengths differ"):
        quality_from_arrays([1, 2], [1.0], [1.0, 2.0])
    with pytest.raises(DataError, match="ts_ns"):
        quality_from_arrays([1.5, 2.5], [1.0, 1.0], [1.0, 2.0])
    with pytest.raises(DataError, match="1-D"):
        quality_from_arrays(np.zeros((2, 2), dtype=np.int64), [1.0, 1.0], [1.0, 2.0])


def test_large_random_input_matches_a_plain_count() -> None:
    rng = np.random.default_rng(7)
    n = 200_000
    ts = np.cumsum(rng.integers(0, 3_000_000_000, n)).astype(np.int64)
    bid = 1.0 + rng.normal(0, 1e-3, n)
    ask = bid + rng.choice([-1e-4, 0.0, 1e-4, 2e-4], n)
    rep = quality_from_arrays(ts, bid, ask, gap_threshold=2.5, now=int(ts[-1]))
    # independent tallies with plain Python over the same data
    steps = [int(ts[i + 1] - ts[i]) for i in range(n - 1)]
    assert rep["gaps"] == sum(1 for s in steps if s > 2_500_000_000)
    assert rep["crossed"] == sum(1 for x, y in zip(bid, ask, strict=True) if x > y)
    assert rep["locked"] == sum(1 for x, y in zip(bid, ask, strict=True) if x == y)
    assert rep["out_of_order"] == 0


def test_compare_candles_reports_one_sided_bars_and_differences() -> None:
    idx = pd.date_range("2024-01-01 10:00", periods=4, freq="1min", tz="UTC")
    ours = pd.DataFrame({"bid_open": [1.0, 2.0, 3.0, 4.0], "ticks": [5, 6, 7, 8]}, index=idx)
    theirs = pd.DataFrame(
        {"bid_open": [2.5, 3.0, 4.25], "ticks": [6, 7, 9], "name": ["a", "b", "c"]},
        index=pd.DatetimeIndex(["2024-01-01 10:01", "2024-01-01 10:02", "2024-01-01 10:09"], tz="UTC"),
    )
    res = compare_candles(ours, theirs)
    assert res["common"] == 2
    assert list(res["only_ours"]) == [idx[0], idx[3]]
    assert list(res["only_theirs"]) == [pd.Timestamp("2024-01-01 10:09", tz="UTC")]
    assert res["columns"] == ["bid_open", "ticks"]
    assert res["max_abs_diff"]["bid_open"] == pytest.approx(0.5)  # 10:01: 2.0 vs 2.5; 10:02 equal
    assert res["max_abs_diff"]["ticks"] == 0.0
    with pytest.raises(DataError, match="lacks"):
        compare_candles(ours, theirs, columns=["ask_open"])
    with pytest.raises(DataError, match="theirs"):
        compare_candles(ours, theirs.reset_index(drop=True))


def test_quality_of_a_live_buffer() -> None:
    from igkit.quality import quality_of_buffer
    from igkit.ticks import TickHub

    buf = TickHub(capacity=100).buffer("CS.D.EURUSD.MINI.IP")
    assert quality_of_buffer(buf)["ticks"] == 0
    ts = T0.value + np.array([0, 1, 2, 12, 13], dtype=np.int64) * 1_000_000_000
    buf.offer_many(ts, [1.0, 1.0, 1.0, 1.0, 1.0], [1.1, 1.2, 1.3, 1.4, 1.5])
    buf.offer(int(ts[-1]), 1.0, 1.5)  # a duplicate of the last tick
    rep = quality_of_buffer(buf, gap_threshold="5s", now=T0 + pd.Timedelta(seconds=20))
    assert rep["ticks"] == 6
    assert rep["gaps"] == 1 and rep["longest_gap_s"] == pytest.approx(10.0)
    assert rep["duplicates"] == 1
    assert rep["seconds_since_last"] == pytest.approx(7.0)
    assert rep["spread_max"] == pytest.approx(0.5)
