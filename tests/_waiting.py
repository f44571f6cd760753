"""Polling until a condition holds, for tests that watch other threads (not collected by pytest)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait(pred: Callable[[], bool], timeout: float = 10.0, step: float = 0.02) -> bool:
    """True as soon as ``pred()`` holds; after ``timeout`` seconds, its last value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()
