"""StreamingFeed speed: the igkit pipeline (IGClient credentials → StreamingFeed → TickHub) against the same
Lightstreamer client library with a do-nothing listener, same run, both on IGSimulator's TLCP server on
127.0.0.1 (its market streamer paused so only the burst flows). Rounds alternate which goes first
(ABBA): the second run of a pair is consistently slower on this machine.

Row ``streaming_feed_delivery``: updates/s from ``sim.stream_burst`` to ticks in the hub's buffers, vs the
bare ``LightstreamerClient`` + ``SubscriptionListener`` that only counts (the library is the ceiling,
~3,000 updates/s on 2 cores). Runs interleaved, best of each kept. Target: ≥ 0.9× the bare listener.

Noise: on this shared 2-core machine two runs of the *same* bare listener differ by up to 25 %, so the
best of six runs each is compared. igkit's own per-update work (listener + parse + ``offer``) measures
~4 µs against the library's ~170 µs per update, i.e. the true ratio is ~0.97.
"""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any

from _common import bare_listener_rate, wait_until

from igkit.feeds import StreamingFeed
from igkit.ig import IGClient, RateLimits
from igkit.ig.stream import tick_item
from igkit.sim import IGSimulator
from igkit.sim.lightstreamer.ig_hook import LS_STREAMER_KEY
from igkit.ticks import TickHub

_utm = itertools.count(1_700_000_000_000)


def _values(i: int) -> dict[str, str | None]:
    bid = 1.1 + (i % 101) * 1e-5
    return {"BID": f"{bid:.5f}", "OFR": f"{bid + 1e-4:.5f}", "UTM": str(next(_utm))}


def _burst(sim: IGSimulator, epics: list[str], per_item: int) -> None:
    for e in epics:
        sim.stream_burst(tick_item(e), per_item, _values)


def _raw_rate(sim: IGSimulator, client: IGClient, epics: list[str], per_item: int) -> float:
    creds = client.streaming_credentials()
    items = [tick_item(e) for e in epics]
    return bare_listener_rate(creds.endpoint, creds.account_id, creds.password, items, per_item * len(epics),
                              lambda: _burst(sim, epics, per_item), 120)


def _feed_rate(sim: IGSimulator, client: IGClient, epics: list[str], per_item: int) -> float:
    hub = TickHub(capacity=max(per_item * 2, 1024))
    feed = StreamingFeed(client, hub, epics, repair=False, stale_after=None)
    feed.start()
    feed.wait_connected(15)
    total = per_item * len(epics)
    t0 = time.perf_counter()
    _burst(sim, epics, per_item)
    wait_until(lambda: sum(hub.buffer(e).total for e in epics) >= total, 120)
    dt = time.perf_counter() - t0
    got = sum(hub.buffer(e).total for e in epics)
    feed.stop()
    return got / dt


def run(quick: bool = False) -> list[dict[str, Any]]:
    per_item = 50 if quick else 800
    rounds = 1 if quick else 6
    logging.getLogger("igkit").setLevel(logging.WARNING)
    with IGSimulator(always_open=True, seed=0) as sim:
        assert sim.app is not None
        sim.app[LS_STREAMER_KEY].stop()  # only the burst flows
        client = IGClient(sim.rest_url, sim.api_key, limits=RateLimits(10**6, 10**6, 10**6))
        client.login(sim.username, sim.password)
        epics = list(sim.prices.market.instruments)[:10]
        raw: list[float] = []
        ours: list[float] = []
        for r in range(rounds):  # ABBA: whichever runs second in a pair is measurably slower here
            order = [("raw", _raw_rate), ("ours", _feed_rate)]
            for name, fn in order if r % 2 == 0 else order[::-1]:
                (raw if name == "raw" else ours).append(fn(sim, client, epics, per_item))
                sim.stream.close_sessions()
        client.close()
    best_raw, best_ours = max(raw), max(ours)
    ratio = best_ours / best_raw
    return [
        {"name": "streaming_feed_delivery", "value": round(best_ours),
         "unit": f"updates/s ({per_item * len(epics)} updates, {len(epics)} items)",
         "baseline": f"same client, do-nothing listener {best_raw:,.0f}/s", "ratio": round(ratio, 3),
         "target": ">= 0.9x the bare listener", "ok": ratio >= 0.9},
    ]  # fmt: skip


if __name__ == "__main__":
    for row in run():
        print(row)
