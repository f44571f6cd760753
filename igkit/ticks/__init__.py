"""Live ticks in memory: a bounded ring per instrument (``TickBuffer``) with one writer that never waits
and many readers holding cursors (``TickReader``), the hub that maps instruments to buffers and records
each feed's connection status and counters (``TickHub``).

Hand-written core: see :mod:`igkit.ticks._buffer` for why and for the thread-safety argument.

Typical use::

    hub = TickHub()
    buf = hub.buffer("CS.D.EURUSD.MINI.IP")   # a feed thread: buf.offer(ts_ns, bid, ask)
    rd = buf.reader("engine")                 # the engine thread:
    while running:
        if hub.wait_any(0.5):                 #   wakes when any instrument has new ticks
            batch = rd.read()                 #   TickBatch(ts_ns, bid, ask, lost)
"""

from __future__ import annotations

from igkit.ticks._batch import TickBatch
from igkit.ticks._buffer import TickBuffer
from igkit.ticks._hub import StatusListener, TickHub
from igkit.ticks._reader import TickReader
from igkit.ticks._status import FeedStatus

__all__ = ["FeedStatus", "StatusListener", "TickBatch", "TickBuffer", "TickHub", "TickReader"]
