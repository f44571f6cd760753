"""IG's dealing rules checked before sending, and the request bodies built from checked values.

Hand-written because the rules are IG's (reference §4): which of stopLevel/stopDistance, forceOpen with
stops or limits, orderType/level/quoteId combinations, trailing and guaranteed stops, expiry and deal
reference patterns, size decimals. A breach raises :class:`DealValidationError` (both a ``ValueError``
and an :class:`~igkit.errors.IGRequestError`) naming the field and the value, and nothing is sent.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from igkit.errors import IGRequestError
from igkit.ig.enums import OrderType, TimeInForce, WorkingOrderTimeInForce, WorkingOrderType
from igkit.types import Direction

__all__ = [
    "DealValidationError",
    "amend_position_body",
    "amend_working_order_body",
    "check_deal_reference",
    "close_position_body",
    "open_position_body",
    "working_order_body",
]

DEAL_REFERENCE = re.compile(r"[A-Za-z0-9_\-]{1,30}")
EPIC = re.compile(r"[A-Za-z0-9._]{6,30}")
EXPIRY = re.compile(r"(\d{2}-)?[A-Z]{3}-\d{2}|-|DFB")
CURRENCY = re.compile(r"[A-Z]{3}")
DEAL_ID = re.compile(r"[A-Za-z0-9_\-]{1,30}")
MAX_SIZE_DECIMALS = 12


class DealValidationError(IGRequestError, ValueError):
    """A deal request breaks one of IG's rules; ``field`` is the IG field name. Nothing was sent."""

    def __init__(self, field: str, message: str, *, endpoint: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}", error_code=f"invalid.request.{field}", endpoint=endpoint)


class _Checker:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def fail(self, field: str, message: str) -> DealValidationError:
        return DealValidationError(field, message, endpoint=self.endpoint)

    def pattern(self, field: str, value: Any, regex: re.Pattern[str], shape: str) -> str:
        if not isinstance(value, str) or not regex.fullmatch(value):
            raise self.fail(field, f"{value!r} does not match {shape}")
        return value

    def enum(self, field: str, value: Any, enum: type[Any]) -> Any:
        try:
            return enum(value.value if hasattr(value, "value") else value)
        except (ValueError, TypeError):
            allowed = ", ".join(m.value for m in enum)
            raise self.fail(field, f"{value!r} is not one of {allowed}") from None

    def number(self, field: str, value: Any, *, positive: bool = True) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(field, f"expected a number, got {value!r}")
        v = float(value)
        if not math.isfinite(v) or (positive and v <= 0):
            raise self.fail(field, f"must be a finite number > 0, got {value!r}")
        return v

    def size(self, field: str, value: Any) -> float:
        v = self.number(field, value)
        if v is None:
            raise self.fail(field, "is required")
        rounded = round(v, MAX_SIZE_DECIMALS)
        # float noise (0.1 + 0.2) is not a 13th decimal: accept it and send the rounded size
        if abs(rounded - v) > 4 * math.ulp(v):
            raise self.fail(field, f"{value!r} has more than {MAX_SIZE_DECIMALS} decimal places")
        return rounded

    def one_of(self, a: str, va: Any, b: str, vb: Any) -> None:
        if va is not None and vb is not None:
            raise self.fail(a, f"give {a} or {b}, not both ({va!r} and {vb!r})")

    def order_type(self, order_type: Any, level: Any, quote_id: Any) -> OrderType:
        ot = self.enum("orderType", order_type, OrderType)
        if ot is OrderType.LIMIT:
            if level is None:
                raise self.fail("level", "orderType LIMIT needs a level")
            if quote_id is not None:
                raise self.fail("quoteId", "orderType LIMIT must not have a quoteId")
        elif ot is OrderType.MARKET:
            if level is not None:
                raise self.fail("level", f"orderType MARKET must not have a level (got {level!r})")
            if quote_id is not None:
                raise self.fail("quoteId", "orderType MARKET must not have a quoteId")
        elif level is None or quote_id is None:
            raise self.fail("quoteId" if level is not None else "level", "orderType QUOTE needs level and quoteId")
        self.number("level", level)
        return ot


