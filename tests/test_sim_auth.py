"""Simulator sessions over real HTTP: API keys, v1/v2 CST login, v3 OAuth, refresh rotation, expiry,
account switching, session tokens for streaming, logout, Version header spelling."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from sim_support import Raw

from igkit.sim import IGSimulator


@pytest.fixture
def sim() -> Iterator[IGSimulator]:
    with IGSimulator(always_open=True, access_token_ttl=30, refresh_token_ttl=120, token_ttl=300) as s:
        yield s


def post_session(sim: IGSimulator, headers: dict[str, str], body: dict[str, str] | None = None) -> requests.Response:
    body = body if body is not None else {"identifier": sim.username, "password": sim.password}
    return requests.post(sim.rest_url + "/session", json=body, headers=headers, timeout=10)


def test_api_key_missing_and_invalid(sim: IGSimulator) -> None:
    r = post_session(sim, {"Version": "2"})
    assert (r.status_code, r.json()) == (400, {"errorCode": "error.security.api-key-missing"})
    r = post_session(sim, {"Version": "2", "X-IG-API-KEY": "not-the-key"})
    assert (r.status_code, r.json()["errorCode"]) == (403, "error.security.api-key-invalid")


def test_bad_credentials_and_missing_fields(sim: IGSimulator) -> None:
    key = {"X-IG-API-KEY": sim.api_key, "Version": "2"}
    r = post_session(sim, key, {"identifier": sim.username, "password": "wrong"})
    assert (r.status_code, r.json()["errorCode"]) == (401, "error.security.invalid-details")
    r = post_session(sim, key, {"password": sim.password})
    assert r.status_code == 400
    assert r.json()["errorCode"] == "validation.null-not-allowed.authenticationRequest.identifier"
    r = post_session(sim, key, {"identifier": "bad name!", "password": "x"})
    assert r.json()["errorCode"] == "validation.pattern.invalid.authenticationRequest.identifier"


@pytest.mark.parametrize("header", ["Version", "VERSION", "version"])
def test_version_header_any_case(sim: IGSimulator, header: str) -> None:
    r = post_session(sim, {"X-IG-API-KEY": sim.api_key, header: "3"})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"clientId", "accountId", "timezoneOffset", "lightstreamerEndpoint", "oauthToken"}
    assert "CST" not in r.headers


def test_missing_version_means_v1(sim: IGSimulator) -> None:
    r = post_session(sim, {"X-IG-API-KEY": sim.api_key})
    assert r.status_code == 200 and "CST" in r.headers and "accountInfo" in r.json()


def test_no_auth_headers(sim: IGSimulator) -> None:
    r = requests.get(sim.rest_url + "/accounts", headers={"X-IG-API-KEY": sim.api_key}, timeout=10)
    assert (r.status_code, r.json()["errorCode"]) == (401, "error.security.client-token-missing")
    r = requests.get(sim.rest_url + "/accounts", timeout=10,
                     headers={"X-IG-API-KEY": sim.api_key, "CST": "nope", "X-SECURITY-TOKEN": "nope"})
    assert (r.status_code, r.json()["errorCode"]) == (401, "error.security.client-token-invalid")


def test_v3_bearer_and_account_header(sim: IGSimulator) -> None:
    raw = Raw(sim)
    login = raw.login(3).json()
    token = login["oauthToken"]
    assert token["expires_in"] == "30" and isinstance(token["expires_in"], str)
    assert token["token_type"] == "Bearer" and token["scope"] == "profile"
    assert raw.call("GET", "/accounts").status_code == 200
    r = raw.call("GET", "/accounts", headers={"IG-ACCOUNT-ID": ""})
    assert (r.status_code, r.json()["errorCode"]) == (401, "error.security.account-token-missing")
    r = raw.call("GET", "/accounts", headers={"IG-ACCOUNT-ID": "NOPE1"})
    assert r.json()["errorCode"] == "error.security.account-token-invalid"
    r = raw.call("GET", "/accounts", headers={"Authorization": "Bearer forged"})
    assert (r.status_code, r.json()["errorCode"]) == (401, "error.security.oauth-token-invalid")
    # the account comes from IG-ACCOUNT-ID: GET /session names it
    r = raw.call("GET", "/session", headers={"IG-ACCOUNT-ID": sim.second_account_id})
    assert r.json()["accountId"] == sim.second_account_id


def test_v3_expiry_and_refresh_rotation(sim: IGSimulator) -> None:
    raw = Raw(sim)
    token = raw.login(3).json()["oauthToken"]
    sim.clock.advance(31)
    r = raw.call("GET", "/accounts")
    assert (r.status_code, r.json()["errorCode"]) == (401, "error.security.oauth-token-invalid")
    r = raw.call("POST", "/session/refresh-token", json={"refresh_token": token["refresh_token"]})
    assert r.status_code == 200
    new = r.json()
    assert set(new) == {"access_token", "refresh_token", "scope", "token_type", "expires_in"}
    assert new["refresh_token"] != token["refresh_token"] and new["access_token"] != token["access_token"]
    raw.auth["Authorization"] = f"Bearer {new['access_token']}"
    assert raw.call("GET", "/accounts").status_code == 200
    again = raw.call("POST", "/session/refresh-token", json={"refresh_token": token["refresh_token"]})
    assert (again.status_code, again.json()["errorCode"]) == (401, "error.security.oauth-token-invalid")
    assert raw.call("POST", "/session/refresh-token", json={}).json()["errorCode"] == (
        "validation.null-not-allowed.request.refresh_token")
    sim.clock.advance(121)  # refresh tokens expire too
    r = raw.call("POST", "/session/refresh-token", json={"refresh_token": new["refresh_token"]})
    assert r.status_code == 401


def test_cst_session_slides_then_expires(sim: IGSimulator) -> None:
    raw = Raw(sim)
    raw.login(2)
    sim.clock.advance(200)
    assert raw.call("GET", "/accounts").status_code == 200  # used: extended to +300 s from here
    sim.clock.advance(200)
    assert raw.call("GET", "/accounts").status_code == 200
    sim.clock.advance(301)
    r = raw.call("GET", "/accounts")
    assert (r.status_code, r.json()["errorCode"]) == (401, "error.security.client-token-invalid")


def test_expire_tokens_keeps_refresh_tokens(sim: IGSimulator) -> None:
    v2, v3 = Raw(sim), Raw(sim)
    v2.login(2)
    refresh = v3.login(3).json()["oauthToken"]["refresh_token"]
    sim.faults.expire_tokens()
    assert v2.call("GET", "/accounts").json()["errorCode"] == "error.security.client-token-invalid"
    assert v3.call("GET", "/accounts").json()["errorCode"] == "error.security.oauth-token-invalid"
    assert v3.call("POST", "/session/refresh-token", json={"refresh_token": refresh}).status_code == 200


def test_switch_account_new_xst(sim: IGSimulator) -> None:
    raw = Raw(sim)
    raw.login(2)
    old_xst = raw.auth["X-SECURITY-TOKEN"]
    r = raw.call("PUT", "/session", json={"accountId": sim.second_account_id, "defaultAccount": False})
    assert r.status_code == 200
    new_xst = r.headers["X-SECURITY-TOKEN"]
    assert new_xst and new_xst != old_xst
    stale = raw.call("GET", "/session")
    assert (stale.status_code, stale.json()["errorCode"]) == (401, "error.security.account-token-invalid")
    raw.auth["X-SECURITY-TOKEN"] = new_xst
    assert raw.call("GET", "/session").json()["accountId"] == sim.second_account_id
    same = raw.call("PUT", "/session", json={"accountId": sim.second_account_id})
    assert (same.status_code, same.json()["errorCode"]) == (412, "error.switch.accountId-must-be-different")
    unknown = raw.call("PUT", "/session", json={"accountId": "NOSUCH"})
    assert (unknown.status_code, unknown.json()["errorCode"]) == (400, "error.switch.invalid-accountId")
    missing = raw.call("PUT", "/session", json={})
    assert missing.json()["errorCode"] == "validation.null-not-allowed.request.accountId"


def test_switch_changes_dealing_account(sim: IGSimulator) -> None:
    raw = Raw(sim)
    raw.login(2)
    r = raw.call("PUT", "/session", json={"accountId": sim.spreadbet_account_id})
    raw.auth["X-SECURITY-TOKEN"] = r.headers["X-SECURITY-TOKEN"]
    c = raw.deal(epic="IX.D.FTSE.DAILY.IP", expiry="DFB", currencyCode="GBP", size=1)
    assert c["dealStatus"] == "ACCEPTED"
    assert [p.account_id for p in sim.positions()] == [sim.spreadbet_account_id]


def test_fetch_session_tokens_for_v3(sim: IGSimulator) -> None:
    raw = Raw(sim)
    raw.login(3)
    plain = raw.call("GET", "/session")
    assert "CST" not in plain.headers
    r = raw.call("GET", "/session", params={"fetchSessionTokens": "true"})
    assert r.status_code == 200
    body = r.json()
    assert body["accountId"] == sim.account_id and body["lightstreamerEndpoint"] == sim.lightstreamer_url
    v2 = Raw(sim)
    v2.auth = {"CST": r.headers["CST"], "X-SECURITY-TOKEN": r.headers["X-SECURITY-TOKEN"]}
    assert v2.call("GET", "/accounts").status_code == 200


def test_logout(sim: IGSimulator) -> None:
    raw = Raw(sim)
    raw.login(2)
    r = raw.call("DELETE", "/session")
    assert r.status_code == 204 and r.content == b""
    assert raw.call("GET", "/accounts").json()["errorCode"] == "error.security.client-token-invalid"


def test_preferences_and_application(sim: IGSimulator) -> None:
    raw = Raw(sim)
    raw.login(2)
    assert raw.call("GET", "/accounts/preferences").json() == {"trailingStopsEnabled": True}
    assert raw.call("PUT", "/accounts/preferences", json={"trailingStopsEnabled": False}).json() == {
        "status": "SUCCESS"}
    assert raw.call("GET", "/accounts/preferences").json() == {"trailingStopsEnabled": False}
    app = raw.call("GET", "/operations/application").json()
    assert app[0]["apiKey"] == sim.api_key and app[0]["allowanceAccountHistoricalData"] == 10_000


def test_unknown_path_is_404(sim: IGSimulator) -> None:
    raw = Raw(sim)
    raw.login(2)
    r = raw.call("GET", "/no/such/thing")
    assert (r.status_code, r.json()["errorCode"]) == (404, "invalid.url")


def test_stream_credentials_follow_rest_sessions(sim: IGSimulator) -> None:
    raw = Raw(sim)
    raw.login(2)
    cst, xst = raw.auth["CST"], raw.auth["X-SECURITY-TOKEN"]
    assert sim.check_stream_credentials(sim.account_id, f"CST-{cst}|XST-{xst}")
    assert not sim.check_stream_credentials(sim.second_account_id, f"CST-{cst}|XST-{xst}")
    assert not sim.check_stream_credentials(sim.account_id, f"CST-{cst}|XST-forged")
    assert not sim.check_stream_credentials(sim.account_id, "not a token")
    r = raw.call("PUT", "/session", json={"accountId": sim.second_account_id})
    new_xst = r.headers["X-SECURITY-TOKEN"]
    assert not sim.check_stream_credentials(sim.account_id, f"CST-{cst}|XST-{xst}")
    assert sim.check_stream_credentials(sim.second_account_id, f"CST-{cst}|XST-{new_xst}")
    sim.expire_tokens()
    assert not sim.check_stream_credentials(sim.second_account_id, f"CST-{cst}|XST-{new_xst}")


def test_bad_version_header(sim: IGSimulator) -> None:
    r = post_session(sim, {"X-IG-API-KEY": sim.api_key, "Version": "two"})
    assert (r.status_code, r.json()["errorCode"]) == (400, "invalid.input")
