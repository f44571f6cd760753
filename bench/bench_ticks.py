"""Speed of igkit.ticks: per-tick and batch appends, and producer → waiting consumer wake-up latency.

Every figure is measured next to its baseline in the same run (runs interleaved, medians):

* per-tick ``TickBuffer.append`` (and ``offer``) from one writer vs ``queue.SimpleQueue.put`` per tick;
* ``TickBuffer.extend`` of 1000-tick batches vs ``np.copyto`` of the same three arrays into a ring;
* wake-up latency of a consumer blocked in ``TickReader.wait`` / ``TickHub.wait_any`` when the producer
  appends one tick, vs a bare ``threading.Event`` handoff (idle producer: it sleeps between ticks);
* per-tick appends while an engine-like thread drains the buffer (wait + read) vs ``SimpleQueue``
  put with a consumer thread doing ``get`` per tick.

Run alone: ``python bench/bench_ticks.py [--quick]``.
"""

from __future__ import annotations

import gc
import queue
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, "") and str(Path(__file__).resolve().parents[1]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from igkit.ticks import TickBuffer, TickHub

T0 = 1_795_000_000_000_000_000  # a 2026 timestamp in ns


def _row(
    name: str, value: float, unit: str, baseline: str | None, base_value: float | None, target: str, ok: bool
) -> dict[str, Any]:
    ratio = None if not base_value else value / base_value
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "baseline_value": base_value,
        "ratio": ratio,
        "target": target,
        "ok": ok,
    }


def _timed(fn: Callable[[], int]) -> float:
    """Ticks per second of one run of ``fn`` (which returns how many ticks it handled)."""
    gc.collect()
    t = time.perf_counter()
    n = fn()
    return n / (time.perf_counter() - t)


def _interleaved(fns: list[Callable[[], int]], repeats: int) -> list[float]:
    """Median rate of each function, the runs interleaved so drift hits all alike."""
    rates: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            rates[i].append(_timed(fn))
    return [statistics.median(r) for r in rates]


# ---------------------------------------------------------------------- per-tick appends
def _per_tick(n: int, repeats: int) -> list[dict[str, Any]]:
    def ours() -> int:
        buf = TickBuffer("BENCH", capacity=1_000_000)
        append = buf.append
        for ts in range(T0, T0 + n):
            append(ts, 1.1, 1.2)
        return n

    def ours_offer() -> int:
        buf = TickBuffer("BENCH", capacity=1_000_000)
        offer = buf.offer
        for ts in range(T0, T0 + n):
            offer(ts, 1.1, 1.2)
        return n

    def simple_queue() -> int:
        q: queue.SimpleQueue[tuple[int, float, float]] = queue.SimpleQueue()
        put = q.put
        for ts in range(T0, T0 + n):
            put((ts, 1.1, 1.2))
        return n

    r_app, r_off, r_q = _interleaved([ours, ours_offer, simple_queue], repeats)
    base = "queue.SimpleQueue.put per tick"
    return [
        _row("append per tick", r_app, "ticks/s", base, r_q, ">= 5M ticks/s", r_app >= 5e6),
        _row("offer per tick (validated)", r_off, "ticks/s", base, r_q, "info", True),
    ]


# ---------------------------------------------------------------------- batch appends
def _batches(n_batches: int, repeats: int, size: int = 1000) -> list[dict[str, Any]]:
    ts = np.arange(T0, T0 + size, dtype=np.int64)
    bid = np.linspace(1.1, 1.2, size)
    ask = bid + 0.0001
    cap = 1_000_000

    def ours() -> int:
        buf = TickBuffer("BENCH", capacity=cap)
        extend = buf.extend
        for _ in range(n_batches):
            extend(ts, bid, ask)
        return n_batches * size

    def copyto() -> int:
        rts, rbid, rask = np.empty(cap, np.int64), np.empty(cap), np.empty(cap)
        pos = 0
        for _ in range(n_batches):
            if pos + size > cap:
                pos = 0
            np.copyto(rts[pos : pos + size], ts)
            np.copyto(rbid[pos : pos + size], bid)
            np.copyto(rask[pos : pos + size], ask)
            pos += size
        return n_batches * size

    r_ours, r_base = _interleaved([ours, copyto], repeats)
    return [
        _row(
            "extend, batches of 1000",
            r_ours,
            "ticks/s",
            "np.copyto of the same batch",
            r_base,
            ">= 20M ticks/s",
            r_ours >= 20e6,
        )
    ]


