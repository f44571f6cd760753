"""The chart's own candles: a reader on one instrument's tick buffer and a ``CandleBuilder``, polled by
the refresher (never by a feed or engine thread). Independent of the engine's internals: the chart needs
only the hub, so it also works on a feed without an engine."""

from __future__ import annotations

from collections import deque
from typing import Any

import pandas as pd

from igkit.candles import Candle, CandleBuilder, candles_to_frame

__all__ = ["ChartSource"]


class ChartSource:
    """Closed candles (the last ``window``) plus the open bar of one instrument, built from its ticks."""

    def __init__(self, buffer: Any, freq: str, window: int = 500) -> None:
        self.epic: str = buffer.instrument
        self.freq = freq
        self.reader = buffer.reader("igkit-chart", from_start=True)
        self.builder = CandleBuilder(freq)
        self.closed: deque[Candle] = deque(maxlen=window)
        self.ticks = 0
        self.lost = 0

    def poll(self) -> bool:
        """Read the new ticks; True if there were any (the frame changed)."""
        batch = self.reader.read()
        self.lost += batch.lost
        n = len(batch.ts_ns)
        if not n:
            return False
        self.ticks += n
        self.closed.extend(self.builder.update_many(batch.ts_ns, batch.bid, batch.ask))
        return True

    @property
    def count(self) -> int:
        """Closed candles so far (bounded by the window)."""
        return len(self.closed)

    def frame(self) -> pd.DataFrame:
        """Closed candles and the open bar, in the candle schema."""
        cur = self.builder.current
        return candles_to_frame([*self.closed, cur] if cur is not None else self.closed)

    def close(self) -> None:
        self.reader.close()
