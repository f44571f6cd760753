"""``EngineState``: everything a face (notebook panel, CLI table) shows about a running engine, as traits.

One rule: only the engine writes it (through :meth:`EngineState.apply`, at a bounded rate plus at once on
status changes and fills), faces only observe it. Every update is applied inside
``hold_trait_notifications()`` under a lock, so an observer called for one trait already sees the other
traits of the same update (``equity`` agrees with ``balance`` and ``unrealized_pnl``, ``positions`` with
``instrument_states``). Every value is immutable — tuples of frozen records, read-only mappings — so a
value an observer holds never changes under it; ``version`` grows by one per update.

Hand-written because it is igkit's own contract between the engine thread and the faces; traitlets gives
the observers (and ``dlink`` to widgets).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import traitlets

__all__ = ["EngineError", "EngineState", "EngineStatus", "FeedInfo", "InstrumentView", "freeze"]


class EngineStatus(StrEnum):
    """The engine's life cycle. HALTED: the kill switch fired (or a daily-loss breach), no new orders
    until ``resume()``. ERROR: the strategy failed, trading stopped, ticks and candles go on."""

    IDLE = "IDLE"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    HALTED = "HALTED"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    ERROR = "ERROR"


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """A feed's connection as the hub reports it."""

    feed: str
    status: str
    detail: str
    since_ns: int


@dataclass(frozen=True, slots=True)
class InstrumentView:
    """One instrument's live figures."""

    epic: str
    ticks: int = 0  # ticks the engine processed
    lost: int = 0  # ticks the engine's reader lost to overflow
    last_tick_ns: int | None = None
    bid: float | None = None
    ask: float | None = None
    candles: int = 0  # closed candles since start (history excluded)
    last_candle: Any = None  # the last closed igkit.candles.Candle
    signal: int | None = None  # the last target the strategy gave
    signal_ns: int | None = None  # open time of the bar it was decided on
    net: float = 0.0  # the broker's signed net position
    upl: float = 0.0  # unrealised P&L of that position


@dataclass(frozen=True, slots=True)
class EngineError:
    """An error the engine caught and kept going after (or stopped trading for)."""

    time_ns: int
    where: str  # strategy, broker, risk, feed, engine, audit
    message: str
    traceback: str = ""
    epic: str | None = None


def freeze(value: Any) -> Any:
    """A read-only view of nested dicts (lists become tuples), for mapping-valued traits."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


_EMPTY: Mapping[str, Any] = MappingProxyType({})


class EngineState(traitlets.HasTraits):
    """The engine's observable state. Observe ``version`` to hear about every update once.

    Traits (all read by faces, written only by the engine):

    * ``status`` (:class:`EngineStatus`), ``status_detail`` (why: the halt reason, the error message)
    * ``mode`` ("demo", "sim", "ig-demo", "ig-live"), ``instruments`` (epics), ``freq``, ``strategy``
    * ``connection`` (the worst feed status, e.g. "CONNECTED"), ``feeds`` (tuple of :class:`FeedInfo`)
    * ``last_tick_ns``, ``last_tick_time`` (UTC ``Timestamp``), ``last_tick_age`` (seconds since, wall
      clock), ``tick_rate`` (ticks/s processed, sliding window), ``ticks`` (total processed)
    * ``candle_count`` (closed candles since start), ``instrument_states`` (tuple of :class:`InstrumentView`)
    * ``last_signal`` (:class:`~igkit.types.Signal` or None), ``signals`` (recent signals, bounded)
    * ``positions``, ``working_orders`` (tuples of the broker's records)
    * ``realized_pnl``, ``unrealized_pnl``, ``balance``, ``equity``, ``currency``
    * ``orders`` (recent :class:`~igkit.types.OrderResult`, bounded), ``fills`` (recent
      :class:`~igkit.types.Fill`, bounded), ``errors`` (recent :class:`EngineError`, bounded)
    * ``quality`` (read-only ``{epic: quality report}``, refreshed every few seconds)
    * ``risk`` (read-only mapping: limits, usage, halted flag, last rejection)
    * ``latency_p50_us``, ``latency_p99_us`` (tick that closed a bar → order decision)
    * ``version`` (+1 per update), ``updated_ns`` (UTC ns of the last update)
    """

    status = traitlets.UseEnum(EngineStatus, default_value=EngineStatus.IDLE)
    status_detail = traitlets.Unicode("")
    mode = traitlets.Unicode("demo")
    instruments = traitlets.Tuple()
    freq = traitlets.Unicode("")
    strategy = traitlets.Unicode("")
    connection = traitlets.Unicode("DISCONNECTED")
    feeds = traitlets.Tuple()
    last_tick_ns = traitlets.Int(None, allow_none=True)
    last_tick_time = traitlets.Any(None)
    last_tick_age = traitlets.Float(None, allow_none=True)
    tick_rate = traitlets.Float(0.0)
    ticks = traitlets.Int(0)
    candle_count = traitlets.Int(0)
    instrument_states = traitlets.Tuple()
    last_signal = traitlets.Any(None)
    signals = traitlets.Tuple()
    positions = traitlets.Tuple()
    working_orders = traitlets.Tuple()
    realized_pnl = traitlets.Float(0.0)
    unrealized_pnl = traitlets.Float(0.0)
    balance = traitlets.Float(0.0)
    equity = traitlets.Float(0.0)
    currency = traitlets.Unicode("")
    orders = traitlets.Tuple()
    fills = traitlets.Tuple()
    errors = traitlets.Tuple()
    quality = traitlets.Any(_EMPTY)
    risk = traitlets.Any(_EMPTY)
    latency_p50_us = traitlets.Float(None, allow_none=True)
    latency_p99_us = traitlets.Float(None, allow_none=True)
    version = traitlets.Int(0)
    updated_ns = traitlets.Int(0)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._apply_lock = threading.RLock()

    def apply(self, values: Mapping[str, Any]) -> int:
        """Set ``values`` as ONE update (observers run after all are set); returns the new ``version``.

        The engine's only way in. Unknown names raise ``AttributeError`` naming them.
        """
        unknown = [k for k in values if not self.has_trait(k)]
        if unknown:
            raise AttributeError(f"EngineState has no trait(s) {unknown}")
        with self._apply_lock, self.hold_trait_notifications():
            for key, value in values.items():
                setattr(self, key, value)
            self.updated_ns = time.time_ns()
            self.version = self.version + 1
            return self.version

    def snapshot(self) -> dict[str, Any]:
        """Every trait's value, taken under the update lock (a consistent copy)."""
        with self._apply_lock:
            return {name: getattr(self, name) for name in self.trait_names()}

    @property
    def net_positions(self) -> dict[str, float]:
        """Signed net size per epic from ``positions``."""
        out: dict[str, float] = {}
        for p in self.positions:
            out[p.epic] = round(out.get(p.epic, 0.0) + p.signed_size, 10)
        return out

    def __repr__(self) -> str:
        return (f"<EngineState {self.status.value} mode={self.mode} instruments={len(self.instruments)} "
                f"ticks={self.ticks} candles={self.candle_count} positions={len(self.positions)} "
                f"equity={self.equity:.2f}>")
