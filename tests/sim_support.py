"""Helpers for the simulator tests: a thin raw-HTTP client (plain ``requests``) that logs in to an IGSimulator.

Deliberately not igkit's own IG client: these tests pin the simulator's wire behaviour independently.
"""

from __future__ import annotations

from typing import Any

import requests

from igkit.sim import IGSimulator


class Raw:
    """Raw IG calls against a simulator: keeps the auth headers of the last login."""

    def __init__(self, sim: IGSimulator) -> None:
        self.sim = sim
        self.http = requests.Session()
        self.auth: dict[str, str] = {}

    def headers(self, version: int | None, extra: dict[str, str] | None = None) -> dict[str, str]:
        h = {"X-IG-API-KEY": self.sim.api_key, "Accept": "application/json; charset=UTF-8",
             "Content-Type": "application/json; charset=UTF-8", **self.auth}
        if version is not None:
            h["Version"] = str(version)
        h.update(extra or {})
        return h

    def call(self, method: str, path: str, *, version: int | None = 1, json: Any = None,
             params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
             timeout: float = 10.0) -> requests.Response:
        return self.http.request(method, self.sim.rest_url + path, json=json, params=params,
                                 headers=self.headers(version, headers), timeout=timeout)

    def login(self, version: int = 2) -> requests.Response:
        self.auth = {}
        r = self.call("POST", "/session", version=version,
                      json={"identifier": self.sim.username, "password": self.sim.password})
        assert r.status_code == 200, r.text
        if version >= 3:
            token = r.json()["oauthToken"]
            self.auth = {"Authorization": f"Bearer {token['access_token']}", "IG-ACCOUNT-ID": r.json()["accountId"]}
        else:
            self.auth = {"CST": r.headers["CST"], "X-SECURITY-TOKEN": r.headers["X-SECURITY-TOKEN"]}
        return r

    def deal(self, **fields: Any) -> dict[str, Any]:
        """POST /positions/otc (v2) and return the confirm."""
        body = {"epic": "CS.D.EURUSD.MINI.IP", "expiry": "-", "direction": "BUY", "size": 1,
                "orderType": "MARKET", "currencyCode": "USD", "forceOpen": True, "guaranteedStop": False}
        body.update(fields)
        body = {k: v for k, v in body.items() if v is not None}
        r = self.call("POST", "/positions/otc", version=2, json=body)
        assert r.status_code == 200, r.text
        return self.confirm(r.json()["dealReference"])

    def confirm(self, ref: str) -> dict[str, Any]:
        r = self.call("GET", f"/confirms/{ref}")
        assert r.status_code == 200, r.text
        return r.json()

    def close(self, deal_id: str, direction: str, size: float) -> dict[str, Any]:
        r = self.call("POST", "/positions/otc", headers={"_method": "DELETE"},
                      json={"dealId": deal_id, "direction": direction, "size": size, "orderType": "MARKET"})
        assert r.status_code == 200, r.text
        return self.confirm(r.json()["dealReference"])
