"""Models of IG's market and price responses (see :mod:`igkit.ig.models`)."""

from __future__ import annotations

from pydantic import Field

from igkit.ig._model_base import IGModel


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
    value_of_one_pip: float | str | None = None  # IG sends text such as "1 USD" or "10.00"
    one_pip_means: str | None = None
    contract_size: float | str | None = None
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
