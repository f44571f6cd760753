"""Typed, immutable models of every IG REST response igkit reads (pydantic v2).

IG's JSON becomes these models at the boundary; nothing above ``igkit.ig`` sees a raw dict. Field names
are snake_case; IG's camelCase (and its odd spellings such as ``snapshotTimeUTC``) are aliases. Unknown
keys are ignored, so a field IG adds later never breaks parsing. Where v1 and v2 of an endpoint name a
field differently (``dealSize``/``size``, ``openLevel``/``level``), both spellings are accepted.
Timestamps IG gives in UTC become tz-aware ``datetime`` in UTC; IG's local-time strings stay strings.
Tokens and the API key are ``SecretStr``: they never show in a repr.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr
from pydantic.alias_generators import to_camel

from igkit.types import Direction

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
    "WorkingOrder",
    "WorkingOrderData",
    "parse_utc",
]


def parse_utc(value: Any) -> datetime | None:
    """IG's UTC time spellings → aware UTC ``datetime`` (naive strings are UTC by IG's convention).

    Accepts ``2020-10-12T20:50:00[.804]``, ``2020/10/12 20:50:00[:000]``, ``2020:09:01-05:00:00`` (v1
    prices), epoch milliseconds and ``datetime``.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value) / 1000.0, tz=UTC)
    if isinstance(value, str):
        text = value.strip()
        dt: datetime | None
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            dt = None
            for fmt in ("%Y/%m/%d %H:%M:%S:%f", "%Y/%m/%d %H:%M:%S", "%Y:%m:%d-%H:%M:%S", "%Y/%m/%d"):
                try:
                    dt = datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
            if dt is None:
                raise ValueError(f"unrecognised IG timestamp {value!r}") from None
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    raise ValueError(f"unrecognised IG timestamp {value!r}")


UtcDatetime = Annotated[datetime, BeforeValidator(parse_utc)]


class IGModel(BaseModel):
    """Base: frozen, camelCase aliases, unknown keys ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, alias_generator=to_camel)


# -- session and accounts --------------------------------------------------------------------------------
class Balance(IGModel):
    balance: float | None = None
    deposit: float | None = None
    profit_loss: float | None = None
    available: float | None = None


class AccountSummary(IGModel):
    account_id: str
    account_name: str | None = None
    preferred: bool = False
    account_type: str | None = None


class LoginResponse(IGModel):
    """Body of ``POST /session`` v1/v2 (the tokens come as headers, kept by the session, not here)."""

    account_type: str | None = None
    account_info: Balance | None = None
    currency_iso_code: str | None = None
    currency_symbol: str | None = None
    current_account_id: str
    lightstreamer_endpoint: str | None = None
    accounts: list[AccountSummary] = Field(default_factory=list)
    client_id: str | None = None
    timezone_offset: float | None = None
    has_active_demo_accounts: bool | None = None
    has_active_live_accounts: bool | None = None
    trailing_stops_enabled: bool | None = None
    rerouting_environment: str | None = None
    dealing_enabled: bool | None = None


class OAuthToken(IGModel):
    """``oauthToken`` of a v3 login, or the body of ``POST /session/refresh-token``.

    ``expires_in`` is a string in IG's JSON ("60"); it is an ``int`` (seconds) here.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    access_token: SecretStr
    refresh_token: SecretStr
    scope: str | None = None
    token_type: str = "Bearer"
    expires_in: int


class LoginResponseV3(IGModel):
    client_id: str | None = None
    account_id: str
    timezone_offset: float | None = None
    lightstreamer_endpoint: str | None = None
    oauth_token: OAuthToken = Field(repr=False)


class SessionDetails(IGModel):
    """``GET /session`` v1."""

    client_id: str | None = None
    account_id: str
    timezone_offset: float | None = None
    locale: str | None = None
    currency: str | None = None
    lightstreamer_endpoint: str | None = None


class SwitchAccountResult(IGModel):
    """``PUT /session`` v1."""

    trailing_stops_enabled: bool | None = None
    dealing_enabled: bool | None = None
    has_active_demo_accounts: bool | None = None
    has_active_live_accounts: bool | None = None


class Account(IGModel):
    """One entry of ``GET /accounts`` v1 (``balance`` may be null)."""

    account_id: str
    account_name: str | None = None
    account_alias: str | None = None
    status: str | None = None
    account_type: str | None = None
    preferred: bool = False
    balance: Balance | None = None
    currency: str | None = None
    can_transfer_from: bool | None = None
    can_transfer_to: bool | None = None


