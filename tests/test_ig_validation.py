"""IG's dealing rules are enforced client-side, each breach naming the IG field (no network here).

That nothing reaches IG when a rule is broken is checked end to end in test_ig_client_dealing.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from igkit.errors import IGRequestError
from igkit.ig import DealValidationError
from igkit.ig.validation import (
    amend_position_body,
    amend_working_order_body,
    close_position_body,
    open_position_body,
    working_order_body,
)

EPIC = "CS.D.EURUSD.MINI.IP"
BASE: dict[str, Any] = {
    "epic": EPIC, "direction": "BUY", "size": 1.0, "currency_code": "USD", "deal_reference": "ref-1",
}  # fmt: skip


def open_body(**kw: Any) -> dict[str, Any]:
    return open_position_body(**{**BASE, **kw})


def test_valid_market_order_body() -> None:
    body = open_body()
    assert body == {
        "epic": EPIC, "expiry": "-", "direction": "BUY", "size": 1.0, "currencyCode": "USD",
        "dealReference": "ref-1", "orderType": "MARKET", "forceOpen": False, "guaranteedStop": False,
        "trailingStop": False,
    }  # fmt: skip


def test_force_open_defaults_true_with_stops() -> None:
    body = open_body(stop_distance=20, limit_level=1.2)
    assert body["forceOpen"] is True and body["stopDistance"] == 20.0 and body["limitLevel"] == 1.2


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"stop_level": 1.0, "stop_distance": 10}, "stopLevel"),
        ({"limit_level": 1.0, "limit_distance": 10}, "limitLevel"),
        ({"stop_distance": 10, "force_open": False}, "forceOpen"),
        ({"order_type": "LIMIT"}, "level"),
        ({"order_type": "LIMIT", "level": 1.1, "quote_id": "q"}, "quoteId"),
        ({"order_type": "MARKET", "level": 1.1}, "level"),
        ({"order_type": "MARKET", "quote_id": "q"}, "quoteId"),
        ({"order_type": "QUOTE", "level": 1.1}, "quoteId"),
        ({"order_type": "STOP"}, "orderType"),
        ({"guaranteed_stop": True}, "guaranteedStop"),
        ({"trailing_stop": True, "stop_level": 1.0, "trailing_stop_increment": 1}, "stopDistance"),
        ({"trailing_stop": True, "stop_distance": 10}, "trailingStopIncrement"),
        ({"trailing_stop_increment": 1}, "trailingStopIncrement"),
        ({"trailing_stop": True, "guaranteed_stop": True, "stop_distance": 10, "trailing_stop_increment": 1},
         "trailingStop"),
        ({"expiry": "dec-24"}, "expiry"),
        ({"expiry": "DECEMBER"}, "expiry"),
        ({"deal_reference": "has space"}, "dealReference"),
        ({"deal_reference": "x" * 31}, "dealReference"),
        ({"size": 0.1234567890123}, "size"),
        ({"size": -1}, "size"),
        ({"size": float("nan")}, "size"),
        ({"size": "1"}, "size"),
        ({"epic": "EUR"}, "epic"),
        ({"currency_code": "usd"}, "currencyCode"),
        ({"direction": "LONG"}, "direction"),
        ({"time_in_force": "GOOD_TILL_CANCELLED"}, "timeInForce"),
        ({"stop_distance": -5}, "stopDistance"),
    ],
)  # fmt: skip
def test_open_rules_name_the_field(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(DealValidationError) as ei:
        open_body(**kw)
    err = ei.value
    assert err.field == field
    assert field in str(err) and "POST /positions/otc" in str(err)
    assert isinstance(err, ValueError) and isinstance(err, IGRequestError)


@pytest.mark.parametrize("expiry", ["-", "DFB", "DEC-24", "15-DEC-24"])
def test_expiry_formats_accepted(expiry: str) -> None:
    assert open_body(expiry=expiry)["expiry"] == expiry


def test_size_with_twelve_decimals_is_fine() -> None:
    assert open_body(size=0.123456789012)["size"] == 0.123456789012
    assert open_body(size=0.1 + 0.2)["size"] == 0.3  # float noise is not a 13th decimal
    assert open_body(size=3 * 0.1)["size"] == 0.3


def test_quote_and_trailing_valid() -> None:
    body = open_body(order_type="QUOTE", level=1.1, quote_id="Q1", time_in_force="FILL_OR_KILL")
    assert (body["orderType"], body["quoteId"], body["timeInForce"]) == ("QUOTE", "Q1", "FILL_OR_KILL")
    body = open_body(trailing_stop=True, stop_distance=10, trailing_stop_increment=2)
    assert body["trailingStop"] is True and body["trailingStopIncrement"] == 2.0


def test_close_body() -> None:
    body = close_position_body(deal_id="DIAAAA1", direction="SELL", size=1.5)
    assert body == {"dealId": "DIAAAA1", "direction": "SELL", "size": 1.5, "orderType": "MARKET"}
    with pytest.raises(DealValidationError, match="level"):
        close_position_body(deal_id="DIAAAA1", direction="SELL", size=1, order_type="LIMIT")
    with pytest.raises(DealValidationError, match="dealId"):
        close_position_body(deal_id="bad/id", direction="SELL", size=1)


def test_amend_rules() -> None:
    assert amend_position_body("D1", stop_level=1.0, limit_level=2.0)["stopLevel"] == 1.0
    with pytest.raises(DealValidationError) as ei:
        amend_position_body("D1", guaranteed_stop=True)
    assert ei.value.field == "stopLevel"
    with pytest.raises(DealValidationError) as ei:
        amend_position_body("D1", stop_level=1, trailing_stop=True, trailing_stop_distance=5)
    assert ei.value.field == "trailingStopIncrement"
    with pytest.raises(DealValidationError) as ei:
        amend_position_body("D1", trailing_stop_distance=5)
    assert ei.value.field == "trailingStopDistance"


def test_working_order_rules() -> None:
    wo = {**BASE, "level": 1.05, "type": "LIMIT"}
    body = working_order_body(**wo)
    assert (body["type"], body["level"], body["timeInForce"]) == ("LIMIT", 1.05, "GOOD_TILL_CANCELLED")
    gtd = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    body = working_order_body(**wo, time_in_force="GOOD_TILL_DATE", good_till_date=gtd)
    assert body["goodTillDate"] == "2030/01/02 03:04:05"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"time_in_force": "GOOD_TILL_DATE"}, "goodTillDate"),
        ({"good_till_date": gtd}, "goodTillDate"),
        ({"time_in_force": "GOOD_TILL_DATE", "good_till_date": datetime(2030, 1, 1)}, "goodTillDate"),
        ({"type": "MARKET"}, "type"),
        ({"level": None}, "level"),
        ({"stop_level": 1.0, "stop_distance": 1.0}, "stopLevel"),
        ({"guaranteed_stop": True}, "guaranteedStop"),
    ]
    for kw, field in cases:
        with pytest.raises(DealValidationError) as ei:
            working_order_body(**{**wo, **kw})
        assert ei.value.field == field, kw
    with pytest.raises(DealValidationError) as ei:
        amend_working_order_body("D1", level=-1)
    assert ei.value.field == "level"
    assert amend_working_order_body("D1", level=1.2, limit_distance=5)["limitDistance"] == 5.0
