"""``PollingFeed``: the REST fallback — IG market snapshots polled into a :class:`~igkit.ticks.TickHub`.

Every ``interval`` seconds it asks ``GET /markets?epics=`` (in chunks of 50 epics, IG's maximum) and pushes
each epic's bid/offer as a tick when it changed. It never exceeds the client's request budget: requests
are paced to at most ``budget_share`` of the smaller non-trading budget per window (the rest is left to
dealing and history), the client's own limiter still waits before each request, and a 403 ``exceeded-*``
(:class:`~igkit.errors.RateLimitError`) backs off (bounded, doubling) before trying again. Other errors are
retried with the same backoff; the feed shows ``STALLED`` (detail: the error) meanwhile and ``CONNECTED``
again after the next good answer.

Metrics: hub counters (``requests``, ``errors``, ``rate_limited``, ``ticks``) and :meth:`metrics`
(those plus request latency and per-epic staleness). Timestamps are the receipt time (a snapshot's
``updateTime`` is a UK-local clock time to the second: too coarse and ambiguous for tick times).

The feed's thread is the only writer of its epics' buffers: don't stream the same epics at the same time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from igkit.errors import DataError, IgkitError, RateLimitError
from igkit.feeds.base import ThreadFeed
from igkit.ticks import FeedStatus, TickHub

__all__ = ["PollingFeed"]

log = logging.getLogger(__name__)

MAX_EPICS = 50  # per GET /markets?epics=


class PollingFeed(ThreadFeed):
    """Poll ``epics``' snapshots from a logged-in :class:`~igkit.ig.IGClient` into ``hub``.

    Args:
        client: logged in; its ``markets(epics)`` and ``limits`` (request budgets) are used.
        hub, epics: where the ticks go, and for which instruments.
        interval: seconds between polls of every epic (stretched if the budget needs it).
        budget_share: the fraction (0, 1] of the non-trading budget this feed may use.
        backoff: (first, cap) seconds to wait after an error (doubling in between).
        name: the feed's name in the hub.
    """

    def __init__(
        self,
        client: Any,
        hub: TickHub,
        epics: str | Iterable[str],
        *,
        interval: float = 1.0,
        budget_share: float = 0.5,
        backoff: tuple[float, float] = (1.0, 30.0),
        name: str = "ig-poll",
    ) -> None:
        super().__init__(hub, name)
        self.epics = [epics] if isinstance(epics, str) else list(dict.fromkeys(epics))
        if not self.epics:
            raise DataError(f"PollingFeed {name!r}: no epics given")
        if not interval > 0:
            raise DataError(f"PollingFeed {name!r}: interval={interval!r} must be > 0 seconds")
        if not 0 < budget_share <= 1:
            raise DataError(f"PollingFeed {name!r}: budget_share={budget_share!r} must be in (0, 1]")
        self.client = client
        self.interval = float(interval)
        self.budget_share = float(budget_share)
        self.backoff = backoff
        self.chunks = [self.epics[i : i + MAX_EPICS] for i in range(0, len(self.epics), MAX_EPICS)]
        self._last: dict[str, tuple[float, float]] = {}
        self._last_ok: dict[str, float] = {}
        self._last_ts = 0
        self._lat: list[float] = []
        self._m: dict[str, int] = dict.fromkeys(("requests", "errors", "rate_limited", "ticks", "polls"), 0)

    def min_gap(self) -> float:
        """Seconds between two requests that keep this feed within its share of the request budget."""
        limits = getattr(self.client, "limits", None)
        if limits is None:
            return 0.0
        lims = [getattr(limits, n, None) for n in ("app_non_trading", "account_non_trading")]
        pairs = [(lim.limit, lim.period) for lim in lims if lim is not None]
        if not pairs:
            return 0.0
        # 5 % margin: the server counts arrivals, which jitter around the client's even spacing
        return max(period / max(1.0, limit * self.budget_share) for limit, period in pairs) * 1.05

    def metrics(self) -> dict[str, Any]:
        """requests, errors, rate_limited, ticks, polls, latency_ms (last, mean, max over the last 100),
        staleness_s (per epic: seconds since its last good snapshot; None before the first) and the pacing."""
        now = time.monotonic()
        lat = list(self._lat)
        return {
            **self._m,
            "latency_ms": {
                "last": lat[-1] * 1e3 if lat else None,
                "mean": sum(lat) / len(lat) * 1e3 if lat else None,
                "max": max(lat) * 1e3 if lat else None,
            },
            "staleness_s": {e: (now - self._last_ok[e]) if e in self._last_ok else None for e in self.epics},
            "min_gap_s": self.min_gap(),
        }

    def _count(self, name: str, n: int = 1) -> None:
        self._m[name] += n
        self.hub.count(self.name, name, n)

    def _run(self) -> str | None:
        errors = 0
        next_at = time.monotonic()
        cycle_start = next_at
        i = 0
        while not self._stopping.is_set():
            delay = next_at - time.monotonic()
            if delay > 0 and self._stopping.wait(delay):
                break
            chunk = self.chunks[i]
            t0 = time.monotonic()
            try:
                self._count("requests")
                details = self.client.markets(chunk)
            except IgkitError as exc:
                errors += 1
                self._count("errors")
                limited = isinstance(exc, RateLimitError)
                if limited:
                    self._count("rate_limited")
                base, cap = self.backoff
                wait = min(cap, base * 2 ** (errors - 1))
                log.warning("feed %s: %s; backing off %.1f s", self.name, exc, wait)
                self.hub.set_status(self.name, FeedStatus.STALLED, f"{'rate limited' if limited else 'error'}: {exc}")
                next_at = time.monotonic() + wait
                continue
            t1 = time.monotonic()
            self._lat.append(t1 - t0)
            del self._lat[:-100]
            if errors or self.status is not FeedStatus.CONNECTED:
                self.hub.set_status(self.name, FeedStatus.CONNECTED, "polling")
            errors = 0
            self._push(details, t1)
            i = (i + 1) % len(self.chunks)
            gap = self.min_gap()  # counted from the answer: both starts and ends of requests are >= gap apart
            if i == 0:
                self._m["polls"] += 1
                next_at = max(cycle_start + self.interval, t1 + gap)
                cycle_start = next_at
            else:
                next_at = t1 + gap
        return "stopped"

    def _push(self, details: Any, now: float) -> None:
        n = 0
        for d in details:
            snap = d.snapshot
            epic = d.epic
            if snap.bid is None or snap.offer is None:
                continue
            self._last_ok[epic] = now
            q = (float(snap.bid), float(snap.offer))
            if self._last.get(epic) == q:
                continue
            ts = max(time.time_ns(), self._last_ts + 1)
            self._last_ts = ts
            if self.hub.buffer(epic).offer(ts, q[0], q[1]):
                self._last[epic] = q
                n += 1
        if n:
            self._count("ticks", n)
