"""``DemoFeed``: streams the seeded synthetic market into a hub, paced to real time × ``speed``, offline.

The feed keeps a market clock. Every ``interval`` seconds of wall time (20 ms by default) it takes the
market's ticks of each instrument in ``[last push, now on the market clock)`` and pushes them with one
``offer_many`` per instrument, so all instruments advance together in time order and a tick reaches its
buffer at most about one interval after its timestamp. The windows are contiguous and half-open, so the
feed delivers exactly ``market.ticks(epic, start, end)``. ``speed=None`` runs as fast as possible (in
steps of five minutes of market time); ``duration`` ends the feed after that much *market* time, with
status DISCONNECTED "finished". Stopping and starting again resumes where the market clock stopped.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from igkit.errors import DataError
from igkit.feeds.base import ThreadFeed
from igkit.market import SyntheticMarket, to_ns

if TYPE_CHECKING:
    from igkit.ticks import TickBuffer, TickHub

__all__ = ["DemoFeed"]

log = logging.getLogger(__name__)

_FAST_STEP_NS = 300 * 1_000_000_000  # market time per push when speed is None
_HOUR_NS = 3600 * 1_000_000_000
_WARM_PER_STEP = 4  # instruments whose next hour is generated ahead, per paced step


class DemoFeed(ThreadFeed):
    """Push a :class:`~igkit.market.SyntheticMarket`'s ticks for ``epics`` into ``hub``.

    Args:
        hub: where the ticks go (``hub.buffer(epic).offer_many``); its counters for the feed: ``ticks`` the
            buffers accepted, ``rejected`` the ones they refused (see :meth:`igkit.ticks.TickHub.count`).
        epics: epics or symbols (one string or several).
        market: the market to stream (default: ``SyntheticMarket(seed, tick_rate=tick_rate)``).
        seed, tick_rate: used only to build the default market.
        speed: multiple of real time; None pushes as fast as possible.
        start: market time to begin at (int ns or a tz-aware time); None is the wall-clock time at the
            first ``start()``.
        duration: seconds of market time after which the feed ends by itself; None runs until stopped.
        name: the feed's name in the hub.
        interval: wall seconds between pushes when paced.
    """

    def __init__(
        self,
        hub: TickHub,
        epics: str | Iterable[str],
        *,
        market: SyntheticMarket | None = None,
        seed: int = 0,
        tick_rate: float = 4.0,
        speed: float | None = 1.0,
        start: object = None,
        duration: float | None = None,
        name: str = "demo",
        interval: float = 0.02,
    ) -> None:
        super().__init__(hub, name)
        names = [epics] if isinstance(epics, str) else list(epics)
        if not names:
            raise DataError(f"DemoFeed {name!r}: epics is empty; give at least one epic or symbol")
        if speed is not None and not (
            isinstance(speed, int | float) and not isinstance(speed, bool) and math.isfinite(speed) and speed > 0
        ):
            raise DataError(f"DemoFeed {name!r}: speed={speed!r} must be a positive number or None")
        if duration is not None and not (
            isinstance(duration, int | float) and math.isfinite(duration) and duration >= 0
        ):
            raise DataError(f"DemoFeed {name!r}: duration={duration!r} must be seconds >= 0 or None")
        if not (isinstance(interval, int | float) and 0 < interval <= 1.0):
            raise DataError(f"DemoFeed {name!r}: interval={interval!r} must be in (0, 1] seconds")
        self.market = market if market is not None else SyntheticMarket(
            seed, tick_rate=tick_rate, instruments=names
        )
        self.epics: tuple[str, ...] = tuple(dict.fromkeys(self.market.epic(n) for n in names))
        self.speed = None if speed is None else float(speed)
        self.duration = None if duration is None else float(duration)
        self.interval = float(interval)
        self.start_ns: int | None = None if start is None else to_ns(start, "start")
        self.end_ns: int | None = None
        self._cursor: int | None = None
        self.pushed = 0
        self.finished = False
        if self.start_ns is not None:
            self._set_start(self.start_ns)

    def _set_start(self, start_ns: int) -> None:
        self.start_ns = self._cursor = start_ns
        if self.duration is not None:
            self.end_ns = start_ns + round(self.duration * 1e9)

    @property
    def market_time(self) -> int | None:
        """The market clock (ns): every tick before it has been pushed. None before the first start."""
        return self._cursor

    def _run(self) -> str | None:
        from igkit.ticks import FeedStatus

        wall0 = time.monotonic()  # the market clock runs from here, whatever the warm-up below costs
        if self._cursor is None:
            self._set_start(time.time_ns())
        assert self._cursor is not None
        cursor, end, speed = self._cursor, self.end_ns, self.speed
        buffers = [self.hub.buffer(e) for e in self.epics]
        self.hub.set_status(
            self.name,
            FeedStatus.CONNECTED,
            f"synthetic market seed={self.market.seed}, {len(self.epics)} instruments, "
            f"speed {'max' if speed is None else f'x{speed:g}'}",
        )
        log.info("%s: streaming %s from %d at speed %s", self.name, self.epics, cursor, speed)
        for epic in self.epics:  # generate the current hour now, not inside the first paced push
            self.market.ticks(epic, cursor, cursor + 1)
        warm_hour, warm_i = -1, 0
        lead = 0 if speed is None else min(_HOUR_NS // 2, int(max(60.0, 2.0 * speed) * 1e9))
        market0 = cursor
        while not self._stopping.is_set():
            if end is not None and cursor >= end:
                self.finished = True
                break
            if speed is None:
                target = cursor + _FAST_STEP_NS
            else:
                target = market0 + int((time.monotonic() - wall0) * speed * 1e9)
            if end is not None:
                target = min(target, end)
            if target > cursor:
                self._push(buffers, cursor, target)
                cursor = self._cursor = target
            if speed is not None and (end is None or cursor < end):
                # generate the next hour's chunks a few instruments at a time before the clock gets
                # there, so crossing an hour never stalls one push for every instrument at once
                nxt = (cursor // _HOUR_NS + 1) * _HOUR_NS
                if nxt - cursor <= lead and (end is None or nxt < end):
                    if warm_hour != nxt:
                        warm_hour, warm_i = nxt, 0
                    for epic in self.epics[warm_i : warm_i + _WARM_PER_STEP]:
                        self.market.ticks(epic, nxt, nxt + 1)
                    warm_i += _WARM_PER_STEP
                self._stopping.wait(self.interval)
        return "finished" if self.finished else None

    def _push(self, buffers: list[TickBuffer], start: int, end: int) -> None:
        sent = accepted = 0
        for epic, buf in zip(self.epics, buffers, strict=True):
            ts, bid, ask = self.market.ticks(epic, start, end)
            if len(ts):
                sent += len(ts)
                accepted += buf.offer_many(ts, bid, ask)
        if sent:
            self.pushed += accepted
            self.hub.count(self.name, "ticks", accepted)
            if accepted != sent:
                self.hub.count(self.name, "rejected", sent - accepted)


    def __repr__(self) -> str:
        return (
            f"<DemoFeed {self.name!r} epics={len(self.epics)} speed={self.speed} running={self.running}>"
        )
