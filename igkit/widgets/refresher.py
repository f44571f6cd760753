"""``Refresher``: the ONE thread that writes to widgets and figures.

Why hand-written: ipywidgets models and plotly's ``FigureWidget`` are not thread-safe, ipykernel 7 runs
widget callbacks on other threads, and an asyncio task would freeze while a cell blocks the kernel loop.
So every widget write in igkit happens here, on one daemon thread, a few times a second: feed and engine
threads only publish state (traitlets, deques, counters), button callbacks only call thread-safe engine
methods or leave a request with :meth:`Refresher.call_soon`, and the refresher turns all of that into
widget changes, inside ``hold_sync()`` / ``batch_update()`` (the jobs do that).

A job is a callable taking no argument; it runs every cycle (``add``) or once (``call_soon``). A job that
raises is logged and counted (``errors``, ``last_error``), never fatal to the loop. ``on_thread()`` tells a
job (or a test) whether it runs on the refresher's thread; :attr:`writes_off_thread` counts the writes a
:func:`guard_widget` saw from any other thread after the guard was armed.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["Refresher", "guard_widget"]

log = logging.getLogger(__name__)

_RUNNING: weakref.WeakSet[Refresher] = weakref.WeakSet()
Job = Callable[[], None]


class Refresher:
    """Run jobs at ``hz`` (2–5) on one daemon thread; ``start()`` idempotent, ``stop()`` joins."""

    def __init__(self, hz: float = 4.0, *, name: str = "igkit-refresher") -> None:
        if not (isinstance(hz, int | float) and 2.0 <= hz <= 5.0):
            raise ValueError(f"Refresher {name!r}: hz={hz!r} must be between 2 and 5")
        self.hz = float(hz)
        self.name = name
        self._jobs: list[tuple[str, Job]] = []
        self._once: deque[Job] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.cycles = 0
        self.errors = 0
        self.last_error: str = ""
        self.writes_off_thread = 0
        self.guard_armed = True  # guard_widget counts only while armed
        self.off_thread_examples: deque[str] = deque(maxlen=20)
        self.cycle_ns: deque[int] = deque(maxlen=256)  # duration of the last cycles

    # ------------------------------------------------------------------ jobs
    def add(self, name: str, job: Job) -> None:
        """Run ``job`` every cycle, after the jobs added before it."""
        with self._lock:
            self._jobs.append((name, job))

    def remove(self, name: str) -> None:
        with self._lock:
            self._jobs = [(n, j) for n, j in self._jobs if n != name]

    def call_soon(self, job: Job) -> None:
        """Run ``job`` once on the refresher thread at the next cycle (safe from any thread)."""
        self._once.append(job)
        self._wake.set()

    def on_thread(self) -> bool:
        """True when called from the refresher's own thread."""
        return self._thread is not None and threading.current_thread() is self._thread

    # ------------------------------------------------------------------ lifecycle
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._lock:
            if self.running:
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            _RUNNING.add(self)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop and wait up to ``timeout`` s; pending ``call_soon`` jobs are dropped."""
        self._stopping.set()
        self._wake.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)
            if t.is_alive():
                log.warning("refresher %s did not stop within %.1f s", self.name, timeout)
        self._once.clear()
        _RUNNING.discard(self)

    def run_once(self) -> None:
        """One cycle now, on the calling thread (for a refresher that is not started, e.g. benchmarks)."""
        if self.running:
            raise RuntimeError(f"refresher {self.name!r} is running: run_once would write from a second thread")
        self._cycle()

    def _loop(self) -> None:
        period = 1.0 / self.hz
        while not self._stopping.is_set():
            t0 = time.monotonic()
            self._cycle()
            self._wake.wait(max(period - (time.monotonic() - t0), 0.0))
            self._wake.clear()

    def _cycle(self) -> None:
        t0 = time.perf_counter_ns()
        while self._once:
            job = self._once.popleft()
            self._run(getattr(job, "__name__", "call_soon"), job)
        with self._lock:
            jobs = list(self._jobs)
        for name, job in jobs:
            if self._stopping.is_set():
                break
            self._run(name, job)
        self.cycles += 1
        self.cycle_ns.append(time.perf_counter_ns() - t0)

    def _run(self, name: str, job: Job) -> None:
        try:
            job()
        except Exception as exc:
            self.errors += 1
            self.last_error = f"{name}: {type(exc).__name__}: {exc}"
            if self.errors <= 5 or self.errors % 100 == 0:
                log.exception("refresher %s: job %s failed (%d errors so far)", self.name, name, self.errors)

    def __repr__(self) -> str:
        return f"<Refresher {self.name!r} {self.hz:g} Hz running={self.running} cycles={self.cycles}>"


def guard_widget(widget: Any, refresher: Refresher) -> None:
    """Count (in ``refresher.writes_off_thread``) every trait change of ``widget`` made off the refresher's
    thread. A test instrument: arm it after the widget is built and displayed."""

    def _seen(change: Any) -> None:
        if refresher.guard_armed and not refresher.on_thread():
            refresher.writes_off_thread += 1
            refresher.off_thread_examples.append(
                f"{type(widget).__name__}.{change.get('name')} from {threading.current_thread().name}")

    widget.observe(_seen)


@atexit.register
def _stop_all() -> None:
    for r in list(_RUNNING):
        r.stop(timeout=1.0)
