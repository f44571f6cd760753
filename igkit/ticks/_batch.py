"""The tick batch record, the tick frame schema, and the checks on ticks handed in as arrays."""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from igkit.errors import DataError

__all__ = ["TickBatch", "check_batch", "check_ts", "tick_frame"]

_EMPTY_I8 = np.empty(0, dtype=np.int64)
_EMPTY_F8 = np.empty(0, dtype=np.float64)
_EMPTY_I8.flags.writeable = False
_EMPTY_F8.flags.writeable = False


def tick_frame(ts_ns: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> pd.DataFrame:
    """The tick frame: UTC ``DatetimeIndex`` named ``time`` (``datetime64[ns, UTC]``), float64 ``bid``, ``ask``."""
    index = pd.DatetimeIndex(
        pd.to_datetime(np.asarray(ts_ns, dtype=np.int64), unit="ns", utc=True), name="time"
    ).as_unit("ns")
    return pd.DataFrame(
        {"bid": np.asarray(bid, dtype=np.float64), "ask": np.asarray(ask, dtype=np.float64)},
        index=index,
        copy=False,
    )


class TickBatch(NamedTuple):
    """Ticks a reader got in one ``read()``, oldest first, plus how many it lost just before them.

    ``len(batch)`` is the number of ticks (not the tuple's field count); an empty batch is falsy even
    when ``lost`` is not zero.
    """

    ts_ns: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    lost: int

    def __len__(self) -> int:
        return int(self.ts_ns.shape[0])

    def __bool__(self) -> bool:
        return self.ts_ns.shape[0] > 0

    def to_frame(self) -> pd.DataFrame:
        """The ticks as a frame with the same schema as :meth:`TickBuffer.snapshot`."""
        return tick_frame(self.ts_ns, self.bid, self.ask)

    @classmethod
    def empty(cls, lost: int = 0) -> TickBatch:
        return cls(_EMPTY_I8, _EMPTY_F8, _EMPTY_F8, lost)


def check_ts(instrument: str, ts_ns: Any) -> int:
    """A single timestamp as a Python int (numpy integers accepted; floats and text refused)."""
    if isinstance(ts_ns, numbers.Integral) and not isinstance(ts_ns, bool):
        return int(ts_ns)
    raise DataError(f"{instrument}: ts_ns must be an int of UTC nanoseconds, got {ts_ns!r}")


def _as_1d(instrument: str, name: str, values: Any) -> np.ndarray:
    arr = values if isinstance(values, np.ndarray) else np.asarray(values)
    if arr.ndim != 1:
        raise DataError(f"{instrument}: {name} must be one-dimensional, got shape {arr.shape}")
    return arr


def check_batch(
    instrument: str, ts_ns: Any, bid: Any, ask: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a batch of ticks: 1-D, equal lengths, integer (or datetime64) ts and real prices.

    Returns contiguous ``int64`` / ``float64`` arrays (the inputs themselves when already so).
    Raises :class:`~igkit.errors.DataError` naming the instrument, the array and what was wrong.
    """
    ts = _as_1d(instrument, "ts_ns", ts_ns)
    b = _as_1d(instrument, "bid", bid)
    a = _as_1d(instrument, "ask", ask)
    if not (ts.shape[0] == b.shape[0] == a.shape[0]):
        raise DataError(
            f"{instrument}: ts_ns, bid and ask must have the same length, "
            f"got {ts.shape[0]}, {b.shape[0]}, {a.shape[0]}"
        )
    if ts.dtype.kind == "M":
        ts = ts.astype("datetime64[ns]").view(np.int64)
    elif ts.dtype.kind in "iu":
        if ts.dtype != np.int64:
            ts = ts.astype(np.int64)
    elif ts.shape[0] or ts.dtype.kind not in "f":
        raise DataError(
            f"{instrument}: ts_ns must be int64 nanoseconds (or datetime64), got dtype {ts.dtype}"
        )
    else:  # an empty float array (e.g. np.asarray([])) carries no timestamps to lose
        ts = _EMPTY_I8
    out = [ts]
    for name, arr in (("bid", b), ("ask", a)):
        if arr.dtype.kind not in "fiu":
            raise DataError(f"{instrument}: {name} must be float64 prices, got dtype {arr.dtype}")
        out.append(arr if arr.dtype == np.float64 else arr.astype(np.float64))
    return out[0], out[1], out[2]
