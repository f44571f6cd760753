"""Dealing routes: positions (list, one, open, close, amend), confirms, working orders (list, create,
amend, delete; under both /workingorders and /working-orders)."""

from __future__ import annotations

from typing import Any

from igkit.sim._payloads import order_record, position_record
from igkit.sim._util import ApiError
from igkit.sim._validate import Body, rule
from igkit.sim.server import Ctx, Router

__all__ = ["register"]


def _instrument(ctx: Ctx, epic: str) -> None:
    if not ctx.sim.prices.known(epic):
        raise ApiError(404, "error.trading.otc.instrument-not-found")


def _currency(ctx: Ctx, epic: str, code: str) -> None:
    acc = ctx.sim.broker.account(ctx.need_account())
    if code not in (ctx.sim.prices.spec(epic).currency, acc.currency):
        raise rule("currencyCode")


# --- positions -------------------------------------------------------------------------------------------
def list_positions(ctx: Ctx) -> dict[str, Any]:
    broker = ctx.sim.broker
    with broker.lock:
        items = sorted(broker.open_positions(ctx.need_account()), key=lambda p: p.created_ns)
        return {"positions": [position_record(ctx.sim, p, ctx.version) for p in items]}


def get_position(ctx: Ctx) -> dict[str, Any]:
    broker = ctx.sim.broker
    with broker.lock:
        pos = broker.position(ctx.need_account(), ctx.match["dealId"])
        return position_record(ctx.sim, pos, ctx.version)


def open_position(ctx: Ctx) -> dict[str, str]:
    b = Body(ctx.body)
    b.require("currencyCode", "direction", "epic", "expiry", "forceOpen", "guaranteedStop", "size")
    epic = b.need_str("epic")
    expiry = b.need_str("expiry")
    direction = b.need_str("direction")
    currency = b.need_str("currencyCode")
    size = b.need_num("size", positive=True)
    force_open = b.flag("forceOpen", required=True)
    guaranteed = b.flag("guaranteedStop", required=True)
    order_type = b.text("orderType") or "MARKET"
    b.text("timeInForce")
    ref = b.text("dealReference")
    sl = b.stops_and_limits()
    if any(v is not None for v in sl.values()) and not force_open:
        raise rule("forceOpen")
    if guaranteed and sl["stopLevel"] is None and sl["stopDistance"] is None:
        raise rule("guaranteedStop")
    b.order_type_rules(order_type)
    trailing = b.flag("trailingStop")
    increment = b.number("trailingStopIncrement", positive=True)
    if trailing and (sl["stopDistance"] is None or increment is None or sl["stopLevel"] is not None
                     or guaranteed):
        raise rule("trailingStop")
    if not trailing and increment is not None:
        raise rule("trailingStopIncrement")
    _instrument(ctx, epic)
    _currency(ctx, epic, currency)
    deal_ref = ctx.sim.broker.open_position(
        ctx.need_account(), epic=epic, expiry=expiry, direction=direction, size=size, force_open=force_open,
        guaranteed=guaranteed, order_type=order_type, level=b.number("level"), stop_level=sl["stopLevel"],
        stop_distance=sl["stopDistance"], limit_level=sl["limitLevel"], limit_distance=sl["limitDistance"],
        trailing=trailing, trailing_increment=increment, deal_reference=ref)
    return {"dealReference": deal_ref}


def close_position(ctx: Ctx) -> dict[str, str]:
    if not ctx.body:  # also what IG answers to a real DELETE whose body the gateway dropped
        raise ApiError(400, "validation.null-not-allowed.request")
    b = Body(ctx.body)
    deal_id = b.text("dealId")
    epic = b.text("epic")
    if (deal_id is None) == (epic is None):
        raise rule("dealId")
    expiry = b.text("expiry")
    if epic is not None and expiry is None:
        b.require("expiry")
    direction = b.need_str("direction")
    size = b.need_num("size", positive=True)
    order_type = b.text("orderType") or "MARKET"
    b.text("timeInForce")
    b.order_type_rules(order_type)
    if epic is not None:
        _instrument(ctx, epic)
    deal_ref = ctx.sim.broker.close_position(
        ctx.need_account(), direction=direction, size=size, deal_id=deal_id, epic=epic, expiry=expiry,
        order_type=order_type, level=b.number("level"))
    return {"dealReference": deal_ref}


def amend_position(ctx: Ctx) -> dict[str, str]:
    b = Body(ctx.body)
    stop = b.number("stopLevel", positive=True)
    limit = b.number("limitLevel", positive=True)
    guaranteed = b.flag("guaranteedStop")
    trailing = b.flag("trailingStop")
    distance = b.number("trailingStopDistance", positive=True)
    increment = b.number("trailingStopIncrement", positive=True)
    if guaranteed and (stop is None or trailing):
        raise rule("guaranteedStop")
    if trailing and (distance is None or increment is None or stop is None):
        raise rule("trailingStop")
    if not trailing and (distance is not None or increment is not None):
        raise rule("trailingStopDistance" if distance is not None else "trailingStopIncrement")
    deal_ref = ctx.sim.broker.amend_position(
        ctx.need_account(), ctx.match["dealId"], stop_level=stop, limit_level=limit, guaranteed=guaranteed,
        trailing=trailing, trailing_distance=distance, trailing_increment=increment)
    return {"dealReference": deal_ref}


