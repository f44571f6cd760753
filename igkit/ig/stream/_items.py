"""IG's streaming items (names, modes, fields) and the typed records parsed from their updates.

One place for IG's Lightstreamer vocabulary: the client builds subscriptions from it and the simulator
(:mod:`igkit.sim.lightstreamer.ig_items`) validates requests against it. Parsers are small pure
functions from ``{field: str | None}`` to frozen dataclasses; they never raise on a missing field
(IG sends nulls and empty values), only on a malformed number or JSON (``DataError`` naming the item).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from igkit.errors import DataError
from igkit.types import Direction

__all__ = [
    "ACCOUNT_FIELDS",
    "CANDLE_FIELDS",
    "CANDLE_SCALES",
    "MARKET_FIELDS",
    "PRICE_ADAPTER",
    "PRICE_FIELDS",
    "TICK_FIELDS",
    "TRADE_FIELDS",
    "AccountUpdate",
    "CandleUpdate",
    "MarketUpdate",
    "PositionUpdate",
    "PriceUpdate",
    "TradeConfirm",
    "TradeEvent",
    "WorkingOrderUpdate",
    "account_item",
    "candle_item",
    "market_item",
    "market_time_ns",
    "market_update_time",
    "parse_account",
    "parse_candle",
    "parse_market",
    "parse_price",
    "parse_trade",
    "price_item",
    "tick_item",
    "trade_item",
]

TICK_FIELDS = (
    "BID", "OFR", "LTP", "LTV", "TTV", "UTM",
    "DAY_OPEN_MID", "DAY_NET_CHG_MID", "DAY_PERC_CHG_MID", "DAY_HIGH", "DAY_LOW",
)  # fmt: skip
PRICE_FIELDS = ("TIMESTAMP", "BIDPRICE1", "ASKPRICE1", "NET_CHG", "NET_CHG_", "DLG_FLAG", "HIGH", "LOW")
MARKET_FIELDS = (
    "BID", "OFFER", "HIGH", "LOW", "MID_OPEN", "CHANGE", "CHANGE_PCT",
    "UPDATE_TIME", "MARKET_DELAY", "MARKET_STATE",
)  # fmt: skip
CANDLE_SCALES = ("SECOND", "1MINUTE", "5MINUTE", "HOUR")
CANDLE_FIELDS = (
    "BID_OPEN", "BID_HIGH", "BID_LOW", "BID_CLOSE",
    "OFR_OPEN", "OFR_HIGH", "OFR_LOW", "OFR_CLOSE",
    "LTP_OPEN", "LTP_HIGH", "LTP_LOW", "LTP_CLOSE",
    "LTV", "TTV", "UTM",
    "DAY_OPEN_MID", "DAY_NET_CHG_MID", "DAY_PERC_CHG_MID", "DAY_HIGH", "DAY_LOW",
    "CONS_END", "CONS_TICK_COUNT",
)  # fmt: skip
ACCOUNT_FIELDS = (
    "PNL", "PNL_LR", "PNL_NLR", "DEPOSIT", "AVAILABLE_CASH", "FUNDS", "MARGIN",
    "MARGIN_LR", "MARGIN_NLR", "AVAILABLE_TO_DEAL", "EQUITY", "EQUITY_USED",
)  # fmt: skip
TRADE_FIELDS = ("CONFIRMS", "OPU", "WOU")

PRICE_ADAPTER = "Pricing"
#: MARKET's UPDATE_TIME is IG's wall-clock time in London (GMT in winter, BST in summer)
UK = ZoneInfo("Europe/London")
_HMS = re.compile(r"^\s*(\d{1,2}):(\d{2}):(\d{2})\s*$")


def tick_item(epic: str) -> str:
    return f"CHART:{epic}:TICK"


def candle_item(epic: str, scale: str) -> str:
    if scale not in CANDLE_SCALES:
        raise DataError(f"candle scale for {epic} must be one of {', '.join(CANDLE_SCALES)}, got {scale!r}")
    return f"CHART:{epic}:{scale}"


def price_item(account_id: str, epic: str) -> str:
    return f"PRICE:{account_id}:{epic}"


def market_item(epic: str) -> str:
    return f"MARKET:{epic}"


def account_item(account_id: str) -> str:
    return f"ACCOUNT:{account_id}"


def trade_item(account_id: str) -> str:
    return f"TRADE:{account_id}"


# -- number parsing --------------------------------------------------------------------------------------
def _num(values: Mapping[str, str | None], name: str, item: str) -> float | None:
    raw = values.get(name)
    if raw is None:
        return None
    raw = raw.strip()
    if raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        raise DataError(f"{item}: field {name} is not a number: {raw!r}") from None


def _ms_to_ns(values: Mapping[str, str | None], name: str, item: str) -> int | None:
    raw = values.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return int(raw.strip()) * 1_000_000
    except ValueError:
        raise DataError(f"{item}: field {name} is not epoch milliseconds: {raw!r}") from None


def market_update_time(ts_ns: int) -> str:
    """UTC epoch ns → MARKET's ``UPDATE_TIME`` as IG writes it (``HH:MM:SS``, UK local time)."""
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, UK).strftime("%H:%M:%S")


