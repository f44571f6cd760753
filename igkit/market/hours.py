"""Opening hours of the catalog's instruments: is a market open at a time, and when does it next open.

Hand-written because the schedules are ours (simple weekly tables, see below) and the checks sit in the
simulator's dealing path, so they are cheap arithmetic on int64 nanoseconds plus one time-zone offset.

Sessions are kept in each market's own local time, so they follow daylight saving as the exchanges do:
FX opens Sunday 17:00 New York time, which is 22:00 UTC in winter and 21:00 UTC in summer. The table
below gives the winter (northern) hours in UTC; :data:`SCHEDULES` holds those UTC tables (used for the
synthetic market's weekly activity profile and IG's ``openingHours``). Holidays are not modelled, nor
IG's out-of-hours index quotes. The synthetic price generator ignores hours (the Demo must work at
weekends); the simulator applies them.

========== ================================================================ ====================
``fx``     Sunday 22:00 → Friday 22:00                                       New York
``metals`` Sunday 23:00 → Friday 22:00, with a daily break 22:00–23:00       New York
``energy`` as ``metals``                                                     New York
``index_uk`` / ``index_eu`` Monday–Friday 08:00–16:30                        London / Frankfurt
``index_us`` Monday–Friday 14:30–21:00                                       New York
``index_jp`` Monday–Friday 00:00–06:00                                       Tokyo (no DST)
``index_hk`` Monday–Friday 01:30–08:00                                       Hong Kong (no DST)
========== ================================================================ ====================
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from igkit.errors import DataError

__all__ = ["SCHEDULES", "hour_open_fractions", "is_open", "next_close", "next_open", "open_mask"]

_MIN_NS = 60 * 1_000_000_000
_DAY_MIN = 24 * 60
_WEEK_MIN = 7 * _DAY_MIN
_WEEK_NS = _WEEK_MIN * _MIN_NS
_MONDAY0_NS = 4 * _DAY_MIN * _MIN_NS  # 1970-01-05 00:00 UTC, a Monday (the epoch was a Thursday)
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def _at(day: int, hh: int, mm: int = 0) -> int:
    return day * _DAY_MIN + hh * 60 + mm


def _weekdays(open_hm: tuple[int, int], close_hm: tuple[int, int]) -> list[tuple[int, int]]:
    return [(_at(d, *open_hm), _at(d, *close_hm)) for d in range(MON, SAT)]


def _nearly_24x5(
    open_sun: tuple[int, int], close_fri: tuple[int, int], brk: tuple[int, int] | None
) -> list[tuple[int, int]]:
    """Sunday open → Friday close, with an optional daily break [brk start, next open) Monday–Thursday."""
    segs: list[tuple[int, int]] = []
    start = _at(SUN, *open_sun) - _WEEK_MIN  # Sunday of the previous week, so the first segment starts < 0
    for day in range(MON, FRI):
        if brk is None:
            continue
        segs.append((start, _at(day, *brk)))
        start = _at(day, *open_sun)
    segs.append((start, _at(FRI, *close_fri)))
    return segs


def _normalise(segs: list[tuple[int, int]]) -> npt.NDArray[np.int64]:
    """Segments in minutes of the week (may start before 0) → sorted, wrapped, merged [start, end) rows."""
    out: list[tuple[int, int]] = []
    for a, b in segs:
        if a < 0:
            out.append((a + _WEEK_MIN, _WEEK_MIN))
            a = 0
        out.append((a, b))
    out.sort()
    merged: list[list[int]] = []
    for a, b in out:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return np.asarray(merged, dtype=np.int64)


_TABLE: dict[str, npt.NDArray[np.int64]] = {
    "fx": _normalise(_nearly_24x5((22, 0), (22, 0), None)),
    "metals": _normalise(_nearly_24x5((23, 0), (22, 0), (22, 0))),
    "energy": _normalise(_nearly_24x5((23, 0), (22, 0), (22, 0))),
    "index_uk": _normalise(_weekdays((8, 0), (16, 30))),
    "index_eu": _normalise(_weekdays((8, 0), (16, 30))),
    "index_us": _normalise(_weekdays((14, 30), (21, 0))),
    "index_jp": _normalise(_weekdays((0, 0), (6, 0))),
    "index_hk": _normalise(_weekdays((1, 30), (8, 0))),
}
for _v in _TABLE.values():
    _v.setflags(write=False)

SCHEDULES: Mapping[str, npt.NDArray[np.int64]] = MappingProxyType(_TABLE)
"""Weekly open segments per schedule name: rows ``[start, end)`` in minutes since Monday 00:00 UTC, in
winter (northern) hours; the checks below follow each market's daylight saving."""

_ZONES: dict[str, ZoneInfo] = {
    name: ZoneInfo(zone)
    for name, zone in {
        "fx": "America/New_York", "metals": "America/New_York", "energy": "America/New_York",
        "index_uk": "Europe/London", "index_eu": "Europe/Berlin", "index_us": "America/New_York",
        "index_jp": "Asia/Tokyo", "index_hk": "Asia/Hong_Kong",
    }.items()
}  # fmt: skip
_WINTER = datetime(2026, 1, 14, 12, tzinfo=UTC)  # a Wednesday without daylight saving in the north


