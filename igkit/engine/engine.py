"""``LiveEngine``: the live orchestrator — ticks → candles → strategy → risk → broker, on ONE thread.

The engine thread waits on ``hub.wait_any``, drains every instrument's reader and handles each tick in
this order: candle builder update → on a closed bar: append it to the history (the strategy's
``lookback`` bars, or all), run ``strategy.step(history, state)`` (by default the last value of
``signals``, the very method the backtest runs; a path-dependent strategy carries its state there) for
the target, turn target × size into orders against the broker's net position, check each with the risk manager,
submit → THEN ``broker.on_tick`` with the same tick. So a decision made at bar t's close is filled at the
first tick of bar t+1, at the bar's open, exactly like :func:`igkit.backtest.backtest`.

One rule: the engine thread is the only one that trades. Other threads (a notebook's kill button) call
:meth:`LiveEngine.kill`, which is thread-safe: it blocks new orders, cancels working orders and
flattens at once through :class:`igkit.risk.KillSwitch`. Faces observe :attr:`LiveEngine.state`.

This module holds the life cycle, the kill switch and the state updates; the engine thread's loop is
:class:`igkit.engine._loop.TradingLoop`, its base class. Hand-written because this is igkit's core: its
ordering is what makes live equal the backtest.
"""

from __future__ import annotations

import atexit
import inspect
import logging
import threading
import time
import traceback
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd

from igkit.broker.base import Broker
from igkit.candles import freq_to_ns
from igkit.config import Config
from igkit.engine._instrument import Instrument, QualityMonitor, load_history
from igkit.engine._loop import TradingLoop
from igkit.engine._publish import build_values
from igkit.engine.audit import AuditLog, result_fields
from igkit.engine.metrics import LatencyRing, RateMeter
from igkit.engine.state import EngineError, EngineState, EngineStatus
from igkit.engine.trades import fills_to_trades
from igkit.errors import ConfigError
from igkit.feeds.base import Feed
from igkit.risk import KillSwitch, RiskManager
from igkit.strategy import Strategy
from igkit.ticks import TickHub
from igkit.types import Fill, Mode, OrderResult, Signal

__all__ = ["LiveEngine"]

log = logging.getLogger(__name__)
_RUNNING: weakref.WeakSet[LiveEngine] = weakref.WeakSet()