def market_time_ns(update_time: str, now_ns: int, *, item: str = "MARKET") -> int:
    """MARKET's ``UPDATE_TIME`` (``HH:MM:SS``, UK local time, no date) → UTC epoch ns.

    The date is the one that puts the time nearest to ``now_ns`` (so a quote stamped 23:59:59 and
    received just after midnight is yesterday's): meant for live updates, not for old recordings.
    Precision: one second. Raises :class:`DataError` naming ``item`` for anything but ``HH:MM:SS``.
    """
    m = _HMS.match(update_time)
    if m is None or int(m[1]) > 23 or int(m[2]) > 59 or int(m[3]) > 59:
        raise DataError(f"{item}: UPDATE_TIME must be HH:MM:SS (UK local time), got {update_time!r}")
    now = datetime.fromtimestamp(now_ns / 1e9, UK)
    best: int | None = None
    for days in (-1, 0, 1):
        d = (now + timedelta(days=days)).date()
        t = datetime(d.year, d.month, d.day, int(m[1]), int(m[2]), int(m[3]), tzinfo=UK)
        ns = int(t.timestamp()) * 1_000_000_000
        if best is None or abs(ns - now_ns) < abs(best - now_ns):
            best = ns
    assert best is not None
    return best


# -- records ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PriceUpdate:
    """``PRICE:<account>:<epic>`` (MERGE): IG's current price item. ``ts_ns`` from TIMESTAMP (epoch ms)."""

    epic: str
    ts_ns: int | None
    bid: float | None
    ask: float | None
    net_change: float | None
    net_change_pct: float | None
    high: float | None
    low: float | None
    dealing: str | None


@dataclass(frozen=True, slots=True)
class MarketUpdate:
    """``MARKET:<epic>`` (MERGE, decommissioned by IG in 2026; kept for old recordings/clients)."""

    epic: str
    bid: float | None
    offer: float | None
    high: float | None
    low: float | None
    mid_open: float | None
    change: float | None
    change_pct: float | None
    update_time: str | None  # HH:MM:SS, UK local time, as IG sends it
    market_delay: float | None
    market_state: str | None


@dataclass(frozen=True, slots=True)
class CandleUpdate:
    """``CHART:<epic>:<scale>`` (MERGE): the forming candle; ``complete`` when CONS_END is 1."""

    epic: str
    scale: str
    ts_ns: int | None
    bid: tuple[float | None, float | None, float | None, float | None]  # open high low close
    ask: tuple[float | None, float | None, float | None, float | None]
    last_traded: tuple[float | None, float | None, float | None, float | None]
    volume: float | None
    complete: bool
    tick_count: int | None


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    """``ACCOUNT:<accountId>`` (MERGE): balances; ``values`` has every field IG sent, as numbers."""

    account_id: str
    pnl: float | None
    deposit: float | None
    available_cash: float | None
    funds: float | None
    margin: float | None
    available_to_deal: float | None
    equity: float | None
    equity_used: float | None
    values: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TradeConfirm:
    """A deal confirmation from ``TRADE:<accountId>`` CONFIRMS (``deal_status`` ACCEPTED/REJECTED)."""

    deal_reference: str | None
    deal_id: str | None
    deal_status: str | None
    status: str | None
    reason: str | None
    epic: str | None
    direction: Direction | None
    level: float | None
    size: float | None
    stop_level: float | None
    limit_level: float | None
    expiry: str | None
    guaranteed_stop: bool | None
    affected_deals: tuple[tuple[str, str | None], ...]  # (dealId, status)
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.deal_status == "ACCEPTED"


@dataclass(frozen=True, slots=True)
class PositionUpdate:
    """An open-position update from ``TRADE:<accountId>`` OPU (``status`` OPEN/UPDATED/DELETED)."""

    deal_reference: str | None
    deal_id: str | None
    epic: str | None
    direction: Direction | None
    status: str | None
    deal_status: str | None
    level: float | None
    size: float | None
    stop_level: float | None
    limit_level: float | None
    currency: str | None
    timestamp: str | None
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


@dataclass(frozen=True, slots=True)
class WorkingOrderUpdate:
    """A working-order update from ``TRADE:<accountId>`` WOU (``status`` OPEN/UPDATED/DELETED)."""

    deal_reference: str | None
    deal_id: str | None
    epic: str | None
    direction: Direction | None
    status: str | None
    deal_status: str | None
    level: float | None
    size: float | None
    order_type: str | None
    time_in_force: str | None
    good_till_date: str | None
    stop_distance: float | None
    limit_distance: float | None
    currency: str | None
    timestamp: str | None
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


TradeEvent = TradeConfirm | PositionUpdate | WorkingOrderUpdate


# -- parsers ---------------------------------------------------------------------------------------------
def parse_price(epic: str, values: Mapping[str, str | None]) -> PriceUpdate:
    item = f"PRICE:{epic}"
    dealing = values.get("DLG_FLAG")
    return PriceUpdate(
        epic, _ms_to_ns(values, "TIMESTAMP", item), _num(values, "BIDPRICE1", item), _num(values, "ASKPRICE1", item),
        _num(values, "NET_CHG", item), _num(values, "NET_CHG_", item), _num(values, "HIGH", item),
        _num(values, "LOW", item), dealing.strip() if dealing is not None else None,
    )  # fmt: skip


