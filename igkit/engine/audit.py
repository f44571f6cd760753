"""The engine's audit log: one JSON object per line, append-only, every decision the engine takes.

Each line holds ``ts`` (ISO 8601 UTC wall-clock time of the record), ``kind`` (one of :data:`KINDS`) and
the record's fields. Records are written under a lock (any thread may write: the engine thread, a
notebook's kill button) and flushed at once, so a crash loses nothing already decided. Secrets never
reach the file: values under secret-looking keys are replaced, ``SecretStr`` values are never revealed,
and every line passes through :func:`igkit.config.redact` (the registered secrets).

Hand-written because it is a few lines over :mod:`json`: a logging handler would add formatting we do not
want and make "one object per line, flushed" harder to guarantee.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import functools
import json
import logging
import math
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
from pydantic import SecretStr

from igkit.config import redact
from igkit.errors import DataError
from igkit.types import Fill, Order, OrderResult

__all__ = ["KINDS", "AuditLog", "fill_fields", "order_fields", "read_audit", "result_fields"]

log = logging.getLogger(__name__)

KINDS = frozenset({"signal", "risk", "order", "confirm", "fill", "status", "error", "kill"})
"""The record kinds: a signal, a risk verdict, an order sent, the broker's confirm, a fill, a status
change, an error, a kill-switch action."""

_SECRET_KEYS = ("password", "api_key", "apikey", "secret", "token", "cst", "x-security-token", "authorization")
_MASK = "***"


@functools.lru_cache(maxsize=1024)
def _is_secret_key(key: str) -> bool:
    k = key.lower()
    return any(s == k or k.endswith(s) or k.startswith(s) for s in _SECRET_KEYS)


def _iso(ts_ns: int) -> str:
    return _dt.datetime.fromtimestamp(ts_ns / 1e9, tz=_dt.UTC).isoformat(timespec="microseconds")


def _plain(value: Any) -> Any:
    """``value`` made JSON-friendly: records → dicts, enums → values, numpy/pandas scalars → Python."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, SecretStr):
        return _MASK
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, pd.Timestamp | _dt.datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # NamedTuple (a Candle, say)
        return _plain(value._asdict())  # type: ignore[attr-defined]
    if isinstance(value, Mapping):
        return {str(k): (_MASK if _is_secret_key(str(k)) else _plain(v)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    return str(value)


class AuditLog:
    """Append JSON-lines records to ``path`` (created with its folder); ``path=None`` keeps nothing.

    ``write(kind, **fields)`` returns the record it wrote. Thread-safe; idempotent ``close()``; usable as a
    context manager. A write failure is logged once and counted in ``failures``, never raised into the
    trading loop.
    """

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path: Path | None = None if path is None else Path(path)
        self._lock = threading.Lock()
        self._fh: IO[str] | None = None
        self.records = 0
        self.failures = 0
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held open until close()

    def write(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Append one record of ``kind`` with ``fields``; flushed before returning."""
        if kind not in KINDS:
            raise ValueError(f"audit: unknown record kind {kind!r}; expected one of {sorted(KINDS)}")
        if self._fh is None:  # nothing kept: skip the formatting (the engine writes on its hot path)
            return {"kind": kind, **fields}
        record: dict[str, Any] = {"ts": _iso(time.time_ns()), "kind": kind}
        for key, value in fields.items():
            record[key] = _MASK if _is_secret_key(key) else _plain(value)
        if self._fh is None:
            return record
        line = redact(json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False))
        with self._lock:
            fh = self._fh
            if fh is None:
                return record
            try:
                fh.write(line + "\n")
                fh.flush()
                self.records += 1
            except (OSError, ValueError) as exc:
                self.failures += 1
                if self.failures == 1:
                    log.error("audit log %s: cannot write (%s); further failures are only counted", self.path, exc)
        return record

    def close(self) -> None:
        with self._lock:
            fh, self._fh = self._fh, None
        if fh is not None:
            try:
                fh.close()
            except OSError as exc:
                log.error("audit log %s: close failed: %s", self.path, exc)

    @property
    def closed(self) -> bool:
        return self._fh is None

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AuditLog({str(self.path) if self.path else None!r}, records={self.records})"


def read_audit(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every record of the audit log at ``path``, in order. A line that is not a JSON object raises
    :class:`~igkit.errors.DataError` naming the file and the line number."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"audit log {p} does not exist")
    out: list[dict[str, Any]] = []
    with open(p, encoding="utf-8") as fh:
        for no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"audit log {p}, line {no}: not JSON ({exc.msg})") from None
            if not isinstance(rec, dict) or "kind" not in rec or "ts" not in rec:
                raise DataError(f"audit log {p}, line {no}: expected an object with 'ts' and 'kind'")
            out.append(rec)
    return out


# -- the fields each record kind carries ---------------------------------------------------------------
def order_fields(o: Order) -> dict[str, Any]:
    """An order's audit fields."""
    return {"epic": o.epic, "direction": o.direction.value, "size": o.size, "order_type": o.order_type.value,
            "reason": o.reason, "deal_reference": o.deal_reference, "level": o.level,
            "close_deal_id": o.close_deal_id}


def result_fields(r: OrderResult) -> dict[str, Any]:
    """A broker's (or the risk manager's) answer: the order's fields, status, reason, deal id, level."""
    return {**order_fields(r.order), "status": r.status.value, "broker_reason": r.reason, "deal_id": r.deal_id,
            "fill_level": r.level}


def fill_fields(f: Fill) -> dict[str, Any]:
    """A fill's audit fields."""
    return {"epic": f.epic, "deal_id": f.deal_id, "deal_reference": f.deal_reference,
            "direction": f.direction.value, "size": f.size, "price": f.price, "time_ns": f.time_ns,
            "reason": f.reason, "pnl": f.pnl, "opening": f.opening}
