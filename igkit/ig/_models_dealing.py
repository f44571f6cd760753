"""Models of IG's position, working order, confirm and history responses (see :mod:`igkit.ig.models`)."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from igkit.ig._model_base import IGModel, UtcDatetime
from igkit.types import Direction


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
