"""The compiled resampling kernel's own edges, each against the plain per-tick reference of
test_candles.py: prices of any sign (the kernel reduces them as order-preserving integer keys), runs
longer than its SIMD blocks with disorder and late ticks at block edges, the output growing while it
runs, non-finite prices anywhere (named by tick), and bars whose span passes the end of int64 time."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal
from test_candles import MIN, SEC, T0, _build, _frame, _reference

import igkit.candles._batch as batch
from igkit.candles import CandleBuilder, resample_arrays, resample_ticks
from igkit.candles._kernel import _BLOCK
from igkit.errors import DataError


def _check(ts: list[int], bid: list[float], ask: list[float], freq: str, f: int) -> None:
    expected, late = _reference(ts, bid, ask, f)
    got = resample_arrays(np.array(ts, dtype=np.int64), bid, ask, freq)
    assert_frame_equal(got, expected, check_exact=True)
    assert got.attrs["late_ticks"] == late
    built, built_late = _build(ts, bid, ask, freq)
    assert_frame_equal(built, expected, check_exact=True)
    assert built_late == late


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prices=st.lists(st.tuples(st.floats(-1e6, 1e6, allow_nan=False), st.floats(-1e6, 1e6, allow_nan=False)),
                       min_size=1, max_size=300),
       per_bar=st.sampled_from([1, 5, _BLOCK - 1, _BLOCK, _BLOCK + 1, 3 * _BLOCK]))
def test_prices_of_any_sign_reduce_like_floats(prices: list[tuple[float, float]], per_bar: int) -> None:
    """Negative prices (spreads, some commodities), zero of either sign and tiny magnitudes."""
    ts = [T0 + (i // per_bar) * SEC + i for i in range(len(prices))]
    _check(ts, [p[0] for p in prices], [p[1] for p in prices], "1s", SEC)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 6 * _BLOCK),
       late_at=st.lists(st.integers(0, 6 * _BLOCK), max_size=8),
       back_at=st.lists(st.integers(0, 6 * _BLOCK), max_size=8),
       edge=st.sampled_from([0, _BLOCK - 1, _BLOCK, _BLOCK + 1, 2 * _BLOCK]),
       rows=st.sampled_from([1, 2, 0]))
def test_long_runs_with_disorder_and_late_ticks_at_block_edges(n: int, late_at: list[int], back_at: list[int],
                                                               edge: int, rows: int) -> None:
    """Bars of hundreds of ticks (several blocks per run); late ticks and in-bar disorder put anywhere,
    also right at block edges; a first output of 1-2 rows makes the kernel stop and resume."""
    rng = np.random.default_rng(n + 7 * edge)
    ts = (T0 - T0 % MIN + np.arange(n, dtype=np.int64) * (MIN // (2 * _BLOCK))).tolist()  # 128 ticks/bar
    for i in [*late_at, edge]:
        if i < n:
            ts[i] -= 2 * MIN  # two bars back: late unless it comes first
    for i in back_at:
        if i < n:
            ts[i] -= MIN // (4 * _BLOCK)  # a little back: in-bar disorder, or late across a bar edge
    bid = (1.0 + rng.normal(0, 1e-3, n)).tolist()
    ask = [b + 1e-4 for b in bid]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(batch, "_FIRST_ROWS", rows)
        _check(ts, bid, ask, "1min", MIN)


@pytest.mark.parametrize("at", [0, 1, 12, _BLOCK - 1, _BLOCK, _BLOCK + 1, 5 * _BLOCK + 3, 999])
@pytest.mark.parametrize(("side", "value"), [("bid", math.nan), ("ask", math.inf), ("bid", -math.inf),
                                             ("ask", -math.nan)])
@pytest.mark.parametrize("freq", ["1min", "1s"])  # runs of 600 ticks (read in blocks), of 10 (tick by tick)
def test_a_non_finite_price_is_named_by_tick(at: int, side: str, value: float, freq: str) -> None:
    n = 1000
    ts = T0 - T0 % MIN + np.arange(n, dtype=np.int64) * (SEC // 10)  # 10 ticks/s
    bid = np.full(n, 1.1)
    ask = np.full(n, 1.2)
    (bid if side == "bid" else ask)[at] = value
    with pytest.raises(DataError, match=rf"{side} {value} at tick {at:,} \(") as err:
        resample_ticks(_frame(ts, bid, ask), freq)
    assert "must be finite" in str(err.value)
    many = CandleBuilder(freq)  # the live builder drops it instead, counted
    got = many.update_many(ts, bid, ask)
    last = many.flush()
    assert many.invalid == 1 and sum(c.ticks for c in got) + (last.ticks if last else 0) == n - 1


def test_an_overflowing_sum_and_a_non_finite_late_tick() -> None:
    with pytest.raises(DataError, match=r"bid \+ ask overflows \(1e\+308 \+ 1e\+308\) at tick 1 "):
        resample_arrays([T0, T0 + 1], [1.0, 1e308], [1.1, 1e308], "1s")
    # a late tick is dropped before its prices matter, as in the live builder
    got = resample_arrays([T0, T0 - 2 * SEC, T0 + 1], [1.0, math.nan, 1.2], [1.1, math.inf, 1.3], "1s")
    assert got.attrs["late_ticks"] == 1 and got["ticks"].tolist() == [2] and got["bid_high"].iloc[0] == 1.2


def test_nat_is_named_by_tick() -> None:
    with pytest.raises(DataError, match=r"NaT \(first at tick 2\)"):
        resample_arrays(np.array([T0, T0 + 1, np.iinfo(np.int64).min, T0 + 2]), [1.0] * 4, [1.1] * 4, "1s")


@pytest.mark.parametrize("freq", ["1s", "1h", "1D"])
def test_bars_whose_span_passes_the_end_of_int64_time(freq: str) -> None:
    """Near 2262-04-11 a bar's end (open + f) overflows int64: those ticks take the one-by-one path."""
    f = {"1s": SEC, "1h": 3600 * SEC, "1D": 86400 * SEC}[freq]
    top = np.iinfo(np.int64).max
    ts = [top - 3 * f, top - 2 * f + 5, top - 40, top - 50, top - 3, top - 10 * f, top - 1]
    _check(ts, [1.0, 2.0, 3.0, 0.5, 4.0, 9.0, 2.5], [1.5, 2.5, 3.5, 1.0, 4.5, 9.5, 3.0], freq, f)
