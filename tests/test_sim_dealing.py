"""Simulator dealing over real HTTP: fills, every rejection reason, validation errors, close/amend, stops,
limits and trailing stops triggered by forced prices, netting, events."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sim_support import Raw

from igkit.sim import IGSimulator, SimEvent

EURUSD = "CS.D.EURUSD.MINI.IP"
FTSE = "IX.D.FTSE.DAILY.IP"


@pytest.fixture
def sim() -> Iterator[IGSimulator]:
    with IGSimulator(always_open=True, seed=11, confirm_ttl=60) as s:
        s.set_price(EURUSD, 1.10000, 1.10010)
        yield s


@pytest.fixture
def raw(sim: IGSimulator) -> Raw:
    r = Raw(sim)
    r.login(2)
    return r


def rejected(c: dict, reason: str) -> None:
    assert c["dealStatus"] == "REJECTED", c
    assert c["reason"] == reason
    assert c["affectedDeals"] == [] and c["level"] is None and c["size"] is None and c["status"] is None
    assert c["dealId"]


def test_fills_at_ask_and_bid(raw: Raw, sim: IGSimulator) -> None:
    buy = raw.deal(direction="BUY")
    sell = raw.deal(direction="SELL")
    assert buy["level"] == 1.10010 and sell["level"] == 1.10000
    pos = {p.deal_id: p for p in sim.positions()}
    assert pos[buy["dealId"]].level == 1.10010 and pos[sell["dealId"]].direction == "SELL"


def test_rejections(raw: Raw, sim: IGSimulator) -> None:
    rejected(raw.deal(size=0.5), "MINIMUM_ORDER_SIZE_ERROR")
    rejected(raw.deal(size=1.005), "SIZE_INCREMENT")
    rejected(raw.deal(size=1000), "INSUFFICIENT_FUNDS")
    rejected(raw.deal(stopLevel=1.10005), "ATTACHED_ORDER_LEVEL_ERROR")  # stop above the bid for a BUY
    rejected(raw.deal(stopDistance=1), "ATTACHED_ORDER_LEVEL_ERROR")  # closer than the 2-pip minimum
    rejected(raw.deal(limitLevel=1.09), "ATTACHED_ORDER_LEVEL_ERROR")  # limit below the market for a BUY
    rejected(raw.deal(direction="SELL", stopLevel=1.09), "ATTACHED_ORDER_LEVEL_ERROR")
    rejected(raw.deal(epic=FTSE, expiry="DFB", currencyCode="GBP"), "REJECT_SPREADBET_ORDER_ON_CFD_ACCOUNT")
    rejected(raw.deal(expiry="DFB"), "REJECT_SPREADBET_ORDER_ON_CFD_ACCOUNT")
    assert sim.positions() == []
    sb = raw.call("PUT", "/session", json={"accountId": sim.spreadbet_account_id})
    raw.auth["X-SECURITY-TOKEN"] = sb.headers["X-SECURITY-TOKEN"]
    rejected(raw.deal(), "REJECT_CFD_ORDER_ON_SPREADBET_ACCOUNT")
    assert raw.deal(epic=FTSE, expiry="DFB", currencyCode="GBP")["dealStatus"] == "ACCEPTED"


def test_within_limits_is_accepted(raw: Raw) -> None:
    c = raw.deal(size=1.25, stopDistance=2, limitDistance=50)
    assert c["dealStatus"] == "ACCEPTED"
    assert c["stopLevel"] == pytest.approx(1.10010 - 0.0002) and c["limitLevel"] == pytest.approx(1.10510)


def test_duplicate_reference_keeps_first_confirm(raw: Raw, sim: IGSimulator) -> None:
    first = raw.deal(dealReference="my-ref-1")
    assert first["dealStatus"] == "ACCEPTED"
    events: list[SimEvent] = []
    sim.subscribe(events.append)
    r = raw.call("POST", "/positions/otc", version=2, json={
        "epic": EURUSD, "expiry": "-", "direction": "BUY", "size": 1, "orderType": "MARKET",
        "currencyCode": "USD", "forceOpen": True, "guaranteedStop": False, "dealReference": "my-ref-1"})
    assert r.status_code == 200 and r.json() == {"dealReference": "my-ref-1"}
    assert len(sim.positions()) == 1
    assert raw.confirm("my-ref-1")["dealStatus"] == "ACCEPTED"  # REST keeps the original outcome
    dup = [e for e in events if e.kind == "CONFIRM"]
    assert dup and dup[-1].data["reason"] == "DUPLICATE_ORDER_ERROR"  # streaming would say so


def test_close_rejections(raw: Raw) -> None:
    rejected(raw.close("DIAAAANOSUCH", "SELL", 1), "POSITION_NOT_FOUND")
    c = raw.deal(size=2)
    rejected(raw.close(c["dealId"], "BUY", 1), "POSITION_NOT_AVAILABLE_TO_CLOSE")  # same side
    rejected(raw.close(c["dealId"], "SELL", 3), "POSITION_NOT_AVAILABLE_TO_CLOSE")  # more than open


@pytest.mark.parametrize(("drop", "code"), [
    ("currencyCode", "validation.null-not-allowed.request.currencyCode"),
    ("forceOpen", "validation.null-not-allowed.request.forceOpen"),
    ("guaranteedStop", "validation.null-not-allowed.request.guaranteedStop"),
    ("size", "validation.null-not-allowed.request.size"),
])
def test_missing_fields(raw: Raw, drop: str, code: str) -> None:
    body = {"epic": EURUSD, "expiry": "-", "direction": "BUY", "size": 1, "orderType": "MARKET",
            "currencyCode": "USD", "forceOpen": True, "guaranteedStop": False}
    del body[drop]
    r = raw.call("POST", "/positions/otc", version=2, json=body)
    assert (r.status_code, r.json()) == (400, {"errorCode": code})


@pytest.mark.parametrize(("extra", "code"), [
    ({"forceOpen": False, "stopDistance": 20}, "invalid.request.forceOpen"),
    ({"stopDistance": 20, "stopLevel": 1.0}, "invalid.request.stopDistance"),
    ({"limitDistance": 20, "limitLevel": 1.2}, "invalid.request.limitDistance"),
    ({"orderType": "LIMIT"}, "invalid.request.level"),
    ({"level": 1.1}, "invalid.request.level"),
    ({"guaranteedStop": True}, "invalid.request.guaranteedStop"),
    ({"trailingStop": True, "stopDistance": 20}, "invalid.request.trailingStop"),
    ({"trailingStopIncrement": 2}, "invalid.request.trailingStopIncrement"),
    ({"direction": "LONG"}, "validation.pattern.invalid.request.direction"),
    ({"epic": "bad epic!"}, "validation.pattern.invalid.request.epic"),
    ({"size": -1}, "validation.pattern.invalid.request.size"),
    ({"currencyCode": "JPY"}, "invalid.request.currencyCode"),
])
def test_invalid_requests(raw: Raw, extra: dict, code: str) -> None:
    body = {"epic": EURUSD, "expiry": "-", "direction": "BUY", "size": 1, "orderType": "MARKET",
            "currencyCode": "USD", "forceOpen": True, "guaranteedStop": False, **extra}
    r = raw.call("POST", "/positions/otc", version=2, json=body)
    assert (r.status_code, r.json()["errorCode"]) == (400, code)


def test_unknown_instrument(raw: Raw) -> None:
    r = raw.call("POST", "/positions/otc", version=2, json={
        "epic": "CS.D.NOSUCH.MINI.IP", "expiry": "-", "direction": "BUY", "size": 1, "currencyCode": "USD",
        "forceOpen": True, "guaranteedStop": False})
    assert (r.status_code, r.json()["errorCode"]) == (404, "error.trading.otc.instrument-not-found")


def test_close_needs_method_override(raw: Raw, sim: IGSimulator) -> None:
    c = raw.deal(size=1)
    body = {"dealId": c["dealId"], "direction": "SELL", "size": 1, "orderType": "MARKET"}
    r = raw.call("DELETE", "/positions/otc", json=body)  # a real DELETE: the gateway drops the body
    assert (r.status_code, r.json()["errorCode"]) == (400, "validation.null-not-allowed.request")
    assert len(sim.positions()) == 1
    r = raw.call("POST", "/positions/otc", json=body, headers={"_method": "DELETE"})
    assert r.status_code == 200 and raw.confirm(r.json()["dealReference"])["status"] == "CLOSED"
    assert sim.positions() == []
    assert sim.request_log[-2].method == "DELETE" and sim.request_log[-2].path == "/positions/otc"


def test_close_by_epic_and_partial_pnl(raw: Raw, sim: IGSimulator) -> None:
    start = sim.balance()["balance"]
    c = raw.deal(size=3)
    sim.set_price(EURUSD, 1.10110, 1.10120)  # +10 pips on the bid for the BUY
    r = raw.call("POST", "/positions/otc", headers={"_method": "DELETE"},
                 json={"epic": EURUSD, "expiry": "-", "direction": "SELL", "size": 1, "orderType": "MARKET"})
    part = raw.confirm(r.json()["dealReference"])
    assert part["status"] == "PARTIALLY_CLOSED" and part["level"] == 1.10110
    usd = (1.10110 - 1.10010) * 1 * 10_000  # 1 contract of 10,000 EUR
    gbp = usd * sim.prices.fx_rate("USD", "GBP")
    assert part["profit"] == pytest.approx(gbp, abs=0.01) and part["profitCurrency"] == "GBP"
    assert sim.balance()["balance"] == pytest.approx(start + part["profit"], abs=0.01)
    assert sim.positions()[0].size == pytest.approx(2)
    pos = raw.call("GET", f"/positions/{c['dealId']}", version=2).json()
    assert pos["position"]["size"] == 2 and pos["market"]["bid"] == 1.10110


def test_netting_without_force_open(raw: Raw, sim: IGSimulator) -> None:
    c = raw.deal(size=2)
    n = raw.deal(direction="SELL", size=1, forceOpen=False)
    assert n["status"] == "PARTIALLY_CLOSED" and n["affectedDeals"] == [
        {"dealId": c["dealId"], "status": "PARTIALLY_CLOSED"}]
    assert [(p.direction, p.size) for p in sim.positions()] == [("BUY", 1)]
    f = raw.deal(direction="SELL", size=3, forceOpen=False)  # closes the rest, opens 2 SELL
    assert {a["status"] for a in f["affectedDeals"]} == {"FULLY_CLOSED", "OPENED"}
    assert [(p.direction, p.size) for p in sim.positions()] == [("SELL", 2)]
    acts = raw.call("GET", "/history/activity", version=3, params={"detailed": "true"}).json()["activities"]
    assert [a["description"].split(":")[0] for a in acts] == [
        "Position opened", "Position closed", "Position partially closed", "Position opened"]
    assert acts[2]["details"]["dealReference"] == n["dealReference"]


def test_amend(raw: Raw, sim: IGSimulator) -> None:
    c = raw.deal(size=1)
    r = raw.call("PUT", f"/positions/otc/{c['dealId']}", version=2,
                 json={"stopLevel": 1.0950, "limitLevel": 1.1100, "guaranteedStop": False, "trailingStop": False})
    a = raw.confirm(r.json()["dealReference"])
    assert a["status"] == "AMENDED" and a["affectedDeals"] == [{"dealId": c["dealId"], "status": "AMENDED"}]
    p = sim.positions()[0]
    assert (p.stop_level, p.limit_level) == (1.0950, 1.1100)
    bad = raw.call("PUT", f"/positions/otc/{c['dealId']}", version=2, json={"stopLevel": 1.2})
    rejected(raw.confirm(bad.json()["dealReference"]), "ATTACHED_ORDER_LEVEL_ERROR")
    missing = raw.call("PUT", "/positions/otc/DIAAAANOSUCH", version=2, json={"stopLevel": 1.0})
    assert missing.status_code == 404
    rule = raw.call("PUT", f"/positions/otc/{c['dealId']}", version=2, json={"trailingStop": True})
    assert rule.json()["errorCode"] == "invalid.request.trailingStop"


def test_not_found_codes(raw: Raw) -> None:
    r = raw.call("GET", "/positions/DIAAAANOSUCH", version=2)
    assert (r.status_code, r.json()["errorCode"]) == (404, "error.position.notfound")
    r = raw.call("GET", "/confirms/NOSUCHREF")
    assert (r.status_code, r.json()["errorCode"]) == (404, "error.confirms.deal-not-found")


def test_confirm_expires(raw: Raw, sim: IGSimulator) -> None:
    ref = raw.call("POST", "/positions/otc", version=2, json={
        "epic": EURUSD, "expiry": "-", "direction": "BUY", "size": 1, "currencyCode": "USD",
        "forceOpen": True, "guaranteedStop": False}).json()["dealReference"]
    assert raw.call("GET", f"/confirms/{ref}").status_code == 200
    sim.clock.advance(61)
    assert raw.call("GET", f"/confirms/{ref}").json()["errorCode"] == "error.confirms.deal-not-found"


def test_stop_triggers(raw: Raw, sim: IGSimulator) -> None:
    events: list[SimEvent] = []
    sim.subscribe(events.append)
    c = raw.deal(size=1, stopDistance=20)  # stop at 1.09810
    start = sim.balance()["balance"]
    sim.set_price(EURUSD, 1.09850, 1.09860)
    assert len(sim.positions()) == 1
    sim.set_price(EURUSD, 1.09800, 1.09810)
    assert sim.positions() == []
    loss = (1.09800 - 1.10010) * 10_000 * sim.prices.fx_rate("USD", "GBP")
    assert sim.balance()["balance"] == pytest.approx(start + loss, abs=0.02)
    deleted = [e for e in events if e.kind == "OPU" and e.data["status"] == "DELETED"]
    assert deleted and deleted[0].data["dealId"] == c["dealId"]
    assert any(e.kind == "ACCOUNT" for e in events)
    acts = raw.call("GET", "/history/activity", version=3, params={"detailed": "true"}).json()["activities"]
    assert acts[0]["channel"] == "SYSTEM" and acts[0]["description"] == f"Position closed: {c['dealId']}"


def test_limit_triggers_for_sell(raw: Raw, sim: IGSimulator) -> None:
    raw.deal(direction="SELL", size=1, limitLevel=1.09500)  # SELL closes at the ask
    sim.set_price(EURUSD, 1.09495, 1.09505)
    assert len(sim.positions()) == 1
    sim.set_price(EURUSD, 1.09490, 1.09500)
    assert sim.positions() == []
    tx = raw.call("GET", "/history/transactions", version=2, params={"type": "ALL_DEAL"}).json()
    assert tx["transactions"][0]["closeLevel"] == "1.095" and tx["transactions"][0]["openLevel"] == "1.1"


def test_trailing_stop_follows_then_triggers(raw: Raw, sim: IGSimulator) -> None:
    raw.deal(size=1, stopDistance=10, trailingStop=True, trailingStopIncrement=2)
    p = sim.positions()[0]
    assert p.stop_level == pytest.approx(1.09910) and p.trailing_distance == 10
    sim.set_price(EURUSD, 1.10500, 1.10510)  # bid up 50 pips: the stop follows to 1.10400
    assert sim.positions()[0].stop_level == pytest.approx(1.10400)
    sim.set_price(EURUSD, 1.10450, 1.10460)  # falls back, stop stays
    assert sim.positions()[0].stop_level == pytest.approx(1.10400)
    sim.set_price(EURUSD, 1.10390, 1.10400)
    assert sim.positions() == []


def test_stops_trigger_from_market_ticks(sim: IGSimulator, raw: Raw) -> None:
    """Without forced prices the background loop reads the market's ticks: a stop 2 pips away on the
    most volatile instrument fires once the price crosses it."""
    sim.clear_price()
    bid, ask = sim.quote(EURUSD)
    events: list[SimEvent] = []
    sim.subscribe(events.append)
    c = raw.deal(size=1, stopDistance=2, limitDistance=2)
    assert c["dealStatus"] == "ACCEPTED"
    sim.clock.advance(3600)  # an hour of ticks passes at once: the evaluator scans them
    sim.broker.evaluate()
    assert sim.positions() == []
    assert any(e.kind == "OPU" and e.data["status"] == "DELETED" for e in events)
    assert bid < ask


def test_guaranteed_stop_fills_at_its_level_through_a_gap(raw: Raw, sim: IGSimulator) -> None:
    g = raw.deal(size=1, stopDistance=20, guaranteedStop=True)
    plain = raw.deal(size=1, stopDistance=20)
    assert g["guaranteedStop"] is True
    events: list[SimEvent] = []
    sim.subscribe(events.append)
    sim.set_price(EURUSD, 1.09500, 1.09510)  # gaps 31 pips through both stops at 1.09810
    closes = {e.data["dealId"]: e.data["level"] for e in events if e.kind == "OPU" and e.data["status"] == "DELETED"}
    assert closes == {g["dealId"]: 1.09810, plain["dealId"]: 1.09500}
