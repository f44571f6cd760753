"""The synthetic market: catalog integrity, name resolution, opening hours, and the seeded tick process
(determinism, random access, realistic levels/spreads/grid, arrival rate, error paths)."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from igkit.errors import DataError
from igkit.market import (
    CATALOG,
    SCHEDULES,
    InstrumentSpec,
    SyntheticMarket,
    is_open,
    next_close,
    next_open,
    open_mask,
    resolve,
    spec,
    to_ns,
)

HOUR = 3600 * 10**9
MINUTE = 60 * 10**9
# A Monday (2026-11-23) at 00:00 UTC, written independently of the code's own epoch arithmetic.
MONDAY = pd.Timestamp("2026-11-23", tz="UTC")
assert MONDAY.day_name() == "Monday"


def ns(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value)


# ---------------------------------------------------------------------------------------------- catalog
REQUIRED = [
    "CS.D.EURUSD.MINI.IP",
    "CS.D.GBPUSD.MINI.IP",
    "CS.D.USDJPY.MINI.IP",
    "CS.D.AUDUSD.MINI.IP",
    "CS.D.EURGBP.MINI.IP",
    "CS.D.USDCHF.MINI.IP",
    "IX.D.FTSE.DAILY.IP",
    "IX.D.DAX.DAILY.IP",
    "IX.D.SPTRD.DAILY.IP",
    "IX.D.DOW.DAILY.IP",
    "IX.D.NASDAQ.CASH.IP",
    "CS.D.USCGC.TODAY.IP",
    "CS.D.USCSI.TODAY.IP",
    "CC.D.CL.UNC.IP",
]


def test_catalog_has_at_least_40_unique_real_epics_including_the_required_ones() -> None:
    assert len(CATALOG) >= 40
    assert len({s.epic for s in CATALOG.values()}) == len(CATALOG)
    assert len({s.symbol for s in CATALOG.values()}) == len(CATALOG)
    for epic in REQUIRED:
        assert epic in CATALOG, epic
    assert {s.instrument_type for s in CATALOG.values()} == {"CURRENCIES", "INDICES", "COMMODITIES"}


@pytest.mark.parametrize("epic", sorted(CATALOG))
def test_catalog_entry_fields_are_valid(epic: str) -> None:
    s = CATALOG[epic]
    assert isinstance(s, InstrumentSpec) and s.epic == epic
    # IG's epic shape: [A-Za-z0-9._]{6,30}, e.g. CS.D.EURUSD.MINI.IP
    assert re.fullmatch(r"[A-Z]{2}\.D\.[A-Z0-9]+\.[A-Z0-9]+\.IP", epic) and 6 <= len(epic) <= 30
    assert s.symbol and s.name
    assert s.price > 0 and s.pip > 0 and s.spread > 0 and 0 < s.vol < 1
    assert isinstance(s.decimals, int) and 0 <= s.decimals <= 6
    tick = 10.0**-s.decimals
    assert s.pip >= tick - 1e-15 and round(s.pip / tick, 6).is_integer()  # a pip is a whole number of ticks
    assert s.spread * s.pip >= tick - 1e-12  # the typical spread is at least one tick
    assert s.typical_spread == pytest.approx(s.spread * s.pip)
    assert s.spread * s.pip < 0.01 * s.price  # under 1 % of the level
    assert re.fullmatch(r"[A-Z]{3}", s.currency)
    assert s.value_of_one_pip.endswith(s.currency)
    assert float(s.value_of_one_pip.split()[0]) == pytest.approx(s.pip * s.contract_size)
    assert s.lot_size > 0 and s.contract_size > 0 and s.min_deal_size > 0 and s.min_stop_distance > 0
    assert 0 < s.margin_factor <= 100
    assert s.hours in SCHEDULES
    assert s.expiry in {"-", "DFB"}
    with pytest.raises(AttributeError):
        s.price = 1.0  # type: ignore[misc]  # frozen


def test_fx_pips_and_decimals_follow_ig_conventions() -> None:
    assert spec("CS.D.EURUSD.MINI.IP").pip == 0.0001 and spec("EURUSD").decimals == 5
    assert spec("USDJPY").pip == 0.01 and spec("USDJPY").decimals == 3
    assert spec("IX.D.FTSE.DAILY.IP").pip == 1.0
    assert spec("CS.D.USCGC.TODAY.IP").pip == 0.1
    for s in CATALOG.values():
        if s.instrument_type == "CURRENCIES":
            assert s.symbol[3:] == s.currency and s.name.startswith(f"{s.symbol[:3]}/{s.symbol[3:]}")
            assert s.pip == (0.01 if s.currency == "JPY" else 0.0001)
            assert s.hours == "fx"


# ---------------------------------------------------------------------------------------------- resolve
@pytest.mark.parametrize(
    ("name", "epic"),
    [
        ("CS.D.EURUSD.MINI.IP", "CS.D.EURUSD.MINI.IP"),
        ("cs.d.eurusd.mini.ip", "CS.D.EURUSD.MINI.IP"),
        ("eurusd", "CS.D.EURUSD.MINI.IP"),
        (" EUR/USD ", "CS.D.EURUSD.MINI.IP"),
        ("xauusd", "CS.D.USCGC.TODAY.IP"),
        ("FTSE", "IX.D.FTSE.DAILY.IP"),
        ("Wall Street", "IX.D.DOW.DAILY.IP"),
    ],
)
def test_resolve_accepts_epics_symbols_and_names(name: str, epic: str) -> None:
    assert resolve(name) == epic
    assert spec(name).epic == epic


def test_resolve_unknown_lists_close_matches() -> None:
    with pytest.raises(DataError) as err:
        resolve("EURUSX")
    msg = str(err.value)
    assert "EURUSX" in msg and "CS.D.EURUSD.MINI.IP" in msg


@pytest.mark.parametrize("bad", ["", "   ", "ZZZZZZZZZZZZ", 42])
def test_resolve_rejects_garbage(bad: object) -> None:
    with pytest.raises(DataError):
        resolve(bad)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- hours
@pytest.mark.parametrize(
    ("epic", "when", "expected"),
    [
        ("EURUSD", "2026-11-28 12:00", False),  # Saturday
        ("EURUSD", "2026-11-29 21:59", False),  # Sunday before the open
        ("EURUSD", "2026-11-29 22:00", True),  # Sunday open
        ("EURUSD", "2026-11-25 03:00", True),  # Wednesday night
        ("EURUSD", "2026-11-27 21:59", True),  # Friday before the close
        ("EURUSD", "2026-11-27 22:00", False),  # Friday close
        ("FTSE", "2026-11-24 07:59", False),
        ("FTSE", "2026-11-24 08:00", True),
        ("FTSE", "2026-11-24 16:29", True),
        ("FTSE", "2026-11-24 16:30", False),
        ("FTSE", "2026-11-28 10:00", False),  # Saturday
        ("IX.D.SPTRD.DAILY.IP", "2026-11-24 14:29", False),
        ("IX.D.SPTRD.DAILY.IP", "2026-11-24 14:30", True),
        ("IX.D.SPTRD.DAILY.IP", "2026-11-24 21:00", False),
        ("XAUUSD", "2026-11-24 22:30", False),  # the metals' daily break
        ("XAUUSD", "2026-11-24 23:00", True),
        ("XAUUSD", "2026-11-24 12:00", True),
        ("XAUUSD", "2026-11-28 12:00", False),
        ("NIKKEI", "2026-11-24 03:00", True),
        ("NIKKEI", "2026-11-24 12:00", False),
        # summer: the sessions keep their local hours, an hour earlier in UTC (Tokyo has no DST)
        ("EURUSD", "2026-07-17 20:59", True),  # Friday, 16:59 in New York
        ("EURUSD", "2026-07-17 21:00", False),  # Friday close, 17:00 EDT
        ("EURUSD", "2026-07-19 20:59", False),
        ("EURUSD", "2026-07-19 21:00", True),  # Sunday open, 17:00 EDT
        ("FTSE", "2026-07-20 07:00", True),  # 08:00 BST
        ("FTSE", "2026-07-20 15:30", False),  # 16:30 BST
        ("IX.D.DAX.DAILY.IP", "2026-07-20 07:00", True),  # 09:00 CEST
        ("IX.D.SPTRD.DAILY.IP", "2026-07-20 13:30", True),  # 09:30 EDT
        ("IX.D.SPTRD.DAILY.IP", "2026-07-20 20:00", False),  # 16:00 EDT
        ("XAUUSD", "2026-07-20 21:30", False),  # the daily break, 17:30 EDT
        ("XAUUSD", "2026-07-20 22:00", True),  # 18:00 EDT
        ("NIKKEI", "2026-07-20 00:00", True),
        # 2026-03-08 to 03-29: New York has moved to EDT, London not yet to BST
        ("EURUSD", "2026-03-08 21:00", True),  # Sunday 17:00 EDT
        ("FTSE", "2026-03-09 08:00", True),
        ("FTSE", "2026-03-09 07:59", False),
    ],
)
def test_is_open(epic: str, when: str, expected: bool) -> None:
    assert is_open(resolve(epic), ns(when)) is expected
    assert is_open(resolve(epic), pd.Timestamp(when, tz="UTC")) is expected
    assert bool(open_mask(resolve(epic), np.array([ns(when)]))[0]) is expected


@pytest.mark.parametrize(
    ("epic", "when", "opens"),
    [
        ("EURUSD", "2026-11-28 12:00", "2026-11-29 22:00"),  # Saturday → Sunday 22:00
        ("EURUSD", "2026-11-25 03:00", "2026-11-25 03:00"),  # already open
        ("FTSE", "2026-11-27 17:00", "2026-11-30 08:00"),  # Friday evening → Monday
        ("FTSE", "2026-11-24 06:00", "2026-11-24 08:00"),
        ("XAUUSD", "2026-11-24 22:10", "2026-11-24 23:00"),
        ("IX.D.SPTRD.DAILY.IP", "2026-11-27 21:30", "2026-11-30 14:30"),
        ("EURUSD", "2026-03-07 12:00", "2026-03-08 21:00"),  # the Sunday New York moves to EDT
        ("EURUSD", "2026-10-31 12:00", "2026-11-01 22:00"),  # ... and back to EST
        ("FTSE", "2026-03-27 17:00", "2026-03-30 07:00"),  # over the weekend London moves to BST
    ],
)
def test_next_open(epic: str, when: str, opens: str) -> None:
    assert next_open(resolve(epic), ns(when)) == ns(opens)


def test_next_close() -> None:
    assert next_close("CS.D.EURUSD.MINI.IP", ns("2026-11-25 03:00")) == ns("2026-11-27 22:00")
    assert next_close("CS.D.EURUSD.MINI.IP", ns("2026-11-29 23:00")) == ns("2026-12-04 22:00")  # over Monday 0:00
    assert next_close("CS.D.EURUSD.MINI.IP", ns("2026-11-28 12:00")) == ns("2026-12-04 22:00")
    assert next_close("CS.D.USCGC.TODAY.IP", ns("2026-11-29 23:30")) == ns("2026-11-30 22:00")
    assert next_close("IX.D.FTSE.DAILY.IP", ns("2026-11-24 09:00")) == ns("2026-11-24 16:30")
    assert next_close("CS.D.EURUSD.MINI.IP", ns("2026-07-15 12:00")) == ns("2026-07-17 21:00")  # EDT
    assert next_close("IX.D.FTSE.DAILY.IP", ns("2026-07-15 09:00")) == ns("2026-07-15 15:30")  # BST
    # opens in EDT (Sunday 2026-03-08 21:00 UTC), closes in EDT: no hour lost or gained
    assert next_close("CS.D.EURUSD.MINI.IP", ns("2026-03-07 12:00")) == ns("2026-03-13 21:00")


def _fx_open_independent(t: pd.Timestamp) -> bool:
    """FX trades from Sunday 17:00 to Friday 17:00 New York time, whatever its daylight saving."""
    ny = t.tz_convert("America/New_York")
    day, minutes = ny.day_of_week, ny.hour * 60 + ny.minute  # Monday = 0
    if day == 5:
        return False
    if day == 6:
        return minutes >= 17 * 60
    if day == 4:
        return minutes < 17 * 60
    return True


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=ns("2000-01-01"), max_value=ns("2100-01-01")))
def test_hours_properties(t: int) -> None:
    eur = "CS.D.EURUSD.MINI.IP"
    assert is_open(eur, t) == _fx_open_independent(pd.Timestamp(t, tz="UTC"))
    for epic in ("CS.D.EURUSD.MINI.IP", "IX.D.FTSE.DAILY.IP", "CS.D.USCGC.TODAY.IP", "IX.D.HANGSENG.DAILY.IP"):
        o = next_open(epic, t)
        assert o >= t and is_open(epic, o)
        if o > t:
            assert not is_open(epic, t) and not is_open(epic, o - 1)
            inside = np.array([t + (o - 1 - t) * k // 6 for k in range(7)], dtype=np.int64)
            assert not open_mask(epic, inside).any()
        c = next_close(epic, t)
        assert c > o and not is_open(epic, c) and is_open(epic, c - 1)


def test_unknown_schedule_or_epic() -> None:
    with pytest.raises(DataError):
        is_open("NOT.AN.EPIC", ns("2026-11-24 12:00"))


# ---------------------------------------------------------------------------------------------- process
@pytest.fixture(scope="module")
def market() -> SyntheticMarket:
    return SyntheticMarket(seed=7, tick_rate=4.0)


def test_same_seed_same_ticks_in_any_call_order_different_seed_different() -> None:
    a, b = "2026-11-24 10:00", "2026-11-24 12:30"
    m1, m2 = SyntheticMarket(3), SyntheticMarket(3)
    m2.ticks("EURUSD", "2026-11-24 11:00", "2026-11-24 14:00")  # warm m2's caches differently
    m2.quote("EURUSD", "2030-01-01")
    r1, r2 = m1.ticks("EURUSD", a, b), m2.ticks("EURUSD", a, b)
    for x, y in zip(r1, r2, strict=True):
        np.testing.assert_array_equal(x, y)
    assert len(r1[0]) > 1000
    other = SyntheticMarket(4).ticks("EURUSD", a, b)
    assert not (len(other[0]) == len(r1[0]) and np.array_equal(other[1], r1[1]))
    # instruments of one market are not copies of each other
    gbp = m1.ticks("GBPUSD", a, b)
    assert not np.array_equal(gbp[0][:100], r1[0][:100])


def test_instruments_subset_gives_the_same_ticks_as_the_full_market() -> None:
    sub = SyntheticMarket(3, instruments=["eurusd"])
    full = SyntheticMarket(3)
    span = ("2026-11-24 10:00", "2026-11-24 10:20")
    for x, y in zip(sub.ticks("EURUSD", *span), full.ticks("EURUSD", *span), strict=True):
        np.testing.assert_array_equal(x, y)
    assert sub.instruments == ("CS.D.EURUSD.MINI.IP",)
    with pytest.raises(DataError, match="not among"):
        sub.ticks("GBPUSD", *span)


_BASE = ns("2026-11-20 00:00")
_shared = SyntheticMarket(seed=11, tick_rate=1.0)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=3 * 24 * HOUR), min_size=3, max_size=3, unique=True),
    st.sampled_from(["CS.D.EURUSD.MINI.IP", "IX.D.FTSE.DAILY.IP", "CS.D.USCGC.TODAY.IP"]),
)
def test_random_access_concatenation(points: list[int], epic: str) -> None:
    a, b, c = (_BASE + p for p in sorted(points))
    whole = _shared.ticks(epic, a, c)
    left, right = _shared.ticks(epic, a, b), _shared.ticks(epic, b, c)
    for w, x, y in zip(whole, left, right, strict=True):
        np.testing.assert_array_equal(w, np.concatenate([x, y]))
    ts = whole[0]
    assert ts.dtype == np.int64 and whole[1].dtype == np.float64
    assert (ts >= a).all() and (ts < c).all() and (np.diff(ts) >= 0).all()
    # a fresh market (cold caches) agrees
    fresh = SyntheticMarket(seed=11, tick_rate=1.0).ticks(epic, b, c)
    np.testing.assert_array_equal(fresh[1], right[1])


def _in_session_hour(epic: str) -> tuple[int, int]:
    o = next_open(epic, int(MONDAY.value) + 24 * HOUR)  # from Tuesday 00:00
    start = (o // HOUR + 1) * HOUR  # a whole hour inside the session
    assert is_open(epic, start) and is_open(epic, start + HOUR - 1)
    return start, start + HOUR


@pytest.mark.parametrize("epic", sorted(CATALOG))
def test_ticks_are_realistic_for_every_instrument(market: SyntheticMarket, epic: str) -> None:
    s = CATALOG[epic]
    start, end = _in_session_hour(epic)
    ts, bid, ask = market.ticks(epic, start, end)
    assert len(ts) > 3600  # about 4/s, busier in session
    assert np.isfinite(bid).all() and np.isfinite(ask).all()
    assert (bid > 0).all() and (bid < ask).all()
    tick = 10.0**-s.decimals
    spread = ask - bid
    assert spread.min() >= tick * (1 - 1e-9)
    assert spread.max() <= 5 * s.typical_spread + tick
    assert np.median(spread) == pytest.approx(s.typical_spread, rel=0.25, abs=tick)
    np.testing.assert_array_equal(np.round(bid, s.decimals), bid)  # on the quoting grid
    np.testing.assert_array_equal(np.round(ask, s.decimals), ask)
    mid = (bid + ask) / 2
    assert s.price / 3 < mid.min() and mid.max() < s.price * 3
    assert (np.diff(ts) >= 0).all() and ts[0] >= start and ts[-1] < end


def test_levels_stay_realistic_over_decades(market: SyntheticMarket) -> None:
    years = range(1972, 2200, 19)
    for epic in ("CS.D.EURUSD.MINI.IP", "IX.D.DAX.DAILY.IP", "CS.D.PALL.TODAY.IP", "CS.D.USDZAR.MINI.IP"):
        s = CATALOG[epic]
        mids = np.array([market.quote(epic, f"{y}-03-01 12:00").mid for y in years])
        assert (mids > s.price / 3).all() and (mids < s.price * 3).all(), (epic, mids)
        assert np.unique(mids).size == len(mids)  # it does move


def test_volatility_is_of_the_right_order() -> None:
    m = SyntheticMarket(5, tick_rate=0.05, instruments=["EURUSD", "DAX"])
    for epic in ("CS.D.EURUSD.MINI.IP", "IX.D.DAX.DAILY.IP"):
        daily = [m.quote(epic, ns("2020-01-01") + d * 24 * HOUR).mid for d in range(0, 730)]
        r = np.diff(np.log(daily))
        ann = r.std() * np.sqrt(365.25)
        assert CATALOG[epic].vol * 0.7 < ann < CATALOG[epic].vol * 1.3


def test_mean_arrival_rate_over_a_week_and_busier_in_session() -> None:
    m = SyntheticMarket(2, tick_rate=2.0, instruments=["EURUSD", "IX.D.SPTRD.DAILY.IP"])
    start = int(MONDAY.value)
    week = 7 * 24 * HOUR
    for epic in ("CS.D.EURUSD.MINI.IP", "IX.D.SPTRD.DAILY.IP"):
        ts, _, _ = m.ticks(epic, start, start + week)
        rate = len(ts) / (week / 1e9)
        assert rate == pytest.approx(2.0, rel=0.01)
        inside = open_mask(epic, ts)
        open_seconds = open_mask(epic, np.arange(start, start + week, MINUTE)).sum() * 60
        rate_in = inside.sum() / open_seconds
        rate_out = (~inside).sum() / (week / 1e9 - open_seconds)
        assert rate_in > 1.1 * rate_out


def test_spread_is_wider_out_of_session(market: SyntheticMarket) -> None:
    epic = "IX.D.FTSE.DAILY.IP"
    _, bid_in, ask_in = market.ticks(epic, ns("2026-11-24 10:00"), ns("2026-11-24 11:00"))
    _, bid_out, ask_out = market.ticks(epic, ns("2026-11-24 20:00"), ns("2026-11-24 21:00"))
    assert np.median(ask_out - bid_out) > 1.3 * np.median(ask_in - bid_in)


def test_ticks_frame_schema(market: SyntheticMarket) -> None:
    df = market.ticks_frame("EURUSD", "2026-11-24 10:00", "2026-11-24 10:01")
    assert list(df.columns) == ["bid", "ask"]
    assert isinstance(df.index, pd.DatetimeIndex) and df.index.name == "time"
    assert str(df.index.tz) == "UTC"
    ts, bid, _ = market.ticks("EURUSD", "2026-11-24 10:00", "2026-11-24 10:01")
    np.testing.assert_array_equal(df.index.asi8, ts)
    np.testing.assert_array_equal(df["bid"].to_numpy(), bid)
    assert market.ticks_frame("EURUSD", "2026-11-24 10:00", "2026-11-24 10:00").empty


def test_quote_is_the_last_tick_at_or_before(market: SyntheticMarket) -> None:
    t = ns("2026-11-24 10:00:00.5")
    ts, bid, ask = market.ticks("EURUSD", t - 10 * MINUTE, t + 1)
    q = market.quote("EURUSD", t)
    assert (q.ts_ns, q.bid, q.ask) == (int(ts[-1]), float(bid[-1]), float(ask[-1]))
    exact = market.quote("EURUSD", int(ts[-5]))
    assert exact.ts_ns == int(ts[-5]) and exact.bid == float(bid[-5])
    # at an hour boundary the quote comes from the previous chunk
    h = ns("2026-11-24 11:00")
    ts2, _, _ = market.ticks("EURUSD", h - HOUR, h + 1)
    assert market.quote("EURUSD", h).ts_ns == int(ts2[-1])


def test_time_inputs(market: SyntheticMarket) -> None:
    t = ns("2026-11-24 10:00")
    assert to_ns(t) == t
    assert to_ns("2026-11-24T10:00:00Z") == t
    assert to_ns("2026-11-24 10:00") == t  # a string without a zone is UTC
    assert to_ns(pd.Timestamp("2026-11-24 11:00", tz="Europe/Paris")) == t
    assert to_ns(dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)) == t
    assert to_ns(np.datetime64("2026-11-24T10:00")) == t
    for bad in (dt.datetime(2026, 11, 24, 10), pd.Timestamp("2026-11-24 10:00"), "not a time", 1.5, True):
        with pytest.raises(DataError):
            to_ns(bad)
    with pytest.raises(DataError, match="naive"):
        market.ticks("EURUSD", dt.datetime(2026, 11, 24), t)


def test_bad_arguments() -> None:
    for seed in (-1, 1.5, "x", True):
        with pytest.raises(DataError, match="seed"):
            SyntheticMarket(seed)  # type: ignore[arg-type]
    for rate in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(DataError, match="tick_rate"):
            SyntheticMarket(tick_rate=rate)
    with pytest.raises(DataError, match="EURUSX"):
        SyntheticMarket(instruments=["EURUSX"])
    with pytest.raises(DataError):
        SyntheticMarket(instruments=[])
    m = SyntheticMarket(0, instruments=["EURUSD"])
    with pytest.raises(DataError, match="range"):
        m.ticks("EURUSD", -HOUR, HOUR)
    with pytest.raises(DataError, match="range"):
        m.quote("EURUSD", "2300-01-01")
    with pytest.raises(DataError, match="shorter span"):
        m.ticks("EURUSD", "1971-01-01", "2100-01-01")
    ts, bid, ask = m.ticks("EURUSD", ns("2026-11-24 10:00"), ns("2026-11-24 09:00"))  # reversed: empty
    assert len(ts) == len(bid) == len(ask) == 0 and ts.dtype == np.int64


def test_the_generator_runs_at_weekends_and_survives_empty_hours() -> None:
    m = SyntheticMarket(8, tick_rate=4.0, instruments=["EURUSD"])
    saturday = ns("2026-11-28 12:00")
    assert not is_open("CS.D.EURUSD.MINI.IP", saturday)
    ts, bid, ask = m.ticks("EURUSD", saturday, saturday + HOUR)
    assert len(ts) > 1000 and (bid < ask).all()  # the Demo works at weekends; hours are a separate layer
    sparse = SyntheticMarket(8, tick_rate=0.0005, instruments=["EURUSD"])  # ~2 ticks an hour, many empty
    ts, bid, ask = sparse.ticks("EURUSD", saturday, saturday + 48 * HOUR)
    hours_with_ticks = np.unique(ts // HOUR).size
    assert 0 < hours_with_ticks < 48 and (bid < ask).all()
    q = sparse.quote("EURUSD", saturday + 48 * HOUR)
    assert q.ts_ns == int(ts[-1])
