"""Simulator market data over real HTTP: markets search/epics/details, historical prices (v3 paging,
allowance, legacy forms, errors), bars checked against the synthetic market's own ticks."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from sim_support import Raw

from igkit.market import CATALOG, SyntheticMarket
from igkit.sim import IGSimulator, RateLimits, SimClock

EURUSD = "CS.D.EURUSD.MINI.IP"
NOW = "2026-11-18T12:30:20Z"  # a Wednesday


@pytest.fixture(scope="module")
def sim() -> Iterator[IGSimulator]:
    with IGSimulator(always_open=True, seed=9, clock=SimClock(NOW, frozen=True), token_ttl=86400,
                     rate_limits=RateLimits.unlimited(historical_points=1_000_000)) as s:
        yield s


@pytest.fixture(scope="module")
def raw(sim: IGSimulator) -> Raw:
    r = Raw(sim)
    r.login(2)
    return r


def prices(raw: Raw, **params: object) -> dict:
    r = raw.call("GET", f"/prices/{EURUSD}", version=3, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_default_is_last_ten_minutes(raw: Raw) -> None:
    body = prices(raw)
    times = [p["snapshotTimeUTC"] for p in body["prices"]]
    expect = [t.strftime("%Y-%m-%dT%H:%M:%S") for t in pd.date_range("2026-11-18T12:21", periods=10, freq="1min")]
    assert times == expect
    assert body["metadata"]["size"] == 10 and body["instrumentType"] == "CURRENCIES"
    assert body["metadata"]["pageData"] == {"pageSize": 20, "pageNumber": 1, "totalPages": 1}
    for p in body["prices"]:
        for side in ("bid", "ask"):
            lo, hi = p["lowPrice"][side], p["highPrice"][side]
            assert lo <= p["openPrice"][side] <= hi and lo <= p["closePrice"][side] <= hi
        assert p["closePrice"]["ask"] > p["closePrice"]["bid"] and p["lastTradedVolume"] > 0


def test_bars_are_the_markets_ticks(raw: Raw) -> None:
    """A minute bar equals OHLC of the synthetic market's ticks in that minute, computed here directly."""
    body = prices(raw, resolution="MINUTE", **{"from": "2026-11-18T12:10:00", "to": "2026-11-18T12:12:00"})
    market = SyntheticMarket(9, tick_rate=4.0)
    assert len(body["prices"]) == 3
    for p in body["prices"]:
        t0 = pd.Timestamp(p["snapshotTimeUTC"], tz="UTC")
        ts, bid, ask = market.ticks(EURUSD, t0, t0 + pd.Timedelta("1min"))
        d = CATALOG[EURUSD].decimals
        assert p["lastTradedVolume"] == len(ts)
        assert p["openPrice"]["bid"] == round(bid[0], d) and p["closePrice"]["ask"] == round(ask[-1], d)
        assert p["highPrice"]["bid"] == round(float(np.max(bid)), d)
        assert p["lowPrice"]["ask"] == round(float(np.min(ask)), d)


def test_paging_and_allowance(raw: Raw, sim: IGSimulator) -> None:
    rng = {"from": "2026-11-18T11:00:00", "to": "2026-11-18T11:44:00", "resolution": "MINUTE"}
    start = sim.limiter.points_left()
    whole = prices(raw, pageSize=0, **rng)
    assert len(whole["prices"]) == 45 and whole["metadata"]["pageData"]["totalPages"] == 1
    pages = []
    for n in (1, 2, 3):
        body = prices(raw, pageSize=20, pageNumber=n, **rng)
        assert body["metadata"]["pageData"] == {"pageSize": 20, "pageNumber": n, "totalPages": 3}
        assert body["metadata"]["size"] == 45
        pages += body["prices"]
    assert pages == whole["prices"]
    assert sim.limiter.points_left() == start - 90
    assert body["metadata"]["allowance"]["remainingAllowance"] == start - 90
    assert body["metadata"]["allowance"]["totalAllowance"] == 1_000_000


def test_max_and_coarse_resolutions(raw: Raw) -> None:
    hours = prices(raw, resolution="HOUR", max=5)["prices"]
    assert [p["snapshotTimeUTC"][11:13] for p in hours] == ["08", "09", "10", "11", "12"]
    days = prices(raw, resolution="DAY", max=3)["prices"]
    assert [p["snapshotTimeUTC"] for p in days] == ["2026-11-16T00:00:00", "2026-11-17T00:00:00",
                                                    "2026-11-18T00:00:00"]
    weeks = prices(raw, resolution="WEEK", max=2)["prices"]
    assert [p["snapshotTimeUTC"] for p in weeks] == ["2026-11-09T00:00:00", "2026-11-16T00:00:00"]
    assert weeks[-1]["highPrice"]["bid"] >= max(d["highPrice"]["bid"] for d in days[:3])


def test_never_returns_the_future(raw: Raw) -> None:
    body = prices(raw, resolution="MINUTE", **{"from": "2026-11-18T12:25:00", "to": "2026-11-18T13:30:00"})
    assert body["prices"][-1]["snapshotTimeUTC"] == "2026-11-18T12:30:00"


