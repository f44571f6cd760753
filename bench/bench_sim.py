"""The IG simulator's cost per request, against a bare aiohttp handler served the same way.

Both servers run in this process on 127.0.0.1, each on its own event-loop thread (the simulator's
``ServerThread``); calls go over one pooled ``requests.Session`` each and are interleaved call by call so
load drift hits both alike. The baseline handler returns a constant small JSON body: the difference is
the simulator's whole pipeline (faults, API key, auth, rate limits, trigger evaluation, the route and
its JSON). Reported: medians in µs and the ratio simulator/baseline. Target: under 3× the bare handler
(measured here: ~1.5×, i.e. ~0.4 ms of simulator work on ~0.8 ms of HTTP round trip).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import requests
from aiohttp import web

from igkit.sim import IGSimulator
from igkit.sim.server import ServerThread

EPIC = "CS.D.EURUSD.MINI.IP"


def _interleaved(a: Callable[[], Any], b: Callable[[], Any], n: int) -> tuple[float, float]:
    ta: list[float] = []
    tb: list[float] = []
    pc = time.perf_counter
    for i in range(n):
        first, second = (a, b) if i % 2 == 0 else (b, a)
        t0 = pc()
        first()
        t1 = pc()
        second()
        t2 = pc()
        (ta if first is a else tb).append(t1 - t0)
        (tb if first is a else ta).append(t2 - t1)
    return statistics.median(ta) * 1e6, statistics.median(tb) * 1e6


def _bare_app() -> web.Application:
    async def hello(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"dealReference": "X"})

    app = web.Application()
    app.router.add_route("*", "/gateway/deal/{tail:.*}", hello)
    return app


def run(quick: bool = False) -> list[dict[str, Any]]:
    n = 10 if quick else 300
    bare = ServerThread(_bare_app(), "127.0.0.1", 0)
    port = bare.start()
    bare_url = f"http://127.0.0.1:{port}/gateway/deal"
    rows: list[dict[str, Any]] = []
    try:
        with IGSimulator(seed=0, always_open=True) as sim:
            s = requests.Session()
            h = {"X-IG-API-KEY": sim.api_key, "Version": "2"}
            r = s.post(sim.rest_url + "/session", json={"identifier": sim.username, "password": sim.password},
                       headers=h)
            h.update(CST=r.headers["CST"], **{"X-SECURITY-TOKEN": r.headers["X-SECURITY-TOKEN"]})
            deal = {"epic": EPIC, "expiry": "-", "direction": "BUY", "size": 1, "orderType": "MARKET",
                    "currencyCode": "USD", "forceOpen": True, "guaranteedStop": False}
            for _ in range(3):
                s.post(sim.rest_url + "/positions/otc", json=deal, headers=h)
            b = requests.Session()

            def bare_get() -> None:
                b.get(bare_url + "/positions", headers=h).json()

            def sim_get() -> None:
                s.get(sim.rest_url + "/positions", headers=h).json()

            def sim_deal() -> None:
                ref = s.post(sim.rest_url + "/positions/otc", json={**deal, "direction": "SELL",
                                                                   "forceOpen": False}, headers=h).json()
                s.get(sim.rest_url + f"/confirms/{ref['dealReference']}", headers={**h, "Version": "1"}).json()
                s.post(sim.rest_url + "/positions/otc", json=deal, headers=h).json()

            def bare_deal() -> None:
                for _ in range(3):
                    b.post(bare_url + "/positions/otc", json=deal, headers=h).json()

            sim_us, bare_us = _interleaved(sim_get, bare_get, n)
            rows.append({"name": "sim GET /positions (3 open), median", "value": round(sim_us, 1), "unit": "µs",
                         "baseline": f"bare aiohttp JSON handler {bare_us:.0f} µs",
                         "ratio": round(sim_us / bare_us, 2), "target": "< 3× the bare handler",
                         "ok": sim_us < 3 * bare_us})
            sim_us, bare_us = _interleaved(sim_deal, bare_deal, max(4, n // 3))
            rows.append({"name": "sim close+confirm+reopen (3 requests), median", "value": round(sim_us, 1),
                         "unit": "µs", "baseline": f"3 bare aiohttp POSTs {bare_us:.0f} µs",
                         "ratio": round(sim_us / bare_us, 2), "target": "< 3× the bare handler",
                         "ok": sim_us < 3 * bare_us})
    finally:
        bare.stop()
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
