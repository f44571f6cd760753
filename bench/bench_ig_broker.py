"""Speed of the IG broker: its per-tick cost and its overhead per deal over the bare IG client.

* ``IGBroker.on_tick`` when no reconciliation is due (the engine calls it on every tick), against
  ``PaperBroker.on_tick`` with an empty book, interleaved in the same run. Target: under 3× the paper
  broker's (both are a lock and a dict store; the IG broker also checks whether a poll is due).
* ``IGBroker.submit`` of a market order (netting BUY/SELL 1.0 alternately) against the bare
  ``IGClient.open_position`` doing the same deals with ``forceOpen=false`` and waiting for the REST
  confirm. Each side talks to its own IGSimulator on 127.0.0.1 (so neither nets against the other's
  positions), interleaved deal by deal. Reported: medians, the broker's overhead (difference of
  medians) and the ratio. Target: overhead under 2 ms per deal.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from igkit.broker import IGBroker, PaperBroker
from igkit.ig import IGClient, RateLimits
from igkit.sim import IGSimulator
from igkit.types import Direction, Order

EPIC = "CS.D.EURUSD.MINI.IP"
BIG = 10**9


def _client(sim: IGSimulator) -> IGClient:
    c = IGClient(sim.rest_url, sim.api_key, limits=RateLimits(BIG, BIG, BIG), settle=0.01)
    c.login(sim.username, sim.password)
    return c


def _tick_rows(quick: bool, ig: IGBroker) -> list[dict[str, Any]]:
    paper = PaperBroker()
    n = 2_000 if quick else 200_000
    pc = time.perf_counter_ns
    t_ig: list[float] = []
    t_paper: list[float] = []
    for rnd in range(5 if quick else 15):
        for first in ((ig, paper) if rnd % 2 == 0 else (paper, ig)):
            on_tick = first.on_tick
            t0 = pc()
            for i in range(n):
                on_tick(EPIC, i, 1.1, 1.1001)
            per = (pc() - t0) / n
            (t_ig if first is ig else t_paper).append(per)
    m_ig, m_paper = statistics.median(t_ig), statistics.median(t_paper)
    return [{
        "name": "IGBroker.on_tick (no poll due) vs PaperBroker.on_tick (empty book)",
        "value": round(m_ig, 1), "unit": "ns/tick",
        "baseline": f"PaperBroker.on_tick, empty book ({m_paper:.0f} ns/tick)",
        "ratio": round(m_ig / m_paper, 3), "target": "< 3x the paper broker's", "ok": m_ig < 3 * m_paper,
    }]  # fmt: skip


def run(quick: bool = False) -> list[dict[str, Any]]:
    n = 6 if quick else 120
    with IGSimulator(seed=0, always_open=True) as sim_a, IGSimulator(seed=0, always_open=True) as sim_b:
        broker = IGBroker(_client(sim_a), poll_interval=None, account_interval=3600.0)
        broker.start()
        bare = _client(sim_b)
        rows = _tick_rows(quick, broker)
        sides = (Direction.BUY, Direction.SELL)
        pc = time.perf_counter
        t_broker: list[float] = []
        t_bare: list[float] = []
        for i in range(n + 4):  # the first 4 warm both up (connections, market details, currency)
            side = sides[i % 2]
            order = Order(EPIC, side, 1.0)
            calls = [
                lambda o=order: broker.submit(o),
                lambda d=side: bare.open_position(epic=EPIC, direction=d, size=1.0, force_open=False),
            ]
            if i % 2:
                calls.reverse()
            times = []
            for call in calls:
                t0 = pc()
                call()
                times.append(pc() - t0)
            if i % 2:
                times.reverse()
            if i >= 4:
                t_broker.append(times[0])
                t_bare.append(times[1])
        assert broker.net_position(EPIC) == 0.0 and sim_a.positions() == [] and sim_b.positions() == []
        bare.close()
        broker.client.close()
    m_broker, m_bare = statistics.median(t_broker) * 1e6, statistics.median(t_bare) * 1e6
    over = m_broker - m_bare
    rows.append({
        "name": "IGBroker.submit market order overhead over IGClient.open_position",
        "value": round(over, 1), "unit": "µs",
        "baseline": f"IGClient.open_position(forceOpen=false) + REST confirm ({m_bare:.0f} µs median)",
        "ratio": round(m_broker / m_bare, 3), "target": "overhead < 2000 µs per deal", "ok": over < 2000.0,
    })  # fmt: skip
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
