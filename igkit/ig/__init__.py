"""igkit.ig: IG's REST trading API, typed, rate-limited and safe to retry.

Public surface (re-exported from small private modules, httpx style):

* :class:`IGClient` (``client``): the facade: login/logout, markets, prices → fixed DataFrame, accounts,
  positions, working orders, confirms, history, application limits.
* models (``models``): frozen pydantic models of every response; enums (``enums``) such as
  :class:`Resolution` and :class:`OrderType`.
* :class:`RateLimits`, :class:`RateLimiter`, :class:`HistoricalAllowance` (``limits``).
* :class:`DealValidationError` (``validation``): a deal broke IG's rules and was not sent.
* :class:`RequestRecord` (``transport``): one line of ``client.request_log``.
"""

from __future__ import annotations

from igkit.ig.api import activities_frame
from igkit.ig.cache import HistoryCache
from igkit.ig.client import IGClient
from igkit.ig.dealing import new_deal_reference
from igkit.ig.enums import (
    DealStatus,
    OrderType,
    Resolution,
    TimeInForce,
    TransactionType,
    WorkingOrderTimeInForce,
    WorkingOrderType,
)
from igkit.ig.limits import Budget, HistoricalAllowance, RateLimiter, RateLimits
from igkit.ig.models import (
    Account,
    AccountPreferences,
    Activity,
    ApplicationInfo,
    Confirm,
    LegacyActivity,
    LoginResponse,
    LoginResponseV3,
    MarketDetails,
    MarketSearchResult,
    Position,
    PriceResponse,
    SessionDetails,
    StreamingCredentials,
    SwitchAccountResult,
    Transaction,
    WorkingOrder,
)
from igkit.ig.prices import PRICE_COLUMNS, empty_prices_frame, prices_frame
from igkit.ig.session import IGSession
from igkit.ig.transport import AmbiguousRequestError, RequestRecord, Transport
from igkit.ig.validation import DealValidationError

__all__ = [
    "PRICE_COLUMNS",
    "Account",
    "AccountPreferences",
    "Activity",
    "AmbiguousRequestError",
    "ApplicationInfo",
    "Budget",
    "Confirm",
    "DealStatus",
    "DealValidationError",
    "HistoricalAllowance",
    "HistoryCache",
    "IGClient",
    "IGSession",
    "LegacyActivity",
    "LoginResponse",
    "LoginResponseV3",
    "MarketDetails",
    "MarketSearchResult",
    "OrderType",
    "Position",
    "PriceResponse",
    "RateLimiter",
    "RateLimits",
    "RequestRecord",
    "Resolution",
    "SessionDetails",
    "StreamingCredentials",
    "SwitchAccountResult",
    "TimeInForce",
    "Transaction",
    "TransactionType",
    "Transport",
    "WorkingOrder",
    "WorkingOrderTimeInForce",
    "WorkingOrderType",
    "activities_frame",
    "empty_prices_frame",
    "new_deal_reference",
    "prices_frame",
]