def confirm(ctx: Ctx) -> dict[str, Any]:
    broker = ctx.sim.broker
    with broker.lock:
        return broker.confirm(ctx.need_account(), ctx.match["dealReference"])


# --- working orders --------------------------------------------------------------------------------------
def list_orders(ctx: Ctx) -> dict[str, Any]:
    broker = ctx.sim.broker
    with broker.lock:
        items = sorted(broker.working_orders(ctx.need_account()), key=lambda o: o.created_ns)
        return {"workingOrders": [order_record(ctx.sim, o, ctx.version) for o in items]}


def _order_common(b: Body) -> tuple[str, str, int | None, dict[str, float | None]]:
    order_type = b.need_str("type")
    tif = b.need_str("timeInForce")
    if tif not in ("GOOD_TILL_CANCELLED", "GOOD_TILL_DATE"):
        raise rule("timeInForce")
    gtd = b.time("goodTillDate")
    if tif == "GOOD_TILL_DATE" and gtd is None:
        raise rule("goodTillDate")
    sl = b.stops_and_limits()
    return order_type, tif, gtd, sl


def create_order(ctx: Ctx) -> dict[str, str]:
    b = Body(ctx.body)
    b.require("currencyCode", "direction", "epic", "expiry", "guaranteedStop", "level", "size",
              "timeInForce", "type")
    epic = b.need_str("epic")
    expiry = b.need_str("expiry")
    direction = b.need_str("direction")
    currency = b.need_str("currencyCode")
    size = b.need_num("size", positive=True)
    level = b.need_num("level", positive=True)
    guaranteed = b.flag("guaranteedStop", required=True)
    order_type, tif, gtd, sl = _order_common(b)
    if guaranteed and sl["stopDistance"] is None and sl["stopLevel"] is None:
        raise rule("guaranteedStop")
    ref = b.text("dealReference")
    _instrument(ctx, epic)
    _currency(ctx, epic, currency)
    deal_ref = ctx.sim.broker.create_order(
        ctx.need_account(), epic=epic, expiry=expiry, direction=direction, size=size, level=level,
        order_type=order_type, time_in_force=tif, good_till_ns=gtd, guaranteed=guaranteed,
        force_open=b.flag("forceOpen", default=True), stop_level=sl["stopLevel"],
        stop_distance=sl["stopDistance"], limit_level=sl["limitLevel"], limit_distance=sl["limitDistance"],
        deal_reference=ref)
    return {"dealReference": deal_ref}


def amend_order(ctx: Ctx) -> dict[str, str]:
    b = Body(ctx.body)
    level = b.need_num("level", positive=True)
    order_type = b.text("type")
    tif = b.text("timeInForce")
    if tif is not None and tif not in ("GOOD_TILL_CANCELLED", "GOOD_TILL_DATE"):
        raise rule("timeInForce")
    gtd = b.time("goodTillDate")
    if tif == "GOOD_TILL_DATE" and gtd is None:
        raise rule("goodTillDate")
    sl = b.stops_and_limits()
    guaranteed = b.flag("guaranteedStop") if b.has("guaranteedStop") else None
    deal_ref = ctx.sim.broker.amend_order(
        ctx.need_account(), ctx.match["dealId"], level=level, order_type=order_type, time_in_force=tif,
        good_till_ns=gtd, stop_level=sl["stopLevel"], stop_distance=sl["stopDistance"],
        limit_level=sl["limitLevel"], limit_distance=sl["limitDistance"], guaranteed=guaranteed)
    return {"dealReference": deal_ref}


def delete_order(ctx: Ctx) -> dict[str, str]:
    return {"dealReference": ctx.sim.broker.delete_order(ctx.need_account(), ctx.match["dealId"])}


def register(r: Router) -> None:
    r.add("GET", "/positions", list_positions)
    r.add("GET", "/positions/{dealId}", get_position)
    r.add("POST", "/positions/otc", open_position, trading=True)
    r.add("DELETE", "/positions/otc", close_position, trading=True)
    r.add("PUT", "/positions/otc/{dealId}", amend_position, trading=True)
    r.add("GET", "/confirms/{dealReference}", confirm)
    for base in ("/workingorders", "/working-orders"):
        r.add("GET", base, list_orders)
        r.add("POST", base + "/otc", create_order, trading=True)
        r.add("PUT", base + "/otc/{dealId}", amend_order, trading=True)
        r.add("DELETE", base + "/otc/{dealId}", delete_order, trading=True)
