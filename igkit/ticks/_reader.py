"""``TickReader``: one consumer's cursor into a ``TickBuffer`` (non-blocking reads, a wait with timeout)."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from igkit.ticks._batch import TickBatch

if TYPE_CHECKING:
    from types import TracebackType

    from igkit.ticks._buffer import TickBuffer

__all__ = ["TickReader"]

log = logging.getLogger(__name__)


class TickReader:
    """A cursor into one buffer. Get it from :meth:`TickBuffer.reader`.

    ``read()`` never blocks; ``wait()`` blocks until there is something to read. A reader that fell more
    than ``capacity`` ticks behind gets the ticks still held; ``batch.lost`` says how many it missed
    just before them and ``reader.lost`` adds them up. Meant for one consuming thread (calls are
    serialised by a lock, so sharing is safe, just pointless).
    """

    def __init__(self, buffer: TickBuffer, name: str, position: int) -> None:
        self.buffer: TickBuffer = buffer
        self.name: str = name
        self._pos = position
        self._lost = 0
        self._closed = False
        self._lock = threading.Lock()

    @property
    def position(self) -> int:
        """Sequence number of the next tick this reader will get."""
        return self._pos

    @property
    def lost(self) -> int:
        """Ticks this reader lost to overflow, in total."""
        return self._lost

    @property
    def lag(self) -> int:
        """Ticks appended that this reader has not read yet (lost ones included)."""
        return max(self.buffer.total - self._pos, 0)

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{self.buffer.instrument}: reader {self.name!r} is closed")

    def read(self, max_n: int | None = None) -> TickBatch:
        """The ticks since the last read (at most ``max_n``), advancing the cursor. Never blocks."""
        if max_n is not None and (isinstance(max_n, bool) or not isinstance(max_n, int) or max_n <= 0):
            raise ValueError(
                f"{self.buffer.instrument}: reader {self.name!r}: max_n must be a positive int or None, "
                f"got {max_n!r}"
            )
        with self._lock:
            self._check_open()
            batch, self._pos = self.buffer._collect(self._pos, max_n)
            if batch.lost:
                if not self._lost:
                    log.warning(
                        "%s: reader %r fell more than %d ticks behind and lost %d",
                        self.buffer.instrument,
                        self.name,
                        self.buffer.capacity,
                        batch.lost,
                    )
                self._lost += batch.lost
        return batch

    def wait(self, timeout: float | None = None) -> bool:
        """Block until there is unread data (True) or ``timeout`` seconds pass (False).

        Returns at once when unread data already exists. ``timeout=None`` waits for ever.
        """
        self._check_open()
        buf = self.buffer
        if buf.total > self._pos:
            return True
        if timeout is not None and timeout <= 0:
            return False
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            lock = threading.Lock()
            lock.acquire()
            buf._add_sleeper(lock)
            try:
                if buf.total > self._pos:  # checked after registering: no lost wake-up
                    return True
                if deadline is None:
                    lock.acquire()
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not lock.acquire(timeout=remaining):
                        return buf.total > self._pos
                if buf.total > self._pos:
                    return True
            finally:
                buf._remove_sleeper(lock)
            if self._closed:
                return False

    def close(self) -> None:
        """Detach from the buffer; later ``read``/``wait`` raise ``ValueError``. Idempotent."""
        self._closed = True
        self.buffer._drop_reader(self)

    def __enter__(self) -> TickReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"position={self._pos}, lost={self._lost}"
        return f"TickReader({self.buffer.instrument!r}, {self.name!r}, {state})"