# ---------------------------------------------------------------------- wake-up latency
def _latencies(samples: int, gap_s: float, how: str) -> list[float]:
    """Producer sleeps ``gap_s``, stamps a tick with perf_counter_ns and hands it over; µs per handoff."""
    out: list[float] = []
    ready = threading.Event()
    stop = [False]

    if how == "event":
        ev = threading.Event()
        stamp = [0]

        def consume() -> None:
            ready.set()
            while True:
                ev.wait()
                ev.clear()
                now = time.perf_counter_ns()
                if stop[0]:
                    return
                out.append((now - stamp[0]) / 1e3)

        def produce() -> None:
            stamp[0] = time.perf_counter_ns()
            ev.set()

    else:
        hub = TickHub(capacity=10_000)
        buf = hub.buffer("BENCH")
        rd = buf.reader("bench")

        def consume() -> None:
            ready.set()
            while True:
                if how == "hub":
                    hub.wait_any(None)
                else:
                    rd.wait(None)
                batch = rd.read()
                now = time.perf_counter_ns()
                if stop[0]:
                    return
                if len(batch):
                    out.append((now - int(batch.ts_ns[-1])) / 1e3)

        def produce() -> None:
            buf.append(time.perf_counter_ns(), 1.1, 1.2)

    th = threading.Thread(target=consume, daemon=True)
    th.start()
    ready.wait()
    for _ in range(samples + 20):
        time.sleep(gap_s)
        produce()
    time.sleep(gap_s)
    stop[0] = True
    produce()
    th.join(5)
    return out[20:]  # drop warm-up


def _wake(samples: int, rounds: int) -> list[dict[str, Any]]:
    gap = 0.0003
    base: list[float] = []
    rdr: list[float] = []
    hub: list[float] = []
    for _ in range(rounds):  # interleaved rounds: a burst of load elsewhere hits every method alike
        base += _latencies(samples // rounds, gap, "event")
        rdr += _latencies(samples // rounds, gap, "reader")
        hub += _latencies(samples // rounds, gap, "hub")
    base_p50, base_p99 = (float(np.percentile(base, q)) for q in (50, 99))
    rows = []
    for label, lat in (("TickReader.wait", rdr), ("TickHub.wait_any", hub)):
        p50, p99 = (float(np.percentile(lat, q)) for q in (50, 99))
        rows.append(
            _row(f"wake latency p50 ({label})", p50, "µs", "threading.Event handoff p50", base_p50, "info", True)
        )
        rows.append(
            _row(
                f"wake latency p99 ({label})",
                p99,
                "µs",
                "threading.Event handoff p99",
                base_p99,
                "p99 <= 200 µs",
                p99 <= 200.0,
            )
        )
    return rows


# ---------------------------------------------------------------------- with a draining consumer
def _with_consumer(n: int, repeats: int) -> list[dict[str, Any]]:
    def ours() -> int:
        buf = TickBuffer("BENCH", capacity=1_000_000)
        rd = buf.reader("engine")
        got = [0]
        done = threading.Event()

        def drain() -> None:
            while not done.is_set() or rd.lag:
                if rd.wait(0.01):
                    got[0] += len(rd.read())

        th = threading.Thread(target=drain, daemon=True)
        th.start()
        append = buf.append
        for ts in range(T0, T0 + n):
            append(ts, 1.1, 1.2)
        done.set()
        th.join(10)
        assert got[0] + rd.lost == n
        return n

    def simple_queue() -> int:
        q: queue.SimpleQueue[tuple[int, float, float] | None] = queue.SimpleQueue()

        def drain() -> None:
            get = q.get
            while get() is not None:
                pass

        th = threading.Thread(target=drain, daemon=True)
        th.start()
        put = q.put
        for ts in range(T0, T0 + n):
            put((ts, 1.1, 1.2))
        put(None)
        th.join(30)
        return n

    r_ours, r_q = _interleaved([ours, simple_queue], repeats)
    return [
        _row(
            "append per tick + draining reader thread",
            r_ours,
            "ticks/s",
            "SimpleQueue put + get per tick on a consumer thread",
            r_q,
            "info",
            True,
        )
    ]


def run(quick: bool = False) -> list[dict[str, Any]]:
    if quick:
        return [
            *_per_tick(50_000, 1),
            *_batches(100, 1),
            *_wake(50, 1),
            *_with_consumer(50_000, 1),
        ]
    return [
        *_per_tick(1_000_000, 5),
        *_batches(5_000, 5),
        *_wake(3_000, 6),
        *_with_consumer(1_000_000, 3),
    ]


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        ratio = "" if r["ratio"] is None else f"  ratio {r['ratio']:.3g} vs {r['baseline']}"
        print(f"{r['name']:<45} {r['value']:>14,.1f} {r['unit']:<8} {'ok' if r['ok'] else 'MISS'}{ratio}")
