"""``ReplayFeed``: plays a recorded Parquet tick dataset back into a hub, in time order, at any speed.

Every selected instrument is read as a stream of its files in write order (only the date directories
``[start, end)`` touches; a few files at a time, so memory stays bounded however long the recording).
The streams are merged on each instrument's running maximum timestamp: instruments interleave in time
order while each instrument's ticks keep exactly their recorded order, even where the recording itself
was out of order — so record → replay is lossless. Playback is paced against a monotonic clock at
``speed`` × real time (``None``: as fast as possible) and pushed with ``offer_many`` in small batches,
one call per instrument per batch. The feed ends by itself at the end of the data with status
DISCONNECTED "finished".

Hand-written: the merge that keeps each instrument's recorded order and the pacing are ours; pyarrow
reads the files.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from igkit.errors import DataError
from igkit.feeds.base import ThreadFeed
from igkit.store._parquet import bound_ns, file_rows, list_files, list_instruments, read_files

if TYPE_CHECKING:
    from igkit.ticks import TickHub

__all__ = ["ReplayFeed"]

log = logging.getLogger(__name__)

_CHUNK_ROWS = 100_000  # rows read ahead per instrument before merging


class _Stream:
    """One instrument's recorded ticks, read a few files at a time, with their merge keys."""

    def __init__(self, files: list[Path], lo: int | None, hi: int | None) -> None:
        self.files = files
        self.lo, self.hi = lo, hi
        self.rows_left = [file_rows(f) for f in files]  # footer counts: the progress estimate
        self.next_file = 0
        self.carry = np.iinfo(np.int64).min  # running max carried across chunks
        e64, ef = np.empty(0, np.int64), np.empty(0, np.float64)
        self.key, self.ts, self.bid, self.ask = e64, e64, ef, ef

    @property
    def exhausted(self) -> bool:
        return self.next_file >= len(self.files)

    @property
    def estimate(self) -> int:
        """Ticks still to come from this stream (exact once their files are read)."""
        return len(self.ts) + sum(self.rows_left[self.next_file :])

    def fill(self) -> None:
        """Read files until ``_CHUNK_ROWS`` ticks are buffered or none are left."""
        take: list[Path] = []
        rows = len(self.ts)
        while not self.exhausted and rows < _CHUNK_ROWS:
            take.append(self.files[self.next_file])
            rows += self.rows_left[self.next_file]
            self.next_file += 1
        if not take:
            return
        ts, bid, ask = read_files(take, self.lo, self.hi)
        if len(ts):
            key = np.maximum.accumulate(np.maximum(ts, self.carry))
            self.carry = int(key[-1])
            self.key = np.concatenate([self.key, key])
            self.ts = np.concatenate([self.ts, ts])
            self.bid = np.concatenate([self.bid, bid])
            self.ask = np.concatenate([self.ask, ask])

    def take(self, upto: int) -> tuple[np.ndarray, ...]:
        """Remove and return the buffered ticks whose key is ``<= upto``."""
        k = int(np.searchsorted(self.key, upto, side="right"))
        out = (self.key[:k], self.ts[:k], self.bid[:k], self.ask[:k])
        self.key, self.ts, self.bid, self.ask = self.key[k:], self.ts[k:], self.bid[k:], self.ask[k:]
        return out


def _merged(streams: list[_Stream]) -> Iterator[tuple[np.ndarray, ...]]:
    """Chunks ``(ids, keys, ts, bid, ask)`` of all streams merged stably on the key."""
    while True:
        for s in streams:
            if len(s.ts) == 0:
                while len(s.ts) == 0 and not s.exhausted:
                    s.fill()
            elif len(s.ts) < _CHUNK_ROWS:
                s.fill()
        live = [s for s in streams if len(s.ts)]
        if not live:
            return
        # a stream with files left will only bring keys >= its last buffered key
        bounds = [int(s.key[-1]) for s in live if not s.exhausted]
        upto = min(bounds) if bounds else int(np.iinfo(np.int64).max)
        parts = [(i, s.take(upto)) for i, s in enumerate(streams) if len(s.ts)]
        ids = np.concatenate([np.full(len(p[0]), i, dtype=np.int64) for i, p in parts])
        keys = np.concatenate([p[0] for _, p in parts])
        order = np.argsort(keys, kind="stable")
        yield (
            ids[order],
            keys[order],
            np.concatenate([p[1] for _, p in parts])[order],
            np.concatenate([p[2] for _, p in parts])[order],
            np.concatenate([p[3] for _, p in parts])[order],
        )


