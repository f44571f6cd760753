"""The live engine: ``LiveEngine`` (ticks → candles → strategy → risk → broker on one thread), its
observable ``EngineState``, the JSON-lines audit log and the target → orders rule.

* :class:`LiveEngine` — see :mod:`igkit.engine.engine`
* :class:`EngineState`, :class:`EngineStatus`, :class:`InstrumentView`, :class:`EngineError`,
  :class:`FeedInfo` — see :mod:`igkit.engine.state`
* :class:`AuditLog`, :func:`read_audit` — see :mod:`igkit.engine.audit`
* :func:`orders_for_target` — see :mod:`igkit.engine.positions`
* :func:`fills_to_trades` — see :mod:`igkit.engine.trades`
"""

from __future__ import annotations

from igkit.engine.audit import KINDS, AuditLog, read_audit
from igkit.engine.engine import LiveEngine
from igkit.engine.metrics import LatencyRing, RateMeter
from igkit.engine.positions import orders_for_target
from igkit.engine.state import EngineError, EngineState, EngineStatus, FeedInfo, InstrumentView
from igkit.engine.trades import LIVE_TRADE_COLUMNS, fills_to_trades

__all__ = [
    "KINDS",
    "LIVE_TRADE_COLUMNS",
    "AuditLog",
    "EngineError",
    "EngineState",
    "EngineStatus",
    "FeedInfo",
    "InstrumentView",
    "LatencyRing",
    "LiveEngine",
    "RateMeter",
    "fills_to_trades",
    "orders_for_target",
    "read_audit",
]