def check_deal_reference(ref: str, *, endpoint: str = "POST /positions/otc") -> str:
    """``ref`` if it matches ``[A-Za-z0-9_\\-]{1,30}``, else DealValidationError."""
    return _Checker(endpoint).pattern("dealReference", ref, DEAL_REFERENCE, "[A-Za-z0-9_-]{1,30}")


def _gtd(c: _Checker, value: Any) -> str | int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise c.fail("goodTillDate", "a datetime must be timezone-aware (UTC)")
        return value.astimezone(UTC).strftime("%Y/%m/%d %H:%M:%S")
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # epoch milliseconds
    if isinstance(value, str) and re.fullmatch(r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}(:\d{2})?", value):
        return value
    raise c.fail("goodTillDate", f"expected an aware datetime, epoch ms or 'yyyy/MM/dd HH:mm:ss', got {value!r}")


def open_position_body(
    *,
    epic: str,
    direction: Direction | str,
    size: float,
    currency_code: str,
    expiry: str = "-",
    order_type: OrderType | str = OrderType.MARKET,
    level: float | None = None,
    quote_id: str | None = None,
    stop_level: float | None = None,
    stop_distance: float | None = None,
    limit_level: float | None = None,
    limit_distance: float | None = None,
    guaranteed_stop: bool = False,
    trailing_stop: bool = False,
    trailing_stop_increment: float | None = None,
    force_open: bool | None = None,
    time_in_force: TimeInForce | str | None = None,
    deal_reference: str,
) -> dict[str, Any]:
    """The checked body of ``POST /positions/otc`` (v2)."""
    c = _Checker("POST /positions/otc")
    body: dict[str, Any] = {
        "epic": c.pattern("epic", epic, EPIC, "[A-Za-z0-9._]{6,30}"),
        "expiry": c.pattern("expiry", expiry, EXPIRY, "'-', 'DFB' or e.g. 'DEC-24'"),
        "direction": c.enum("direction", direction, Direction).value,
        "size": c.size("size", size),
        "currencyCode": c.pattern("currencyCode", currency_code, CURRENCY, "[A-Z]{3}"),
        "dealReference": check_deal_reference(deal_reference),
    }
    ot = c.order_type(order_type, level, quote_id)
    body["orderType"] = ot.value
    if level is not None:
        body["level"] = float(level)
    if quote_id is not None:
        body["quoteId"] = str(quote_id)
    c.one_of("stopLevel", stop_level, "stopDistance", stop_distance)
    c.one_of("limitLevel", limit_level, "limitDistance", limit_distance)
    for name, value in (
        ("stopLevel", stop_level),
        ("stopDistance", stop_distance),
        ("limitLevel", limit_level),
        ("limitDistance", limit_distance),
    ):
        if c.number(name, value) is not None:
            body[name] = float(value)  # type: ignore[arg-type]
    has_attached = any(v is not None for v in (stop_level, stop_distance, limit_level, limit_distance))
    if force_open is None:
        force_open = has_attached
    if has_attached and not force_open:
        raise c.fail("forceOpen", "must be true when a stop or limit is attached")
    if guaranteed_stop:
        if stop_level is None and stop_distance is None:
            raise c.fail("guaranteedStop", "a guaranteed stop needs stopLevel or stopDistance")
        if trailing_stop:
            raise c.fail("trailingStop", "a trailing stop cannot be guaranteed")
    if trailing_stop:
        if stop_distance is None:
            raise c.fail("stopDistance", "a trailing stop needs stopDistance (not stopLevel)")
        if trailing_stop_increment is None:
            raise c.fail("trailingStopIncrement", "a trailing stop needs trailingStopIncrement")
        body["trailingStopIncrement"] = c.number("trailingStopIncrement", trailing_stop_increment)
    elif trailing_stop_increment is not None:
        raise c.fail("trailingStopIncrement", "only allowed with trailingStop=true")
    body["forceOpen"] = bool(force_open)
    body["guaranteedStop"] = bool(guaranteed_stop)
    body["trailingStop"] = bool(trailing_stop)
    if time_in_force is not None:
        body["timeInForce"] = c.enum("timeInForce", time_in_force, TimeInForce).value
    return body


