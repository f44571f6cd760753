"""Base of igkit's IG models: the pydantic config (frozen, camelCase aliases) and UTC time parsing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel

__all__ = ["IGModel", "UtcDatetime", "parse_utc"]


def parse_utc(value: Any) -> datetime | None:
    """IG's UTC time spellings → aware UTC ``datetime`` (naive strings are UTC by IG's convention).

    Accepts ``2020-10-12T20:50:00[.804]``, ``2020/10/12 20:50:00[:000]``, ``2020:09:01-05:00:00`` (v1
    prices), epoch milliseconds and ``datetime``.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value) / 1000.0, tz=UTC)
    if isinstance(value, str):
        text = value.strip()
        dt: datetime | None
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            dt = None
            for fmt in ("%Y/%m/%d %H:%M:%S:%f", "%Y/%m/%d %H:%M:%S", "%Y:%m:%d-%H:%M:%S", "%Y/%m/%d"):
                try:
                    dt = datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
            if dt is None:
                raise ValueError(f"unrecognised IG timestamp {value!r}") from None
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    raise ValueError(f"unrecognised IG timestamp {value!r}")


UtcDatetime = Annotated[datetime, BeforeValidator(parse_utc)]


class IGModel(BaseModel):
    """Base: frozen, camelCase aliases, unknown keys ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, alias_generator=to_camel)
