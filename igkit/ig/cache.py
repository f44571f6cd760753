"""Parquet cache of fetched price history, so the same range is never paid for twice.

IG charges history against a weekly points allowance. A frame fetched for a closed range (both ends
given, end in the past) is stored as one Parquet file keyed by epic, resolution and the range; asking for
the same range again, or any range inside a cached one, reads the file (sliced, both ends inclusive like
IG's ``from``/``to``) and sends nothing. Files are written atomically (temp + rename).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path

import pandas as pd

from igkit.ig.prices import PRICE_COLUMNS

__all__ = ["HistoryCache"]

log = logging.getLogger(__name__)
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def _stamp(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").strftime("%Y%m%dT%H%M%S")


class HistoryCache:
    """History frames on disk under ``root/<epic>/<resolution>/<start>_<end>.parquet``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser()
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        return f"HistoryCache({str(self.root)!r})"

    def path(self, epic: str, resolution: str, start: pd.Timestamp, end: pd.Timestamp) -> Path:
        return self.root / _SAFE.sub("_", epic) / str(resolution) / f"{_stamp(start)}_{_stamp(end)}.parquet"

    def get(self, epic: str, resolution: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame | None:
        """The cached frame for this range (exact, or sliced from a cached range covering it), or None."""
        exact = self.path(epic, resolution, start, end)
        candidates = [exact] if exact.is_file() else self._covering(exact.parent, start, end)
        for p in candidates:
            frame = self._read(p)
            if frame is not None:
                self.hits += 1
                return frame if p == exact else frame.loc[start:end]
        self.misses += 1
        return None

    def _covering(self, folder: Path, start: pd.Timestamp, end: pd.Timestamp) -> list[Path]:
        """Cached files whose range covers [start, end], narrowest first."""
        if not folder.is_dir():
            return []
        found: list[tuple[pd.Timedelta, Path]] = []
        for p in folder.glob("*_*.parquet"):
            try:
                a, b = (pd.Timestamp(x, tz="UTC") for x in p.stem.split("_"))
            except ValueError:
                continue
            if a <= start and b >= end:
                found.append((b - a, p))
        return [p for _, p in sorted(found)]

    def _read(self, p: Path) -> pd.DataFrame | None:
        try:
            frame = pd.read_parquet(p)
        except Exception as exc:  # a corrupt file is a miss, not a crash
            log.warning("history cache file %s unreadable (%s); fetching again", p, exc)
            return None
        if list(frame.columns) != list(PRICE_COLUMNS):
            return None
        frame.index = pd.DatetimeIndex(frame.index, name="time").as_unit("ns")
        return frame

    def put(self, epic: str, resolution: str, start: pd.Timestamp, end: pd.Timestamp, frame: pd.DataFrame) -> Path:
        """Store ``frame`` for this range (atomically)."""
        p = self.path(epic, resolution, start, end)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".parquet", dir=p.parent)
        os.close(fd)
        try:
            frame.to_parquet(tmp)
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return p
