"""Gap bookkeeping of :class:`~igkit.feeds.StreamingFeed`: open gaps per epic, pending backfills, and the
backfill itself (IG SECOND bars over REST → :class:`~igkit.feeds.repair.Repair` records).

Used from the feed's supervisor thread only (events from the library's threads reach it through a queue),
so it holds no lock. A gap's span is widened to whole bars of the feed's frequency and fetched only once
the last of those bars is complete on the server (plus ``settle`` seconds), so a repaired bar is final.
Failed fetches are retried with a bounded backoff, then given up (counted, logged): never a tight loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from igkit.errors import IgkitError, RateLimitError
from igkit.feeds.repair import Repair, bars_from_seconds

__all__ = ["GapTracker", "PendingBackfill"]

log = logging.getLogger(__name__)

_SEC = 1_000_000_000

#: fetch(epic, first_second_ns, last_second_ns) → SECOND bars (``igkit.ig.prices`` schema)
Fetch = Callable[[str, int, int], pd.DataFrame]


@dataclass
class PendingBackfill:
    epic: str
    lo: int  # first bar open (ns), whole bars of freq
    hi: int  # end (exclusive)
    reason: str
    due: float  # time.time() when it may be fetched
    attempts: int = 0


class GapTracker:
    """Open gaps, pending backfills and their REST fetch."""

    def __init__(
        self,
        freq_ns: int,
        fetch: Fetch,
        *,
        settle: float = 1.0,
        max_span_s: float = 3600.0,
        max_attempts: int = 5,
        backoff: tuple[float, float] = (1.0, 30.0),
        clock: Callable[[], float] = time.time,
        emit: Callable[[Repair], None] | None = None,
    ) -> None:
        self.freq_ns = freq_ns
        self.fetch = fetch
        self.settle = settle
        self.max_span_ns = int(max_span_s * _SEC)
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.clock = clock
        self.emit = emit
        self.open_gaps: dict[str, tuple[int, str]] = {}
        self.pending: list[PendingBackfill] = []
        self.stats: dict[str, int] = dict.fromkeys(("gaps", "backfills", "bars", "errors", "given_up"), 0)

    # -- gaps ------------------------------------------------------------------------------------------------
    def open(self, epic: str, start_ns: int, reason: str) -> None:
        """Data of ``epic`` may be missing from ``start_ns`` on (until :meth:`close`)."""
        if epic not in self.open_gaps:
            self.open_gaps[epic] = (start_ns, reason)

    def close(self, epic: str, end_ns: int) -> None:
        """The gap of ``epic`` (if open) ended at ``end_ns``: schedule its backfill."""
        got = self.open_gaps.pop(epic, None)
        if got is not None:
            self.add(epic, got[0], end_ns, got[1])

    def add(self, epic: str, start_ns: int, end_ns: int, reason: str) -> None:
        """Schedule a backfill of ``epic`` over ``[start_ns, end_ns]`` (widened to whole bars)."""
        f = self.freq_ns
        end_ns = max(end_ns, start_ns)
        if end_ns - start_ns > self.max_span_ns:
            log.warning(
                "gap of %s over %.0f s: backfilling only the last %.0f s",
                epic,
                (end_ns - start_ns) / _SEC,
                self.max_span_ns / _SEC,
            )
            start_ns = end_ns - self.max_span_ns
        lo, hi = start_ns - start_ns % f, end_ns - end_ns % f + f
        self.stats["gaps"] += 1
        for p in self.pending:
            if p.epic == epic and p.lo <= hi and lo <= p.hi and p.attempts == 0:
                p.lo, p.hi = min(p.lo, lo), max(p.hi, hi)
                p.due = max(p.due, self._due(p.hi))
                if reason not in p.reason.split("+"):
                    p.reason = f"{p.reason}+{reason}"
                return
        self.pending.append(PendingBackfill(epic, lo, hi, reason, self._due(hi)))

    def _due(self, hi: int) -> float:
        return hi / _SEC + self.settle

    # -- backfill --------------------------------------------------------------------------------------------
    def next_due(self) -> float | None:
        return min((p.due for p in self.pending), default=None)

    def run_due(self) -> list[Repair]:
        """Fetch every backfill that is due; returns the repairs made (failed ones are retried later)."""
        now = self.clock()
        out: list[Repair] = []
        for p in [p for p in self.pending if p.due <= now]:
            try:
                seconds = self.fetch(p.epic, p.lo, p.hi - _SEC)
            except (IgkitError, OSError) as exc:
                p.attempts += 1
                self.stats["errors"] += 1
                if p.attempts >= self.max_attempts:
                    self.pending.remove(p)
                    self.stats["given_up"] += 1
                    log.error(
                        "backfill of %s %s..%s given up after %d attempts: %s",
                        p.epic,
                        pd.Timestamp(p.lo, tz="UTC"),
                        pd.Timestamp(p.hi, tz="UTC"),
                        p.attempts,
                        exc,
                    )
                else:
                    base, cap = self.backoff
                    wait = min(cap, base * 2 ** (p.attempts - 1))
                    if isinstance(exc, RateLimitError):
                        wait = cap
                    p.due = now + wait
                    log.warning("backfill of %s failed (%s); retry in %.1f s", p.epic, exc, wait)
                continue
            frame = bars_from_seconds(seconds, pd.Timedelta(self.freq_ns, unit="ns"))
            if len(frame):
                t = pd.DatetimeIndex(frame.index).as_unit("ns").asi8
                frame = frame[(t >= p.lo) & (t < p.hi)]
            self.stats["backfills"] += 1
            self.stats["bars"] += len(frame)
            rep = Repair(p.epic, frame, p.lo, p.hi, p.reason)
            if self.emit is not None:
                self.emit(rep)  # before the backfill leaves ``pending``: no moment where it is in neither
            self.pending.remove(p)
            out.append(rep)
        return out
