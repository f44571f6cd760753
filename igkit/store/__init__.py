"""Parquet tick store: write/read ticks partitioned by instrument and UTC date, and the live ``Recorder``.

See :mod:`igkit.store._parquet` for the on-disk layout and :mod:`igkit.store._recorder` for the
recording thread.
"""

from __future__ import annotations

from igkit.store._parquet import list_dates, list_instruments, read_arrays, read_ticks, write_ticks
from igkit.store._recorder import Recorder

__all__ = ["Recorder", "list_dates", "list_instruments", "read_arrays", "read_ticks", "write_ticks"]
