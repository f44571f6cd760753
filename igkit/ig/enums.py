"""The closed vocabularies of IG's REST API as enums, and parsing of price resolutions.

``Resolution.parse`` accepts the enum, IG's own spellings (``"MINUTE_5"``) and pandas-like frequency
aliases (``"5min"``, ``"1s"``, ``"1h"``, ``"1D"``, ``"W"``), so research code can pass the same frequency
string it uses for candles.
"""

from __future__ import annotations

import re
from enum import StrEnum

__all__ = [
    "DealStatus",
    "OrderType",
    "Resolution",
    "TimeInForce",
    "TransactionType",
    "WorkingOrderTimeInForce",
    "WorkingOrderType",
]


class Resolution(StrEnum):
    """Price bar resolutions of ``GET /prices/{epic}`` (v3)."""

    SECOND = "SECOND"
    MINUTE = "MINUTE"
    MINUTE_2 = "MINUTE_2"
    MINUTE_3 = "MINUTE_3"
    MINUTE_5 = "MINUTE_5"
    MINUTE_10 = "MINUTE_10"
    MINUTE_15 = "MINUTE_15"
    MINUTE_30 = "MINUTE_30"
    HOUR = "HOUR"
    HOUR_2 = "HOUR_2"
    HOUR_3 = "HOUR_3"
    HOUR_4 = "HOUR_4"
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"

    @property
    def seconds(self) -> int:
        """Nominal bar length in seconds (a month counts as 31 days: an upper bound on point counts)."""
        return _SECONDS[self]

    @classmethod
    def parse(cls, value: Resolution | str) -> Resolution:
        """``Resolution`` from the enum, IG's name or a pandas-like alias; ValueError names the value."""
        if isinstance(value, Resolution):
            return value
        if not isinstance(value, str):
            raise ValueError(f"resolution: expected a Resolution or a string, got {value!r}")
        text = value.strip()
        upper = text.upper()
        if upper in cls.__members__:
            return cls[upper]
        m = _ALIAS.fullmatch(text)
        if m:
            n = int(m.group(1) or 1)
            unit = m.group(2)
            unit_s = _UNITS.get(unit) or _UNITS.get(unit.lower())
            if unit_s is not None:
                if unit_s == -1:
                    if n == 1:
                        return cls.MONTH
                else:
                    found = _BY_SECONDS.get(n * unit_s)
                    if found is not None:
                        return found
        valid = ", ".join(cls.__members__)
        raise ValueError(
            f"resolution: {value!r} is not an IG resolution ({valid}) nor an alias of one "
            "(e.g. '1s', '1min', '5min', '1h', '4h', '1D', '1W', '1M')"
        )


_SECONDS: dict[Resolution, int] = {
    Resolution.SECOND: 1,
    Resolution.MINUTE: 60,
    Resolution.MINUTE_2: 120,
    Resolution.MINUTE_3: 180,
    Resolution.MINUTE_5: 300,
    Resolution.MINUTE_10: 600,
    Resolution.MINUTE_15: 900,
    Resolution.MINUTE_30: 1800,
    Resolution.HOUR: 3600,
    Resolution.HOUR_2: 7200,
    Resolution.HOUR_3: 10800,
    Resolution.HOUR_4: 14400,
    Resolution.DAY: 86400,
    Resolution.WEEK: 604800,
    Resolution.MONTH: 31 * 86400,
}
_BY_SECONDS = {s: r for r, s in _SECONDS.items() if r is not Resolution.MONTH}
_ALIAS = re.compile(r"(\d+)?\s*([A-Za-z]+)")
# unit → seconds; -1 marks a calendar month. Case matters only for "M" (month) versus "m"/"min".
_UNITS: dict[str, int] = {
    "s": 1, "S": 1, "sec": 1, "second": 1, "seconds": 1,
    "min": 60, "T": 60, "m": 60, "minute": 60, "minutes": 60,
    "h": 3600, "H": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "D": 86400, "day": 86400, "days": 86400,
    "w": 604800, "W": 604800, "week": 604800, "weeks": 604800,
    "M": -1, "ME": -1, "MS": -1, "mo": -1, "month": -1, "months": -1,
}  # fmt: skip


class OrderType(StrEnum):
    """Order types for ``POST /positions/otc``."""

    MARKET = "MARKET"
    LIMIT = "LIMIT"
    QUOTE = "QUOTE"


class TimeInForce(StrEnum):
    """Time in force of a market/limit deal."""

    FILL_OR_KILL = "FILL_OR_KILL"
    EXECUTE_AND_ELIMINATE = "EXECUTE_AND_ELIMINATE"


class WorkingOrderType(StrEnum):
    """Working order types (``POST /workingorders/otc``)."""

    LIMIT = "LIMIT"
    STOP = "STOP"


class WorkingOrderTimeInForce(StrEnum):
    """Time in force of a working order."""

    GOOD_TILL_CANCELLED = "GOOD_TILL_CANCELLED"
    GOOD_TILL_DATE = "GOOD_TILL_DATE"


class DealStatus(StrEnum):
    """Outcome of a deal in its confirm."""

    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"


class TransactionType(StrEnum):
    """Filter of ``GET /history/transactions``."""

    ALL = "ALL"
    ALL_DEAL = "ALL_DEAL"
    DEPOSIT = "DEPOSIT"
    WITHDRAWAL = "WITHDRAWAL"
