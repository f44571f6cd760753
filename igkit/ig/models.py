"""Typed, immutable models of every IG REST response igkit reads (pydantic v2).

IG's JSON becomes these models at the boundary; nothing above ``igkit.ig`` sees a raw dict. Field names
are snake_case; IG's camelCase (and its odd spellings such as ``snapshotTimeUTC``) are aliases. Unknown
keys are ignored, so a field IG adds later never breaks parsing. Where v1 and v2 of an endpoint name a
field differently (``dealSize``/``size``, ``openLevel``/``level``), both spellings are accepted.
Timestamps IG gives in UTC become tz-aware ``datetime`` in UTC; IG's local-time strings stay strings.
Tokens and the API key are ``SecretStr``: they never show in a repr.
"""

from __future__ import annotations

from igkit.ig._model_base import (
    IGModel,
    UtcDatetime,
    parse_utc,
)
from igkit.ig._models_dealing import (
    Activity,
    ActivityAction,
    ActivityDetails,
    AffectedDeal,
    Confirm,
    LegacyActivity,
    Position,
    PositionData,
    PositionMarket,
    Transaction,
    WorkingOrder,
    WorkingOrderData,
)
from igkit.ig._models_market import (
    Currency,
    DealingRules,
    Instrument,
    MarginDepositBand,
    MarketDetails,
    MarketSearchResult,
    MarketSnapshot,
    PriceAllowance,
    PriceBar,
    PriceResponse,
    UnitValue,
)
from igkit.ig._models_session import (
    Account,
    AccountPreferences,
    AccountSummary,
    ApplicationInfo,
    Balance,
    LoginResponse,
    LoginResponseV3,
    OAuthToken,
    SessionDetails,
    StreamingCredentials,
    SwitchAccountResult,
)

__all__ = [
    "Account",
    "AccountPreferences",
    "AccountSummary",
    "Activity",
    "ActivityAction",
    "ActivityDetails",
    "AffectedDeal",
    "ApplicationInfo",
    "Balance",
    "Confirm",
    "Currency",
    "DealingRules",
    "IGModel",
    "Instrument",
    "LegacyActivity",
    "LoginResponse",
    "LoginResponseV3",
    "MarginDepositBand",
    "MarketDetails",
    "MarketSearchResult",
    "MarketSnapshot",
    "OAuthToken",
    "Position",
    "PositionData",
    "PositionMarket",
    "PriceAllowance",
    "PriceBar",
    "PriceResponse",
    "SessionDetails",
    "StreamingCredentials",
    "SwitchAccountResult",
    "Transaction",
    "UnitValue",
    "UtcDatetime",
    "WorkingOrder",
    "WorkingOrderData",
    "parse_utc",
]

