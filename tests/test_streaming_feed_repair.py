"""Candle repairs: bars from IG SECOND bars, ``repair_candles``, the engine history's merge (no network)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from igkit.candles import CANDLE_COLUMNS, CandleBuilder, candles_to_frame, resample_arrays
from igkit.engine._instrument import History, Instrument, apply_repairs
from igkit.errors import DataError
from igkit.feeds import Repair, bars_from_seconds, repair_candles
from igkit.ticks import TickHub

S = 1_000_000_000
T0 = 1_700_000_000 * S


def ticks(n: int = 3000, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = T0 + np.sort(rng.integers(0, 120 * S, n))
    mid = 1.1 + np.cumsum(rng.normal(0, 1e-5, n))
    spread = rng.integers(1, 4, n) * 1e-5
    bid = np.round(mid - spread / 2, 5)
    ask = np.round(bid + spread, 5)
    return ts.astype(np.int64), bid, ask


def seconds_frame(ts: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> pd.DataFrame:
    """What IG's /prices SECOND answer becomes in igkit.ig.prices: OHLC per side, mids, volume = ticks."""
    sec = resample_arrays(ts, bid, ask, "1s")
    for p in ("open", "high", "low", "close"):
        sec[f"mid_{p}"] = (sec[f"bid_{p}"] + sec[f"ask_{p}"]) / 2
    sec["volume"] = sec["ticks"].astype(float)
    return sec.drop(columns=["ticks"])


def test_bars_from_seconds_exact_where_documented_and_bounded_mids() -> None:
    ts, bid, ask = ticks()
    want = resample_arrays(ts, bid, ask, "5s")
    got = bars_from_seconds(seconds_frame(ts, bid, ask), "5s")
    assert list(got.columns) == [*CANDLE_COLUMNS, "backfilled"] and got["backfilled"].all()
    assert got.index.equals(want.index)
    for c in ("bid_open", "bid_high", "bid_low", "bid_close", "ask_open", "ask_high", "ask_low", "ask_close", "ticks"):
        np.testing.assert_array_equal(got[c].to_numpy(), want[c].to_numpy(), err_msg=c)
    np.testing.assert_allclose(got["mid_open"], want["mid_open"], atol=1e-12)
    np.testing.assert_allclose(got["mid_close"], want["mid_close"], atol=1e-12)
    assert (got["mid_high"] >= want["mid_high"] - 1e-12).all() and (got["mid_low"] <= want["mid_low"] + 1e-12).all()
    assert (got["mid_high"] > want["mid_high"] + 1e-12).any()  # a bound, not exact: documented


def test_bars_from_seconds_bad_input() -> None:
    ts, bid, ask = ticks(50)
    sec = seconds_frame(ts, bid, ask)
    with pytest.raises(DataError, match="lack columns"):
        bars_from_seconds(sec.drop(columns=["ask_low"]))
    with pytest.raises(DataError, match="tz-aware"):
        bars_from_seconds(sec.tz_localize(None))
    empty = bars_from_seconds(sec.iloc[0:0])
    assert empty.empty and "backfilled" in empty.columns


def test_repair_candles_fills_a_hole_and_drops_bars_without_ticks() -> None:
    ts, bid, ask = ticks()
    want = resample_arrays(ts, bid, ask, "5s")
    hole = (ts >= T0 + 31 * S) & (ts < T0 + 52 * S)  # ticks lost on the wire
    live = resample_arrays(ts[~hole], bid[~hole], ask[~hole], "5s")
    assert not live.equals(want)
    lo, hi = T0 + 30 * S, T0 + 55 * S
    sec = seconds_frame(ts, bid, ask)
    t = sec.index.as_unit("ns").asi8
    rep = Repair("E", bars_from_seconds(sec[(t >= lo) & (t < hi)], "5s"), lo, hi, "test")
    out = repair_candles(live, [rep, Repair("OTHER", rep.frame.iloc[0:0], T0, T0 + 200 * S)], epic="E")
    assert out.index.equals(want.index)
    for c in ("bid_high", "ask_low", "ticks", "mid_close"):
        np.testing.assert_allclose(out[c], want[c], atol=1e-12)
    t_out = out.index.as_unit("ns").asi8
    assert out["backfilled"].to_numpy().tolist() == ((t_out >= lo) & (t_out < hi)).tolist()
    # a repair that found no tick in its span removes live bars there (the server is the reference)
    gone = repair_candles(live, [Repair("E", rep.frame.iloc[0:0], lo, hi)])
    assert len(gone) == len(live) - int(
        ((live.index.as_unit("ns").asi8 >= lo) & (live.index.as_unit("ns").asi8 < hi)).sum()
    )
    with pytest.raises(DataError, match="lack columns"):
        repair_candles(live.drop(columns=["ticks"]), [rep])


