"""``ReplayFeed``: plays a recorded Parquet tick dataset back into a hub, in time order, at any speed.

The ticks of every selected instrument are loaded (only the date partitions in ``[start, end)``) and
merged into one timeline. The merge key is each instrument's running maximum timestamp, sorted stably:
instruments interleave in time order while each instrument's ticks keep exactly their recorded order,
even where the recording itself was out of order — so record → replay is lossless. Playback is paced
against a monotonic clock at ``speed`` × real time (``None``: as fast as possible) and pushed with
``offer_many`` in small batches, one call per instrument per batch. The feed ends by itself at the end
of the data with status DISCONNECTED "finished".
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from igkit.errors import DataError
from igkit.feeds.base import ThreadFeed
from igkit.store import list_dates, list_instruments, read_arrays
from igkit.store._parquet import bound_ns

if TYPE_CHECKING:
    from igkit.ticks import TickHub

__all__ = ["ReplayFeed"]

log = logging.getLogger(__name__)


class ReplayFeed(ThreadFeed):
    """Replay ticks recorded under ``root`` into ``hub``.

    Args:
        hub: where the ticks go (``hub.buffer(epic).offer_many``).
        root: a dataset written by :func:`igkit.store.write_ticks` or :class:`igkit.store.Recorder`.
        instruments: epics to replay (default: every recorded one).
        start, end: tz-aware times (or int ns) bounding the replay, ``start`` inclusive, ``end`` exclusive.
        speed: multiple of real time (2.0 plays an hour in 30 minutes); None plays as fast as possible.
        name: the feed's name in the hub.
        batch: most ticks pushed per step.

    ``progress`` is the fraction of the selected ticks pushed so far (1.0 at the end; 1.0 for no data).
    """

    def __init__(
        self,
        hub: TickHub,
        root: str | os.PathLike[str],
        *,
        instruments: Iterable[str] | None = None,
        start: Any = None,
        end: Any = None,
        speed: float | None = 1.0,
        name: str = "replay",
        batch: int = 1_000,
    ) -> None:
        super().__init__(hub, name)
        if speed is not None and not (isinstance(speed, int | float) and speed > 0 and np.isfinite(speed)):
            raise DataError(f"speed={speed!r} must be a positive number of times real time, or None")
        if not (isinstance(batch, int) and batch > 0):
            raise DataError(f"batch={batch!r} must be a positive int")
        self.root = root
        self.instruments = None if instruments is None else list(instruments)
        for epic in list_instruments(root) if self.instruments is None else self.instruments:
            list_dates(root, epic)  # a missing root or epic fails here, naming the path, not in the thread
        bound_ns(start, "start"), bound_ns(end, "end")  # so do naive or unreadable bounds
        self.start_time = start
        self.end_time = end
        self.speed = None if speed is None else float(speed)
        self.batch = batch
        self.progress = 0.0
        self.pushed = 0
        self.total = 0
        self.finished = False

    def _load(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Merged timeline: epics, then per tick the instrument id, merge key, ts, bid, ask."""
        epics = list_instruments(self.root) if self.instruments is None else self.instruments
        parts = [read_arrays(self.root, e, self.start_time, self.end_time) for e in epics]
        if not parts or sum(len(p[0]) for p in parts) == 0:
            e64, ef = np.empty(0, np.int64), np.empty(0, np.float64)
            return epics, e64, e64, e64, ef, ef
        ids = np.concatenate([np.full(len(p[0]), i, dtype=np.int64) for i, p in enumerate(parts)])
        keys = np.concatenate([np.maximum.accumulate(p[0]) if len(p[0]) else p[0] for p in parts])
        ts = np.concatenate([p[0] for p in parts])
        bid = np.concatenate([p[1] for p in parts])
        ask = np.concatenate([p[2] for p in parts])
        order = np.argsort(keys, kind="stable")
        return epics, ids[order], keys[order], ts[order], bid[order], ask[order]

    def _run(self) -> None:
        from igkit.ticks import FeedStatus

        self.finished, self.progress, self.pushed = False, 0.0, 0
        epics, ids, keys, ts, bid, ask = self._load()
        n = self.total = len(ts)
        buffers = [self.hub.buffer(e) for e in epics]
        self.hub.set_status(self.name, FeedStatus.CONNECTED, f"replaying {n} ticks of {len(epics)} instruments")
        log.info("%s: replaying %d ticks of %s at speed %s", self.name, n, epics, self.speed)
        pos = 0
        wall0 = time.monotonic()
        key0 = int(keys[0]) if n else 0
        while pos < n and not self._stopping.is_set():
            if self.speed is None:
                stop = min(pos + self.batch, n)
            else:
                clock = key0 + int((time.monotonic() - wall0) * self.speed * 1e9)
                stop = min(int(np.searchsorted(keys, clock, side="right")), pos + self.batch)
                if stop <= pos:
                    due = wall0 + (int(keys[pos]) - key0) / 1e9 / self.speed
                    self._stopping.wait(min(max(due - time.monotonic(), 0.0), 0.1))
                    continue
            self._push(buffers, ids[pos:stop], ts[pos:stop], bid[pos:stop], ask[pos:stop])
            pos = stop
            self.pushed = pos
            self.progress = pos / n
        if pos >= n:
            self.progress = 1.0
            self.finished = True

    def _push(self, buffers: list[Any], ids: np.ndarray, ts: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> None:
        first, last = int(ids[0]), int(ids[-1])
        if first == last and bool((ids == first).all()):
            groups: list[tuple[int, np.ndarray | None]] = [(first, None)]
        else:
            groups = [(int(k), ids == k) for k in np.unique(ids)]
        for k, mask in groups:
            if mask is None:
                accepted = buffers[k].offer_many(ts, bid, ask)
                sent = len(ts)
            else:
                accepted = buffers[k].offer_many(ts[mask], bid[mask], ask[mask])
                sent = int(np.count_nonzero(mask))
            self.hub.count(self.name, "ticks", sent)
            if accepted is not None and accepted != sent:
                self.hub.count(self.name, "rejected", sent - int(accepted))

    def _main(self) -> None:
        super()._main()
        if self.finished and self.error is None:
            from igkit.ticks import FeedStatus

            self.hub.set_status(self.name, FeedStatus.DISCONNECTED, "finished")
