"""Progress for long jobs (history downloads, sweeps): a thread-safe counter the panel's refresher shows
as an ``IntProgress`` + text, or a tqdm bar in scripts.

``PanelProgress`` has tqdm's small surface (``update``, ``set_description``, ``close``, context manager),
so code that reports progress does not care where it is shown. Any thread may update it; only the
refresher turns it into widget changes (see :mod:`igkit.widgets.refresher`).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from tqdm.auto import tqdm

__all__ = ["PanelProgress", "progress_bar"]


class PanelProgress:
    """``n`` of ``total`` done, a description, and whether it is finished. Thread-safe counters only."""

    def __init__(self, total: int, desc: str = "") -> None:
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise ValueError(f"PanelProgress {desc!r}: total must be an int >= 0, got {total!r}")
        self.total = total
        self.desc = desc
        self.n = 0
        self.closed = False
        self.error = ""
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def update(self, n: int = 1) -> None:
        with self._lock:
            self.n = min(self.n + int(n), self.total) if self.total else self.n + int(n)

    def set_description(self, desc: str) -> None:
        self.desc = str(desc)

    def fail(self, message: str) -> None:
        """Mark the job failed; the panel shows ``message`` next to the bar."""
        self.error = message
        self.closed = True

    def close(self) -> None:
        self.closed = True

    @property
    def fraction(self) -> float:
        return 1.0 if self.total == 0 else self.n / self.total

    def text(self) -> str:
        """``desc: n/total (pct) elapsed``, or the error."""
        if self.error:
            return f"{self.desc}: failed: {self.error}"
        el = time.monotonic() - self.started
        done = " done" if self.closed else ""
        return f"{self.desc}: {self.n}/{self.total} ({100 * self.fraction:.0f} %) {el:.1f} s{done}"

    def __enter__(self) -> PanelProgress:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is not None:
            self.fail(f"{type(exc).__name__}: {exc}")
        self.close()

    def __repr__(self) -> str:
        return f"<PanelProgress {self.text()}>"


def progress_bar(total: int, desc: str = "", *, panel: Any = None) -> Any:
    """A progress bar: inside ``panel`` (a :class:`~igkit.widgets.ControlPanel`) when given, else tqdm."""
    if panel is not None:
        return panel.progress(desc, total)
    return tqdm(total=total, desc=desc)
