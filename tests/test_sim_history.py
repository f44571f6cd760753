"""Simulator history over real HTTP: activity v3 (paging by metadata.paging.next, detailed, dealId, FIQL
filter), the v1 activity forms, and transactions v2/v1 built from the deals actually done."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sim_support import Raw

from igkit.sim import IGSimulator, SimClock

EURUSD = "CS.D.EURUSD.MINI.IP"


@pytest.fixture(scope="module")
def sim() -> Iterator[IGSimulator]:
    clock = SimClock("2026-11-18T12:00:00Z", frozen=True)
    with IGSimulator(always_open=True, seed=6, clock=clock, token_ttl=86400) as s:
        s.set_price(EURUSD, 1.10000, 1.10010)
        yield s


@pytest.fixture(scope="module")
def raw(sim: IGSimulator) -> Raw:
    """13 round trips (open, then close at +5 pips): 26 position activities, 13 deal transactions."""
    r = Raw(sim)
    r.login(2)
    for _ in range(13):
        sim.set_price(EURUSD, 1.10000, 1.10010)
        c = r.deal(size=1)
        sim.clock.advance(30)
        sim.set_price(EURUSD, 1.10060, 1.10070)
        assert r.close(c["dealId"], "SELL", 1)["status"] == "CLOSED"
        sim.clock.advance(30)
    rejected = r.deal(size=0.1)
    assert rejected["reason"] == "MINIMUM_ORDER_SIZE_ERROR"
    return r


def test_activity_paging_follows_next(raw: Raw) -> None:
    first = raw.call("GET", "/history/activity", version=3,
                     params={"from": "2026-11-18T11:00:00", "pageSize": 10}).json()
    pages = [first]
    while pages[-1]["metadata"]["paging"]["next"]:
        nxt = pages[-1]["metadata"]["paging"]["next"]
        assert nxt.startswith("/history/activity?")
        pages.append(raw.call("GET", nxt, version=3).json())
    items = [a for p in pages for a in p["activities"]]
    assert [p["metadata"]["paging"]["size"] for p in pages] == [10, 10, 7]
    assert len(items) == 27 and len({(a["date"], a["dealId"], a["description"]) for a in items}) == 27
    dates = [a["date"] for a in items]
    assert dates == sorted(dates, reverse=True)  # newest first
    assert items[0]["status"] == "REJECTED" and items[0]["details"] is None
    assert sum(a["description"].startswith("Position opened") for a in items) == 13
    assert sum(a["description"].startswith("Position closed") for a in items) == 13


def test_activity_detailed_and_filters(raw: Raw) -> None:
    body = raw.call("GET", "/history/activity", version=3,
                    params={"from": "2026-11-18T11:00:00", "detailed": "true", "pageSize": 50}).json()
    opened = [a for a in body["activities"] if a["description"].startswith("Position opened")]
    d = opened[0]["details"]
    assert d["actions"] == [{"actionType": "POSITION_OPENED", "affectedDealId": opened[0]["dealId"]}]
    assert d["direction"] == "BUY" and d["level"] == 1.10010 and d["currency"] == "GBP"
    one = raw.call("GET", "/history/activity", version=3,
                   params={"from": "2026-11-18T11:00:00", "dealId": opened[0]["dealId"]}).json()
    assert {a["dealId"] for a in one["activities"]} == {opened[0]["dealId"]}
    assert len(one["activities"]) == 2
    rej = raw.call("GET", "/history/activity", version=3,
                   params={"from": "2026-11-18T11:00:00", "filter": "status==REJECTED"}).json()
    assert [a["status"] for a in rej["activities"]] == ["REJECTED"]
    bad = raw.call("GET", "/history/activity", version=3, params={"pageSize": 5})
    assert (bad.status_code, bad.json()["errorCode"]) == (400, "error.request.invalid.page-size")
    rng = raw.call("GET", "/history/activity", version=3,
                   params={"from": "2026-11-18T13:00:00", "to": "2026-11-18T12:00:00"})
    assert rng.json()["errorCode"] == "error.request.invalid.date-range"


def test_activity_v1_forms(raw: Raw) -> None:
    by_period = raw.call("GET", "/history/activity/86400000", version=1).json()["activities"]
    assert len(by_period) == 27
    assert by_period[1]["result"].startswith("Position closed") and by_period[1]["size"] == "-1.00"
    assert by_period[0]["actionStatus"] == "REJECT"
    by_dates = raw.call("GET", "/history/activity/18-11-2026/18-11-2026", version=1).json()["activities"]
    assert len(by_dates) == 27


def test_transactions(raw: Raw) -> None:
    body = raw.call("GET", "/history/transactions", version=2,
                    params={"type": "ALL_DEAL", "from": "2026-11-18T11:00:00", "pageSize": 5}).json()
    assert body["metadata"]["size"] == 13
    assert body["metadata"]["pageData"] == {"pageNumber": 1, "pageSize": 5, "totalPages": 3}
    t = body["transactions"][0]
    assert t["transactionType"] == "DEAL" and t["openLevel"] == "1.1001" and t["closeLevel"] == "1.1006"
    assert t["size"] == "+1" and t["profitAndLoss"].startswith("£") and float(t["profitAndLoss"][1:]) > 0
    assert all(isinstance(v, str) for k, v in t.items() if k != "cashTransaction")
    assert t["cashTransaction"] is False
    dep = raw.call("GET", "/history/transactions", version=2,
                   params={"type": "DEPOSIT", "from": "2026-11-18T11:00:00"}).json()["transactions"]
    assert len(dep) == 1 and dep[0]["cashTransaction"] is True
    v1 = raw.call("GET", "/history/transactions/ALL_DEAL/86400000", version=1).json()["transactions"]
    assert len(v1) == 13
