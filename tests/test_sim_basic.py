"""IGSimulator end to end over real HTTP on 127.0.0.1: login, session, accounts, markets, prices, dealing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sim_support import Raw

from igkit.sim import IGSimulator, SimClock

EURUSD = "CS.D.EURUSD.MINI.IP"


@pytest.fixture(scope="module")
def sim() -> Iterator[IGSimulator]:
    with IGSimulator(always_open=True, seed=3) as s:
        yield s


@pytest.fixture
def raw(sim: IGSimulator) -> Raw:
    r = Raw(sim)
    r.login(2)
    return r


def test_urls_and_credentials(sim: IGSimulator) -> None:
    assert sim.rest_url.startswith("http://127.0.0.1:") and sim.rest_url.endswith("/gateway/deal")
    assert sim.lightstreamer_url == f"http://127.0.0.1:{sim.port}"
    assert sim.port > 0
    assert sim.account_id != sim.second_account_id
    assert sim.cfd_account_id and sim.spreadbet_account_id


def test_v2_login_returns_tokens_and_account(raw: Raw, sim: IGSimulator) -> None:
    r = raw.login(2)
    body = r.json()
    assert body["currentAccountId"] == sim.account_id
    assert body["lightstreamerEndpoint"] == sim.lightstreamer_url
    assert {a["accountId"] for a in body["accounts"]} >= {sim.account_id, sim.second_account_id}
    assert r.headers["CST"] and r.headers["X-SECURITY-TOKEN"]


def test_market_deal_round_trip(raw: Raw, sim: IGSimulator) -> None:
    bid, ask = sim.quote(EURUSD)
    c = raw.deal(direction="BUY", size=2)
    assert c["dealStatus"] == "ACCEPTED" and c["reason"] == "SUCCESS" and c["status"] == "OPEN"
    assert c["affectedDeals"] == [{"dealId": c["dealId"], "status": "OPENED"}]
    assert [p.deal_id for p in sim.positions()] == [c["dealId"]]
    before = raw.call("GET", "/accounts").json()["accounts"][0]["balance"]["balance"]
    part = raw.close(c["dealId"], "SELL", 0.5)
    assert part["status"] == "PARTIALLY_CLOSED"
    assert sim.positions()[0].size == pytest.approx(1.5)
    full = raw.close(c["dealId"], "SELL", 1.5)
    assert full["status"] == "CLOSED" and full["affectedDeals"][0]["status"] == "FULLY_CLOSED"
    assert sim.positions() == []
    after = raw.call("GET", "/accounts").json()["accounts"][0]["balance"]["balance"]
    assert after == pytest.approx(before + part["profit"] + full["profit"], abs=0.011)
    assert bid < ask


def test_start_stop_idempotent_and_restartable() -> None:
    sim = IGSimulator(always_open=True, port=0)
    assert not sim.running
    sim.start()
    sim.start()
    port = sim.port
    raw = Raw(sim)
    raw.login(2)
    assert raw.deal()["dealStatus"] == "ACCEPTED"
    sim.stop()
    sim.stop()
    assert not sim.running
    sim2 = IGSimulator(always_open=True, port=port)  # the port is free again
    with sim2:
        assert sim2.port == port
    with sim:  # restarted: the broker's state survived
        assert len(sim.positions()) == 1
        assert Raw(sim).login(2).status_code == 200


def test_custom_accounts() -> None:
    accounts = [{"account_id": "SB1", "account_type": "SPREADBET", "balance": 800.0, "preferred": True},
                {"account_id": "CFD9", "account_type": "CFD", "currency": "EUR", "balance": 100.0}]
    with IGSimulator(always_open=True, accounts=accounts, clock=SimClock("2026-11-18T12:00Z", frozen=True)) as sim:
        assert (sim.account_id, sim.spreadbet_account_id, sim.cfd_account_id) == ("SB1", "SB1", "CFD9")
        raw = Raw(sim)
        body = raw.login(2).json()
        assert body["accountType"] == "SPREADBET" and body["accountInfo"]["balance"] == 800.0
        # 1 £/point on the FTSE (~10,000) needs ~£500 of margin (5%): a second one does not fit in £800
        assert raw.deal(epic="IX.D.FTSE.DAILY.IP", expiry="DFB", currencyCode="GBP")["dealStatus"] == "ACCEPTED"
        c = raw.deal(epic="IX.D.FTSE.DAILY.IP", expiry="DFB", currencyCode="GBP")
        assert c["reason"] == "INSUFFICIENT_FUNDS"
    with pytest.raises(ValueError, match="account_type"):
        IGSimulator(accounts=[{"account_id": "X", "account_type": "ISA"}])


def test_handler_bug_is_a_500_system_error() -> None:
    sim = IGSimulator(always_open=True)

    def boom(ctx: object) -> None:
        raise RuntimeError("simulated bug")

    sim.router.add("GET", "/boom", boom)
    with sim:
        raw = Raw(sim)
        raw.login(2)
        r = raw.call("GET", "/boom")
        assert (r.status_code, r.json()) == (500, {"errorCode": "system.error"})
        assert raw.call("GET", "/accounts").status_code == 200  # the server carries on
