"""History routes: GET /history/activity (v3 with paging by ``metadata.paging.next``, and the v1 forms)
and GET /history/transactions (v2 paging, and the v1 forms)."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from igkit.sim._ledger import currency_symbol
from igkit.sim._state import Activity, Transaction
from igkit.sim._util import ApiError, fmt, parse_ig_time
from igkit.sim.server import Ctx, Router

__all__ = ["register"]

_MS = 1_000_000
_DAY_NS = 86_400 * 1_000_000_000


def _window(ctx: Ctx, default_span_ns: int) -> tuple[int, int]:
    now = ctx.sim.clock.now_ns()
    end = parse_ig_time(ctx.query["to"]) if ctx.query.get("to") else now
    start = parse_ig_time(ctx.query["from"]) if ctx.query.get("from") else end - default_span_ns
    if start > end:
        raise ApiError(400, "error.request.invalid.date-range")
    return start, end


def _activities(ctx: Ctx, start: int, end: int) -> list[Activity]:
    account = ctx.need_account()
    with ctx.sim.broker.lock:
        items = [a for a in ctx.sim.broker.activities if a.account_id == account and start <= a.ts_ns <= end]
    items.reverse()  # newest first, as IG lists them
    return items


def _fiql(items: list[Activity], expr: str | None) -> list[Activity]:
    """A small FIQL subset: ``field==value`` / ``field!=value`` joined by ``;`` (and) or ``,`` (or)."""
    if not expr:
        return items

    def one(a: Activity, term: str) -> bool:
        op = "!=" if "!=" in term else "=="
        if op not in term:
            raise ApiError(400, "invalid.input")
        key, value = term.split(op, 1)
        have = {"epic": a.epic, "dealId": a.deal_id, "type": a.type, "status": a.status,
                "channel": a.channel, "period": a.period}.get(key.strip())
        if have is None:
            raise ApiError(400, "invalid.input")
        return (have == value.strip()) == (op == "==")

    return [a for a in items if all(any(one(a, t) for t in part.split(",")) for part in expr.split(";"))]


def activity_v3(ctx: Ctx) -> dict[str, Any]:
    start, end = _window(ctx, 7 * _DAY_NS)
    detailed = str(ctx.query.get("detailed", "false")).lower() == "true"
    try:
        page_size = int(ctx.query.get("pageSize", "50"))
    except ValueError:
        raise ApiError(400, "error.request.invalid.page-size") from None
    if not 10 <= page_size <= 500:
        raise ApiError(400, "error.request.invalid.page-size")
    items = _activities(ctx, start, end)
    deal_id = ctx.query.get("dealId")
    if deal_id:
        items = [a for a in items if a.deal_id == deal_id]
    items = _fiql(items, ctx.query.get("filter"))
    page, rest = items[:page_size], items[page_size:]
    nxt = None
    if rest:
        params = {"version": "3", "from": fmt(start, "isoms"), "to": fmt(page[-1].ts_ns - _MS, "isoms"),
                  "detailed": str(detailed).lower(), "pageSize": str(page_size)}
        if deal_id:
            params["dealId"] = deal_id
        if ctx.query.get("filter"):
            params["filter"] = ctx.query["filter"]
        nxt = "/history/activity?" + urlencode(params)
    return {
        "activities": [{
            "date": fmt(a.ts_ns, "iso"),
            "epic": a.epic,
            "period": a.period,
            "dealId": a.deal_id,
            "channel": a.channel,
            "type": a.type,
            "status": a.status,
            "description": a.description,
            "details": a.details if detailed else None,
        } for a in page],
        "metadata": {"paging": {"size": len(page), "next": nxt}},
    }


def _v1_activity(ctx: Ctx, items: list[Activity]) -> dict[str, Any]:
    broker = ctx.sim.broker
    acc = broker.account(ctx.need_account())
    out = []
    for i, a in enumerate(items):
        d = a.details
        size = d.get("size")
        sign = "-" if d.get("direction") == "SELL" else "+"
        out.append({
            "epic": a.epic,
            "dealId": a.deal_id,
            "activityHistoryId": f"{i + 1:010d}",
            "date": fmt(a.ts_ns, "dmy2"),
            "time": fmt(a.ts_ns, "hm"),
            "activity": "Order" if a.type != "EDIT_STOP_AND_LIMIT" else "S&L",
            "marketName": d.get("marketName") or a.epic,
            "period": a.period,
            "result": a.description,
            "channel": "System" if a.channel == "SYSTEM" else "Web",
            "currency": currency_symbol(acc.currency),
            "size": f"{sign}{size:.2f}" if size is not None else "-",
            "level": f"{d['level']:g}" if d.get("level") is not None else "-",
            "stop": f"{d['stopLevel']:g}" if d.get("stopLevel") is not None else "-",
            "stopType": "-" if d.get("stopLevel") is None else ("G" if d.get("guaranteedStop") else "N"),
            "limit": f"{d['limitLevel']:g}" if d.get("limitLevel") is not None else "-",
            "actionStatus": "ACCEPT" if a.status == "ACCEPTED" else "REJECT",
        })
    return {"activities": out}


def activity_v1_period(ctx: Ctx) -> dict[str, Any]:
    raw = ctx.match["period"]
    if not raw.isdigit():
        raise ApiError(400, "invalid.input")
    end = ctx.sim.clock.now_ns()
    return _v1_activity(ctx, _activities(ctx, end - int(raw) * _MS, end))


def activity_v1_range(ctx: Ctx) -> dict[str, Any]:
    start = parse_ig_time(ctx.match["from"])
    end = parse_ig_time(ctx.match["to"]) + _DAY_NS - 1
    return _v1_activity(ctx, _activities(ctx, start, end))


def _transactions(ctx: Ctx, type_: str, start: int, end: int) -> list[Transaction]:
    account = ctx.need_account()
    want = {"ALL": None, "ALL_DEAL": ("DEAL",), "DEPOSIT": ("DEPOSIT",), "WITHDRAWAL": ("WITHDRAWAL",)}
    if type_ not in want:
        raise ApiError(400, "invalid.input")
    kinds = want[type_]
    with ctx.sim.broker.lock:
        items = [t for t in ctx.sim.broker.transactions if t.account_id == account
                 and start <= t.ts_ns <= end and (kinds is None or t.transaction_type in kinds)]
    items.reverse()
    return items


def _tx_json(t: Transaction) -> dict[str, Any]:
    sym = currency_symbol(t.currency)
    return {
        "date": fmt(t.ts_ns, "date"),
        "dateUtc": fmt(t.ts_ns, "iso"),
        "openDateUtc": fmt(t.open_ns, "iso") if t.open_ns is not None else fmt(t.ts_ns, "iso"),
        "instrumentName": t.instrument_name,
        "period": t.period,
        "profitAndLoss": f"{sym}{t.pnl:.2f}",
        "transactionType": t.transaction_type,
        "reference": t.reference,
        "openLevel": f"{t.open_level:g}" if t.open_level is not None else "-",
        "closeLevel": f"{t.close_level:g}" if t.close_level is not None else "-",
        "size": f"{t.size:+g}" if t.size is not None else "-",
        "currency": sym,
        "cashTransaction": t.cash,
    }


def transactions_v2(ctx: Ctx) -> dict[str, Any]:
    try:
        page_size = int(ctx.query.get("pageSize", "20"))
        page_number = int(ctx.query.get("pageNumber", "1"))
        span = int(ctx.query.get("maxSpanSeconds", "600"))
    except ValueError:
        raise ApiError(400, "invalid.input") from None
    if page_size < 0 or page_number < 1:
        raise ApiError(400, "error.request.invalid.page-size")
    start, end = _window(ctx, span * 1_000_000_000)
    items = _transactions(ctx, str(ctx.query.get("type", "ALL")).upper(), start, end)
    if page_size == 0:
        page, pages = items, 1 if items else 0
    else:
        pages = math.ceil(len(items) / page_size)
        page = items[(page_number - 1) * page_size: page_number * page_size]
    return {"transactions": [_tx_json(t) for t in page],
            "metadata": {"size": len(items),
                         "pageData": {"pageNumber": page_number, "pageSize": page_size, "totalPages": pages}}}


def transactions_v1(ctx: Ctx) -> dict[str, Any]:
    raw = ctx.match.get("period", "")
    end = ctx.sim.clock.now_ns()
    if "from" in ctx.match:
        start = parse_ig_time(ctx.match["from"])
        end = parse_ig_time(ctx.match["to"]) + _DAY_NS - 1
    elif raw.isdigit():
        start = end - int(raw) * _MS
    else:
        raise ApiError(400, "invalid.input")
    items = _transactions(ctx, ctx.match["type"].upper(), start, end)
    return {"transactions": [_tx_json(t) for t in items]}


def register(r: Router) -> None:
    r.add("GET", "/history/activity", activity_v3)
    r.add("GET", "/history/activity/{period}", activity_v1_period)
    r.add("GET", "/history/activity/{from}/{to}", activity_v1_range)
    r.add("GET", "/history/transactions", transactions_v2)
    r.add("GET", "/history/transactions/{type}/{period}", transactions_v1)
    r.add("GET", "/history/transactions/{type}/{from}/{to}", transactions_v1)
