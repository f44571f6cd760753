"""Base of igkit's IG models: the pydantic config (frozen, camelCase aliases) and UTC time parsing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from igkit.errors import IGRequestError

__all__ = ["IGModel", "UtcDatetime", "parse_model", "parse_utc"]

M = TypeVar("M", bound=BaseModel)


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


def parse_model(model: type[M], data: Any, endpoint: str) -> M:
    """``model`` from IG's JSON; an unexpected shape raises IGRequestError naming the endpoint and the
    fields, never echoing the values (a malformed login answer must not put a token in a message)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<body>'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)[:5]
        )
        raise IGRequestError(
            f"unexpected {model.__name__} answer ({exc.error_count()} problem(s): {problems})",
            endpoint=endpoint,
        ) from None