def _local_table(name: str) -> npt.NDArray[np.int64]:
    """The UTC winter table shifted to the zone's local wall clock (minutes of the local week)."""
    offset = _ZONES[name].utcoffset(_WINTER.astimezone(_ZONES[name]))
    shift = int(offset.total_seconds() // 60) if offset is not None else 0
    table = _normalise([(int(a) + shift, int(b) + shift) for a, b in _TABLE[name]])
    table.setflags(write=False)
    return table


_LOCAL: dict[str, tuple[ZoneInfo, npt.NDArray[np.int64]]] = {n: (_ZONES[n], _local_table(n)) for n in _TABLE}


def _schedule(hours_or_epic: str) -> tuple[ZoneInfo, npt.NDArray[np.int64]]:
    """(the market's time zone, its weekly open segments in minutes of the local week)."""
    got = _LOCAL.get(hours_or_epic)
    if got is not None:
        return got
    from igkit.market.catalog import spec

    hours = spec(hours_or_epic).hours
    try:
        return _LOCAL[hours]
    except KeyError:  # pragma: no cover - catalog/table mismatch caught by tests
        raise DataError(f"{hours_or_epic}: unknown opening-hours schedule {hours!r}") from None


def _offset_ns(zone: ZoneInfo, utc_ns: int) -> int:
    """The zone's UTC offset in ns at the instant ``utc_ns``."""
    off = datetime.fromtimestamp(utc_ns // 1_000_000_000, UTC).astimezone(zone).utcoffset()
    return int(off.total_seconds()) * 1_000_000_000 if off is not None else 0


def _to_utc(zone: ZoneInfo, local_ns: int) -> int:
    """The instant whose wall-clock time in ``zone`` is ``local_ns`` (sessions never start or end in a
    daylight-saving gap or overlap, so the first reading is the one)."""
    wall = datetime.fromtimestamp(local_ns // 1_000_000_000, UTC).replace(tzinfo=zone)
    off = wall.utcoffset()
    return local_ns - (int(off.total_seconds()) * 1_000_000_000 if off is not None else 0)


def _hours_of(epic: str) -> str:
    from igkit.market.catalog import spec

    return spec(epic).hours


def _week_pos(ts_ns: int) -> tuple[int, int]:
    """(start of the week in ns, position in the week in ns) of a UTC timestamp."""
    rel = int(ts_ns) - _MONDAY0_NS
    week_start = rel - rel % _WEEK_NS + _MONDAY0_NS
    return week_start, int(ts_ns) - week_start


def _as_ns(ts: object) -> int:
    from igkit.market.process import to_ns

    return to_ns(ts, "ts")


def is_open(epic: str, ts_ns: int | object) -> bool:
    """Whether the instrument's market is open at ``ts_ns`` (int ns since the epoch, or a tz-aware time).

    ``epic`` may also be a schedule name from :data:`SCHEDULES`.
    """
    zone, table = _schedule(epic)
    ts = _as_ns(ts_ns)
    _, pos = _week_pos(ts + _offset_ns(zone, ts))
    minute = pos // _MIN_NS
    i = int(np.searchsorted(table[:, 0], minute, side="right")) - 1
    return bool(i >= 0 and minute < table[i, 1])


def open_mask(epic: str, ts_ns: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Vectorised :func:`is_open` over an int64 array of nanoseconds."""
    zone, table = _schedule(epic)
    ts = np.asarray(ts_ns, dtype=np.int64)
    shape = ts.shape
    utc = pd.DatetimeIndex(ts.ravel().view("datetime64[ns]")).tz_localize("UTC")
    local = utc.tz_convert(zone).tz_localize(None).asi8.reshape(shape)
    minute = ((local - _MONDAY0_NS) % _WEEK_NS) // _MIN_NS
    i = np.searchsorted(table[:, 0], minute, side="right") - 1
    ok = i >= 0
    return ok & (minute < table[np.maximum(i, 0), 1])


def next_open(epic: str, ts_ns: int | object) -> int:
    """The first time at or after ``ts_ns`` when the market is open (``ts_ns`` itself if it is open)."""
    zone, table = _schedule(epic)
    ts = _as_ns(ts_ns)
    week_start, pos = _week_pos(ts + _offset_ns(zone, ts))  # in local wall-clock time
    minute = pos // _MIN_NS
    i = int(np.searchsorted(table[:, 0], minute, side="right")) - 1
    if i >= 0 and minute < table[i, 1]:
        return ts
    nxt = i + 1
    if nxt < len(table):
        return _to_utc(zone, week_start + int(table[nxt, 0]) * _MIN_NS)
    return _to_utc(zone, week_start + _WEEK_NS + int(table[0, 0]) * _MIN_NS)


def next_close(epic: str, ts_ns: int | object) -> int:
    """The first time after ``ts_ns`` when the market closes (for a closed market: the end of its next session)."""
    zone, table = _schedule(epic)
    ts = next_open(epic, ts_ns)
    week_start, pos = _week_pos(ts + _offset_ns(zone, ts))  # in local wall-clock time
    minute = pos // _MIN_NS
    i = int(np.searchsorted(table[:, 0], minute, side="right")) - 1
    end = week_start + int(table[i, 1]) * _MIN_NS
    if table[i, 1] == _WEEK_MIN and table[0, 0] == 0:  # the session runs on over the week boundary
        end = week_start + _WEEK_NS + int(table[0, 1]) * _MIN_NS
    return _to_utc(zone, end)


def hour_open_fractions(hours: str) -> npt.NDArray[np.float64]:
    """For each of the 168 hours of the week (from Monday 00:00 UTC), the fraction of it the market is open
    in winter hours (the synthetic market's weekly activity profile)."""
    table = _TABLE[hours] if hours in _TABLE else _TABLE[_hours_of(hours)]
    minutes = np.zeros(_WEEK_MIN, dtype=np.float64)
    for a, b in table:
        minutes[a:b] = 1.0
    return minutes.reshape(168, 60).mean(axis=1)
