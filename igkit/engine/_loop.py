"""The engine thread's work, as a base class of :class:`~igkit.engine.LiveEngine`: wait, drain every reader, and
per tick: candle builder → on a closed bar: history, ``strategy.step`` (the signal, and the state it carries
to the next bar), target → orders, risk check, submit → THEN ``broker.on_tick`` with the same tick (the order
that makes live equal the backtest). Also the broker listener (fills, order outcomes), the risk manager's
daily P&L and halt, and the periodic housekeeping (quality reports, state updates).

Kept apart from the life cycle, kill switch and state publishing in :mod:`igkit.engine.engine` so each
module holds one job; the attributes it uses are declared below and set by ``LiveEngine.__init__``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from igkit.candles import Candle
from igkit.engine._instrument import Instrument, QualityMonitor, apply_repairs
from igkit.engine.audit import AuditLog, fill_fields, order_fields, result_fields
from igkit.engine.metrics import LatencyRing, RateMeter
from igkit.engine.positions import orders_for_target
from igkit.engine.state import EngineStatus
from igkit.errors import DataError
from igkit.types import Fill, Order, OrderResult, OrderStatus, Signal, Tick

if TYPE_CHECKING:
    from igkit.engine.state import EngineError

__all__ = ["TradingLoop"]

log = logging.getLogger("igkit.engine.engine")

_MIN_DIRTY_GAP = 0.02  # s: fills and orders publish at once, but at most 50 times a second (fast replays)


class TradingLoop:
    """The engine thread's loop (a base class; :class:`~igkit.engine.LiveEngine` is the public face)."""

    # set by LiveEngine.__init__
    feed: Any
    hub: Any
    strategy: Any
    broker: Any
    risk: Any
    size: float
    reversal: str
    instruments: dict[str, Instrument]
    audit: AuditLog
    latency: LatencyRing
    drain_latency: LatencyRing
    rate: RateMeter
    fills: list[Fill]
    signals: deque[Signal]
    orders: deque[OrderResult]
    errors: deque[EngineError]
    last_signal: Signal | None
    candle_count: int
    ticks: int
    publish_interval: float
    _status: EngineStatus
    _trading: bool
    _halted: bool
    _trade_lock: threading.Lock
    _events_lock: threading.Lock
    _stop_evt: threading.Event
    _quality: QualityMonitor
    _last_pub: float
    _dirty: bool

    # provided by LiveEngine
    def kill(self, reason: str = "manual") -> list[OrderResult]:
        raise NotImplementedError

    def _publish(self) -> None:
        raise NotImplementedError

    def _set_status(self, status: EngineStatus, detail: str = "") -> None:
        raise NotImplementedError

    def _error(self, where: str, exc: BaseException, epic: str | None = None) -> None:
        raise NotImplementedError

    def _main(self) -> None:
        try:
            if self._status is EngineStatus.STARTING:
                self._set_status(EngineStatus.HALTED if self._halted else
                                 EngineStatus.RUNNING if self._trading else EngineStatus.ERROR, "running")
            wait = self.hub.wait_any
            while not self._stop_evt.is_set():
                wait(0.05)
                self._drain()
                self._housekeeping()
            self._drain()
            self._publish()
        except Exception as exc:  # a bug of ours: shown, never silent
            self._error("engine", exc)
            self._set_status(EngineStatus.ERROR, f"engine thread failed: {exc}")

    def _drain(self) -> int:
        n = 0
        for inst in self.instruments.values():
            reader = inst.reader
            if reader is None:
                continue
            batch = reader.read()
            if batch.lost:
                inst.lost += batch.lost
            if batch:
                n += self._process(inst, batch.ts_ns.tolist(), batch.bid.tolist(), batch.ask.tolist(),
                                   time.perf_counter_ns())
        if n:
            self.ticks += n
            self.rate.add(n)
        return n

    def _process(self, inst: Instrument, ts: list[int], bids: list[float], asks: list[float], t_read: int) -> int:
        upd = inst.builder.update
        on_tick = self.broker.on_tick
        epic = inst.epic
        for t, b, a in zip(ts, bids, asks, strict=True):
            c = upd(t, b, a)
            if c is not None:
                self._on_bar(inst, c, t, b, a, t_read)
            try:
                on_tick(epic, t, b, a)
            except Exception as exc:
                self._error("broker", exc, epic)
        inst.ticks += len(ts)
        inst.last = (ts[-1], bids[-1], asks[-1])
        return len(ts)

    def _on_bar(self, inst: Instrument, c: Candle, ts: int, bid: float, ask: float, t_read: int) -> None:
        t0 = time.perf_counter_ns()
        inst.history.append(c)
        inst.candles += 1
        inst.last_candle = c
        self.candle_count += 1
        if not self._trading:
            return
        try:
            hist = inst.history
            candles = hist.columns() if getattr(self.strategy, "columns_step", False) else hist.frame()
            target, state = self.strategy.step(candles, inst.state)
            if target not in (-1, 0, 1):
                raise DataError(f"{inst.epic}: strategy {self.strategy!r} gave target {target!r}, not -1/0/1")
            target = int(target)
            inst.state = state
        except Exception as exc:
            self._strategy_failed(inst.epic, exc)
            return
        signal = Signal(c.ts_ns, inst.epic, target, c.mid_close, getattr(self.strategy, "name", ""))
        inst.signal, inst.signal_ns = target, c.ts_ns
        self.last_signal = signal
        self.signals.append(signal)
        halted = self._risk_update(ts) if self.risk is not None else self._halted
        checked: list[tuple[Order, Any]] = []
        if not halted:
            net = self.broker.net_position(inst.epic)
            quote = Tick(ts, bid, ask)
            for order in orders_for_target(inst.epic, target, self.size, net, reversal=self.reversal):  # type: ignore[arg-type]
                checked.append((order, self._check(order, quote, ts)))
        t1 = time.perf_counter_ns()
        self.latency.add(t1 - t0)
        self.drain_latency.add(t1 - t_read)
        self.audit.write("signal", epic=inst.epic, bar=c.time.isoformat(), target=target, price=c.mid_close,
                         halted=halted)
        for order, verdict in checked:
            ok, rule, message = verdict
            self.audit.write("risk", epic=order.epic, deal_reference=order.deal_reference, ok=ok, rule=rule,
                             message=message)
            if not ok:
                self._record(OrderResult(order, OrderStatus.REJECTED, rule or "RISK"), confirm=False)
                if rule == "MAX_DAILY_LOSS" or getattr(self.risk, "halted", False):
                    self._halt_from_risk(str(getattr(self.risk, "halt_reason", "") or f"{rule}: {message}"))
                    return
                continue
            self._submit(order, ts)

    def _check(self, order: Order, quote: Tick, now_ns: int) -> tuple[bool, str, str]:
        if self.risk is None:
            return True, "", ""
        try:
            v = self.risk.check(order, broker=self.broker, quote=quote, now_ns=now_ns)
        except Exception as exc:
            self._error("risk", exc, order.epic)
            return False, "risk_error", str(exc)
        return bool(v.ok), str(getattr(v, "rule", "") or ""), str(getattr(v, "message", "") or "")

    def _submit(self, order: Order, now_ns: int) -> None:
        with self._trade_lock:
            if self._halted:
                self.audit.write("order", **order_fields(order), sent=False, why="halted")
                return
            self.audit.write("order", **order_fields(order), sent=True)
            try:
                result = self.broker.submit(order)
            except Exception as exc:
                self._error("broker", exc, order.epic)
                result = OrderResult(order, OrderStatus.REJECTED, f"ERROR: {type(exc).__name__}")
        record = getattr(self.risk, "record", None)
        if callable(record):
            record(result, now_ns=now_ns)  # the orders-per-minute window
        self._record(result)

    def _record(self, result: OrderResult, *, confirm: bool = True) -> None:
        """Keep an order's outcome for the state; ``confirm``: the broker's answer, audited as such (a risk
        refusal is already audited as a ``risk`` record)."""
        if confirm:
            self.audit.write("confirm", **result_fields(result))
        with self._events_lock:
            self.orders.append(result)
        self._dirty = True

    def _on_broker_event(self, event: tuple[str, object]) -> None:
        """Broker listener (any thread): fills and order outcomes go to the audit and the state."""
        kind, obj = event
        if kind == "fill" and isinstance(obj, Fill):
            self.audit.write("fill", **fill_fields(obj))
            on_fill = getattr(self.risk, "on_fill", None)
            if callable(on_fill):
                on_fill(obj, now_ns=obj.time_ns)
            with self._events_lock:
                self.fills.append(obj)
            self._dirty = True
        elif kind == "order" and isinstance(obj, OrderResult):
            self._record(obj)

    def _risk_update(self, now_ns: int) -> bool:
        """Let the risk manager mark the day's P&L; a breach it reports halts the engine. True if halted."""
        update = getattr(self.risk, "update", None)
        if not callable(update):
            return self._halted
        try:
            halted = bool(update(broker=self.broker, now_ns=now_ns))
        except Exception as exc:
            self._error("risk", exc)
            return self._halted
        if halted and not self._halted:
            self._halt_from_risk(str(getattr(self.risk, "halt_reason", "") or "risk manager halted"))
        return self._halted

    def _halt_from_risk(self, reason: str) -> None:
        """The risk manager halted (a daily-loss breach, or someone halted it): the engine halts too, through
        the kill switch — no new orders, everything flattened."""
        if self._halted:
            return
        log.warning("risk halted trading (%s): halting the engine", reason)
        self.kill(f"risk: {reason}")

    def _strategy_failed(self, epic: str, exc: BaseException) -> None:
        self._trading = False
        self._error("strategy", exc, epic)
        self._set_status(EngineStatus.ERROR, f"strategy failed on {epic}: {type(exc).__name__}: {exc}")

    def _repairs(self) -> None:
        """Candle repairs from the feed (a StreamingFeed's backfills after a gap) merged into the histories
        once their bars have closed live (engine thread: the histories' only writer). The strategy sees the
        repaired bars from its next signal on; signals already given, and the state a path-dependent
        strategy carries, are not recomputed."""
        take = getattr(self.feed, "take_repairs", None)
        if not callable(take):
            return
        for rep in take():
            inst = self.instruments.get(rep.epic)
            if inst is not None:
                inst.repairs.append(rep)
        for inst in self.instruments.values():
            if inst.repairs:
                n = apply_repairs(inst, inst.builder.freq_ns)
                if n:
                    log.info("%s: %d bar(s) repaired from backfilled history", inst.epic, n)
                    self._dirty = True

    def _housekeeping(self) -> None:
        self._repairs()
        now = time.monotonic()
        try:
            self._quality.step(now)
        except Exception as exc:
            self._error("engine", exc)
        if self.risk is not None and not self._halted and now - self._last_pub >= self.publish_interval:
            last = [i.last[0] for i in self.instruments.values() if i.last is not None]
            if last:
                self._risk_update(max(last))  # market time: replays see their own day
        since = now - self._last_pub
        if since >= self.publish_interval or (self._dirty and since >= _MIN_DIRTY_GAP):
            self._publish()
