"""Progress reporting shared by long jobs (history downloads, sweeps): tqdm in scripts, or any
``(desc, total) -> bar`` factory — e.g. ``ControlPanel.progress`` to show the bar inside the panel.

A bar needs only ``update(n)`` and ``close()``, tqdm's smallest surface.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from tqdm.auto import tqdm

__all__ = ["Progress", "ProgressBar", "make_progress"]


class ProgressBar(Protocol):
    def update(self, n: int = 1) -> Any: ...

    def close(self) -> Any: ...


# True / False for tqdm on / off, or a factory (desc, total) -> bar
Progress = bool | Callable[[str, int], ProgressBar]


def make_progress(progress: Progress, total: int, desc: str, **tqdm_kwargs: Any) -> ProgressBar:
    """A bar of ``total`` steps: from the factory when ``progress`` is callable, else tqdm (hidden when
    ``progress`` is false)."""
    if callable(progress):
        return progress(desc, total)
    bar: ProgressBar = tqdm(total=total, desc=desc, disable=not progress, **tqdm_kwargs)
    return bar