def parse_market(epic: str, values: Mapping[str, str | None]) -> MarketUpdate:
    item = f"MARKET:{epic}"

    def n(name: str) -> float | None:
        return _num(values, name, item)

    return MarketUpdate(
        epic, n("BID"), n("OFFER"), n("HIGH"), n("LOW"), n("MID_OPEN"), n("CHANGE"), n("CHANGE_PCT"),
        values.get("UPDATE_TIME"), n("MARKET_DELAY"), values.get("MARKET_STATE"),
    )  # fmt: skip


def parse_candle(epic: str, scale: str, values: Mapping[str, str | None]) -> CandleUpdate:
    item = f"CHART:{epic}:{scale}"

    def ohlc(p: str) -> tuple[float | None, float | None, float | None, float | None]:
        return (
            _num(values, f"{p}_OPEN", item), _num(values, f"{p}_HIGH", item),
            _num(values, f"{p}_LOW", item), _num(values, f"{p}_CLOSE", item),
        )  # fmt: skip

    count = _num(values, "CONS_TICK_COUNT", item)
    return CandleUpdate(
        epic, scale, _ms_to_ns(values, "UTM", item), ohlc("BID"), ohlc("OFR"), ohlc("LTP"),
        _num(values, "LTV", item), (values.get("CONS_END") or "").strip() == "1",
        int(count) if count is not None else None,
    )  # fmt: skip


def parse_account(account_id: str, values: Mapping[str, str | None]) -> AccountUpdate:
    item = f"ACCOUNT:{account_id}"
    nums = {k: _num(values, k, item) for k in values if k in ACCOUNT_FIELDS}
    g = nums.get
    return AccountUpdate(
        account_id, g("PNL"), g("DEPOSIT"), g("AVAILABLE_CASH"), g("FUNDS"), g("MARGIN"),
        g("AVAILABLE_TO_DEAL"), g("EQUITY"), g("EQUITY_USED"), nums,
    )  # fmt: skip


def _f(d: Mapping[str, Any], key: str, where: str) -> float | None:
    v = d.get(key)
    if v is None or v == "":
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        raise DataError(f"{where}: {key} is not a number: {v!r}") from None


def _s(d: Mapping[str, Any], key: str) -> str | None:
    v = d.get(key)
    return None if v is None else str(v)


def _dir(d: Mapping[str, Any], where: str) -> Direction | None:
    v = d.get("direction")
    if v is None:
        return None
    try:
        return Direction(str(v).upper())
    except ValueError:
        raise DataError(f"{where}: direction must be BUY or SELL, got {v!r}") from None


def parse_trade(field_name: str, text: str | None, account_id: str = "?") -> TradeEvent | None:
    """One ``TRADE:`` field (CONFIRMS/OPU/WOU) → its typed event; None for an empty field."""
    if text is None or text.strip() == "":
        return None
    where = f"TRADE:{account_id} {field_name}"
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: not valid JSON ({exc.msg} at {exc.pos}): {text[:80]!r}") from None
    if not isinstance(d, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(d).__name__}")
    if field_name == "CONFIRMS":
        affected = tuple(
            (str(a.get("dealId")), _s(a, "status")) for a in d.get("affectedDeals") or () if isinstance(a, dict)
        )
        gs = d.get("guaranteedStop")
        return TradeConfirm(
            _s(d, "dealReference"), _s(d, "dealId"), _s(d, "dealStatus"), _s(d, "status"), _s(d, "reason"),
            _s(d, "epic"), _dir(d, where), _f(d, "level", where), _f(d, "size", where),
            _f(d, "stopLevel", where), _f(d, "limitLevel", where), _s(d, "expiry"),
            None if gs is None else bool(gs), affected, d,
        )  # fmt: skip
    if field_name == "OPU":
        return PositionUpdate(
            _s(d, "dealReference"), _s(d, "dealId"), _s(d, "epic"), _dir(d, where), _s(d, "status"),
            _s(d, "dealStatus"), _f(d, "level", where), _f(d, "size", where), _f(d, "stopLevel", where),
            _f(d, "limitLevel", where), _s(d, "currency"), _s(d, "timestamp"), d,
        )  # fmt: skip
    if field_name == "WOU":
        return WorkingOrderUpdate(
            _s(d, "dealReference"), _s(d, "dealId"), _s(d, "epic"), _dir(d, where), _s(d, "status"),
            _s(d, "dealStatus"), _f(d, "level", where), _f(d, "size", where), _s(d, "orderType"),
            _s(d, "timeInForce"), _s(d, "goodTillDate"), _f(d, "stopDistance", where),
            _f(d, "limitDistance", where), _s(d, "currency"), _s(d, "timestamp"), d,
        )  # fmt: skip
    raise DataError(f"{where}: unknown TRADE field (expected CONFIRMS, OPU or WOU)")