@pytest.mark.parametrize(("params", "code"), [
    ({"resolution": "FORTNIGHT"}, "invalid.input"),
    ({"from": "yesterday"}, "error.malformed.date"),
    ({"from": "2026-11-18T12:00:00", "to": "2026-11-18T11:00:00"}, "error.invalid.daterange"),
    ({"pageSize": -1}, "error.request.invalid.page-size"),
])
def test_price_errors(raw: Raw, params: dict, code: str) -> None:
    r = raw.call("GET", f"/prices/{EURUSD}", version=3, params=params)
    assert (r.status_code, r.json()["errorCode"]) == (400, code)


def test_unknown_epic_prices(raw: Raw) -> None:
    r = raw.call("GET", "/prices/CS.D.NOSUCH.MINI.IP", version=3)
    assert (r.status_code, r.json()["errorCode"]) == (400, "error.unsupported.epic")


def test_allowance_exhausted() -> None:
    with IGSimulator(always_open=True, rate_limits=RateLimits.unlimited(historical_points=25)) as sim:
        raw = Raw(sim)
        raw.login(2)
        first = raw.call("GET", f"/prices/{EURUSD}", version=3, params={"max": 20}).json()
        assert first["metadata"]["allowance"]["remainingAllowance"] == 5
        r = raw.call("GET", f"/prices/{EURUSD}", version=3, params={"max": 20})
        assert (r.status_code, r.json()["errorCode"]) == (
            403, "error.public-api.exceeded-account-historical-data-allowance")
        assert raw.call("GET", f"/prices/{EURUSD}", version=3, params={"max": 5}).status_code == 200


def test_legacy_price_forms(raw: Raw) -> None:
    v1 = raw.call("GET", f"/prices/{EURUSD}/HOUR/3", version=1).json()
    assert len(v1["prices"]) == 3 and v1["prices"][-1]["snapshotTime"] == "2026:11:18-12:00:00"
    assert "allowance" in v1 and "metadata" not in v1
    v2 = raw.call("GET", f"/prices/{EURUSD}/MINUTE_5/2026-11-18 11:00:00/2026-11-18 11:20:00", version=2).json()
    assert [p["snapshotTime"] for p in v2["prices"]] == [f"2026/11/18 11:{m:02d}:00" for m in range(0, 25, 5)]
    q = raw.call("GET", f"/prices/{EURUSD}/MINUTE", version=1,
                 params={"startdate": "2026:11:18-12:00:00", "enddate": "2026:11:18-12:02:00"}).json()
    assert len(q["prices"]) == 3
    bad = raw.call("GET", f"/prices/{EURUSD}/SECOND/5", version=1)
    assert bad.status_code == 400


def test_markets_search_and_epics(raw: Raw) -> None:
    found = raw.call("GET", "/markets", params={"searchTerm": "gbp"}).json()["markets"]
    epics = {m["epic"] for m in found}
    assert "CS.D.GBPUSD.MINI.IP" in epics and EURUSD not in epics
    assert all(m["marketStatus"] == "TRADEABLE" for m in found)
    two = raw.call("GET", "/markets", version=2, params={"epics": f"{EURUSD},IX.D.FTSE.DAILY.IP"}).json()
    assert [m["instrument"]["epic"] for m in two["marketDetails"]] == [EURUSD, "IX.D.FTSE.DAILY.IP"]
    snap = raw.call("GET", "/markets", version=2, params={"epics": EURUSD, "filter": "SNAPSHOT_ONLY"}).json()
    assert snap["marketDetails"][0]["snapshot"]["bid"] > 0 and snap["marketDetails"][0]["dealingRules"] is None
    many = ",".join([*CATALOG, *CATALOG][:51])
    r = raw.call("GET", "/markets", version=2, params={"epics": many})
    assert (r.status_code, r.json()["errorCode"]) == (400, "error.public-api.too-many-epics")
    r = raw.call("GET", "/markets", version=2, params={"epics": f"{EURUSD},CS.D.NOSUCH.MINI.IP"})
    assert (r.status_code, r.json()["errorCode"]) == (404, "error.public-api.epic-not-found")


def test_market_details_from_catalog(raw: Raw, sim: IGSimulator) -> None:
    r = raw.call("GET", f"/markets/{EURUSD}", version=3)
    body = r.json()
    spec = CATALOG[EURUSD]
    assert body["instrument"]["marginFactor"] == spec.margin_factor
    assert body["dealingRules"]["minDealSize"]["value"] == spec.min_deal_size
    assert body["dealingRules"]["minNormalStopOrLimitDistance"]["value"] == spec.min_stop_distance
    bid, ask = sim.quote(EURUSD)
    assert (body["snapshot"]["bid"], body["snapshot"]["offer"]) == (bid, ask)
    assert body["snapshot"]["low"] <= (bid + ask) / 2 <= body["snapshot"]["high"]
    r = raw.call("GET", "/markets/CS.D.NOSUCH.MINI.IP", version=3)
    assert (r.status_code, r.json()["errorCode"]) == (404, "error.public-api.epic-not-found")
