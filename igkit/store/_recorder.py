"""``Recorder``: a background thread that copies every tick a :class:`~igkit.ticks.TickHub` sees to Parquet.

It holds one reader per buffer, drains them whenever the hub signals new ticks (so readers do not fall
behind the ring), and writes in chunks: every ``flush_interval`` seconds or once ``flush_rows`` ticks are
pending. ``stop()`` drains and writes everything still unread, so nothing that reached the hub is lost;
ticks a reader missed because it fell more than a buffer's capacity behind are counted in ``lost``,
logged and shown in ``stats()``, never hidden.

Hand-written because the reading side is ours (the hub's readers and wake-up); pyarrow writes the files.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from igkit.errors import DataError
from igkit.store._parquet import write_ticks

if TYPE_CHECKING:
    from igkit.ticks import TickHub, TickReader

__all__ = ["Recorder"]

log = logging.getLogger(__name__)
_ids = itertools.count(1)
_RUNNING: weakref.WeakSet[Recorder] = weakref.WeakSet()


class Recorder:
    """Record ticks from ``hub`` under ``root`` (see :func:`igkit.store.write_ticks` for the layout).

    Args:
        hub: the hub to record from.
        root: dataset directory (created if missing).
        instruments: epics to record; None records every instrument, including ones that appear later.
        flush_interval: seconds between writes of the ticks gathered so far.
        flush_rows: write as soon as this many ticks are pending, whatever the interval.
        name: shown in logs, in the hub's counters and used for the readers' names.
    """

    def __init__(
        self,
        hub: TickHub,
        root: str | os.PathLike[str],
        *,
        instruments: Iterable[str] | None = None,
        flush_interval: float = 1.0,
        flush_rows: int = 50_000,
        name: str = "recorder",
    ) -> None:
        if not flush_interval > 0:
            raise DataError(f"flush_interval={flush_interval!r} must be a positive number of seconds")
        if not (isinstance(flush_rows, int) and flush_rows > 0):
            raise DataError(f"flush_rows={flush_rows!r} must be a positive int")
        self.hub = hub
        self.root = Path(root)
        self.instruments = None if instruments is None else frozenset(instruments)
        self.flush_interval = float(flush_interval)
        self.flush_rows = flush_rows
        self.name = name
        self.error: BaseException | None = None
        self.rows_written = 0
        self.files_written = 0
        self.lost = 0
        self.flushes = 0
        self._reader_name = f"{name}-{next(_ids)}"
        self._readers: dict[str, TickReader] = {}
        self._pending: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        self._pending_rows = 0
        self._rows_by: dict[str, int] = {}
        self._lost_by: dict[str, int] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # start/stop
        self._io = threading.Lock()  # readers, pending and counters

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start recording; a second call while running does nothing."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self.root.mkdir(parents=True, exist_ok=True)
            self._stopping.clear()
            self.error = None
            self._thread = threading.Thread(target=self._main, name=f"igkit-{self.name}", daemon=True)
            _RUNNING.add(self)
            self._thread.start()
            log.info("%s recording to %s", self.name, self.root)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread, then drain and write every tick still unread (nothing is dropped).

        The readers stay attached, so a later ``start()`` continues exactly where this one stopped.
        """
        with self._lock:
            self._stopping.set()
            thread = self._thread
            if thread is None:  # never started: nothing to flush
                return
            if thread is not threading.current_thread():
                thread.join(timeout)
                if thread.is_alive():
                    log.warning("%s did not stop within %.1f s", self.name, timeout)
                    return
            _RUNNING.discard(self)
            self._final_drain()

    def close(self, timeout: float = 10.0) -> None:
        """``stop()``, then detach the readers from their buffers (a later ``start()`` begins afresh
        from the ticks the buffers still hold). Idempotent."""
        self.stop(timeout)
        with self._io:
            readers, self._readers = self._readers, {}
        for reader in readers.values():
            reader.close()

    def __enter__(self) -> Recorder:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stats(self) -> dict[str, Any]:
        """Counters: rows and files written, ticks lost to reader overflow (total and per epic), ..."""
        with self._io:
            return {
                "running": self.running,
                "rows_written": self.rows_written,
                "files_written": self.files_written,
                "lost": self.lost,
                "pending_rows": self._pending_rows,
                "flushes": self.flushes,
                "instruments": sorted(self._rows_by),
                "rows_by_instrument": dict(self._rows_by),
                "lost_by_instrument": dict(self._lost_by),
                "error": None if self.error is None else f"{type(self.error).__name__}: {self.error}",
            }

    def __repr__(self) -> str:
        return (
            f"<Recorder {self.name!r} root={str(self.root)!r} running={self.running} "
            f"rows={self.rows_written} lost={self.lost}>"
        )

    # -- work ------------------------------------------------------------------------------------
    def _main(self) -> None:
        try:
            next_flush = time.monotonic() + self.flush_interval
            while not self._stopping.is_set():
                self._collect()
                now = time.monotonic()
                if self._pending_rows >= self.flush_rows or now >= next_flush:
                    self._flush()
                    next_flush = now + self.flush_interval
                self.hub.wait_any(min(max(next_flush - time.monotonic(), 0.0), 0.25))
        except Exception as exc:  # kept and shown in stats(), never swallowed
            self.error = exc
            log.exception("%s failed", self.name)

    def _final_drain(self) -> None:
        try:
            while self._collect():
                pass
            self._flush()
        except Exception as exc:
            self.error = exc
            log.exception("%s failed while flushing the tail", self.name)
            raise

    def _wanted(self) -> list[str]:
        epics = list(self.hub.instruments())
        if self.instruments is not None:
            epics = [e for e in epics if e in self.instruments]
        return epics

    def _collect(self) -> int:
        """Read everything new from every buffer into the pending chunks; returns the ticks read."""
        got = 0
        with self._io:
            for epic in self._wanted():
                reader = self._readers.get(epic)
                if reader is None:
                    reader = self.hub.buffer(epic).reader(self._reader_name, from_start=True)
                    self._readers[epic] = reader
                    self._rows_by.setdefault(epic, 0)
                    self._lost_by.setdefault(epic, 0)
                batch = reader.read()
                if batch.lost:
                    self.lost += int(batch.lost)
                    self._lost_by[epic] += int(batch.lost)
                    self.hub.count(self.name, "lost", int(batch.lost))
                    log.warning("%s lost %d ticks of %s (reader fell behind the buffer)", self.name, batch.lost, epic)
                n = len(batch.ts_ns)
                if n:
                    # a batch owns fresh arrays (the reader copies out of the ring): keep them as they are
                    self._pending.setdefault(epic, []).append((batch.ts_ns, batch.bid, batch.ask))
                    self._pending_rows += n
                    got += n
        return got

    def _flush(self) -> None:
        """Write the pending chunks, one file per epic and date; chunks that fail to write stay pending."""
        with self._io:
            pending, self._pending = self._pending, {}
        try:
            while pending:
                epic, chunks = next(iter(pending.items()))
                ts = np.concatenate([c[0] for c in chunks])
                bid = np.concatenate([c[1] for c in chunks])
                ask = np.concatenate([c[2] for c in chunks])
                files = write_ticks(self.root, epic, (ts, bid, ask))
                del pending[epic]
                n = len(ts)
                with self._io:
                    self._pending_rows -= n
                    self.rows_written += n
                    self.files_written += len(files)
                    self._rows_by[epic] = self._rows_by.get(epic, 0) + n
                self.hub.count(self.name, "rows_written", n)
        finally:
            if pending:  # put back what was not written, ahead of anything read meanwhile
                with self._io:
                    for epic, chunks in pending.items():
                        self._pending[epic] = chunks + self._pending.get(epic, [])
        with self._io:
            self.flushes += 1


@atexit.register
def _stop_all() -> None:
    """Flush every running recorder's tail at interpreter exit."""
    for rec in list(_RUNNING):
        try:
            rec.stop(timeout=2.0)
        except Exception:
            log.exception("%s: could not flush at exit", rec.name)
