"""The one shape every feed has: a named source that pushes ticks into a :class:`~igkit.ticks.TickHub`.

Feeds that own a thread subclass :class:`ThreadFeed` and implement ``_run()``; ``start()`` is idempotent,
``stop()`` joins with a timeout, an exception in the thread is kept in ``error`` and shown as the feed's
status (never lost), and every running feed is stopped at interpreter exit.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from igkit.ticks import FeedStatus, TickHub

__all__ = ["Feed", "ThreadFeed"]

log = logging.getLogger(__name__)
_RUNNING: weakref.WeakSet[ThreadFeed] = weakref.WeakSet()


@runtime_checkable
class Feed(Protocol):
    """What the engine, CLI and widgets need from any feed."""

    name: str

    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...

    @property
    def status(self) -> FeedStatus: ...

    @property
    def running(self) -> bool: ...


class ThreadFeed:
    """Base class of feeds that run on one daemon thread.

    Subclasses implement ``_run()``, which loops until ``self._stopping.is_set()`` and pushes ticks with
    ``self.hub.buffer(epic).offer(...)``. A ``_run`` that returns ends the feed (a finite replay, say).
    """

    def __init__(self, hub: TickHub, name: str) -> None:
        self.hub = hub
        self.name = name
        self.error: BaseException | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the feed's thread; a second call while it runs does nothing."""
        from igkit.ticks import FeedStatus

        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping.clear()
            self.error = None
            self.hub.set_status(self.name, FeedStatus.CONNECTING)
            self._thread = threading.Thread(target=self._main, name=f"igkit-feed-{self.name}", daemon=True)
            _RUNNING.add(self)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to stop and wait up to ``timeout`` seconds for it."""
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("feed %s did not stop within %.1f s", self.name, timeout)
        _RUNNING.discard(self)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end by itself; True if it has ended."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def status(self) -> FeedStatus:
        return self.hub.status(self.name)

    def __enter__(self) -> ThreadFeed:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- thread ----------------------------------------------------------------------------------
    def _main(self) -> None:
        from igkit.ticks import FeedStatus

        try:
            detail = self._run()
        except Exception as exc:  # kept and shown, never swallowed
            self.error = exc
            log.exception("feed %s failed", self.name)
            self.hub.set_status(self.name, FeedStatus.DISCONNECTED, f"error: {exc}")
        else:
            self.hub.set_status(self.name, FeedStatus.DISCONNECTED, detail or "stopped")
        finally:
            _RUNNING.discard(self)

    def _run(self) -> str | None:  # pragma: no cover - abstract
        """The feed's loop; may return the detail of its final DISCONNECTED status (e.g. "finished")."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} running={self.running}>"


@atexit.register
def _stop_all() -> None:
    for feed in list(_RUNNING):
        feed.stop(timeout=1.0)