def close_position_body(
    *,
    deal_id: str,
    direction: Direction | str,
    size: float,
    order_type: OrderType | str = OrderType.MARKET,
    level: float | None = None,
    quote_id: str | None = None,
    time_in_force: TimeInForce | str | None = None,
) -> dict[str, Any]:
    """The checked body of the close (``POST /positions/otc`` with ``_method: DELETE``, v1)."""
    c = _Checker("DELETE /positions/otc")
    body: dict[str, Any] = {
        "dealId": c.pattern("dealId", deal_id, DEAL_ID, "a deal id"),
        "direction": c.enum("direction", direction, Direction).value,
        "size": c.size("size", size),
        "orderType": c.order_type(order_type, level, quote_id).value,
    }
    if level is not None:
        body["level"] = float(level)
    if quote_id is not None:
        body["quoteId"] = str(quote_id)
    if time_in_force is not None:
        body["timeInForce"] = c.enum("timeInForce", time_in_force, TimeInForce).value
    return body


def amend_position_body(
    deal_id: str,
    *,
    stop_level: float | None = None,
    limit_level: float | None = None,
    guaranteed_stop: bool = False,
    trailing_stop: bool = False,
    trailing_stop_distance: float | None = None,
    trailing_stop_increment: float | None = None,
) -> dict[str, Any]:
    """The checked body of ``PUT /positions/otc/{dealId}`` (v2)."""
    c = _Checker(f"PUT /positions/otc/{deal_id}")
    c.pattern("dealId", deal_id, DEAL_ID, "a deal id")
    body: dict[str, Any] = {
        "stopLevel": c.number("stopLevel", stop_level),
        "limitLevel": c.number("limitLevel", limit_level),
        "guaranteedStop": bool(guaranteed_stop),
        "trailingStop": bool(trailing_stop),
    }
    if guaranteed_stop:
        if stop_level is None:
            raise c.fail("stopLevel", "a guaranteed stop needs stopLevel")
        if trailing_stop:
            raise c.fail("trailingStop", "a trailing stop cannot be guaranteed")
    if trailing_stop:
        for name, value in (
            ("trailingStopDistance", trailing_stop_distance),
            ("trailingStopIncrement", trailing_stop_increment),
            ("stopLevel", stop_level),
        ):
            if value is None:
                raise c.fail(name, "a trailing stop needs trailingStopDistance, trailingStopIncrement and stopLevel")
        body["trailingStopDistance"] = c.number("trailingStopDistance", trailing_stop_distance)
        body["trailingStopIncrement"] = c.number("trailingStopIncrement", trailing_stop_increment)
    else:
        for name, value in (
            ("trailingStopDistance", trailing_stop_distance),
            ("trailingStopIncrement", trailing_stop_increment),
        ):
            if value is not None:
                raise c.fail(name, "only allowed with trailingStop=true")
    return body