class AccountPreferences(IGModel):
    trailing_stops_enabled: bool


class ApplicationInfo(IGModel):
    """One entry of ``GET /operations/application``: the API key's and the account's allowances."""

    name: str | None = None
    api_key: SecretStr | None = None
    status: str | None = None
    allowance_application_overall: int | None = None
    allowance_account_trading: int | None = None
    allowance_account_overall: int | None = None
    allowance_account_historical_data: int | None = None
    concurrent_subscriptions_limit: int | None = None
    allow_equities: bool | None = None
    allow_quote_orders: bool | None = None
    created_date: str | None = None


@dataclass(frozen=True, slots=True)
class StreamingCredentials:
    """What the Lightstreamer client needs: ``password`` is ``CST-…|XST-…`` and never shown in a repr."""

    endpoint: str
    account_id: str
    password: str = field(repr=False)


# -- markets -------------------------------------------------------------------------------------------
class MarketSearchResult(IGModel):
    """One entry of ``GET /markets?searchTerm=`` v1."""

    epic: str
    instrument_name: str | None = None
    instrument_type: str | None = None
    expiry: str | None = None
    high: float | None = None
    low: float | None = None
    percentage_change: float | None = None
    net_change: float | None = None
    update_time: str | None = None
    update_time_utc: str | None = Field(None, alias="updateTimeUTC")
    bid: float | None = None
    offer: float | None = None
    delay_time: float | None = None
    streaming_prices_available: bool | None = None
    market_status: str | None = None
    scaling_factor: float | None = None


class Currency(IGModel):
    code: str
    symbol: str | None = None
    base_exchange_rate: float | None = None
    exchange_rate: float | None = None
    is_default: bool = False


class MarginDepositBand(IGModel):
    min: float | None = None
    max: float | None = None
    margin: float | None = None
    currency: str | None = None


class UnitValue(IGModel):
    """IG's ``{unit, value}`` pairs (unit POINTS or PERCENTAGE, or others such as ``pct``)."""

    unit: str | None = None
    value: float | None = None


class MarketTime(IGModel):
    open_time: str
    close_time: str


class OpeningHours(IGModel):
    market_times: list[MarketTime] = Field(default_factory=list)


class ExpiryDetails(IGModel):
    last_dealing_date: str | None = None
    settlement_info: str | None = None


class RolloverDetails(IGModel):
    last_rollover_time: str | None = None
    rollover_info: str | None = None


class Instrument(IGModel):
    epic: str
    expiry: str | None = None
    name: str | None = None
    force_open_allowed: bool | None = None
    stops_limits_allowed: bool | None = None
    lot_size: float | None = None
    unit: str | None = None
    type: str | None = None
    controlled_risk_allowed: bool | None = None
    streaming_prices_available: bool | None = None
    market_id: str | None = None
    currencies: list[Currency] = Field(default_factory=list)
    sprint_markets_minimum_expiry_time: float | None = None
    sprint_markets_maximum_expiry_time: float | None = None
    margin_deposit_bands: list[MarginDepositBand] = Field(default_factory=list)
    margin_factor: float | None = None
    margin_factor_unit: str | None = None
    slippage_factor: UnitValue | None = None
    limited_risk_premium: UnitValue | None = None
    opening_hours: OpeningHours | None = None
    expiry_details: ExpiryDetails | None = None
    rollover_details: RolloverDetails | None = None
    news_code: str | None = None
    chart_code: str | None = None
    country: str | None = None
    value_of_one_pip: float | None = None
    one_pip_means: str | None = None
    contract_size: float | None = None
    special_info: list[str] = Field(default_factory=list)

    @property
    def default_currency(self) -> str | None:
        """The code of the instrument's default currency (first one if none is marked default)."""
        for c in self.currencies:
            if c.is_default:
                return c.code
        return self.currencies[0].code if self.currencies else None


class DealingRules(IGModel):
    min_step_distance: UnitValue | None = None
    min_deal_size: UnitValue | None = None
    min_controlled_risk_stop_distance: UnitValue | None = None
    min_normal_stop_or_limit_distance: UnitValue | None = None
    max_stop_or_limit_distance: UnitValue | None = None
    controlled_risk_spacing: UnitValue | None = None
    market_order_preference: str | None = None
    trailing_stops_preference: str | None = None


