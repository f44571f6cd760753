"""IG price responses → the fixed history DataFrame schema, and time arguments → IG's format.

The schema never depends on what IG returned (an empty answer gives an empty frame of the same shape):

* index: ``DatetimeIndex`` named ``time``, ``datetime64[ns, UTC]``, the bar's open time from
  ``snapshotTimeUTC`` (legacy v1/v2 answers only carry ``snapshotTime``, which is then read as UTC),
  sorted, unique;
* float64 columns ``bid_open bid_high bid_low bid_close ask_open ask_high ask_low ask_close mid_open
  mid_high mid_low mid_close`` (mid = (bid+ask)/2) and ``volume`` (float64); nulls are NaN.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from igkit.ig.models import PriceResponse, parse_utc

__all__ = ["PRICE_COLUMNS", "empty_prices_frame", "ig_time", "prices_frame", "to_utc"]

PRICE_COLUMNS: tuple[str, ...] = (
    "bid_open", "bid_high", "bid_low", "bid_close",
    "ask_open", "ask_high", "ask_low", "ask_close",
    "mid_open", "mid_high", "mid_low", "mid_close",
    "volume",
)  # fmt: skip
_FIELDS = (("open", "open_price"), ("high", "high_price"), ("low", "low_price"), ("close", "close_price"))


def to_utc(value: datetime | pd.Timestamp | str, *, name: str = "time") -> pd.Timestamp:
    """A tz-aware UTC ``Timestamp``; naive input is read as UTC (never as local time)."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name}: cannot read {value!r} as a time ({exc})") from None
    if ts is pd.NaT:
        raise ValueError(f"{name}: {value!r} is not a time")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def ig_time(ts: pd.Timestamp) -> str:
    """IG's ``yyyy-MM-dd'T'HH:mm:ss`` (UTC) query format."""
    return ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S")


def empty_prices_frame() -> pd.DataFrame:
    """A frame with the fixed schema and no rows."""
    index = pd.DatetimeIndex([], dtype="datetime64[ns, UTC]", name="time")
    return pd.DataFrame({c: np.empty(0, dtype="float64") for c in PRICE_COLUMNS}, index=index)


def prices_frame(responses: Iterable[PriceResponse]) -> pd.DataFrame:
    """Concatenate the bars of one or more price responses into the fixed schema."""
    times: list[datetime] = []
    cols: dict[str, list[float]] = {c: [] for c in PRICE_COLUMNS if not c.startswith("mid")}
    nan = float("nan")
    for resp in responses:
        for bar in resp.prices:
            t = parse_utc(bar.snapshot_time_utc or bar.snapshot_time)
            if t is None:
                continue
            times.append(t)
            for short, attr in _FIELDS:
                p = getattr(bar, attr)
                bid = p.bid if p is not None and p.bid is not None else nan
                ask = p.ask if p is not None and p.ask is not None else nan
                cols[f"bid_{short}"].append(bid)
                cols[f"ask_{short}"].append(ask)
            v = bar.last_traded_volume
            cols["volume"].append(nan if v is None else float(v))
    if not times:
        return empty_prices_frame()
    arrays = {k: np.asarray(v, dtype="float64") for k, v in cols.items()}
    for short, _ in _FIELDS:
        arrays[f"mid_{short}"] = (arrays[f"bid_{short}"] + arrays[f"ask_{short}"]) / 2.0
    index = pd.DatetimeIndex(
        [t.astimezone(UTC).replace(tzinfo=None) for t in times], name="time"
    ).as_unit("ns").tz_localize("UTC")
    frame = pd.DataFrame({c: arrays[c] for c in PRICE_COLUMNS}, index=index)
    frame = frame[~frame.index.duplicated(keep="last")]
    if not frame.index.is_monotonic_increasing:
        frame = frame.sort_index(kind="stable")
    return frame
