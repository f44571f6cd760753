"""IGClient's own overhead per call, against a raw ``requests`` call to the same simulator endpoint.

Both sides hit the same IGSimulator on 127.0.0.1 in the same run, interleaved call by call so drift in
the machine's load hits both alike. The raw call sends the same headers on a pooled ``requests.Session``
and decodes the JSON; the client adds header building, the rate limiters, retries bookkeeping, the
request log and the typed model. Reported: medians in µs, the client's overhead (difference of medians)
and the ratio client/raw. Target: overhead under 1 ms per call.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import requests

from igkit.ig import IGClient, RateLimits
from igkit.sim import IGSimulator

EPIC = "CS.D.EURUSD.MINI.IP"
BIG = 10**9


def _median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def _interleaved(a: Callable[[], Any], b: Callable[[], Any], n: int) -> tuple[list[float], list[float]]:
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
        if first is a:
            ta.append(t1 - t0)
            tb.append(t2 - t1)
        else:
            tb.append(t1 - t0)
            ta.append(t2 - t1)
    return ta, tb


def run(quick: bool = False) -> list[dict[str, Any]]:
    n = 8 if quick else 400
    rows: list[dict[str, Any]] = []
    with IGSimulator(seed=0, always_open=True) as sim:
        client = IGClient(sim.rest_url, sim.api_key, limits=RateLimits(BIG, BIG, BIG))
        client.login(sim.username, sim.password)
        raw = requests.Session()
        url = f"{sim.rest_url}/markets/{EPIC}"
        headers = {
            "X-IG-API-KEY": sim.api_key,
            "Version": "3",
            "Accept": "application/json; charset=UTF-8",
            "Content-Type": "application/json; charset=UTF-8",
            **client.session.auth_headers(),
        }

        def raw_call() -> Any:
            r = raw.get(url, headers=headers, timeout=10)
            r.raise_for_status()
            return r.json()

        def light_call() -> Any:
            return client.transport.request("GET", f"/markets/{EPIC}", version=3).data

        for _ in range(3 if quick else 30):  # warm both connection pools and pydantic
            raw_call()
            client.market(EPIC)
        t_client, t_raw = _interleaved(lambda: client.market(EPIC), raw_call, n)
        t_transport, t_raw2 = _interleaved(light_call, raw_call, n)
        client.close()
        raw.close()

    m_raw, m_client = _median_us(t_raw), _median_us(t_client)
    m_raw2, m_transport = _median_us(t_raw2), _median_us(t_transport)
    over = m_client - m_raw
    over_t = m_transport - m_raw2
    target = "client overhead < 1000 µs per call"
    rows.append({
        "name": "ig client.market(epic) overhead over raw requests",
        "value": round(over, 1), "unit": "µs",
        "baseline": f"raw requests GET /markets/{{epic}} + json ({m_raw:.0f} µs median)",
        "ratio": round(m_client / m_raw, 3), "target": target, "ok": over < 1000.0,
    })  # fmt: skip
    rows.append({
        "name": "ig transport GET overhead over raw requests (no model)",
        "value": round(over_t, 1), "unit": "µs",
        "baseline": f"raw requests GET /markets/{{epic}} + json ({m_raw2:.0f} µs median)",
        "ratio": round(m_transport / m_raw2, 3), "target": target, "ok": over_t < 1000.0,
    })  # fmt: skip
    rows.append({
        "name": "ig client.market(epic) median latency (loopback simulator)",
        "value": round(m_client, 1), "unit": "µs", "baseline": None, "ratio": None,
        "target": "informational", "ok": True,
    })  # fmt: skip
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
