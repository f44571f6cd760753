"""Market routes: GET /markets?searchTerm= (v1), GET /markets?epics= (v1/v2, at most 50), GET /markets/{epic}
(the v3 shape for every version), and historical prices (v3 and the legacy v1/v2 forms)."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import unquote

from igkit.sim._bars import build_bars, resolution_ns, to_rows
from igkit.sim._payloads import market_details, search_item
from igkit.sim._util import ApiError, fmt, parse_ig_time
from igkit.sim.server import Ctx, Router

__all__ = ["register"]

_MAX_EPICS = 50
_SEARCH_MAX = 50


def markets(ctx: Ctx) -> dict[str, Any]:
    prices = ctx.sim.prices
    epics_arg = ctx.query.get("epics")
    if epics_arg is not None:
        epics = [e.strip() for e in epics_arg.split(",") if e.strip()]
        if not epics:
            raise ApiError(400, "invalid.input")
        if len(epics) > _MAX_EPICS:
            raise ApiError(400, "error.public-api.too-many-epics")
        for e in epics:
            prices.spec(e)
        only = ctx.version >= 2 and str(ctx.query.get("filter", "ALL")).upper() == "SNAPSHOT_ONLY"
        return {"marketDetails": [market_details(ctx.sim, e, snapshot_only=only) for e in epics]}
    term = ctx.query.get("searchTerm")
    if term is None:
        raise ApiError(400, "validation.null-not-allowed.request.searchTerm")
    t = term.strip().upper().replace("/", "")
    found = []
    for epic in prices.epics():
        spec = prices.spec(epic)
        hay = (epic.upper(), spec.symbol.upper(), spec.name.upper().replace("/", ""))
        if t and any(t in h for h in hay):
            found.append(epic)
    return {"markets": [search_item(ctx.sim, e) for e in found[:_SEARCH_MAX]]}


def market(ctx: Ctx) -> dict[str, Any]:
    return market_details(ctx.sim, ctx.match["epic"])


# --- prices ----------------------------------------------------------------------------------------------
def _int_arg(ctx: Ctx, name: str, default: int, *, code: str = "invalid.input") -> int:
    raw = ctx.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, code) from None


def _price(bid: float, ask: float) -> dict[str, Any]:
    return {"bid": bid, "ask": ask, "lastTraded": None}


def _bar_json(row: tuple[int, list[float], int], version: int) -> dict[str, Any]:
    t, v, n = row
    out: dict[str, Any] = {"snapshotTime": fmt(t, "v1price" if version == 1 else "slash")}
    if version >= 3:
        out["snapshotTimeUTC"] = fmt(t, "iso")
    out.update(
        {
            "openPrice": _price(v[0], v[4]),
            "closePrice": _price(v[3], v[7]),
            "highPrice": _price(v[1], v[5]),
            "lowPrice": _price(v[2], v[6]),
            "lastTradedVolume": n,
        }
    )
    return out


def _epic(ctx: Ctx) -> str:
    epic = ctx.match["epic"]
    if not ctx.sim.prices.known(epic):
        raise ApiError(400, "error.unsupported.epic")
    return epic


def prices_v3(ctx: Ctx) -> dict[str, Any]:
    epic = _epic(ctx)
    res, _ = resolution_ns(ctx.query.get("resolution", "MINUTE"))
    start = parse_ig_time(ctx.query["from"]) if ctx.query.get("from") else None
    end = parse_ig_time(ctx.query["to"]) if ctx.query.get("to") else None
    if start is not None and end is not None and start > end:
        raise ApiError(400, "error.invalid.daterange")
    max_points = _int_arg(ctx, "max", 10)
    page_size = _int_arg(ctx, "pageSize", 20, code="error.request.invalid.page-size")
    page_number = _int_arg(ctx, "pageNumber", 1)
    if page_size < 0 or max_points < 0 or page_number < 1:
        raise ApiError(400, "error.request.invalid.page-size" if page_size < 0 else "invalid.input")
    spec = ctx.sim.prices.spec(epic)
    frame = build_bars(ctx.sim.prices, epic, res, start=start, end=end, max_points=max_points)
    rows = to_rows(frame, spec.decimals)
    total = len(rows)
    if page_size == 0:
        pages, page = (1 if total else 0), rows
    else:
        pages = math.ceil(total / page_size)
        page = rows[(page_number - 1) * page_size : page_number * page_size]
    ctx.sim.limiter.consume_points(len(page))
    return {
        "prices": [_bar_json(r, 3) for r in page],
        "instrumentType": spec.instrument_type,
        "metadata": {
            "allowance": ctx.sim.limiter.allowance(),
            "size": total,
            "pageData": {"pageSize": page_size, "pageNumber": page_number, "totalPages": pages},
        },
    }


def _legacy(ctx: Ctx, *, start: int | None, end: int | None, num: int | None) -> dict[str, Any]:
    epic = _epic(ctx)
    res, _ = resolution_ns(ctx.match["resolution"])
    if num is not None and res == "SECOND":
        raise ApiError(400, "invalid.input")
    if start is not None and end is not None and start > end:
        raise ApiError(400, "error.invalid.daterange")
    spec = ctx.sim.prices.spec(epic)
    frame = build_bars(ctx.sim.prices, epic, res, start=start, end=end, max_points=num or 10)
    rows = to_rows(frame, spec.decimals)
    ctx.sim.limiter.consume_points(len(rows))
    version = 1 if ctx.version <= 1 else 2
    return {
        "prices": [_bar_json(r, version) for r in rows],
        "instrumentType": spec.instrument_type,
        "allowance": ctx.sim.limiter.allowance(),
    }


def prices_num_points(ctx: Ctx) -> dict[str, Any]:
    raw = ctx.match["num"]
    if not raw.isdigit():
        raise ApiError(400, "invalid.input")
    return _legacy(ctx, start=None, end=None, num=int(raw))


def prices_range(ctx: Ctx) -> dict[str, Any]:
    start = parse_ig_time(unquote(ctx.match["start"]))
    end = parse_ig_time(unquote(ctx.match["end"]))
    return _legacy(ctx, start=start, end=end, num=None)


def prices_v1_query(ctx: Ctx) -> dict[str, Any]:
    sd, ed = ctx.query.get("startdate"), ctx.query.get("enddate")
    if not sd or not ed:
        raise ApiError(400, "invalid.input")
    return _legacy(ctx, start=parse_ig_time(sd), end=parse_ig_time(ed), num=None)


def register(r: Router) -> None:
    r.add("GET", "/markets", markets, slow=True)
    r.add("GET", "/markets/{epic}", market)
    r.add("GET", "/prices/{epic}", prices_v3, slow=True)
    r.add("GET", "/prices/{epic}/{resolution}", prices_v1_query, slow=True)
    r.add("GET", "/prices/{epic}/{resolution}/{num}", prices_num_points, slow=True)
    r.add("GET", "/prices/{epic}/{resolution}/{start}/{end}", prices_range, slow=True)
