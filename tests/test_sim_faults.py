"""Simulator fault injection, request log and rate limits over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
from sim_support import Raw

from igkit.sim import IGSimulator, RateLimits, SimClock

EURUSD = "CS.D.EURUSD.MINI.IP"
DEAL = {"epic": EURUSD, "expiry": "-", "direction": "BUY", "size": 1, "orderType": "MARKET",
        "currencyCode": "USD", "forceOpen": True, "guaranteedStop": False}


@pytest.fixture
def sim() -> Iterator[IGSimulator]:
    with IGSimulator(always_open=True, seed=1) as s:
        yield s


@pytest.fixture
def raw(sim: IGSimulator) -> Raw:
    r = Raw(sim)
    r.login(2)
    return r


def posts_to_positions(sim: IGSimulator) -> int:
    return sum(1 for rec in sim.request_log if (rec.method, rec.path) == ("POST", "/positions/otc"))


def test_fail_next(raw: Raw, sim: IGSimulator) -> None:
    sim.faults.fail_next(2, path="/accounts", status=503)
    assert raw.call("GET", "/session").status_code == 200  # other paths untouched
    for _ in range(2):
        r = raw.call("GET", "/accounts")
        assert (r.status_code, r.json()) == (503, {"errorCode": "system.error"})
    assert raw.call("GET", "/accounts").status_code == 200
    assert [rec.status for rec in sim.request_log if rec.path == "/accounts"] == [503, 503, 200]


def test_fail_next_does_not_execute(raw: Raw, sim: IGSimulator) -> None:
    sim.faults.fail_next(1, path="/positions/otc", method="POST", status=500, code="error.positions.generic")
    r = raw.call("POST", "/positions/otc", version=2, json=DEAL)
    assert (r.status_code, r.json()["errorCode"]) == (500, "error.positions.generic")
    assert sim.positions() == []


def test_drop_after_execution_then_retry_is_not_a_duplicate(raw: Raw, sim: IGSimulator) -> None:
    """The deal goes through but the client never hears back; the client's retry with the same
    dealReference must not open a second position, and the confirm tells what happened."""
    sim.faults.drop_next(1, path="/positions/otc", after=True)
    with pytest.raises(requests.ConnectionError):
        raw.call("POST", "/positions/otc", version=2, json={**DEAL, "dealReference": "retry-me-1"})
    assert len(sim.positions()) == 1
    assert raw.confirm("retry-me-1")["dealStatus"] == "ACCEPTED"
    r = raw.call("POST", "/positions/otc", version=2, json={**DEAL, "dealReference": "retry-me-1"})
    assert r.status_code == 200 and len(sim.positions()) == 1
    assert raw.confirm("retry-me-1")["dealStatus"] == "ACCEPTED"
    assert posts_to_positions(sim) == 2
    assert [rec.status for rec in sim.request_log if rec.path == "/positions/otc"] == [0, 200]


def test_drop_before_execution(raw: Raw, sim: IGSimulator) -> None:
    sim.faults.drop_next(1, path="/positions/otc")
    with pytest.raises(requests.ConnectionError):
        raw.call("POST", "/positions/otc", version=2, json={**DEAL, "dealReference": "never-1"})
    assert sim.positions() == []
    assert raw.call("GET", "/confirms/never-1").status_code == 404


def test_delay_next_times_out_the_client_but_executes(raw: Raw, sim: IGSimulator) -> None:
    sim.faults.delay_next(1, 1.0, path="/positions/otc")
    with pytest.raises(requests.Timeout):
        raw.call("POST", "/positions/otc", version=2, json={**DEAL, "dealReference": "slow-1"}, timeout=0.2)
    for _ in range(100):  # the server finishes the delayed request on its own
        if raw.call("GET", "/confirms/slow-1").status_code == 200:
            break
        time.sleep(0.05)
    assert raw.confirm("slow-1")["dealStatus"] == "ACCEPTED"


def test_allowance_next(raw: Raw, sim: IGSimulator) -> None:
    sim.faults.allowance_next(1, code="error.public-api.exceeded-account-trading-allowance",
                              path="/positions/otc")
    r = raw.call("POST", "/positions/otc", version=2, json=DEAL)
    assert (r.status_code, r.json()["errorCode"]) == (403, "error.public-api.exceeded-account-trading-allowance")
    assert sim.positions() == []
    assert raw.call("POST", "/positions/otc", version=2, json=DEAL).status_code == 200


def test_invalid_token_next(sim: IGSimulator) -> None:
    v2, v3 = Raw(sim), Raw(sim)
    v2.login(2)
    v3.login(3)
    sim.faults.invalid_token_next(1)
    r = v2.call("GET", "/accounts")
    assert (r.status_code, r.json()["errorCode"]) == (401, "error.security.client-token-invalid")
    assert v2.call("GET", "/accounts").status_code == 200
    sim.faults.invalid_token_next(1, path="/accounts")
    r = v3.call("GET", "/accounts")
    assert (r.status_code, r.json()["errorCode"]) == (401, "error.security.oauth-token-invalid")
    assert v3.call("GET", "/accounts").status_code == 200


def test_faults_validate_and_clear(sim: IGSimulator) -> None:
    with pytest.raises(ValueError, match="fault count"):
        sim.faults.fail_next(0)
    sim.faults.fail_next(3)
    assert len(sim.faults.pending) == 1
    sim.faults.clear()
    assert sim.faults.pending == []


def test_rate_limits_per_account_and_trading() -> None:
    clock = SimClock("2026-11-18T12:00:00Z", frozen=True)
    limits = {"app_non_trading": 100, "account_non_trading": 3, "account_trading": 2}
    with IGSimulator(always_open=True, clock=clock, rate_limits=limits) as sim:
        raw = Raw(sim)
        raw.login(2)
        assert [raw.call("GET", "/accounts").status_code for _ in range(3)] == [200, 200, 200]
        r = raw.call("GET", "/accounts")
        assert (r.status_code, r.json()["errorCode"]) == (403, "error.public-api.exceeded-account-allowance")
        deals = [raw.call("POST", "/positions/otc", version=2, json=DEAL) for _ in range(3)]
        assert [d.status_code for d in deals] == [200, 200, 403]
        assert deals[2].json()["errorCode"] == "error.public-api.exceeded-account-trading-allowance"
        assert len(sim.positions()) == 2
        clock.advance(61)
        assert raw.call("GET", "/accounts").status_code == 200
        app = raw.call("GET", "/operations/application").json()[0]
        assert (app["allowanceAccountOverall"], app["allowanceAccountTrading"]) == (3, 2)


def test_rate_limit_per_api_key() -> None:
    with IGSimulator(always_open=True, rate_limits=RateLimits(app_non_trading=3, account_non_trading=None,
                                                              account_trading=None)) as sim:
        raw = Raw(sim)
        codes = [raw.call("POST", "/session", version=2,
                          json={"identifier": sim.username, "password": sim.password}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 403]
        r = raw.call("POST", "/session", version=2, json={"identifier": sim.username, "password": sim.password})
        assert r.json()["errorCode"] == "error.public-api.exceeded-api-key-allowance"