class MarketSnapshot(IGModel):
    market_status: str | None = None
    net_change: float | None = None
    percentage_change: float | None = None
    update_time: str | None = None
    delay_time: float | None = None
    bid: float | None = None
    offer: float | None = None
    high: float | None = None
    low: float | None = None
    binary_odds: float | None = None
    decimal_places_factor: int | None = None
    scaling_factor: float | None = None
    controlled_risk_extra_spread: float | None = None


class MarketDetails(IGModel):
    """``GET /markets/{epic}`` v3 (and each entry of ``GET /markets?epics=`` v2)."""

    instrument: Instrument
    dealing_rules: DealingRules = Field(default_factory=DealingRules)
    snapshot: MarketSnapshot = Field(default_factory=MarketSnapshot)

    @property
    def epic(self) -> str:
        return self.instrument.epic


# -- positions and working orders ------------------------------------------------------------------------
class PositionData(IGModel):
    contract_size: float | None = None
    created_date: str | None = None
    created_date_utc: UtcDatetime | None = Field(None, alias="createdDateUTC")
    deal_id: str
    deal_reference: str | None = None
    size: float = Field(validation_alias=AliasChoices("size", "dealSize"))
    direction: Direction
    level: float | None = Field(None, validation_alias=AliasChoices("level", "openLevel"))
    limit_level: float | None = None
    stop_level: float | None = None
    currency: str | None = None
    controlled_risk: bool | None = None
    trailing_step: float | None = None
    trailing_stop_distance: float | None = None
    limited_risk_premium: float | None = None


class PositionMarket(IGModel):
    """The ``market`` of a position or the ``marketData`` of a working order."""

    instrument_name: str | None = None
    expiry: str | None = None
    epic: str
    instrument_type: str | None = None
    lot_size: float | None = None
    high: float | None = None
    low: float | None = None
    percentage_change: float | None = None
    net_change: float | None = None
    bid: float | None = None
    offer: float | None = None
    update_time: str | None = None
    update_time_utc: str | None = Field(None, alias="updateTimeUTC")
    delay_time: float | None = None
    streaming_prices_available: bool | None = None
    market_status: str | None = None
    scaling_factor: float | None = None
    exchange_id: str | None = None


class Position(IGModel):
    """One entry of ``GET /positions`` (v1 or v2) or the body of ``GET /positions/{dealId}``."""

    position: PositionData
    market: PositionMarket

    @property
    def deal_id(self) -> str:
        return self.position.deal_id

    @property
    def epic(self) -> str:
        return self.market.epic

    @property
    def direction(self) -> Direction:
        return self.position.direction

    @property
    def size(self) -> float:
        return self.position.size

    @property
    def level(self) -> float | None:
        return self.position.level


class WorkingOrderData(IGModel):
    deal_id: str
    deal_reference: str | None = None
    direction: Direction
    epic: str
    order_size: float = Field(validation_alias=AliasChoices("orderSize", "size"))
    order_level: float = Field(validation_alias=AliasChoices("orderLevel", "level"))
    time_in_force: str | None = Field(None, validation_alias=AliasChoices("timeInForce", "goodTill"))
    good_till_date: str | None = None
    good_till_date_iso: str | None = Field(None, alias="goodTillDateISO")
    created_date: str | None = None
    created_date_utc: UtcDatetime | None = Field(None, alias="createdDateUTC")
    guaranteed_stop: bool | None = None
    order_type: str | None = Field(None, validation_alias=AliasChoices("orderType", "requestType"))
    stop_distance: float | None = None
    limit_distance: float | None = None
    currency_code: str | None = None
    dma: bool | None = None
    limited_risk_premium: float | None = None


class WorkingOrder(IGModel):
    """One entry of ``GET /workingorders`` (v1 or v2)."""

    working_order_data: WorkingOrderData
    market_data: PositionMarket

    @property
    def deal_id(self) -> str:
        return self.working_order_data.deal_id

    @property
    def epic(self) -> str:
        return self.working_order_data.epic


# -- dealing ---------------------------------------------------------------------------------------------
class AffectedDeal(IGModel):
    deal_id: str
    status: str | None = None


