"""The on-disk tick layout: one Parquet dataset partitioned by instrument and UTC date.

Layout (Hive style, readable by ``pyarrow.dataset`` / DuckDB / Spark as is)::

    root/instrument=<epic>/date=YYYY-MM-DD/part-<stamp>-<pid>-<seq>-<rand>.parquet

Each file holds ``ts`` (``timestamp[ns, tz=UTC]``, delta-encoded), ``bid`` and ``ask`` (``float64``,
dictionary-encoded) in arrival order, zstd-compressed: about 6 bytes a tick.
The epic is percent-encoded with ``urllib.parse.quote(safe="")`` (what pyarrow's ``segment_encoding="uri"``
decodes), so IG epics such as ``CS.D.EURUSD.MINI.IP`` appear as is and any other character round-trips.
File names start with a strictly increasing stamp, so sorting them by name gives the order they were
written in; files are written to a hidden temporary name and renamed, so readers never see half a file.
We walk the directories ourselves (rather than ``pyarrow.dataset`` discovery) to keep that order and to
skip whole date directories outside a time filter without opening them.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from igkit.errors import DataError

__all__ = ["list_dates", "list_instruments", "read_arrays", "read_ticks", "write_ticks"]

DAY_NS = 86_400_000_000_000
SCHEMA = pa.schema(
    [
        pa.field("ts", pa.timestamp("ns", tz="UTC"), nullable=False),
        pa.field("bid", pa.float64()),
        pa.field("ask", pa.float64()),
    ]
)
_INSTRUMENT = "instrument="
_DATE = "date="

_stamp_lock = threading.Lock()
_last_stamp = 0
_seq = itertools.count()

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]


def _next_stamp() -> int:
    """A process-wide strictly increasing wall-clock stamp (ns) for file names."""
    global _last_stamp
    with _stamp_lock:
        _last_stamp = max(time.time_ns(), _last_stamp + 1)
        return _last_stamp


def _part_name() -> str:
    return f"part-{_next_stamp():020d}-{os.getpid()}-{next(_seq):08d}-{uuid.uuid4().hex[:8]}.parquet"


def _epic_dir(root: Path, epic: str) -> Path:
    return root / f"{_INSTRUMENT}{quote(epic, safe='')}"


def _check_epic(epic: object) -> str:
    if not isinstance(epic, str) or not epic.strip():
        raise DataError(f"epic must be a non-empty string, got {epic!r}")
    return epic


def to_arrays(data: Any, epic: str = "?") -> Arrays:
    """``(ts_ns int64, bid float64, ask float64)`` from a tick frame, a ``(ts, bid, ask)`` tuple or any
    object with ``ts_ns``/``bid``/``ask`` attributes (a ``TickBatch``)."""
    if isinstance(data, pd.DataFrame):
        missing = [c for c in ("bid", "ask") if c not in data.columns]
        if missing:
            raise DataError(f"{epic}: tick frame lacks column(s) {missing}; it has {list(data.columns)}")
        idx = data.index
        if not isinstance(idx, pd.DatetimeIndex):
            raise DataError(f"{epic}: tick frame index must be a UTC DatetimeIndex, got {type(idx).__name__}")
        if idx.tz is None:
            raise DataError(f"{epic}: tick frame index is naive; localise it to UTC first")
        ts = idx.tz_convert("UTC").as_unit("ns").asi8
        try:
            bid = data["bid"].to_numpy(dtype=np.float64, na_value=np.nan)
            ask = data["ask"].to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{epic}: bid/ask must be numeric ({exc})") from exc
        return np.ascontiguousarray(ts, dtype=np.int64), bid, ask
    if hasattr(data, "ts_ns") and hasattr(data, "bid") and hasattr(data, "ask"):
        parts = (data.ts_ns, data.bid, data.ask)
    elif isinstance(data, tuple | list) and len(data) == 3:
        parts = tuple(data)
    else:
        raise DataError(f"{epic}: expected a tick DataFrame or (ts_ns, bid, ask) arrays, got {type(data).__name__}")
    ts_raw, bid_raw, ask_raw = (np.asarray(p) for p in parts)
    if ts_raw.dtype.kind == "M":
        ts_raw = ts_raw.astype("datetime64[ns]").view(np.int64)
    if ts_raw.size and ts_raw.dtype.kind not in "iu":
        raise DataError(f"{epic}: ts must be int64 nanoseconds, got dtype {ts_raw.dtype}")
    for name, arr in (("bid", bid_raw), ("ask", ask_raw)):
        if arr.size and arr.dtype.kind not in "fiu":
            raise DataError(f"{epic}: {name} must be numeric, got dtype {arr.dtype}")
    ts = np.ascontiguousarray(ts_raw, dtype=np.int64)
    bid = np.ascontiguousarray(bid_raw, dtype=np.float64)
    ask = np.ascontiguousarray(ask_raw, dtype=np.float64)
    if not (ts.ndim == bid.ndim == ask.ndim == 1 and len(ts) == len(bid) == len(ask)):
        raise DataError(f"{epic}: ts, bid, ask must be 1-D and equally long, got {ts.shape}, {bid.shape}, {ask.shape}")
    return ts, bid, ask


def _write_file(directory: Path, ts: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_arrays(
        [pa.array(ts, type=pa.int64()).cast(SCHEMA.field("ts").type), pa.array(bid), pa.array(ask)],
        schema=SCHEMA,
    )
    path = directory / _part_name()
    tmp = directory / f".{path.name}.tmp"
    # delta-encoded timestamps and dictionary prices: ~6 bytes a tick, faster to write and read than plain
    pq.write_table(
        table,
        tmp,
        compression="zstd",
        use_dictionary=["bid", "ask"],
        column_encoding={"ts": "DELTA_BINARY_PACKED"},
    )
    os.replace(tmp, path)
    return path


def write_ticks(root: str | os.PathLike[str], epic: str, data: Any) -> list[Path]:
    """Append ticks for ``epic`` under ``root``, one new file per UTC date touched; returns the files.

    ``data`` is a tick frame (UTC DatetimeIndex, ``bid``, ``ask``), a ``(ts_ns, bid, ask)`` tuple of
    arrays or a ``TickBatch``. Arrival order is kept within each file. Nothing is written for no ticks.
    """
    epic = _check_epic(epic)
    ts, bid, ask = to_arrays(data, epic)
    if len(ts) == 0:
        return []
    base = _epic_dir(Path(root), epic)
    day = ts // DAY_NS
    first, last = int(day.min()), int(day.max())
    if first == last:
        days = [first]
        masks: list[np.ndarray | None] = [None]
    else:
        days = [int(d) for d in np.unique(day)]
        masks = [day == d for d in days]
    written = []
    for d, mask in zip(days, masks, strict=True):
        date = _dt.date(1970, 1, 1) + _dt.timedelta(days=d)
        part = (ts, bid, ask) if mask is None else (ts[mask], bid[mask], ask[mask])
        written.append(_write_file(base / f"{_DATE}{date.isoformat()}", *part))
    return written


def _require_root(root: str | os.PathLike[str]) -> Path:
    path = Path(root)
    if not path.is_dir():
        raise DataError(f"tick store root {str(path)!r} does not exist or is not a directory")
    return path


def list_instruments(root: str | os.PathLike[str]) -> list[str]:
    """Epics recorded under ``root``, sorted."""
    base = _require_root(root)
    return sorted(
        unquote(p.name[len(_INSTRUMENT) :]) for p in base.iterdir() if p.is_dir() and p.name.startswith(_INSTRUMENT)
    )


def _date_dirs(root: str | os.PathLike[str], epic: str) -> list[tuple[_dt.date, Path]]:
    base = _require_root(root)
    epic = _check_epic(epic)
    edir = _epic_dir(base, epic)
    if not edir.is_dir():
        raise DataError(f"no ticks for epic {epic!r}: {str(edir)!r} does not exist")
    out = []
    for p in edir.iterdir():
        if p.is_dir() and p.name.startswith(_DATE):
            try:
                out.append((_dt.date.fromisoformat(p.name[len(_DATE) :]), p))
            except ValueError as exc:
                raise DataError(f"bad date partition {str(p)!r}") from exc
    out.sort()
    return out


def list_dates(root: str | os.PathLike[str], epic: str) -> list[_dt.date]:
    """UTC dates with ticks for ``epic``, sorted."""
    return [d for d, _ in _date_dirs(root, epic)]


def bound_ns(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name}={value!r} is not a time") from exc
    if ts.tzinfo is None:
        raise DataError(f"{name}={value!r} is a naive time; pass a tz-aware UTC time")
    return int(ts.tz_convert("UTC").as_unit("ns").value)


def list_files(root: str | os.PathLike[str], epic: str, start: Any = None, end: Any = None) -> list[Path]:
    """The files of ``epic`` in write order, only from the date directories ``[start, end)`` touches."""
    lo, hi = bound_ns(start, "start"), bound_ns(end, "end")
    lo_day = None if lo is None else _dt.date(1970, 1, 1) + _dt.timedelta(days=lo // DAY_NS)
    hi_day = None if hi is None else _dt.date(1970, 1, 1) + _dt.timedelta(days=(hi - 1) // DAY_NS)
    files: list[tuple[str, Path]] = []
    for date, ddir in _date_dirs(root, epic):
        if (lo_day is not None and date < lo_day) or (hi_day is not None and date > hi_day):
            continue
        files.extend((f.name, f) for f in ddir.glob("part-*.parquet"))
    # name order = write order (a write spanning midnight stamps its dates in increasing order)
    files.sort()
    return [f for _, f in files]


def file_rows(path: Path) -> int:
    """Rows in one file, from its footer (no data read)."""
    try:
        return int(pq.read_metadata(path).num_rows)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"unreadable Parquet file {str(path)!r}: {exc}") from exc


_READ_SCHEMA = pa.schema([("ts", pa.timestamp("ns", tz="UTC")), ("bid", pa.float64()), ("ask", pa.float64())])


def read_files(paths: list[Path], lo: int | None = None, hi: int | None = None) -> Arrays:
    """``(ts_ns, bid, ask)`` of ``paths`` concatenated in order, keeping ``lo <= ts < hi``."""
    if not paths:
        empty = np.empty(0, dtype=np.int64)
        return empty, np.empty(0, dtype=np.float64), np.empty(0, dtype=np.float64)
    tables = []
    for path in paths:
        try:
            # one schema for all (files written by other tools may differ in nullability or time unit)
            tables.append(pq.ParquetFile(path).read(columns=["ts", "bid", "ask"]).cast(_READ_SCHEMA))
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"unreadable Parquet file {str(path)!r}: {exc}") from exc
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    ts = table.column("ts").cast(pa.timestamp("ns", tz="UTC")).to_numpy().view(np.int64)
    bid = table.column("bid").to_numpy()
    ask = table.column("ask").to_numpy()
    if lo is not None or hi is not None:
        keep = np.ones(len(ts), dtype=bool)
        if lo is not None:
            keep &= ts >= lo
        if hi is not None:
            keep &= ts < hi
        if not keep.all():
            ts, bid, ask = ts[keep], bid[keep], ask[keep]
    return (
        np.ascontiguousarray(ts, dtype=np.int64),
        np.ascontiguousarray(bid, dtype=np.float64),
        np.ascontiguousarray(ask, dtype=np.float64),
    )


def read_arrays(root: str | os.PathLike[str], epic: str, start: Any = None, end: Any = None) -> Arrays:
    """Like :func:`read_ticks` but returns ``(ts_ns, bid, ask)`` numpy arrays (the fast path)."""
    files = list_files(root, epic, start, end)
    return read_files(files, bound_ns(start, "start"), bound_ns(end, "end"))


def read_ticks(root: str | os.PathLike[str], epic: str, start: Any = None, end: Any = None) -> pd.DataFrame:
    """Ticks recorded for ``epic``, in the order written, across files and dates.

    ``start`` (inclusive) and ``end`` (exclusive) are tz-aware times or int ns; only the date
    directories they touch are opened. Returns a frame with a UTC DatetimeIndex named ``time`` and
    float64 ``bid``/``ask``. Raises :class:`~igkit.errors.DataError` naming the path when ``root`` or the
    epic's directory does not exist.
    """
    ts, bid, ask = read_arrays(root, epic, start, end)
    index = pd.DatetimeIndex(pd.to_datetime(ts, unit="ns", utc=True), name="time")
    return pd.DataFrame({"bid": bid, "ask": ask}, index=index)
