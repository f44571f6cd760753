"""Small shared pieces of the simulator: the HTTP error it raises, IG's date formats, number rounding.

IG writes dates in half a dozen formats depending on the endpoint and version; they are collected here
so that every route formats the same moment the same way.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

__all__ = ["ApiError", "fmt", "parse_ig_time", "round_to"]

_UTC = _dt.UTC


class ApiError(Exception):
    """An IG-style error response: HTTP ``status`` with body ``{"errorCode": code}``."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"HTTP {status} {code}")
        self.status = status
        self.code = code


def _dt_of(ts_ns: int) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=_UTC).replace(
        microsecond=(ts_ns % 1_000_000_000) // 1000
    )


# Formats, by name. "local" times are written in UTC: the simulator's clients sit at timezoneOffset 0.
_FORMATS = {
    "iso": "%Y-%m-%dT%H:%M:%S",  # snapshotTimeUTC, createdDateUTC, activity date, dateUtc
    "slash": "%Y/%m/%d %H:%M:%S",  # prices snapshotTime (v2/v3), goodTillDate
    "v1price": "%Y:%m:%d-%H:%M:%S",  # prices snapshotTime (v1)
    "hms": "%H:%M:%S",  # market updateTime / updateTimeUTC
    "hm": "%H:%M",  # v1 activity time
    "dmy2": "%d/%m/%y",  # v1 activity date
    "date": "%Y-%m-%d",  # transaction date
    "isomin": "%Y-%m-%dT%H:%M",  # goodTillDateISO, lastDealingDate
}


def fmt(ts_ns: int, kind: str) -> str:
    """Format UTC nanoseconds the way IG does for ``kind``.

    Extra kinds: ``"ms"`` → ``yyyy/MM/dd HH:mm:ss:SSS`` (createdDate), ``"isoms"`` →
    ``yyyy-MM-ddTHH:mm:ss.SSS`` (confirm date).
    """
    d = _dt_of(ts_ns)
    if kind == "ms":
        return d.strftime("%Y/%m/%d %H:%M:%S:") + f"{d.microsecond // 1000:03d}"
    if kind == "isoms":
        return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}"
    return d.strftime(_FORMATS[kind])


_PARSE = (
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y:%m:%d-%H:%M:%S",
    "%d-%m-%Y",
    "%Y-%m-%d",
)


def parse_ig_time(text: str, what: str = "date") -> int:
    """Parse one of IG's request date formats (UTC) to ns; epoch milliseconds are accepted too.

    Raises ``ApiError(400, "error.malformed.date")`` naming nothing more (IG's own behaviour).
    """
    s = str(text).strip()
    if s.isdigit() and len(s) >= 10:
        return int(s) * 1_000_000
    for f in _PARSE:
        try:
            d = _dt.datetime.strptime(s, f)
        except ValueError:
            continue
        return int(d.replace(tzinfo=_UTC).timestamp()) * 1_000_000_000 + d.microsecond * 1000
    raise ApiError(400, "error.malformed.date")


def round_to(value: float, decimals: int) -> float:
    """Round a price to the instrument's decimals (a plain float for JSON)."""
    return float(round(value, decimals))


def as_float(value: Any) -> float | None:
    """A JSON number (or numeric string) as float; None stays None; anything else raises ValueError."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    return float(value)
