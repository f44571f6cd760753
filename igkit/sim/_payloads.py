"""JSON bodies the simulator sends, shaped key for key like IG's real responses (see shared/ig-payloads).

Builders for the pieces several routes share: the market block of positions and working orders, the
market details of /markets, position and working-order records per API version, account records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from igkit.sim._ledger import currency_symbol
from igkit.sim._state import Position, WorkingOrder
from igkit.sim._util import fmt

if TYPE_CHECKING:
    from igkit.sim.simulator import IGSimulator

__all__ = ["market_block", "market_details", "order_record", "position_record", "search_item"]


def market_block(sim: IGSimulator, epic: str, *, version: int, exchange: bool = False,
                 ms_update: bool = False) -> dict[str, Any]:
    """The ``market``/``marketData`` object of positions and working orders."""
    spec = sim.prices.spec(epic)
    st = sim.prices.day_stats(epic)
    now = sim.clock.now_ns()
    out: dict[str, Any] = {"instrumentName": spec.name}
    if exchange:
        out["exchangeId"] = f"SIM_{spec.symbol}"
    out.update({
        "expiry": spec.expiry,
        "epic": epic,
        "instrumentType": spec.instrument_type,
        "lotSize": spec.lot_size,
        "high": st["high"],
        "low": st["low"],
        "percentageChange": st["percentageChange"],
        "netChange": st["netChange"],
        "bid": st["bid"],
        "offer": st["offer"],
        "updateTime": fmt(now, "ms") if ms_update else fmt(now, "hms"),
    })
    if version >= 2:
        out["updateTimeUTC"] = fmt(now, "hms")
    out.update({
        "delayTime": 0,
        "streamingPricesAvailable": True,
        "marketStatus": sim.prices.status(epic),
        "scalingFactor": 1,
    })
    return out


def search_item(sim: IGSimulator, epic: str) -> dict[str, Any]:
    """One market of GET /markets?searchTerm= (v1)."""
    spec = sim.prices.spec(epic)
    st = sim.prices.day_stats(epic)
    now = sim.clock.now_ns()
    return {
        "epic": epic,
        "instrumentName": spec.name,
        "instrumentType": spec.instrument_type,
        "expiry": spec.expiry,
        "high": st["high"],
        "low": st["low"],
        "percentageChange": st["percentageChange"],
        "netChange": st["netChange"],
        "updateTime": fmt(now, "hms"),
        "updateTimeUTC": fmt(now, "hms"),
        "bid": st["bid"],
        "offer": st["offer"],
        "delayTime": 0,
        "streamingPricesAvailable": True,
        "marketStatus": sim.prices.status(epic),
        "scalingFactor": 1,
    }


def _points(unit: str, value: float) -> dict[str, Any]:
    return {"unit": unit, "value": value}


def market_details(sim: IGSimulator, epic: str, *, snapshot_only: bool = False) -> dict[str, Any]:
    """GET /markets/{epic} (v3): instrument, dealingRules, snapshot, built from the catalog."""
    spec = sim.prices.spec(epic)
    st = sim.prices.day_stats(epic)
    now = sim.clock.now_ns()
    snapshot = {
        "marketStatus": sim.prices.status(epic),
        "netChange": st["netChange"],
        "percentageChange": st["percentageChange"],
        "updateTime": fmt(now, "hms"),
        "delayTime": 0,
        "bid": st["bid"],
        "offer": st["offer"],
        "high": st["high"],
        "low": st["low"],
        "binaryOdds": None,
        "decimalPlacesFactor": spec.decimals,
        "scalingFactor": 1,
        "controlledRiskExtraSpread": 1,
    }
    if snapshot_only:
        return {"instrument": None, "dealingRules": None, "snapshot": snapshot}
    ccy = spec.currency
    mf = spec.margin_factor
    bands = [  # IG's tiered margin: the factor rises with the position size (in contracts)
        {"min": 0, "max": 50.0, "margin": mf, "currency": ccy},
        {"min": 50.0, "max": 250.0, "margin": mf * 1.5, "currency": ccy},
        {"min": 250.0, "max": 1000.0, "margin": mf * 3, "currency": ccy},
        {"min": 1000.0, "max": None, "margin": mf * 6, "currency": ccy},
    ]
    instrument = {
        "epic": epic,
        "expiry": spec.expiry,
        "name": spec.name,
        "forceOpenAllowed": True,
        "stopsLimitsAllowed": True,
        "lotSize": spec.lot_size,
        "unit": "AMOUNT" if spec.expiry == "DFB" else "CONTRACTS",
        "type": spec.instrument_type,
        "controlledRiskAllowed": True,
        "streamingPricesAvailable": True,
        "marketId": spec.symbol,
        "currencies": [{"code": ccy, "symbol": currency_symbol(ccy), "baseExchangeRate": 1.0,
                        "exchangeRate": 1.0, "isDefault": True}],
        "sprintMarketsMinimumExpiryTime": None,
        "sprintMarketsMaximumExpiryTime": None,
        "marginDepositBands": bands,
        "marginFactor": mf,
        "marginFactorUnit": "PERCENTAGE",
        "slippageFactor": {"unit": "pct", "value": 50.0},
        "limitedRiskPremium": {"value": spec.min_stop_distance, "unit": "POINTS"},
        "openingHours": sim.prices.opening_hours(epic),
        "expiryDetails": {"lastDealingDate": "2099-12-31T21:00", "settlementInfo": "Rolling: no expiry."},
        "rolloverDetails": {"lastRolloverTime": "2099-12-31T20:45", "rolloverInfo": "Daily funded."},
        "newsCode": spec.symbol,
        "chartCode": spec.symbol,
        "country": None,
        "valueOfOnePip": spec.value_of_one_pip,
        "onePipMeans": f"{spec.pip:g}",
        "contractSize": f"{spec.contract_size:g}",
        "specialInfo": ["DEFAULT KNOCK OUT LEVEL DISTANCE"],
    }
    rules = {
        "minStepDistance": _points("POINTS", 1.0),
        "minDealSize": _points("POINTS", spec.min_deal_size),
        "minControlledRiskStopDistance": _points("POINTS", float(spec.min_stop_distance * 2)),
        "minNormalStopOrLimitDistance": _points("POINTS", float(spec.min_stop_distance)),
        "maxStopOrLimitDistance": _points("PERCENTAGE", 75.0),
        "controlledRiskSpacing": _points("POINTS", float(spec.min_stop_distance)),
        "marketOrderPreference": "AVAILABLE_DEFAULT_ON",
        "trailingStopsPreference": "AVAILABLE",
    }
    return {"instrument": instrument, "dealingRules": rules, "snapshot": snapshot}


def position_record(sim: IGSimulator, pos: Position, version: int) -> dict[str, Any]:
    """One ``{position, market}`` of GET /positions (v1 or v2)."""
    spec = sim.prices.spec(pos.epic)
    p: dict[str, Any] = {"contractSize": spec.contract_size, "createdDate": fmt(pos.created_ns, "ms")}
    if version >= 2:
        p["createdDateUTC"] = fmt(pos.created_ns, "iso")
    p["dealId"] = pos.deal_id
    if version >= 2:
        p["dealReference"] = pos.deal_reference
        p["size"] = pos.size
    else:
        p["dealSize"] = pos.size
    p["direction"] = pos.direction
    p["limitLevel"] = pos.limit_level
    p["level" if version >= 2 else "openLevel"] = pos.level
    p.update({
        "currency": pos.currency,
        "controlledRisk": pos.guaranteed,
        "stopLevel": pos.stop_level,
        "trailingStep": pos.trailing_step,
        "trailingStopDistance": pos.trailing_distance,
        "limitedRiskPremium": None,
    })
    return {"position": p, "market": market_block(sim, pos.epic, version=version)}


def order_record(sim: IGSimulator, order: WorkingOrder, version: int) -> dict[str, Any]:
    """One ``{workingOrderData, marketData}`` of GET /workingorders (v1 or v2)."""
    spec = sim.prices.spec(order.epic)
    gtd = order.good_till_ns
    if version >= 2:
        data: dict[str, Any] = {
            "dealId": order.deal_id,
            "direction": order.direction,
            "epic": order.epic,
            "orderSize": order.size,
            "orderLevel": order.level,
            "timeInForce": order.time_in_force,
            "createdDate": fmt(order.created_ns, "ms"),
            "createdDateUTC": fmt(order.created_ns, "iso"),
            "goodTillDate": fmt(gtd, "slash")[:-3] if gtd else None,
            "goodTillDateISO": fmt(gtd, "isomin") if gtd else None,
            "guaranteedStop": order.guaranteed,
            "orderType": order.order_type,
            "stopDistance": order.stop_distance,
            "limitDistance": order.limit_distance,
            "currencyCode": order.currency,
            "dma": False,
            "limitedRiskPremium": None,
        }
    else:
        sign = 1 if order.direction == "BUY" else -1
        data = {
            "dealId": order.deal_id,
            "direction": order.direction,
            "epic": order.epic,
            "size": order.size,
            "level": order.level,
            "goodTill": fmt(gtd, "slash")[:-3] if gtd else "GTC",
            "createdDate": fmt(order.created_ns, "ms"),
            "controlledRisk": order.guaranteed,
            "trailingTriggerIncrement": None,
            "trailingTriggerDistance": None,
            "trailingStopDistance": None,
            "trailingStopIncrement": None,
            "requestType": "LIMIT_ORDER" if order.order_type == "LIMIT" else "STOP_ORDER",
            "contingentStop": None if order.stop_distance is None else spec.round_price(
                order.level - sign * order.stop_distance * spec.pip),
            "currencyCode": order.currency,
            "contingentLimit": None if order.limit_distance is None else spec.round_price(
                order.level + sign * order.limit_distance * spec.pip),
            "dma": False,
            "limitedRiskPremium": None,
        }
    market = market_block(sim, order.epic, version=version, exchange=True, ms_update=True)
    return {"workingOrderData": data, "marketData": market}
