"""``TickHub``: the instrument → ``TickBuffer`` registry, feed statuses and counters, and one wake-up
for a consumer that drains every instrument (the live engine's thread)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from igkit.ticks._buffer import TickBuffer
from igkit.ticks._status import FeedStatus

__all__ = ["StatusListener", "TickHub"]

log = logging.getLogger(__name__)

StatusListener = Callable[[str, FeedStatus, str], None]
"""Called as ``listener(feed, status, detail)`` after a feed's status changed."""


class TickHub:
    """One :class:`TickBuffer` per instrument (made on first use), plus what the feeds report.

    Thread-safe throughout. The buffer map is copy-on-write, so ``buffer()`` for a known instrument and
    iterating ``buffers`` take no lock.
    """

    def __init__(self, capacity: int = 1_000_000) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity <= 0:
            raise ValueError(f"TickHub: capacity must be a positive int, got {capacity!r}")
        self.capacity: int = capacity
        self._lock = threading.Lock()
        self._buffers: dict[str, TickBuffer] = {}
        self._sleepers: list[Any] = []  # wait_any locks, also registered in every buffer
        self._seen = threading.local()  # .total: sum of buffer totals at this thread's last wait_any
        self._status: dict[str, tuple[FeedStatus, str, int]] = {}
        self._listeners: list[StatusListener] = []
        self._counters: dict[str, dict[str, int]] = {}

    # ------------------------------------------------------------------ buffers
    def buffer(self, instrument: str) -> TickBuffer:
        """The buffer of ``instrument``, created (once, even under a race) on first use."""
        buf = self._buffers.get(instrument)
        if buf is not None:
            return buf
        with self._lock:
            buf = self._buffers.get(instrument)
            if buf is None:
                buf = TickBuffer(instrument, self.capacity)
                for lock in self._sleepers:
                    buf._add_sleeper(lock)
                self._buffers = {**self._buffers, instrument: buf}
                log.debug("new tick buffer %s (capacity %d)", instrument, self.capacity)
        return buf

    def instruments(self) -> list[str]:
        """Instruments with a buffer, in creation order."""
        return list(self._buffers)

    @property
    def buffers(self) -> Mapping[str, TickBuffer]:
        """Read-only map instrument → buffer (a snapshot: safe to iterate while buffers are added)."""
        return MappingProxyType(self._buffers)

    # ------------------------------------------------------------------ wake-up
    def _total(self) -> int:
        return sum(b.total for b in self._buffers.values())

    def wait_any(self, timeout: float | None = None) -> bool:
        """Block until any buffer got ticks since this thread's last ``wait_any`` (True), or timeout (False).

        A thread's first call returns True at once if any tick exists at all, so nothing that arrived
        before the consumer started is left unseen. ``timeout=None`` waits for ever.
        """
        seen: int = getattr(self._seen, "total", 0)
        now = self._total()
        if now != seen:
            self._seen.total = now
            return True
        if timeout is not None and timeout <= 0:
            return False
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            lock = threading.Lock()
            lock.acquire()
            with self._lock:
                self._sleepers.append(lock)
                bufs = list(self._buffers.values())
                for b in bufs:
                    b._add_sleeper(lock)
            try:
                now = self._total()  # after registering: no lost wake-up
                if now == seen:
                    if deadline is None:
                        lock.acquire()
                    else:
                        remaining = deadline - time.monotonic()
                        if remaining > 0:
                            lock.acquire(timeout=remaining)
                    now = self._total()
            finally:
                with self._lock:
                    self._sleepers.remove(lock)
                    bufs = list(self._buffers.values())
                for b in bufs:
                    b._remove_sleeper(lock)
            if now != seen:
                self._seen.total = now
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False

    # ------------------------------------------------------------------ feed status
    def set_status(self, feed: str, status: FeedStatus | str, detail: str = "") -> None:
        """Record ``feed``'s status; listeners are told when the status (not just the detail) changes."""
        try:
            st = FeedStatus(status)
        except ValueError:
            raise ValueError(
                f"feed {feed!r}: unknown status {status!r}; expected one of {[s.value for s in FeedStatus]}"
            ) from None
        with self._lock:
            old = self._status.get(feed)
            changed = old is None or old[0] is not st
            since = time.time_ns() if changed or old is None else old[2]
            self._status[feed] = (st, detail, since)
            listeners = list(self._listeners) if changed else []
        if changed:
            log.info("feed %s: %s%s", feed, st.value, f" ({detail})" if detail else "")
        for cb in listeners:
            try:
                cb(feed, st, detail)
            except Exception:
                log.exception("status listener %r failed for feed %s → %s", cb, feed, st.value)

    def status(self, feed: str) -> FeedStatus:
        """``feed``'s current status (``DISCONNECTED`` for a feed never reported)."""
        entry = self._status.get(feed)
        return FeedStatus.DISCONNECTED if entry is None else entry[0]

    def statuses(self) -> dict[str, tuple[FeedStatus, str, int]]:
        """``{feed: (status, detail, since_ns)}``; ``since_ns`` is UTC ns of the last status change."""
        with self._lock:
            return dict(self._status)

    def on_status(self, callback: StatusListener) -> Callable[[], None]:
        """Call ``callback(feed, status, detail)`` on every status change; returns an unsubscribe function.

        Callbacks run on the thread that set the status (a feed's): keep them short, never block.
        """
        with self._lock:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return unsubscribe

    # ------------------------------------------------------------------ counters
    def count(self, feed: str, name: str, n: int = 1) -> None:
        """Add ``n`` to ``feed``'s counter ``name`` (e.g. messages, reconnects).

        Two names mean the same for every feed: ``ticks`` counts the ticks its buffers *accepted* (what
        readers can see) and ``rejected`` those they refused at entry (non-finite, non-positive or
        crossed; per reason in ``hub.buffer(epic).rejected``), so ``ticks + rejected`` is what the feed
        offered (``DemoFeed`` and ``ReplayFeed`` keep both).
        """
        with self._lock:
            per = self._counters.get(feed)
            if per is None:
                per = self._counters[feed] = {}
            per[name] = per.get(name, 0) + n

    def counters(self) -> dict[str, dict[str, int]]:
        """A copy of ``{feed: {name: value}}``."""
        with self._lock:
            return {feed: dict(per) for feed, per in self._counters.items()}

    def stats(self) -> dict[str, dict[str, Any]]:
        """``{instrument: buffer.stats()}``."""
        return {name: buf.stats() for name, buf in self._buffers.items()}

    def __repr__(self) -> str:
        return f"TickHub(capacity={self.capacity}, instruments={self.instruments()!r})"