class LiveEngine(TradingLoop):
    """Run ``strategy`` live on ``feed``'s ticks, trading through ``broker`` under ``risk``.

    Args:
        config: an :class:`igkit.config.Config` (None: the defaults) — instruments, bar frequency, size,
            ``risk.flatten_on_stop``, the mode and ``ig.confirm_live``.
        feed: started by :meth:`start`, stopped by :meth:`stop`.
        strategy: an :class:`igkit.strategy.Strategy`.
        broker: a :class:`igkit.broker.Broker` (``PaperBroker`` in Demo).
        risk: an :class:`igkit.risk.RiskManager` (``check(order, broker=, quote=, now_ns=)``), or None for
            no pre-trade checks (logged).
        hub: the feed's hub by default. instruments: epics (default: the feed's, else the config's).
        freq, size: bar frequency and units per unit of target (default: from the config).
        audit_path: JSON-lines audit log (None: no file). history: prior candles to warm up with, a
            candle frame (one instrument) or ``{epic: frame}``. kill_switch: a ``KillSwitch`` (default:
            ``KillSwitch(broker, risk)``). mode: overrides ``config.mode``. reversal: "net" (one order)
            or "split" (close then open). history_bars: bars kept for the strategy (default: its
            ``lookback``; None there means every bar since the start, so a path-dependent strategy's live
            signals equal the backtest's). publish_interval: seconds between state updates.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        feed: Feed,
        strategy: Strategy,
        broker: Broker,
        risk: RiskManager | None = None,
        hub: TickHub | None = None,
        instruments: Iterable[str] | None = None,
        freq: str | None = None,
        size: float | None = None,
        audit_path: str | None = None,
        history: pd.DataFrame | Mapping[str, pd.DataFrame] | None = None,
        kill_switch: KillSwitch | Callable[[str], Any] | None = None,
        mode: Mode | str | None = None,
        reversal: str = "net",
        history_bars: int | None = None,
        publish_interval: float = 0.1,
        quality_interval: float = 3.0,
        max_recent: int = 200,
    ) -> None:
        self.config = config if config is not None else Config()
        self.feed, self.strategy, self.broker, self.risk = feed, strategy, broker, risk
        self.hub: Any = hub if hub is not None else getattr(feed, "hub", None)
        if self.hub is None:
            raise ConfigError("LiveEngine: no hub given and the feed has none (pass hub=)")
        epics = list(instruments) if instruments is not None else list(getattr(feed, "epics", None)
                                                                        or getattr(feed, "instruments", None)
                                                                        or self.config.instruments)
        if not epics:
            raise ConfigError("LiveEngine: no instruments (pass instruments= or set config.instruments)")
        self.freq = freq or self.config.candles.freq
        freq_to_ns(self.freq)  # a bad frequency fails here, naming it
        self.size = float(size if size is not None else self.config.risk.size)
        if not self.size > 0:
            raise ConfigError(f"LiveEngine: size must be > 0, got {self.size!r}", key="risk.size")
        self.mode = Mode(mode) if mode is not None else self.config.mode
        if reversal not in ("net", "split"):
            raise ConfigError(f"LiveEngine: reversal must be 'net' or 'split', got {reversal!r}")
        self.reversal = reversal
        self.history_bars = _bars_kept(strategy, history_bars)
        self.instruments: dict[str, Instrument] = {
            e: Instrument(e, self.hub.buffer(e), self.freq, self.history_bars) for e in dict.fromkeys(epics)}
        load_history(self.instruments, history, strategy)
        self.publish_interval, self.max_recent = publish_interval, max_recent
        self.audit = AuditLog(audit_path)
        self.kill_switch: KillSwitch | Callable[[str], Any] = (
            kill_switch if kill_switch is not None else KillSwitch(broker, risk))
        if risk is None:
            log.warning("LiveEngine: no risk manager given: orders go to the broker unchecked")
        self.state = EngineState(mode=self.mode.value, instruments=tuple(self.instruments), freq=self.freq,
                                 strategy=repr(strategy))
        self.latency = LatencyRing(4096)  # bar-closing tick handled → orders decided (risk checked), ns
        self.drain_latency = LatencyRing(4096)  # the tick's batch drained from its reader → orders decided
        self.rate = RateMeter(5.0)
        self.fills: list[Fill] = []  # every fill seen (the complete record; state.fills is the recent tail)
        self.signals: deque[Signal] = deque(maxlen=max_recent)
        self.orders: deque[OrderResult] = deque(maxlen=max_recent)
        self.errors: deque[EngineError] = deque(maxlen=max_recent)
        self.last_signal: Signal | None = None
        self.candle_count = 0
        self.ticks = 0
        self._status = EngineStatus.IDLE
        self._detail = ""
        self._trading = True  # False after a strategy error until restart_trading()
        self._halted = False
        self._trade_lock = threading.Lock()  # order submission vs kill()
        self._life_lock = threading.RLock()  # start/stop
        self._pub_lock = threading.RLock()  # an observer may call kill() while an update is being applied
        self._events_lock = threading.Lock()
        self._stop_evt = threading.Event()
        self._thread: threading.Thread | None = None
        self._readers_made = False
        self._quality = QualityMonitor(quality_interval)
        compare = getattr(feed, "compare", None)
        if getattr(feed, "ig_candles", None) and callable(compare):
            # IG-built candles against ours, in the quality report (engine thread: history is its own)
            self._quality.compare = lambda epic: compare(epic, self.instruments[epic].history.frame())
        self._last_pub = 0.0
        self._dirty = False
        self._listening = False
        self._error_seen: dict[tuple[str, str | None, str], float] = {}  # (where, epic, message) → last shown
        self.suppressed_errors = 0  # repeats of the same error within a second: counted, not logged again

    # -- life cycle ------------------------------------------------------------------------------------
    @property
    def status(self) -> EngineStatus:
        return self._status

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, *, confirm_live: bool = False) -> None:
        """Start the broker, the feed and the engine thread. Idempotent: while running it only resumes
        trading after a strategy error. Real money (``Mode.IG_LIVE``) needs ``config.ig.confirm_live``
        AND ``confirm_live=True``, else :class:`~igkit.errors.ConfigError`."""
        with self._life_lock:
            if self.running:
                if self._status is EngineStatus.ERROR:
                    self.restart_trading()
                return
            if self.mode is Mode.IG_LIVE and not (self.config.ig.confirm_live and confirm_live):
                self.audit.write("status", status="REFUSED", mode=self.mode.value,
                                 reason="live trading needs ig.confirm_live in config and start(confirm_live=True)")
                raise ConfigError("refusing to trade real money: set ig.confirm_live=true in config AND call "
                                  "start(confirm_live=True)", key="ig.confirm_live")
            if self.audit.closed and self.audit.path is not None:  # started again after close(): append
                self.audit = AuditLog(self.audit.path)
            self._set_status(EngineStatus.STARTING, f"{self.mode.value}: {len(self.instruments)} instruments")
            try:
                self.broker.start()
                if not self._listening:
                    self.broker.add_listener(self._on_broker_event)
                    self._listening = True
                if not self._readers_made:
                    for inst in self.instruments.values():
                        inst.reader = inst.buffer.reader("engine")
                        self._quality.add(inst.buffer)
                    self._readers_made = True
                self._stop_evt.clear()
                self._thread = threading.Thread(target=self._main, name="igkit-engine", daemon=True)
                _RUNNING.add(self)
                self._thread.start()
                self.feed.start()
            except Exception as exc:
                self._error("engine", exc)
                self._stop_evt.set()
                self._set_status(EngineStatus.ERROR, f"start failed: {exc}")
                raise

    def stop(self, flatten: bool | None = None, *, timeout: float = 5.0) -> None:
        """Stop the engine thread and the feed; flatten every position if ``flatten`` (None: the config's
        ``risk.flatten_on_stop``). Idempotent."""
        with self._life_lock:
            thread = self._thread
            if thread is None or (self._status in (EngineStatus.STOPPED, EngineStatus.IDLE) and not self.running):
                return
            do_flatten = self.config.risk.flatten_on_stop if flatten is None else bool(flatten)
            self._set_status(EngineStatus.STOPPING, "flattening" if do_flatten else "keeping positions")
            self._stop_evt.set()
            if thread is not threading.current_thread():
                thread.join(timeout)
                if thread.is_alive():
                    log.warning("engine thread did not stop within %.1f s", timeout)
            try:
                self.feed.stop()
            except Exception as exc:
                self._error("feed", exc)
            if do_flatten:
                with self._trade_lock:
                    self._flatten("stop")
            self._set_status(EngineStatus.STOPPED, "positions flattened" if do_flatten else "positions kept")
            _RUNNING.discard(self)

    def close(self) -> None:
        """Stop (positions as the config says), stop listening to the broker and close the audit log.
        A later :meth:`start` works again (it re-registers and appends to the same audit file)."""
        self.stop()
        remove = getattr(self.broker, "remove_listener", None)
        if self._listening and callable(remove):
            remove(self._on_broker_event)
            self._listening = False
        self.audit.close()

    def __enter__(self) -> LiveEngine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def restart_trading(self) -> None:
        """Resume trading after a strategy error (status ERROR → RUNNING)."""
        if self._status is not EngineStatus.ERROR:
            return
        self._trading = True
        self._set_status(EngineStatus.HALTED if self._halted else EngineStatus.RUNNING, "trading restarted")

    # -- kill switch -----------------------------------------------------------------------------------
    def kill(self, reason: str = "manual") -> list[OrderResult]:
        """Halt NOW, from any thread: no new orders, working orders cancelled, every position flattened at
        once (through the :class:`~igkit.risk.KillSwitch`, which also halts the risk manager). Status
        HALTED until :meth:`resume`. Returns the brokers' answers (cancels and closes)."""
        with self._trade_lock:  # an order being sent finishes first; none is sent after this
            self._halted = True
            self.audit.write("kill", reason=reason, phase="fire")
            report: Any = None
            try:
                ks = self.kill_switch
                report = ks.fire(reason) if isinstance(ks, KillSwitch) else ks(reason)
                results = [*getattr(report, "cancelled", ()), *getattr(report, "closed", ())]
            except Exception as exc:
                self._error("broker", exc)
                results = self._flatten("kill")
        self.audit.write("kill", reason=reason, phase="done", results=[result_fields(r) for r in results],
                         flat=getattr(report, "flat", None), errors=list(getattr(report, "errors", ())))
        self._set_status(EngineStatus.HALTED, f"kill: {reason}")
        return results

    def resume(self) -> None:
        """Leave HALTED: trading goes on from the next bar. Re-arms the kill switch and lifts the risk
        manager's halt, a daily-loss one included (its day's P&L then restarts from the current equity):
        resuming is the user's explicit decision."""
        with self._trade_lock:
            if not self._halted:
                return
            self._halted = False
            reset = getattr(self.kill_switch, "reset", None)
            if callable(reset):
                reset()
            if getattr(self.risk, "halted", False) and callable(getattr(self.risk, "reset_halt", None)):
                self.risk.reset_halt()
        self.audit.write("kill", reason="resume", phase="resume")
        status = EngineStatus.ERROR if not self._trading else (
            EngineStatus.RUNNING if self.running else EngineStatus.STOPPED)
        self._set_status(status, "resumed")

    def _publish(self) -> None:
        with self._pub_lock:
            self._dirty = False
            self._last_pub = time.monotonic()
            try:
                values = build_values(self)
            except Exception as exc:
                log.exception("engine state update failed")
                self.errors.append(EngineError(time.time_ns(), "engine", f"state update failed: {exc}"))
                return
            self.state.apply(values)

    def _set_status(self, status: EngineStatus, detail: str = "") -> None:
        self._status, self._detail = status, detail
        self.audit.write("status", status=status.value, detail=detail, mode=self.mode.value)
        log.info("engine %s%s", status.value, f": {detail}" if detail else "")
        self._publish()

    def _error(self, where: str, exc: BaseException, epic: str | None = None) -> None:
        message = f"{type(exc).__name__}: {exc}"
        now = time.monotonic()
        key = (where, epic, message)
        if now - self._error_seen.get(key, -2.0) < 1.0:  # the same fault, tick after tick: once a second
            self.suppressed_errors += 1
            return
        if len(self._error_seen) > 1000:
            self._error_seen.clear()
        self._error_seen[key] = now
        tb = "".join(traceback.format_exception(exc))
        err = EngineError(time.time_ns(), where, message, tb, epic)
        self.errors.append(err)
        self.audit.write("error", where=where, epic=epic, message=err.message, traceback=tb)
        log.error("engine %s error%s: %s", where, f" ({epic})" if epic else "", err.message)
        self._dirty = True

    def _flatten(self, reason: str) -> list[OrderResult]:
        """Cancel working orders and close every position now (``immediate`` where the broker has it)."""
        try:
            self.broker.cancel_all()
            try:
                immediate = "immediate" in inspect.signature(self.broker.flatten).parameters
            except (TypeError, ValueError):
                immediate = False
            if immediate:  # the paper broker: at the last quote, not at the next tick
                return list(self.broker.flatten(reason=reason, immediate=True))
            return list(self.broker.flatten(reason=reason))  # IG: market closes are immediate anyway
        except Exception as exc:
            self._error("broker", exc)
            return []

    # -- results ---------------------------------------------------------------------------------------
    @property
    def quality(self) -> dict[str, dict[str, Any]]:
        """The latest data-quality report per instrument (refreshed every few seconds)."""
        return self._quality.reports

    def trades(self) -> pd.DataFrame:
        """Round trips from every fill so far (see :func:`igkit.engine.fills_to_trades`), bar-aligned times."""
        with self._events_lock:
            fills = list(self.fills)
        return fills_to_trades(fills, freq=self.freq)

    def latency_us(self) -> tuple[float | None, float | None]:
        """Tick-to-decision latency p50 and p99 in µs over the recent bars (None before any)."""
        p50, p99 = self.latency.percentile(50), self.latency.percentile(99)
        return (None if p50 is None else p50 / 1e3, None if p99 is None else p99 / 1e3)

    def __repr__(self) -> str:
        return (f"<LiveEngine {self._status.value} mode={self.mode.value} instruments={list(self.instruments)} "
                f"freq={self.freq} strategy={self.strategy!r}>")


