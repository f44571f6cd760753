"""Candles: the candle schema, batch resampling of ticks and the incremental live builder.

One job: turn bid/ask ticks into bid/ask/mid OHLC bars, identically in research (``resample_ticks``,
``resample_arrays``) and live (``CandleBuilder``). Both read ticks as an arrival-ordered stream with the
same rules, so a candle computed in a backtest and one built live from the same ticks are bit-identical.
"""

from __future__ import annotations

from igkit.candles._batch import resample_arrays, resample_ticks
from igkit.candles._builder import CandleBuilder
from igkit.candles._schema import CANDLE_COLUMNS, Candle, candles_to_frame, empty_candles, freq_to_ns

__all__ = [
    "CANDLE_COLUMNS",
    "Candle",
    "CandleBuilder",
    "candles_to_frame",
    "empty_candles",
    "freq_to_ns",
    "resample_arrays",
    "resample_ticks",
]
