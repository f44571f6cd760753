"""Tests for igkit.candles: schema, freq_to_ns, resample_ticks/resample_arrays and CandleBuilder.

The central property: for any arrival-ordered tick stream the live builder (with a final flush) and the
batch resampler give bit-identical candles and the same late count, and both agree with an independent
per-tick reference written here from the spec. On sorted input both equal pandas' resample().ohlc().
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

import igkit.candles._batch as batch
import igkit.candles._builder as builder_mod
from igkit.candles import (
    CANDLE_COLUMNS,
    Candle,
    CandleBuilder,
    candles_to_frame,
    empty_candles,
    freq_to_ns,
    resample_arrays,
    resample_ticks,
)
from igkit.errors import DataError

SEC = 1_000_000_000
MIN = 60 * SEC
T0 = 1_700_000_000 * SEC  # 2023-11-14 22:13:20 UTC
FREQS = ["1s", "5s", "1min", "15min", "1h", "4h", "1D"]
FREQ_NS = {"1s": SEC, "5s": 5 * SEC, "1min": MIN, "15min": 15 * MIN, "1h": 60 * MIN, "4h": 240 * MIN,
           "1D": 1440 * MIN}


def _frame(ts: list[int] | np.ndarray, bid: list[float] | np.ndarray, ask: list[float] | np.ndarray,
           ) -> pd.DataFrame:
    idx = pd.DatetimeIndex(np.asarray(ts, dtype=np.int64).view("datetime64[ns]")).tz_localize("UTC")
    return pd.DataFrame({"bid": np.asarray(bid, dtype=float), "ask": np.asarray(ask, dtype=float)}, index=idx)


def _reference(ts: list[int], bid: list[float], ask: list[float], f: int) -> tuple[pd.DataFrame, int]:
    """The spec, tick by tick and as plainly as possible: bar = floor(ts / f); older than the newest
    bar seen → late; otherwise the tick joins its bar in arrival order."""
    bars: dict[int, list[tuple[float, float]]] = {}
    newest = None
    late = 0
    for t, b, a in zip(ts, bid, ask, strict=True):
        bar = t // f
        if newest is not None and bar < newest:
            late += 1
            continue
        newest = bar
        bars.setdefault(bar, []).append((b, a))
    rows = []
    for bar, ticks in bars.items():
        bs = [b for b, _ in ticks]
        as_ = [a for _, a in ticks]
        ms = [(b + a) / 2 for b, a in ticks]
        rows.append(Candle(bar * f, bs[0], max(bs), min(bs), bs[-1], as_[0], max(as_), min(as_), as_[-1],
                           ms[0], max(ms), min(ms), ms[-1], len(ticks)))
    return candles_to_frame(rows), late


def _build(ts: list[int], bid: list[float], ask: list[float], freq: str) -> tuple[pd.DataFrame, int]:
    builder = CandleBuilder(freq)
    out = [c for c in map(builder.update, ts, bid, ask) if c is not None]
    last = builder.flush()
    if last is not None:
        out.append(last)
    return candles_to_frame(out), builder.late


@st.composite
def streams(draw: st.DrawFn) -> tuple[str, list[int], list[float], list[float]]:
    """Arrival-ordered ticks with same-timestamp runs, in-bar disorder, late ticks and gaps."""
    freq = draw(st.sampled_from(FREQS))
    f = FREQ_NS[freq]
    n = draw(st.integers(0, 120))
    t = draw(st.sampled_from([T0, T0 - T0 % f, -3 * f - 17]))  # arbitrary, on a boundary, before 1970
    step = st.one_of(
        st.just(0),  # same timestamp
        st.integers(1, max(1, f // 7)),  # inside the bar, mostly
        st.integers(-f // 3, -1),  # back in time: in-bar disorder or late
        st.integers(-3 * f, -f),  # late (an older bar)
        st.integers(f, 40 * f),  # gap: empty bars in between
    )
    price = st.floats(0.01, 5000.0, allow_nan=False, allow_infinity=False)
    ts, bid, ask = [], [], []
    for _ in range(n):
        t += draw(step)
        b = draw(price)
        ts.append(t)
        bid.append(b)
        ask.append(b + draw(st.sampled_from([0.0, 1e-5, 0.0001, 0.3, 2.5])))
    return freq, ts, bid, ask


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=streams(), rows=st.sampled_from([1, 2, 3, 7, 0]), close_at=st.sampled_from([1, 3, 48]))
def test_builder_equals_resample_and_reference(data: tuple[str, list[int], list[float], list[float]],
                                               rows: int, close_at: int) -> None:
    freq, ts, bid, ask = data
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(builder_mod, "_NUMPY_CLOSE", close_at)  # bars this long close via numpy, shorter in Python
        built, built_late = _build(ts, bid, ask, freq)
        mp.setattr(batch, "_FIRST_ROWS", rows)  # a small first capacity: the kernel stops and resumes often
        from_arrays = resample_arrays(np.array(ts, dtype=np.int64), bid, ask, freq)
        from_frame = resample_ticks(_frame(ts, bid, ask), freq)
    expected, late = _reference(ts, bid, ask, FREQ_NS[freq])
    for got in (from_arrays, from_frame, built):
        assert_frame_equal(got, expected, check_exact=True)
    assert built_late == from_arrays.attrs["late_ticks"] == from_frame.attrs["late_ticks"] == late
    assert int(from_frame["ticks"].sum()) + late == len(ts)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=streams(), cuts=st.lists(st.integers(0, 400), max_size=6),
       rows=st.sampled_from([1, 3, 0]), flush_at=st.integers(0, 130))
def test_update_many_equals_update(data: tuple[str, list[int], list[float], list[float]], cuts: list[int],
                                   rows: int, flush_at: int) -> None:
    freq, ts, bid, ask = data
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(batch, "_FIRST_ROWS", rows)
        mp.setattr(builder_mod, "_SMALL_BATCH", 4)  # reach the vectorised path
        mp.setattr(builder_mod, "_NUMPY_CLOSE", 2)
        _check_update_many(freq, ts, bid, ask, cuts, flush_at)


def _check_update_many(freq: str, ts: list[int], bid: list[float], ask: list[float], cuts: list[int],
                       flush_at: int) -> None:
    one, many = CandleBuilder(freq), CandleBuilder(freq)
    got_one = []
    for i, args in enumerate(zip(ts, bid, ask, strict=True)):
        if i == flush_at:
            got_one.append(one.flush())
        got_one.append(one.update(*args))
    got_one = [c for c in got_one if c is not None]
    edges = sorted({0, len(ts), *(c for c in cuts if c < len(ts)), *([flush_at] if flush_at < len(ts) else [])})
    got_many: list[Candle | None] = []
    for lo, hi in itertools.pairwise(edges):
        if lo == flush_at:
            got_many.append(many.flush())
        got_many += many.update_many(np.array(ts[lo:hi], dtype=np.int64), bid[lo:hi], ask[lo:hi])
    got_many = [c for c in got_many if c is not None]
    assert got_many == got_one
    assert many.late == one.late
    assert many.current == one.current
    assert many.flush() == one.flush()


@settings(max_examples=100, deadline=None)
@given(data=streams())
def test_sorted_input_equals_pandas_ohlc(data: tuple[str, list[int], list[float], list[float]]) -> None:
    freq, ts, bid, ask = data
    order = np.argsort(np.array(ts, dtype=np.int64), kind="stable")
    ts_s = np.array(ts, dtype=np.int64)[order]
    df = _frame(ts_s, np.array(bid)[order], np.array(ask)[order])
    got = resample_ticks(df, freq)
    assert got.attrs["late_ticks"] == 0
    if len(ts) == 0:
        assert got.empty
        return
    df["mid"] = (df["bid"] + df["ask"]) / 2
    rs = df.resample(freq)
    ohlc = rs.ohlc()
    counts = rs["bid"].count()
    has_ticks = counts > 0
    for side in ("bid", "ask", "mid"):
        for part in ("open", "high", "low", "close"):
            expected = ohlc[(side, part)][has_ticks]
            np.testing.assert_array_equal(got[f"{side}_{part}"].to_numpy(), expected.to_numpy())
    np.testing.assert_array_equal(got["ticks"].to_numpy(), counts[has_ticks].to_numpy())
    np.testing.assert_array_equal(got.index.asi8, ohlc.index[has_ticks].as_unit("ns").asi8)


def test_pandas_equality_on_a_large_sorted_stream() -> None:
    rng = np.random.default_rng(7)
    n = 300_000  # several default-size chunks
    ts = T0 + np.cumsum(rng.integers(0, 400_000_000, n))
    bid = 1.1 + np.cumsum(rng.normal(0, 1e-5, n))
    ask = bid + rng.choice([0.6e-4, 0.8e-4, 1e-4], n)
    df = _frame(ts, bid, ask)
    got = resample_ticks(df, "1min")
    df["mid"] = (df["bid"] + df["ask"]) / 2
    ohlc = df.resample("1min").ohlc().dropna()
    assert len(got) == len(ohlc) > 1000
    for side in ("bid", "ask", "mid"):
        for part in ("open", "high", "low", "close"):
            np.testing.assert_array_equal(got[f"{side}_{part}"].to_numpy(), ohlc[(side, part)].to_numpy())
    built, late = _build(ts.tolist(), bid.tolist(), ask.tolist(), "1min")
    assert late == 0
    assert_frame_equal(built, got, check_exact=True)


def test_many_late_ticks_inside_bars_on_a_large_stream() -> None:
    rng = np.random.default_rng(11)
    n = 200_000
    ts = T0 + np.cumsum(rng.integers(0, 300_000_000, n))
    late = rng.choice(n, 3000, replace=False)
    ts[late] -= rng.integers(MIN, 5 * MIN, late.shape[0])  # late by 1-5 bars, interrupting bars
    swap = rng.choice(n - 1, 3000, replace=False)
    ts[swap], ts[swap + 1] = ts[swap + 1], ts[swap].copy()  # in-bar disorder (and a few more late)
    bid = 1.1 + np.cumsum(rng.normal(0, 1e-5, n))
    ask = bid + 1e-4
    got = resample_arrays(ts, bid, ask, "1min")
    expected, n_late = _reference(ts.tolist(), bid.tolist(), ask.tolist(), MIN)
    assert_frame_equal(got, expected, check_exact=True)
    assert got.attrs["late_ticks"] == n_late >= 3000
    built, built_late = _build(ts.tolist(), bid.tolist(), ask.tolist(), "1min")
    assert_frame_equal(built, expected, check_exact=True)
    assert built_late == n_late
    many = CandleBuilder("1min")
    out = many.update_many(ts[:70_000], bid[:70_000], ask[:70_000])
    out += many.update_many(ts[70_000:], bid[70_000:], ask[70_000:])
    last = many.flush()
    assert last is not None
    assert_frame_equal(candles_to_frame([*out, last]), expected, check_exact=True)
    assert many.late == n_late


def test_no_bars_are_invented_for_empty_periods() -> None:
    ts = [T0, T0 + 10 * MIN, T0 + 3 * 60 * MIN]
    got = resample_arrays(ts, [1.0, 2.0, 3.0], [1.5, 2.5, 3.5], "1min")
    assert list(got.index.asi8) == [t - t % MIN for t in ts]
    assert list(got["ticks"]) == [1, 1, 1]
    assert list(got["mid_close"]) == [1.25, 2.25, 3.25]


def test_same_timestamp_ticks_keep_arrival_order() -> None:
    ts = [T0, T0, T0]
    got = resample_arrays(ts, [3.0, 1.0, 2.0], [3.5, 1.5, 2.5], "1min")
    row = got.iloc[0]
    assert (row["bid_open"], row["bid_high"], row["bid_low"], row["bid_close"]) == (3.0, 3.0, 1.0, 2.0)
    assert (row["mid_open"], row["mid_close"], row["ticks"]) == (3.25, 2.25, 3)
    b = CandleBuilder("1min")
    assert [b.update(t, x, y) for t, x, y in zip(ts, [3.0, 1.0, 2.0], [3.5, 1.5, 2.5], strict=True)] == [None] * 3
    c = b.flush()
    assert c is not None and (c.bid_open, c.bid_close) == (3.0, 2.0)


def test_late_tick_dropped_and_counted_in_order_disorder_merged() -> None:
    start = T0 - T0 % MIN
    # bar 0, bar 1, back into bar 1 (earlier timestamp: merged), then bar 0 again (late)
    ts = [start + 5 * SEC, start + MIN + 30 * SEC, start + MIN + 1 * SEC, start + 50 * SEC]
    bid = [1.0, 2.0, 1.5, 9.0]
    ask = [1.1, 2.1, 1.6, 9.1]
    got = resample_arrays(ts, bid, ask, "1min")
    assert got.attrs["late_ticks"] == 1
    assert list(got["ticks"]) == [1, 2]
    assert got["bid_high"].max() == 2.0  # the late 9.0 never entered a bar
    assert (got["bid_open"].iloc[1], got["bid_close"].iloc[1]) == (2.0, 1.5)  # arrival order
    b = CandleBuilder("1min")
    closed = [b.update(t, x, y) for t, x, y in zip(ts, bid, ask, strict=True)]
    assert closed[0] is None and closed[2] is None and closed[3] is None
    assert closed[1] is not None and closed[1].ts_ns == start and closed[1].ticks == 1
    assert b.late == 1
    assert b.current is not None and b.current.ticks == 2 and b.current.ts_ns == start + MIN


def test_builder_flush_current_and_late_after_flush() -> None:
    b = CandleBuilder("1min")
    assert b.current is None and b.flush() is None
    start = T0 - T0 % MIN
    b.update(start + 1, 1.0, 1.2)
    b.update(start + 2, 1.4, 1.6)
    cur = b.current
    assert cur is not None and cur.ticks == 2 and b.current == cur  # current does not clear
    assert cur.time == pd.Timestamp(start, unit="ns", tz="UTC")
    assert cur.mid_high == (1.4 + 1.6) / 2 and cur.mid_low == (1.0 + 1.2) / 2
    assert b.flush() == cur
    assert b.current is None and b.flush() is None
    assert b.update(start + 3, 5.0, 5.0) is None  # the flushed bar is final: late
    assert b.late == 1 and b.current is None
    assert b.update(start + MIN, 2.0, 2.0) is None  # the next bar opens normally
    assert b.current is not None and b.current.ts_ns == start + MIN
    assert b.close_due(start + 2 * MIN - 1) is None
    due = b.close_due(start + 2 * MIN)
    assert due is not None and due.ts_ns == start + MIN and b.current is None


@pytest.mark.parametrize("close_at", [1, 1000])
def test_builder_drops_non_finite_ticks_and_resample_rejects_them(close_at: int,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(builder_mod, "_NUMPY_CLOSE", close_at)
    b = CandleBuilder("1s")
    b.update(T0, 1.0, 1.1)
    b.update(T0 + 1, math.nan, 1.2)
    b.update(T0 + 2, 1.3, math.inf)
    b.update(T0 + 3, 0.5, 0.7)
    c = b.flush()
    assert c == Candle(T0 - T0 % SEC, 1.0, 1.0, 0.5, 0.5, 1.1, 1.1, 0.7, 0.7,
                       (1.0 + 1.1) / 2, (1.0 + 1.1) / 2, (0.5 + 0.7) / 2, (0.5 + 0.7) / 2, 2)
    assert b.invalid == 2
    b.update(T0 + SEC, math.nan, math.nan)
    assert b.flush() is None and b.invalid == 3
    with pytest.raises(DataError, match="finite"):
        resample_arrays([T0, T0 + 1], [1.0, math.nan], [1.1, 1.2], "1s")
    with pytest.raises(DataError, match="finite"):
        resample_ticks(_frame([T0], [1.0], [math.inf]), "1s")


def test_update_many_with_non_finite_prices_matches_the_tick_loop() -> None:
    n = 300  # above the small-batch threshold: starts on the vectorised path, then falls back
    ts = T0 + np.arange(n, dtype=np.int64) * 100_000_000
    bid = 1.0 + np.arange(n) * 1e-4
    bid[[5, 150]] = [math.nan, math.inf]
    ask = bid + 1e-4
    one, many = CandleBuilder("5s"), CandleBuilder("5s")
    got_one = [c for c in map(one.update, ts.tolist(), bid.tolist(), ask.tolist()) if c is not None]
    assert many.update_many(ts, bid, ask) == got_one
    assert many.invalid == one.invalid == 2
    assert many.flush() == one.flush()


def test_nullable_prices_with_missing_values_are_rejected() -> None:
    frame = _frame([T0, T0 + 1], [1.0, 1.1], [1.2, 1.3])
    frame["bid"] = pd.array([1.0, None], dtype="Float64")
    with pytest.raises(DataError, match="bid"):  # <NA> reads as NaN (pandas 3) or refuses float64
        resample_ticks(frame)


def test_bars_open_on_epoch_multiples_also_before_1970() -> None:
    f = freq_to_ns("7min")
    ts = [T0, -5 * SEC, -f - 1]
    got = resample_arrays(ts, [1.0, 1.0, 1.0], [1.0, 1.0, 1.0], "7min")
    assert got.attrs["late_ticks"] == 2  # both pre-1970 ticks are older than the first bar
    got = resample_arrays(sorted(ts), [1.0] * 3, [1.0] * 3, "7min")
    assert list(got.index.asi8) == [-2 * f, -f, T0 - T0 % f]
    assert all(t % f == 0 for t in got.index.asi8)


def test_schema_and_dtypes() -> None:
    assert CANDLE_COLUMNS == (
        "bid_open", "bid_high", "bid_low", "bid_close", "ask_open", "ask_high", "ask_low", "ask_close",
        "mid_open", "mid_high", "mid_low", "mid_close", "ticks",
    )
    frames = [empty_candles(), candles_to_frame([]), resample_arrays([], [], []),
              resample_arrays([T0, T0 + MIN], [1, 2], [2, 3])]
    for frame in frames:
        assert tuple(frame.columns) == CANDLE_COLUMNS
        assert str(frame.index.dtype) == "datetime64[ns, UTC]"
        assert frame.index.name == "time"
        assert all(str(frame[c].dtype) == "float64" for c in CANDLE_COLUMNS[:-1])
        assert str(frame["ticks"].dtype) == "int64"
    assert resample_arrays([], [], []).attrs["late_ticks"] == 0
    assert Candle._fields == ("ts_ns", *CANDLE_COLUMNS)


def test_us_resolution_and_non_utc_index_are_converted() -> None:
    ts = [T0, T0 + 61 * SEC, T0 + 62 * SEC]
    utc = _frame(ts, [1.0, 2.0, 3.0], [1.1, 2.1, 3.1])
    expected = resample_ticks(utc)
    paris = utc.tz_convert("Europe/Paris")
    paris.index = paris.index.as_unit("us")
    assert_frame_equal(resample_ticks(paris), expected, check_exact=True)


@pytest.mark.parametrize(("freq", "nanos"), [
    ("1s", SEC), ("5s", 5 * SEC), ("1min", MIN), ("5min", 5 * MIN), ("15min", 15 * MIN), ("1h", 60 * MIN),
    ("4h", 240 * MIN), ("1D", 1440 * MIN), ("D", 1440 * MIN), ("24h", 1440 * MIN), ("1500ms", 1500 * 10**6),
    (pd.Timedelta(minutes=2), 2 * MIN), (np.timedelta64(30, "s"), 30 * SEC),
])
def test_freq_to_ns_accepts_fixed_frequencies(freq: str | pd.Timedelta, nanos: int) -> None:
    assert freq_to_ns(freq) == nanos


@pytest.mark.parametrize("freq", ["1M", "1ME", "1W", "2D", "25h", "0s", "3ms", "999ms", "-1min", "nonsense",
                                  "", pd.Timedelta(0), pd.Timedelta("2D"), pd.NaT, 60, None, True])
def test_freq_to_ns_rejects_everything_else(freq: object) -> None:
    with pytest.raises(DataError) as err:
        freq_to_ns(freq)  # type: ignore[arg-type]
    msg = str(err.value)
    assert repr(freq) in msg and "1s to 1D" in msg


def test_bad_frames_raise_data_error_naming_the_problem() -> None:
    ok = _frame([T0, T0 + 1], [1.0, 1.1], [1.2, 1.3])
    with pytest.raises(DataError, match="naive"):
        resample_ticks(ok.tz_localize(None))
    with pytest.raises(DataError, match="ask"):
        resample_ticks(ok.drop(columns="ask"))
    with pytest.raises(DataError, match=r"'bid'.*numeric"):
        resample_ticks(ok.assign(bid=["a", "b"]))
    with pytest.raises(DataError, match=r"'ask'.*numeric"):
        resample_ticks(ok.assign(ask=[True, False]))
    with pytest.raises(DataError, match="DatetimeIndex"):
        resample_ticks(ok.reset_index(drop=True))
    with pytest.raises(DataError, match="DataFrame"):
        resample_ticks(ok["bid"])  # type: ignore[arg-type]
    with pytest.raises(DataError, match="NaT"):
        resample_ticks(pd.DataFrame({"bid": [1.0, 1.0], "ask": [1.0, 1.0]},
                                    index=pd.DatetimeIndex([pd.NaT, pd.Timestamp(T0, tz="UTC")])))
    with pytest.raises(DataError, match="1s to 1D"):
        resample_ticks(ok, "1W")
    with pytest.raises(DataError, match="same length"):
        resample_arrays([T0, T0 + 1], [1.0], [1.0, 2.0])
    with pytest.raises(DataError, match="one-dimensional"):
        resample_arrays([[T0]], [1.0], [1.0])
    with pytest.raises(DataError, match="ts_ns"):
        resample_arrays([1.5], [1.0], [1.0])
    with pytest.raises(DataError, match="same length"):
        CandleBuilder().update_many([T0], [1.0, 2.0], [1.0])
    with pytest.raises(DataError, match="1s to 1D"):
        CandleBuilder("1ms")