def working_order_body(
    *,
    epic: str,
    direction: Direction | str,
    size: float,
    level: float,
    type: WorkingOrderType | str,
    currency_code: str,
    expiry: str = "-",
    time_in_force: WorkingOrderTimeInForce | str = WorkingOrderTimeInForce.GOOD_TILL_CANCELLED,
    good_till_date: datetime | str | int | None = None,
    stop_level: float | None = None,
    stop_distance: float | None = None,
    limit_level: float | None = None,
    limit_distance: float | None = None,
    guaranteed_stop: bool = False,
    force_open: bool | None = None,
    deal_reference: str,
) -> dict[str, Any]:
    """The checked body of ``POST /workingorders/otc`` (v2)."""
    c = _Checker("POST /workingorders/otc")
    lvl = c.number("level", level)
    if lvl is None:
        raise c.fail("level", "a working order needs a level")
    body: dict[str, Any] = {
        "epic": c.pattern("epic", epic, EPIC, "[A-Za-z0-9._]{6,30}"),
        "expiry": c.pattern("expiry", expiry, EXPIRY, "'-', 'DFB' or e.g. 'DEC-24'"),
        "direction": c.enum("direction", direction, Direction).value,
        "size": c.size("size", size),
        "level": lvl,
        "type": c.enum("type", type, WorkingOrderType).value,
        "currencyCode": c.pattern("currencyCode", currency_code, CURRENCY, "[A-Z]{3}"),
        "dealReference": check_deal_reference(deal_reference, endpoint=c.endpoint),
        "guaranteedStop": bool(guaranteed_stop),
    }
    _order_terms(c, body, time_in_force, good_till_date, stop_level, stop_distance, limit_level, limit_distance)
    if guaranteed_stop and stop_level is None and stop_distance is None:
        raise c.fail("guaranteedStop", "a guaranteed stop needs stopLevel or stopDistance")
    if force_open is not None:
        body["forceOpen"] = bool(force_open)
    return body


def amend_working_order_body(
    deal_id: str,
    *,
    level: float,
    type: WorkingOrderType | str | None = None,
    time_in_force: WorkingOrderTimeInForce | str | None = None,
    good_till_date: datetime | str | int | None = None,
    stop_level: float | None = None,
    stop_distance: float | None = None,
    limit_level: float | None = None,
    limit_distance: float | None = None,
    guaranteed_stop: bool | None = None,
) -> dict[str, Any]:
    """The checked body of ``PUT /workingorders/otc/{dealId}`` (v2)."""
    c = _Checker(f"PUT /workingorders/otc/{deal_id}")
    c.pattern("dealId", deal_id, DEAL_ID, "a deal id")
    lvl = c.number("level", level)
    if lvl is None:
        raise c.fail("level", "amending a working order needs its level")
    body: dict[str, Any] = {"level": lvl}
    if type is not None:
        body["type"] = c.enum("type", type, WorkingOrderType).value
    _order_terms(c, body, time_in_force, good_till_date, stop_level, stop_distance, limit_level, limit_distance)
    if guaranteed_stop is not None:
        body["guaranteedStop"] = bool(guaranteed_stop)
    return body


def _order_terms(
    c: _Checker,
    body: dict[str, Any],
    time_in_force: Any,
    good_till_date: Any,
    stop_level: Any,
    stop_distance: Any,
    limit_level: Any,
    limit_distance: Any,
) -> None:
    if time_in_force is not None:
        tif = c.enum("timeInForce", time_in_force, WorkingOrderTimeInForce)
        body["timeInForce"] = tif.value
        if tif is WorkingOrderTimeInForce.GOOD_TILL_DATE:
            if good_till_date is None:
                raise c.fail("goodTillDate", "timeInForce GOOD_TILL_DATE needs goodTillDate")
            body["goodTillDate"] = _gtd(c, good_till_date)
        elif good_till_date is not None:
            raise c.fail("goodTillDate", "only allowed with timeInForce GOOD_TILL_DATE")
    elif good_till_date is not None:
        raise c.fail("goodTillDate", "only allowed with timeInForce GOOD_TILL_DATE")
    c.one_of("stopLevel", stop_level, "stopDistance", stop_distance)
    c.one_of("limitLevel", limit_level, "limitDistance", limit_distance)
    for name, value in (
        ("stopLevel", stop_level),
        ("stopDistance", stop_distance),
        ("limitLevel", limit_level),
        ("limitDistance", limit_distance),
    ):
        if c.number(name, value) is not None:
            body[name] = float(value)