class ReplayFeed(ThreadFeed):
    """Replay ticks recorded under ``root`` into ``hub``.

    Args:
        hub: where the ticks go (``hub.buffer(epic).offer_many``).
        root: a dataset written by :func:`igkit.store.write_ticks` or :class:`igkit.store.Recorder`.
        instruments: epics to replay (default: every recorded one).
        start, end: tz-aware times (or int ns) bounding the replay, ``start`` inclusive, ``end`` exclusive.
        speed: multiple of real time (2.0 plays an hour in 30 minutes); None plays as fast as possible.
        name: the feed's name in the hub (its counters: ``ticks`` the buffers accepted, ``rejected`` the
            ones they refused at entry — see :meth:`igkit.ticks.TickHub.count`).
        batch: most ticks pushed per step.

    ``pushed`` counts the recorded ticks offered so far, accepted or not, and ``progress`` is their
    fraction of the selected ticks: 1.0 once finished (also for no data); until the files at a time
    bound are read, their footer row counts stand in for the ticks in range. A missing root or epic, or
    a naive bound, raises :class:`~igkit.errors.DataError` here, not in the thread.
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
        if isinstance(batch, bool) or not (isinstance(batch, int) and batch > 0):
            raise DataError(f"batch={batch!r} must be a positive int")
        self.root = root
        self.instruments = list_instruments(root) if instruments is None else list(dict.fromkeys(instruments))
        self.start_time, self.end_time = start, end
        self._lo, self._hi = bound_ns(start, "start"), bound_ns(end, "end")
        for epic in self.instruments:
            list_files(root, epic, start, end)  # a missing epic fails now, naming the path
        self.speed = None if speed is None else float(speed)
        self.batch = batch
        self.progress = 0.0
        self.pushed = 0
        self.total = 0
        self.finished = False

    def _run(self) -> str | None:
        from igkit.ticks import FeedStatus

        self.finished, self.progress, self.pushed = False, 0.0, 0
        epics = self.instruments
        streams = [_Stream(list_files(self.root, e, self._lo, self._hi), self._lo, self._hi) for e in epics]
        self.total = sum(s.estimate for s in streams)
        buffers = [self.hub.buffer(e) for e in epics]
        self.hub.set_status(self.name, FeedStatus.CONNECTED, f"replaying {len(epics)} instruments")
        log.info("%s: replaying %s (~%d ticks) at speed %s", self.name, epics, self.total, self.speed)
        wall0 = key0 = None
        for ids, keys, ts, bid, ask in _merged(streams):
            if key0 is None:
                key0, wall0 = int(keys[0]), time.monotonic()
            assert wall0 is not None
            pos, n = 0, len(keys)
            while pos < n:
                if self._stopping.is_set():
                    return None
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
                self.pushed += stop - pos
                pos = stop
                self.total = self.pushed + sum(s.estimate for s in streams) + (n - pos)
                self.progress = min(self.pushed / self.total, 1.0) if self.total else 0.0
        self.total = self.pushed
        self.progress = 1.0
        self.finished = True
        return "finished"

    def _push(self, buffers: list[Any], ids: np.ndarray, ts: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> None:
        first = int(ids[0])
        if bool((ids == first).all()):
            groups: list[tuple[int, np.ndarray | None]] = [(first, None)]
        else:
            groups = [(int(k), ids == k) for k in np.unique(ids)]
        for k, mask in groups:
            part = (ts, bid, ask) if mask is None else (ts[mask], bid[mask], ask[mask])
            sent = len(part[0])
            accepted = int(buffers[k].offer_many(*part))
            self.hub.count(self.name, "ticks", accepted)  # the hub's convention: ticks that went in
            if accepted != sent:
                self.hub.count(self.name, "rejected", sent - accepted)