def test_history_merge_equals_repair_candles() -> None:
    ts, bid, ask = ticks()
    hole = (ts >= T0 + 31 * S) & (ts < T0 + 52 * S)
    live = resample_arrays(ts[~hole], bid[~hole], ask[~hole], "5s")
    lo, hi = T0 + 30 * S, T0 + 55 * S
    sec = seconds_frame(ts, bid, ask)
    t = sec.index.as_unit("ns").asi8
    frame = bars_from_seconds(sec[(t >= lo) & (t < hi)], "5s")
    h = History(1000)
    h.extend_frame(live)
    assert h.merge(frame, lo, hi) == len(frame)
    want = repair_candles(live, [Repair("E", frame, lo, hi)]).drop(columns=["backfilled"])
    pd.testing.assert_frame_equal(h.frame(), want, check_freq=False)
    small = History(5)
    small.extend_frame(live)
    small.merge(frame, lo, hi)
    assert len(small) == 5 and small.frame().index.equals(want.index[-5:])


def test_engine_applies_a_repair_only_once_its_bars_closed_live() -> None:
    ts, bid, ask = ticks()
    hub = TickHub(10)
    inst = Instrument("E", hub.buffer("E"), "5s", 500)
    lo, hi = T0 + 30 * S, T0 + 55 * S
    sec = seconds_frame(ts, bid, ask)
    t = sec.index.as_unit("ns").asi8
    inst.repairs.append(Repair("E", bars_from_seconds(sec[(t >= lo) & (t < hi)], "5s"), lo, hi))
    hole = (ts >= T0 + 31 * S) & (ts < T0 + 52 * S)
    keep = ~hole
    k_ts, k_b, k_a = ts[keep], bid[keep], ask[keep]
    early = k_ts < T0 + 53 * S
    for c in inst.builder.update_many(k_ts[early], k_b[early], k_a[early]):
        inst.history.append(c)
    assert apply_repairs(inst, inst.builder.freq_ns) == 0 and len(inst.repairs) == 1  # bar 50-55 s still open
    for c in inst.builder.update_many(k_ts[~early], k_b[~early], k_a[~early]):
        inst.history.append(c)
    assert apply_repairs(inst, inst.builder.freq_ns) == 5 and inst.repairs == [] and inst.repaired == 5
    closed = candles_to_frame(CandleBuilder("5s").update_many(ts, bid, ask))
    got = inst.history.frame()
    np.testing.assert_array_equal(got["ticks"].to_numpy(), closed["ticks"].to_numpy()[: len(got)])
    np.testing.assert_array_equal(got["bid_low"].to_numpy(), closed["bid_low"].to_numpy()[: len(got)])


def test_gap_tracker_merges_widens_retries_with_backoff_and_gives_up() -> None:
    from igkit.errors import IGRequestError, RateLimitError
    from igkit.feeds._streaming_gaps import GapTracker

    now = [0.0]
    calls: list[tuple[str, int, int]] = []
    fail: list[Exception] = []
    ts, bid, ask = ticks()
    sec = seconds_frame(ts, bid, ask)

    def fetch(epic: str, lo: int, hi: int) -> pd.DataFrame:
        calls.append((epic, lo, hi))
        if fail:
            raise fail.pop(0)
        t = sec.index.as_unit("ns").asi8
        return sec[(t >= lo) & (t <= hi)]

    made: list[Repair] = []
    g = GapTracker(5 * S, fetch, settle=1.0, backoff=(2.0, 8.0), max_attempts=3, max_span_s=60,
                   clock=lambda: now[0], emit=made.append)  # fmt: skip
    g.open("E", T0 + 12 * S, "stalled")
    g.open("E", T0 + 14 * S, "ignored: already open")
    g.close("E", T0 + 17 * S)
    g.add("E", T0 + 19 * S, T0 + 21 * S, "lost")  # overlaps: merged into one backfill
    [p] = g.pending
    assert (p.lo, p.hi, p.reason) == (T0 + 10 * S, T0 + 25 * S, "stalled+lost")  # whole 5 s bars
    now[0] = (T0 + 25 * S) / S + 0.5
    assert g.run_due() == [] and calls == []  # not yet settled
    now[0] += 1.0
    fail.append(IGRequestError("boom"))
    assert g.run_due() == [] and g.pending[0].due == now[0] + 2.0  # first retry after 2 s
    now[0] += 2.0
    [rep] = g.run_due()
    assert calls[-1] == ("E", T0 + 10 * S, T0 + 24 * S) and made == [rep] and g.pending == []
    assert rep.frame.index.as_unit("ns").asi8.tolist() == [T0 + 10 * S, T0 + 15 * S, T0 + 20 * S]
    g.add("F", T0, T0 + 600 * S, "stalled")  # longer than max_span_s: only the last 60 s
    assert g.pending[0].lo == T0 + 540 * S
    now[0] = 1e12
    fail.extend([RateLimitError("allowance"), RateLimitError("allowance"), RateLimitError("allowance")])
    for _ in range(3):
        g.run_due()
        now[0] += 8.0  # rate limited: the longest backoff
    assert g.pending == [] and g.stats["given_up"] == 1 and g.stats["errors"] == 4
