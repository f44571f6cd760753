"""IG streaming (Lightstreamer) on the official ``lightstreamer-client-lib``.

* :class:`StreamingClient` (``_client``): the connection, its status, errors and typed subscription
  builders (ticks into a :class:`~igkit.ticks.TickHub`, prices, legacy market, candles, account, trades).
* :class:`StreamSubscription` (``_subs``): what each builder returns (items, errors, counters).
* Records and IG's item vocabulary (``_items``): :class:`PriceUpdate`, :class:`MarketUpdate`,
  :class:`CandleUpdate`, :class:`AccountUpdate`, :class:`TradeConfirm`, :class:`PositionUpdate`,
  :class:`WorkingOrderUpdate`, the field tuples and item-name helpers.

The one rule: callbacks run on the library's threads; they must return quickly and never block.
"""

from __future__ import annotations

from igkit.ig.stream._client import AUTH_CODES, StreamingClient, feed_status
from igkit.ig.stream._items import (
    ACCOUNT_FIELDS,
    CANDLE_FIELDS,
    CANDLE_SCALES,
    MARKET_FIELDS,
    PRICE_ADAPTER,
    PRICE_FIELDS,
    TICK_FIELDS,
    TRADE_FIELDS,
    AccountUpdate,
    CandleUpdate,
    MarketUpdate,
    PositionUpdate,
    PriceUpdate,
    TradeConfirm,
    TradeEvent,
    WorkingOrderUpdate,
    account_item,
    candle_item,
    market_item,
    parse_account,
    parse_candle,
    parse_market,
    parse_price,
    parse_trade,
    price_item,
    tick_item,
    trade_item,
)
from igkit.ig.stream._subs import StreamSubscription

__all__ = [
    "ACCOUNT_FIELDS",
    "AUTH_CODES",
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
    "StreamSubscription",
    "StreamingClient",
    "TradeConfirm",
    "TradeEvent",
    "WorkingOrderUpdate",
    "account_item",
    "candle_item",
    "feed_status",
    "market_item",
    "parse_account",
    "parse_candle",
    "parse_market",
    "parse_price",
    "parse_trade",
    "price_item",
    "tick_item",
    "trade_item",
]
