"""Simulator working orders and market hours over real HTTP: create/amend/delete, fills when the price
crosses, GTD expiry, rejections, both path spellings, and a closed market at the weekend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sim_support import Raw

from igkit.sim import IGSimulator, SimClock, SimEvent

EURUSD = "CS.D.EURUSD.MINI.IP"


@pytest.fixture
def sim() -> Iterator[IGSimulator]:
    with IGSimulator(always_open=True, seed=2) as s:
        s.set_price(EURUSD, 1.10000, 1.10010)
        yield s


@pytest.fixture
def raw(sim: IGSimulator) -> Raw:
    r = Raw(sim)
    r.login(2)
    return r


def order(raw: Raw, path: str = "/workingorders/otc", **fields: object) -> dict:
    body = {"epic": EURUSD, "expiry": "-", "direction": "BUY", "size": 1, "level": 1.09500, "type": "LIMIT",
            "timeInForce": "GOOD_TILL_CANCELLED", "currencyCode": "USD", "guaranteedStop": False}
    body.update(fields)
    r = raw.call("POST", path, version=2, json={k: v for k, v in body.items() if v is not None})
    assert r.status_code == 200, r.text
    return raw.confirm(r.json()["dealReference"])


def test_limit_order_fills_when_price_crosses(raw: Raw, sim: IGSimulator) -> None:
    events: list[SimEvent] = []
    sim.subscribe(events.append)
    c = order(raw, stopDistance=20, limitDistance=40)
    assert c["dealStatus"] == "ACCEPTED" and c["status"] == "OPEN"
    listed = raw.call("GET", "/workingorders", version=2).json()["workingOrders"]
    assert [o["workingOrderData"]["dealId"] for o in listed] == [c["dealId"]]
    assert listed[0]["workingOrderData"]["orderLevel"] == 1.09500
    sim.set_price(EURUSD, 1.09520, 1.09530)  # ask still above the level
    assert sim.positions() == [] and len(sim.working_orders()) == 1
    sim.set_price(EURUSD, 1.09490, 1.09500)  # ask touches the level
    assert sim.working_orders() == []
    [pos] = sim.positions()
    assert (pos.deal_id, pos.level, pos.direction) == (c["dealId"], 1.09500, "BUY")
    assert pos.stop_level == pytest.approx(1.09300) and pos.limit_level == pytest.approx(1.09900)
    kinds = [(e.kind, e.data.get("status")) for e in events]
    assert ("WOU", "OPEN") in kinds and ("WOU", "DELETED") in kinds and ("OPU", "OPEN") in kinds
    assert raw.call("GET", "/workingorders", version=2).json() == {"workingOrders": []}


def test_sell_stop_fills_on_the_way_down(raw: Raw, sim: IGSimulator) -> None:
    c = order(raw, direction="SELL", type="STOP", level=1.09000)
    sim.set_price(EURUSD, 1.09050, 1.09060)
    assert sim.positions() == []
    sim.set_price(EURUSD, 1.08990, 1.09000)
    [pos] = sim.positions()
    assert pos.deal_id == c["dealId"] and pos.direction == "SELL" and pos.level == 1.09000


def test_order_rejections(raw: Raw, sim: IGSimulator) -> None:
    for c, reason in [
        (order(raw, level=1.10100), "WRONG_SIDE_OF_MARKET"),  # BUY LIMIT above the ask
        (order(raw, type="STOP", level=1.09000), "WRONG_SIDE_OF_MARKET"),  # BUY STOP below the ask
        (order(raw, size=0.1), "MINIMUM_ORDER_SIZE_ERROR"),
        (order(raw, stopDistance=1), "ATTACHED_ORDER_LEVEL_ERROR"),
        (order(raw, timeInForce="GOOD_TILL_DATE", goodTillDate="2001/01/01 00:00:00"),
         "GOOD_TILL_DATE_IN_THE_PAST"),
        (order(raw, expiry="DFB"), "REJECT_SPREADBET_ORDER_ON_CFD_ACCOUNT"),
    ]:
        assert (c["dealStatus"], c["reason"]) == ("REJECTED", reason)
    assert sim.working_orders() == []


def test_order_validation(raw: Raw) -> None:
    r = raw.call("POST", "/workingorders/otc", version=2, json={"epic": EURUSD})
    assert r.status_code == 400 and r.json()["errorCode"].startswith("validation.null-not-allowed.request.")
    body = {"epic": EURUSD, "expiry": "-", "direction": "BUY", "size": 1, "level": 1.095, "type": "LIMIT",
            "timeInForce": "GOOD_TILL_DATE", "currencyCode": "USD", "guaranteedStop": False}
    r = raw.call("POST", "/workingorders/otc", version=2, json=body)
    assert (r.status_code, r.json()["errorCode"]) == (400, "invalid.request.goodTillDate")


def test_gtd_order_expires(raw: Raw, sim: IGSimulator) -> None:
    gtd_ms = (sim.clock.now_ns() // 1_000_000) + 60_000
    c = order(raw, timeInForce="GOOD_TILL_DATE", goodTillDate=gtd_ms)
    assert c["dealStatus"] == "ACCEPTED"
    data = raw.call("GET", "/workingorders", version=2).json()["workingOrders"][0]["workingOrderData"]
    assert data["timeInForce"] == "GOOD_TILL_DATE" and data["goodTillDateISO"]
    sim.clock.advance(61)
    sim.broker.evaluate()
    assert sim.working_orders() == []
    acts = raw.call("GET", "/history/activity", version=3).json()["activities"]
    assert acts[0]["description"] == f"Working order expired: {c['dealId']}"


def test_amend_and_delete_both_spellings(raw: Raw, sim: IGSimulator) -> None:
    c = order(raw, path="/working-orders/otc")
    r = raw.call("PUT", f"/workingorders/otc/{c['dealId']}", version=2,
                 json={"level": 1.09400, "type": "LIMIT", "timeInForce": "GOOD_TILL_CANCELLED",
                       "limitDistance": 30})
    a = raw.confirm(r.json()["dealReference"])
    assert a["status"] == "AMENDED"
    [o] = sim.working_orders()
    assert o.level == 1.09400 and o.limit_distance == 30
    bad = raw.call("PUT", f"/workingorders/otc/{c['dealId']}", version=2, json={"level": 1.2})
    assert raw.confirm(bad.json()["dealReference"])["reason"] == "WRONG_SIDE_OF_MARKET"
    r = raw.call("DELETE", f"/working-orders/otc/{c['dealId']}", version=2)  # v2: a real, bodyless DELETE
    d = raw.confirm(r.json()["dealReference"])
    assert d["status"] == "DELETED" and d["affectedDeals"] == [{"dealId": c["dealId"], "status": "DELETED"}]
    assert sim.working_orders() == []
    c2 = order(raw)
    r = raw.call("POST", f"/workingorders/otc/{c2['dealId']}", version=1, json={}, headers={"_method": "DELETE"})
    assert raw.confirm(r.json()["dealReference"])["status"] == "DELETED"
    gone = raw.call("DELETE", f"/workingorders/otc/{c2['dealId']}", version=2)
    assert raw.confirm(gone.json()["dealReference"])["reason"] == "ORDER_NOT_FOUND"


SATURDAY = "2026-11-21T12:00:00Z"
FRIDAY = "2026-11-20T12:00:00Z"


def test_closed_market_at_the_weekend() -> None:
    clock = SimClock(FRIDAY, frozen=True)
    with IGSimulator(always_open=False, clock=clock, seed=4, token_ttl=7 * 86400) as sim:
        raw = Raw(sim)
        raw.login(2)
        assert raw.call("GET", f"/markets/{EURUSD}", version=3).json()["snapshot"]["marketStatus"] == "TRADEABLE"
        opened = raw.deal(size=1)
        assert opened["dealStatus"] == "ACCEPTED"
        clock.set(SATURDAY)
        snap = raw.call("GET", f"/markets/{EURUSD}", version=3).json()["snapshot"]
        assert snap["marketStatus"] == "CLOSED"
        search = raw.call("GET", "/markets", params={"searchTerm": "EURUSD"}).json()["markets"]
        assert search[0]["marketStatus"] == "CLOSED"
        c = raw.deal(size=1)
        assert (c["dealStatus"], c["reason"]) == ("REJECTED", "MARKET_CLOSED")
        close = raw.close(opened["dealId"], "SELL", 1)
        assert close["reason"] == "MARKET_CLOSED"
        o = order(raw, level=round(sim.quote(EURUSD)[1] - 0.01, 5))
        assert o["reason"] == "MARKET_CLOSED"
        # history holds no bars from the closed hours: Friday 22:00 UTC to Sunday 22:00 UTC
        prices = raw.call("GET", f"/prices/{EURUSD}", version=3, params={
            "resolution": "HOUR", "from": "2026-11-20T18:00:00", "to": "2026-11-21T12:00:00"}).json()
        times = [p["snapshotTimeUTC"] for p in prices["prices"]]
        assert times == [f"2026-11-20T{h}:00:00" for h in (18, 19, 20, 21)]
        last = raw.call("GET", f"/prices/{EURUSD}", version=3).json()["prices"]  # the last 10 minutes traded
        assert [p["snapshotTimeUTC"] for p in last] == [f"2026-11-20T21:{m}:00" for m in range(50, 60)]
        # a weekday when the FX market is open but the US index is not (it opens 14:30 UTC)
        clock.set("2026-11-18T12:00:00Z")
        assert raw.deal(size=1)["dealStatus"] == "ACCEPTED"
        r = raw.call("GET", "/markets/IX.D.NASDAQ.CASH.IP", version=3).json()
        assert r["snapshot"]["marketStatus"] == "CLOSED"
        assert r["instrument"]["openingHours"] == {"marketTimes": [{"openTime": "14:30", "closeTime": "21:00"}]}
