"""Request-body validation for dealing routes, with IG's 400 codes.

``validation.null-not-allowed.request.<field>`` for a missing required field,
``validation.pattern.invalid.request.<field>`` for a malformed value, ``invalid.request.<field>`` for a
broken cross-field rule (the field named is the one to fix).
"""

from __future__ import annotations

import re
from typing import Any

from igkit.sim._util import ApiError, parse_ig_time

__all__ = ["Body"]

_PATTERNS = {
    "epic": re.compile(r"[A-Za-z0-9._]{6,30}"),
    "expiry": re.compile(r"(\d{2}-)?[A-Z]{3}-\d{2}|-|DFB"),
    "currencyCode": re.compile(r"[A-Z]{3}"),
    "dealReference": re.compile(r"[A-Za-z0-9_\-]{1,30}"),
    "dealId": re.compile(r"[A-Za-z0-9_\-.]{1,60}"),
}
_ENUMS = {
    "direction": ("BUY", "SELL"),
    "orderType": ("MARKET", "LIMIT", "QUOTE"),
    "timeInForce": ("FILL_OR_KILL", "EXECUTE_AND_ELIMINATE", "GOOD_TILL_CANCELLED", "GOOD_TILL_DATE"),
    "type": ("LIMIT", "STOP"),
}


def bad(field: str) -> ApiError:
    return ApiError(400, f"validation.pattern.invalid.request.{field}")


def rule(field: str) -> ApiError:
    return ApiError(400, f"invalid.request.{field}")


class Body:
    """Typed access to a JSON request body."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def has(self, name: str) -> bool:
        return self.data.get(name) is not None

    def require(self, *names: str) -> None:
        for name in names:
            if self.data.get(name) is None:
                raise ApiError(400, f"validation.null-not-allowed.request.{name}")

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.data.get(name)
        if value is None:
            if required:
                self.require(name)
            return None
        if not isinstance(value, str):
            raise bad(name)
        pat = _PATTERNS.get(name)
        if pat is not None and not pat.fullmatch(value):
            raise bad(name)
        allowed = _ENUMS.get(name)
        if allowed is not None and value not in allowed:
            raise bad(name)
        return value

    def need_str(self, name: str) -> str:
        value = self.text(name, required=True)
        assert value is not None
        return value

    def flag(self, name: str, *, required: bool = False, default: bool = False) -> bool:
        value = self.data.get(name)
        if value is None:
            if required:
                self.require(name)
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise bad(name)

    def number(self, name: str, *, required: bool = False, positive: bool = False) -> float | None:
        value = self.data.get(name)
        if value is None:
            if required:
                self.require(name)
            return None
        if isinstance(value, bool):
            raise bad(name)
        try:
            out = float(value)
        except (TypeError, ValueError):
            raise bad(name) from None
        if out != out or out in (float("inf"), float("-inf")) or (positive and out <= 0):
            raise bad(name)
        if name == "size" and "." in str(value) and len(str(value).split(".")[1]) > 12:
            raise bad(name)
        return out

    def need_num(self, name: str, *, positive: bool = False) -> float:
        value = self.number(name, required=True, positive=positive)
        assert value is not None
        return value

    def time(self, name: str) -> int | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value) * 1_000_000  # epoch milliseconds
        try:
            return parse_ig_time(str(value))
        except ApiError:
            raise bad(name) from None

    # --- shared rules -----------------------------------------------------------------------------
    def stops_and_limits(self) -> dict[str, float | None]:
        out = {k: self.number(k, positive=True) for k in ("stopLevel", "stopDistance", "limitLevel",
                                                       "limitDistance")}
        if out["stopLevel"] is not None and out["stopDistance"] is not None:
            raise rule("stopDistance")
        if out["limitLevel"] is not None and out["limitDistance"] is not None:
            raise rule("limitDistance")
        return out

    def order_type_rules(self, order_type: str) -> None:
        level, quote = self.has("level"), self.has("quoteId")
        if order_type == "LIMIT" and (not level or quote):
            raise rule("quoteId" if quote else "level")
        if order_type == "MARKET" and (level or quote):
            raise rule("level" if level else "quoteId")
        if order_type == "QUOTE" and not (level and quote):
            raise rule("quoteId" if level else "level")
