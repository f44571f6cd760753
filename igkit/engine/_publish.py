"""The engine → :class:`~igkit.engine.state.EngineState` snapshot: one dict of immutable values per update.

Built on whichever thread publishes (the engine's, or the one calling ``kill``) from thread-safe broker
calls and the engine's counters; :meth:`EngineState.apply` sets it as one update.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from igkit.engine.state import FeedInfo, InstrumentView, freeze
from igkit.types import ns_to_timestamp

if TYPE_CHECKING:
    from igkit.engine.engine import LiveEngine

__all__ = ["build_values"]

_RANK = {"DISCONNECTED": 0, "RECONNECTING": 1, "CONNECTING": 2, "STALLED": 3, "CONNECTED": 4}


def _risk_state(engine: LiveEngine) -> dict[str, Any]:
    risk = engine.risk
    out: dict[str, Any] = {"halted": engine._halted, "checks": risk is not None}
    if risk is None:
        return out
    fn = getattr(risk, "state", None)
    if callable(fn):
        got = fn(broker=engine.broker)
        if isinstance(got, dict):
            out.update(got)
            out["halted"] = engine._halted or bool(got.get("halted"))
    limits = getattr(risk, "limits", None)
    if limits is not None and "limits" not in out:
        try:
            from dataclasses import asdict, is_dataclass

            out["limits"] = asdict(limits) if is_dataclass(limits) and not isinstance(limits, type) else limits
        except TypeError:
            out["limits"] = str(limits)
    return out


def build_values(engine: LiveEngine) -> dict[str, Any]:
    """Every trait value of the engine's state, as of now."""
    broker = engine.broker
    positions = tuple(broker.positions())
    working = tuple(broker.working_orders())
    acct = broker.account()
    now_ns = time.time_ns()
    nets: dict[str, float] = {}
    upls: dict[str, float] = {}
    for p in positions:
        nets[p.epic] = round(nets.get(p.epic, 0.0) + p.signed_size, 10)
    views = []
    last_ns: int | None = None
    for inst in engine.instruments.values():
        last = inst.last
        if last is not None and (last_ns is None or last[0] > last_ns):
            last_ns = last[0]
        upl = 0.0
        if last is not None:
            vpp_fn = getattr(broker, "value_per_point", None)
            vpp = float(vpp_fn(inst.epic)) if callable(vpp_fn) else 1.0
            upl = sum(p.upl(last[1], last[2], vpp) for p in positions if p.epic == inst.epic)
        upls[inst.epic] = upl
        views.append(InstrumentView(
            inst.epic, inst.ticks, inst.lost, None if last is None else last[0],
            None if last is None else last[1], None if last is None else last[2], inst.candles, inst.last_candle,
            inst.signal, inst.signal_ns, nets.get(inst.epic, 0.0), upl))
    feeds = tuple(FeedInfo(name, st.value, detail, since) for name, (st, detail, since)
                  in sorted(engine.hub.statuses().items()))
    mine = [f for f in feeds if f.feed == getattr(engine.feed, "name", None)] or list(feeds)
    connection = min((f.status for f in mine), key=lambda s: _RANK.get(s, 0)) if mine else "DISCONNECTED"
    with engine._events_lock:
        fills = tuple(engine.fills[-engine.max_recent:])
        orders = tuple(engine.orders)
    p50, p99 = engine.latency_us()
    age = None if last_ns is None else max(0.0, (now_ns - last_ns) / 1e9)
    balance = float(acct.balance)
    upl_total = float(acct.upl)
    return {
        "status": engine._status,
        "status_detail": engine._detail,
        "connection": connection,
        "feeds": feeds,
        "last_tick_ns": last_ns,
        "last_tick_time": None if last_ns is None else ns_to_timestamp(last_ns),
        "last_tick_age": age,
        "tick_rate": float(engine.rate.rate()),
        "ticks": engine.ticks,
        "candle_count": engine.candle_count,
        "instrument_states": tuple(views),
        "last_signal": engine.last_signal,
        "signals": tuple(engine.signals),
        "positions": positions,
        "working_orders": working,
        "realized_pnl": float(acct.realized_pnl),
        "unrealized_pnl": upl_total,
        "balance": balance,
        "equity": balance + upl_total if math.isfinite(upl_total) else float(acct.equity),
        "currency": str(acct.currency),
        "orders": orders,
        "fills": fills,
        "errors": tuple(engine.errors),
        "quality": freeze(engine.quality),
        "risk": freeze(_risk_state(engine)),
        "latency_p50_us": p50,
        "latency_p99_us": p99,
    }
