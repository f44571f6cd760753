"""Speed of the synthetic market and the Demo feed.

* one day of ticks of one instrument at 4/s, cold caches (target: well under 1 s), against a plain numpy
  random walk of the same length (no chunks, no bridges, no spreads) measured in the same run;
* one random-access hour, cold (target: cheap, < 20 ms);
* DemoFeed ``speed=None`` over 40 instruments, ticks/s into the hub, against generating the same ticks;
* DemoFeed paced at real time over 40 instruments: delay from a tick's timestamp to a reader seeing it.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from igkit.feeds import DemoFeed
from igkit.market import CATALOG, SyntheticMarket
from igkit.ticks import TickHub

DAY = "2026-11-24"
HOUR_NS = 3600 * 10**9


def _best(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _plain_walk(n: int) -> None:
    rng = np.random.default_rng(0)
    ts = np.sort(rng.integers(0, 86_400 * 10**9, n))
    mid = 1.1 * np.exp(np.cumsum(rng.standard_normal(n) * 1e-5))
    bid = np.round(mid - 3e-5, 5)
    ask = np.round(mid + 3e-5, 5)
    del ts, bid, ask


def run(quick: bool = False) -> list[dict]:
    rows: list[dict] = []
    repeat = 1 if quick else 5

    # 1) a day of one instrument, cold
    day_s = _best(lambda: SyntheticMarket(0).ticks("EURUSD", DAY, "2026-11-25"), repeat)
    n_day = len(SyntheticMarket(0).ticks("EURUSD", DAY, "2026-11-25")[0])
    base_s = _best(lambda: _plain_walk(n_day), repeat)
    rows.append(
        {
            "name": f"market.ticks one day, one instrument, 4/s ({n_day:,} ticks, cold)",
            "value": day_s,
            "unit": "s",
            "baseline": "plain numpy random walk of the same length",
            "ratio": day_s / base_s,
            "target": "well under 1 s",
            "ok": day_s < 0.5,
        }
    )

    # 2) one random-access hour, cold (warm daily anchors: one market, a new hour each time)
    m = SyntheticMarket(0)
    m.ticks("EURUSD", DAY, f"{DAY} 00:00:01")
    hours = iter(range(1, 10_000))
    start = int(np.datetime64(f"{DAY}T00:00", "ns").astype(np.int64))

    def one_hour() -> None:
        h = next(hours)
        m.ticks("EURUSD", start + h * HOUR_NS, start + (h + 1) * HOUR_NS)

    hour_s = _best(one_hour, repeat * 4)
    rows.append(
        {
            "name": "market.ticks one random hour (14,400 ticks, cold chunk)",
            "value": hour_s * 1e3,
            "unit": "ms",
            "baseline": "one day / 24",
            "ratio": hour_s / (day_s / 24),
            "target": "cheap (< 20 ms)",
            "ok": hour_s < 0.02,
        }
    )

    # 3) DemoFeed as fast as possible over 40 instruments
    epics = list(CATALOG)[:40]
    span_s = 600 if quick else 3600
    gen_s = _best(
        lambda: [SyntheticMarket(1).ticks(e, start, start + span_s * 10**9) for e in epics], 1
    )

    def feed_run() -> int:
        hub = TickHub(capacity=4_000_000)
        feed = DemoFeed(hub, epics, market=SyntheticMarket(1), speed=None, start=start, duration=span_s)
        feed.start()
        feed.join(120)
        return feed.pushed

    t0 = time.perf_counter()
    pushed = feed_run()
    feed_s = time.perf_counter() - t0
    rows.append(
        {
            "name": f"DemoFeed speed=None, 40 instruments x {span_s} s ({pushed:,} ticks)",
            "value": pushed / feed_s / 1e6,
            "unit": "M ticks/s",
            "baseline": "market.ticks for the same span alone",
            "ratio": feed_s / gen_s,
            "target": "feed overhead small against generation (ratio < 2)",
            "ok": feed_s / gen_s < 2.0,
        }
    )

    # 4) paced delivery delay at real time
    hub = TickHub()
    feed = DemoFeed(hub, epics, seed=2, tick_rate=4.0, speed=1.0, name="bench")
    readers = [hub.buffer(e).reader("bench") for e in epics]
    delays: list[float] = []
    feed.start()
    t0 = time.monotonic()
    warm_up = t0 + 0.5  # the first push also generates the current hour of every instrument
    deadline = t0 + (1.0 if quick else 5.5)
    while time.monotonic() < deadline:
        if hub.wait_any(0.1):
            now = time.time_ns()
            for r in readers:
                batch = r.read()
                if len(batch) and time.monotonic() > warm_up:
                    delays.extend(((now - batch.ts_ns) / 1e6).tolist())
    feed.stop()
    if delays:
        delays.sort()
        p50 = statistics.median(delays)
        p99 = delays[min(len(delays) - 1, int(0.99 * len(delays)))]
        rows.append(
            {
                "name": f"DemoFeed paced x1, 40 instruments: tick time → reader, p50 (p99 {p99:.1f} ms), steady",
                "value": p50,
                "unit": "ms",
                "baseline": "push interval 20 ms",
                "ratio": p50 / 20.0,
                "target": "little latency (p99 < 50 ms)",
                "ok": p99 < 50.0,
            }
        )
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
