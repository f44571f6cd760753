"""Pieces several benchmarks share (imported as ``_common``: ``bench/run.py`` runs with bench/ on the path)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(pred: Callable[[], bool], timeout: float) -> bool:
    """True as soon as ``pred()`` holds, False after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.002)
    return False


def bare_listener_rate(endpoint: str, user: str | None, password: str, items: list[str],
                       total: int, push: Callable[[], Any], timeout: float) -> float:
    """Updates/s the official Lightstreamer client delivers to a listener that only counts: the baseline
    the igkit pipelines are measured against. ``push()`` makes the server send ``total`` updates over
    the DISTINCT tick ``items``."""
    from lightstreamer.client import LightstreamerClient, Subscription, SubscriptionListener

    count = [0]

    class Count(SubscriptionListener):
        def onItemUpdate(self, update: Any) -> None:
            count[0] += 1

    client = LightstreamerClient(endpoint, None)
    client.connectionDetails.setUser(user)
    client.connectionDetails.setPassword(password)
    subs = []
    for item in items:
        sub = Subscription("DISTINCT", [item], ["BID", "OFR", "UTM"])
        sub.addListener(Count())
        client.subscribe(sub)
        subs.append(sub)
    client.connect()
    wait_until(lambda: all(s.isSubscribed() for s in subs), 10)
    t0 = time.perf_counter()
    push()
    wait_until(lambda: count[0] >= total, timeout)
    dt = time.perf_counter() - t0
    client.disconnect()
    return count[0] / dt
