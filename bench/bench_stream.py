"""Streaming speed: the real Lightstreamer client against the TLCP simulator on 127.0.0.1.

Rows (baselines measured in the same run, runs interleaved, best of each kept):

* ``ls_ticks_delivery`` — updates/s from ``LSServer.burst`` to ticks in a ``TickBuffer`` through
  ``StreamingClient.subscribe_ticks`` (parse, carry forward, offer), vs the same updates to a bare
  ``SubscriptionListener`` that only counts. Target: ≥ 0.7× the bare listener (the library is the
  ceiling, ~3,000 updates/s on 2 cores; igkit's own per-update work must not halve it).
* ``ls_server_generate`` — updates/s the server encodes and queues (``burst`` on the loop), vs the
  client's delivery rate. Target: ≥ 5× (the simulator is never the bottleneck).
* ``ls_drop_recovery`` — seconds from an aborted socket to data flowing again after full recovery,
  with the client's timers shortened as the tests do (keepalive 1 s, stalled 0.5 s, reconnect 0.5 s).
  Target: ≤ 5 s.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

from _common import bare_listener_rate, wait_until
from aiohttp import web

from igkit.ig.stream import StreamingClient, tick_item
from igkit.sim.lightstreamer import LSServer, install_lightstreamer
from igkit.sim.lightstreamer.ig_items import IGStreamBackend
from igkit.sim.lightstreamer.runner import AppThread
from igkit.ticks import TickHub

PW = "CST-bench|XST-bench"
ACC = "BENCH"
_utm = itertools.count(1_700_000_000_000)


def _values(item: str, i: int) -> dict[str, str | None]:
    bid = 1.1 + (i % 101) * 1e-5
    return {"BID": f"{bid:.5f}", "OFR": f"{bid + 1e-4:.5f}", "UTM": str(next(_utm))}


def _burst(server: LSServer, items: list[str], per_item: int) -> float:
    t0 = time.perf_counter()
    for item in items:
        server.burst(item, per_item)
    return time.perf_counter() - t0


def _raw_rate(url: str, server: LSServer, epics: list[str], per_item: int) -> float:
    items = [tick_item(e) for e in epics]
    return bare_listener_rate(url, ACC, PW, items, per_item * len(epics), lambda: _burst(server, items, per_item), 60)


def _igkit_rate(url: str, server: LSServer, epics: list[str], per_item: int) -> tuple[float, float]:
    client = StreamingClient(url, ACC, PW)
    client.connect()
    hub = TickHub(capacity=max(per_item * 2, 1024))
    sub = client.subscribe_ticks(epics, hub)
    sub.wait_subscribed(10)
    total = per_item * len(epics)
    t0 = time.perf_counter()
    gen = _burst(server, [tick_item(e) for e in epics], per_item)
    wait_until(lambda: sum(hub.buffer(e).total for e in epics) >= total, 60)
    dt = time.perf_counter() - t0
    got = sum(hub.buffer(e).total for e in epics)
    client.close()
    return got / dt, total / gen


def _recovery(url: str, server: LSServer, epic: str) -> float:
    client = StreamingClient(url, ACC, PW, stalled_timeout_ms=500, reconnect_timeout_ms=500, keepalive_ms=1000)
    client.connect()
    hub = TickHub(capacity=1024)
    client.subscribe_ticks([epic], hub).wait_subscribed(10)
    server.drop("abort", session_id=client.session_id)
    t0 = time.perf_counter()
    stop = threading.Event()

    def feed() -> None:  # one update every 20 ms: the first one after recovery ends the clock
        i = 0
        while not stop.is_set():
            server.publish(tick_item(epic), _values(tick_item(epic), i))
            i += 1
            time.sleep(0.02)

    threading.Thread(target=feed, daemon=True).start()
    before = hub.buffer(epic).total
    wait_until(lambda: client.stats["reconnects"] >= 1 and hub.buffer(epic).total > before + 1, 15)
    dt = time.perf_counter() - t0
    stop.set()
    client.close()
    return dt


def run(quick: bool = False) -> list[dict[str, Any]]:
    epics = [f"CS.D.BENCH{i:02d}.MINI.IP" for i in range(10)]
    per_item = 100 if quick else 1500
    rounds = 1 if quick else 2
    backend = IGStreamBackend(set(epics), {ACC}, lambda u, p: p == PW, make_update=_values)
    app = web.Application()
    server = install_lightstreamer(app, backend, keepalive_ms=1000, history=200_000)
    with AppThread(app) as t:
        raw, ours, gen = [], [], []
        for _ in range(rounds):
            raw.append(_raw_rate(t.url, server, epics, per_item))
            r, g = _igkit_rate(t.url, server, epics, per_item)
            ours.append(r)
            gen.append(g)
            server.close_sessions()
        rec = _recovery(t.url, server, epics[0])
    best_raw, best_ours, best_gen = max(raw), max(ours), max(gen)
    n = per_item * len(epics)
    return [
        {"name": "ls_ticks_delivery", "value": round(best_ours), "unit": f"updates/s ({n} updates, 10 items)",
         "baseline": f"bare SubscriptionListener {best_raw:,.0f}/s", "ratio": round(best_ours / best_raw, 3),
         "target": ">= 0.7x the bare listener", "ok": best_ours >= 0.7 * best_raw},
        {"name": "ls_server_generate", "value": round(best_gen), "unit": "updates/s encoded and queued",
         "baseline": f"client delivery {best_ours:,.0f}/s", "ratio": round(best_gen / best_ours, 2),
         "target": ">= 5x the client's delivery", "ok": best_gen >= 5 * best_ours},
        {"name": "ls_drop_recovery", "value": round(rec, 2), "unit": "s abort → data again (full recovery)",
         "baseline": None, "ratio": None, "target": "<= 5 s with shortened timers", "ok": rec <= 5.0},
    ]  # fmt: skip