class Confirm(IGModel):
    """``GET /confirms/{dealReference}``: a deal's outcome (``deal_status`` ACCEPTED or REJECTED).

    ``deal_status`` is None only for a confirm not waited for (``wait_confirm=False``).
    """

    date: UtcDatetime | None = None
    deal_id: str | None = None
    deal_reference: str | None = None
    deal_status: str | None = None
    reason: str | None = None
    status: str | None = None
    affected_deals: list[AffectedDeal] = Field(default_factory=list)
    epic: str | None = None
    expiry: str | None = None
    direction: Direction | None = None
    level: float | None = None
    size: float | None = None
    stop_level: float | None = None
    limit_level: float | None = None
    stop_distance: float | None = None
    limit_distance: float | None = None
    guaranteed_stop: bool | None = None
    trailing_stop: bool | None = None
    profit: float | None = None
    profit_currency: str | None = None
    recovered: bool = False  # igkit's own flag: rebuilt from positions after a lost answer, not IG's confirm

    @property
    def accepted(self) -> bool:
        return self.deal_status == "ACCEPTED"


# -- history ---------------------------------------------------------------------------------------------
class ActivityAction(IGModel):
    action_type: str | None = None
    affected_deal_id: str | None = None


class ActivityDetails(IGModel):
    deal_reference: str | None = None
    actions: list[ActivityAction] = Field(default_factory=list)
    market_name: str | None = None
    good_till_date: str | None = None
    currency: str | None = None
    size: float | None = None
    direction: Direction | None = None
    level: float | None = None
    stop_level: float | None = None
    stop_distance: float | None = None
    guaranteed_stop: bool | None = None
    trailing_stop_distance: float | None = None
    trailing_step: float | None = None
    limit_level: float | None = None
    limit_distance: float | None = None


class Activity(IGModel):
    """One entry of ``GET /history/activity`` v3."""

    date: UtcDatetime
    epic: str | None = None
    period: str | None = None
    deal_id: str | None = None
    channel: str | None = None
    type: str | None = None
    status: str | None = None
    description: str | None = None
    details: ActivityDetails | None = None


class LegacyActivity(IGModel):
    """One entry of the v1 ``GET /history/activity/...`` forms (all text, local date and time)."""

    epic: str | None = None
    deal_id: str | None = None
    activity_history_id: str | None = None
    date: str | None = None
    time: str | None = None
    activity: str | None = None
    market_name: str | None = None
    period: str | None = None
    result: str | None = None
    channel: str | None = None
    currency: str | None = None
    size: str | None = None
    level: str | None = None
    stop: str | None = None
    stop_type: str | None = None
    limit: str | None = None
    action_status: str | None = None


class Transaction(IGModel):
    """One entry of ``GET /history/transactions`` v2 (IG sends amounts as text; kept as text)."""

    date: str | None = None
    date_utc: UtcDatetime | None = None
    open_date_utc: UtcDatetime | None = None
    instrument_name: str | None = None
    period: str | None = None
    profit_and_loss: str | None = None
    transaction_type: str | None = None
    reference: str | None = None
    open_level: str | None = None
    close_level: str | None = None
    size: str | None = None
    currency: str | None = None
    cash_transaction: bool | None = None


# -- prices ------------------------------------------------------------------------------------------------
class PriceAllowance(IGModel):
    remaining_allowance: int
    total_allowance: int
    allowance_expiry: int


class PricePoint(IGModel):
    bid: float | None = None
    ask: float | None = None
    last_traded: float | None = None


class PriceBar(IGModel):
    snapshot_time: str | None = None
    snapshot_time_utc: str | None = Field(None, alias="snapshotTimeUTC")
    open_price: PricePoint | None = None
    close_price: PricePoint | None = None
    high_price: PricePoint | None = None
    low_price: PricePoint | None = None
    last_traded_volume: float | None = None


class PageData(IGModel):
    page_size: int | None = None
    page_number: int | None = None
    total_pages: int | None = None


class PriceMetadata(IGModel):
    allowance: PriceAllowance | None = None
    size: int | None = None
    page_data: PageData | None = None


class PriceResponse(IGModel):
    """``GET /prices/...`` body, any version (v3 nests the allowance in ``metadata``; v1/v2 do not)."""

    prices: list[PriceBar] = Field(default_factory=list)
    instrument_type: str | None = None
    metadata: PriceMetadata | None = None
    legacy_allowance: PriceAllowance | None = Field(None, alias="allowance")

    @property
    def allowance(self) -> PriceAllowance | None:
        if self.metadata is not None and self.metadata.allowance is not None:
            return self.metadata.allowance
        return self.legacy_allowance

    @property
    def total_pages(self) -> int:
        if self.metadata is not None and self.metadata.page_data is not None:
            return self.metadata.page_data.total_pages or 1
        return 1