def _bars_kept(strategy: Strategy, history_bars: int | None) -> int | None:
    """Bars of history the engine keeps per instrument: ``history_bars`` if given (at least the strategy's
    ``lookback`` and ``warmup``), else the strategy's ``lookback`` (None: every bar since the start)."""
    warmup = int(getattr(strategy, "warmup", 0) or 0)
    need = getattr(strategy, "lookback", None)
    if need is not None and (isinstance(need, bool) or not isinstance(need, int) or need < 1):
        raise ConfigError(f"LiveEngine: strategy {strategy!r} has lookback={need!r}; it must be an int >= 1 or None")
    if history_bars is None:
        return None if need is None else max(need, 1)
    if isinstance(history_bars, bool) or not isinstance(history_bars, int):
        raise ConfigError(f"LiveEngine: history_bars must be an int or None, got {history_bars!r}")
    floor = max(need or 0, warmup, 1)
    if history_bars < floor:
        raise ConfigError(f"LiveEngine: history_bars={history_bars} is below what the strategy needs ({floor} bars: "
                          f"lookback {need}, warmup {warmup})")
    if need is None:
        log.warning("LiveEngine: history_bars=%d bounds %r, whose signals may depend on every bar since the start: "
                    "its live signals may then differ from a backtest's", history_bars, strategy)
    return history_bars


@atexit.register
def _stop_all() -> None:
    for engine in list(_RUNNING):
        try:
            engine.stop(timeout=1.0)
        except Exception:  # best effort at exit
            log.exception("stopping %r at exit failed", engine)
