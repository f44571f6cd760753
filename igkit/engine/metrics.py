"""Small engine metrics: a latency ring with percentiles and a sliding-window rate meter.

Hand-written because each is a dozen lines on a preallocated numpy array; the engine thread records
into them on its hot path (one array store, no allocation) and the state publisher reads them a few
times a second.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

__all__ = ["LatencyRing", "RateMeter"]


class LatencyRing:
    """The last ``capacity`` latencies (ns); ``percentile(q)`` over them. ``add`` is the engine thread's."""

    def __init__(self, capacity: int = 4096) -> None:
        if capacity <= 0:
            raise ValueError(f"LatencyRing: capacity must be > 0, got {capacity!r}")
        self.capacity = capacity
        self._a = np.zeros(capacity, dtype=np.int64)
        self._n = 0  # total ever added

    def add(self, ns: int) -> None:
        self._a[self._n % self.capacity] = ns
        self._n += 1

    @property
    def count(self) -> int:
        """Latencies ever added (the ring keeps the last ``capacity``)."""
        return self._n

    def values(self) -> np.ndarray:
        """A copy of the latencies held (ring order, not time order)."""
        return self._a[: min(self._n, self.capacity)].copy()

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile (0–100) in ns of the latencies held, or None if there are none."""
        v = self.values()
        return float(np.percentile(v, q)) if v.shape[0] else None

    def clear(self) -> None:
        self._n = 0


class RateMeter:
    """Events per second over the last ``window`` seconds (monotonic clock). Thread-safe."""

    def __init__(self, window: float = 5.0) -> None:
        self.window = float(window)
        self._samples: deque[tuple[float, int]] = deque()
        self._total = 0
        self._lock = threading.Lock()

    def add(self, n: int, now: float | None = None) -> None:
        t = time.monotonic() if now is None else now
        with self._lock:
            self._total += n
            self._samples.append((t, self._total))
            cut = t - self.window
            while len(self._samples) > 2 and self._samples[1][0] < cut:
                self._samples.popleft()

    @property
    def total(self) -> int:
        return self._total

    def rate(self, now: float | None = None) -> float:
        """Events per second between the oldest sample in the window and ``now``."""
        t = time.monotonic() if now is None else now
        with self._lock:
            if not self._samples:
                return 0.0
            t0, n0 = self._samples[0]
            if t - t0 > self.window and len(self._samples) == 1:
                return 0.0
            span = t - t0
            return (self._total - n0) / span if span > 0 else 0.0
