"""``ControlPanel``: the notebook's trading desk around a ``LiveEngine`` — header (mode badge, status,
connection, account, balance, P&L, last-tick age, error line), controls (mode, instruments, timeframe,
strategy and its parameters, Start/Stop/Resume, the always-visible kill switch, a confirmation before a
live start), the live chart with an instrument selector, tabs (positions and working orders with a
close/cancel button per row, signals and fills, data quality, a bounded log, risk) and progress bars.

Threads (the one rule): only the panel's :class:`~igkit.widgets.Refresher` writes to widgets. Button
callbacks (which ipykernel 7 may run on any thread) only call thread-safe engine/broker methods
(``start``, ``stop``, ``kill``, ``resume``, ``close_position``, ``cancel_order``) or leave a job with
``refresher.call_soon``. The engine's :class:`~igkit.engine.EngineState` is read as a snapshot by the
refresher; it is deliberately NOT ``dlink``-ed to widgets, because its observers run on the engine
thread and a link would write widgets from there.

DOM hooks for tests and stylesheets (stable): every element has a CSS class from
:data:`igkit.widgets.CLASSES` — ``igkit-panel``, ``igkit-header``, ``igkit-mode-badge``, ``igkit-status``,
``igkit-connection``, ``igkit-account``, ``igkit-balance``, ``igkit-pnl``, ``igkit-tick-age``,
``igkit-error``, ``igkit-mode``, ``igkit-instruments``, ``igkit-timeframe``, ``igkit-strategy``,
``igkit-params`` (each input ``igkit-param``), ``igkit-start``, ``igkit-stop``, ``igkit-kill``,
``igkit-resume``, ``igkit-confirm``, ``igkit-confirm-yes``, ``igkit-confirm-no``, ``igkit-progress``,
``igkit-chart``, ``igkit-chart-instrument``, ``igkit-candle-count``, ``igkit-tabs``, ``igkit-positions``
(row buttons ``igkit-close-position``), ``igkit-orders`` (``igkit-cancel-order``), ``igkit-signals``,
``igkit-fills``, ``igkit-quality``, ``igkit-log``, ``igkit-risk``; and data attributes inside them:
``[data-status]`` (engine status), ``[data-connection]``, ``[data-candles]`` (closed candles on the
chart), ``[data-age]`` (seconds since the last tick arrived).

Life cycle: creating a panel closes every earlier live panel (re-running a cell replaces the panel and
its engine instead of stacking); ``close()`` stops the refresher and the engine and closes the widgets;
interpreter exit closes every panel. The refresher starts when the panel is displayed or started.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections import deque
from typing import Any

from IPython.display import display

from igkit.config import Config, load_config
from igkit.strategy import STRATEGIES, get_strategy
from igkit.widgets._factory import EngineFactory, EngineSettings, close_engine, default_factory
from igkit.widgets._layout import PanelWidgets, build_layout, set_params
from igkit.widgets._render import Renderer
from igkit.widgets.chart import CandleChart
from igkit.widgets.progress import PanelProgress
from igkit.widgets.refresher import Refresher, guard_widget

__all__ = ["ControlPanel", "live_panels"]

log = logging.getLogger(__name__)
_PANELS: list[weakref.ref[ControlPanel]] = []
_PANELS_LOCK = threading.Lock()


def live_panels() -> list[ControlPanel]:
    """Panels created and not closed yet (normally at most one)."""
    with _PANELS_LOCK:
        return [p for p in (r() for r in _PANELS) if p is not None and not p.closed]


class _LogBuffer(logging.Handler):
    """Keeps the last ``size`` formatted records of the ``igkit`` loggers (appends only: any thread)."""

    def __init__(self, size: int = 200) -> None:
        super().__init__(logging.INFO)
        self.lines: deque[str] = deque(maxlen=size)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a log line must never break the caller
            self.handleError(record)


class ControlPanel:
    """The control panel. ``display(panel)`` or end a cell with ``panel``.

    Args:
        config: an :class:`igkit.config.Config` (None: :func:`igkit.config.load_config`).
        engine: an engine to drive; None builds one from the controls at Start.
        engine_factory: ``(config, EngineSettings, progress) -> LiveEngine`` used by Start when the
            controls changed or no engine exists (default: ``default_factory`` — Demo engines, and
            simulator/IG engines from :func:`igkit.engine.factory.build_engine`).
        hz: refresh rate of the widgets (2–5).
        window: bars on the chart.
    """

    def __init__(self, config: Config | None = None, engine: Any = None, *,
                 engine_factory: EngineFactory | None = None, hz: float = 4.0, window: int = 500) -> None:
        for old in live_panels():
            log.info("a new ControlPanel replaces %r", old)
            old.close()
        self.config = config if config is not None else load_config()
        self.factory: EngineFactory = engine_factory or default_factory
        self.refresher = Refresher(hz, name="igkit-panel-refresher")
        self.closed = False
        self.confirmed_live = False
        self.engine: Any = None
        self.engine_gen = 0  # +1 per engine adopted (the refresher rebinds the chart)
        self._settings_key: tuple[Any, ...] | None = None
        self._owns_engine = False
        self._lock = threading.RLock()
        self.messages: deque[tuple[float, str]] = deque(maxlen=20)  # (monotonic, text) shown on the error line
        self.progress_bars: list[PanelProgress] = []
        self.log_buffer = _LogBuffer()
        self._logger = logging.getLogger("igkit")
        self._logger.addHandler(self.log_buffer)
        self._old_level = self._logger.level  # restored by close()
        if self._logger.getEffectiveLevel() > logging.INFO:
            self._logger.setLevel(logging.INFO)
        mode, warnings = self._initial_mode()
        for msg in warnings:
            self.notify(msg)
        instruments = list(engine.instruments) if engine is not None else list(self.config.instruments)
        freq = engine.freq if engine is not None else self.config.candles.freq
        strat = engine.strategy if engine is not None else None
        strategy_name = getattr(strat, "name", "") or self.config.strategy.name
        if strategy_name not in STRATEGIES:
            strategy_name = next(iter(STRATEGIES))
        params = dict(strat.params) if strat is not None else dict(self.config.strategy.params)
        if engine is not None:
            mode = getattr(engine.mode, "value", str(engine.mode))
        self.chart = CandleChart(instruments[0] if instruments else "", window=window)
        self.widgets: PanelWidgets = build_layout(mode=mode, instruments=instruments, freq=freq,
                                                  strategy=strategy_name, params=params,
                                                  chart_widget=self.chart.widget)
        self._renderer = Renderer(self)
        self._wire()
        if engine is not None:
            self._adopt(engine, owns=False)
            self._settings_key = self.settings().key()
        self.refresher.add("panel", self._renderer.refresh)
        with _PANELS_LOCK:
            _PANELS[:] = [r for r in _PANELS if r() is not None]
            _PANELS.append(weakref.ref(self))

    # ------------------------------------------------------------------ display
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self._displayed()
        return self.widgets.root._repr_mimebundle_(**kwargs)

    def _ipython_display_(self) -> None:
        self._displayed()
        display(self.widgets.root)

    def _displayed(self) -> None:
        if not self.closed:
            self.refresher.start()

    # ------------------------------------------------------------------ settings and engine
    def _initial_mode(self) -> tuple[str, list[str]]:
        try:
            m, warnings = self.config.resolve_mode(confirm_live=False)
            return m.value, warnings
        except Exception as exc:  # live without confirmation: shown, start needs the confirm button
            return self.config.mode.value, [str(exc)]

    def settings(self) -> EngineSettings:
        """What the controls ask for now (read-only access to the widgets' values: safe from any thread)."""
        w = self.widgets
        name = str(w.strategy.value)
        specs = STRATEGIES[name].param_specs() if name in STRATEGIES else {}
        # inputs of another strategy (a change not yet redrawn by the refresher) are ignored
        params = {k: x.value for k, x in w.param_inputs.items() if k in specs}
        return EngineSettings(mode=str(w.mode.value), instruments=tuple(w.instruments.value),
                              freq=str(w.timeframe.value), strategy=name, params=params,
                              warmup_bars=int(w.warmup.value))

    def _adopt(self, engine: Any, *, owns: bool) -> None:
        with self._lock:
            self.engine = engine
            self._owns_engine = owns
            self.engine_gen += 1

    def notify(self, text: str) -> None:
        """Show ``text`` on the error line for a while (any thread)."""
        import time

        self.messages.append((time.monotonic(), text))
        log.warning("panel: %s", text)

    def progress(self, desc: str, total: int) -> PanelProgress:
        """A progress bar shown in the panel (update it from any thread)."""
        bar = PanelProgress(total, desc)
        self.progress_bars.append(bar)
        return bar

    # ------------------------------------------------------------------ actions (thread-safe)
    def start(self, *, confirm_live: bool = False) -> None:
        """What the Start button does: (re)build the engine if the controls changed, then start it.

        LIVE mode asks for the confirmation button first (or ``confirm_live=True`` here)."""
        if self.closed:
            raise RuntimeError("this ControlPanel is closed; create a new one")
        self.refresher.start()
        s = self.settings()
        if s.mode == "ig-live" and not (confirm_live or self.confirmed_live):
            self.refresher.call_soon(self._renderer.show_confirm)
            return
        with self._lock:
            try:
                get_strategy(s.strategy, **dict(s.params))  # bad parameters fail here, named
                eng = self.engine
                if eng is None or (not eng.running and s.key() != self._settings_key):
                    if eng is not None:
                        close_engine(eng)
                    eng = self.factory(self.config, s, self.progress)
                    for warning in getattr(getattr(eng, "resources", None), "warnings", None) or ():
                        self.notify(str(warning))  # e.g. IG credentials missing: Demo instead
                    self._adopt(eng, owns=True)
                    self._settings_key = s.key()
                eng.start(confirm_live=confirm_live or self.confirmed_live)
            except Exception as exc:
                self.notify(f"start failed: {type(exc).__name__}: {exc}")

    def stop(self) -> None:
        """Stop the engine (positions as the config's ``risk.flatten_on_stop`` says)."""
        eng = self.engine
        if eng is not None:
            try:
                eng.stop()
            except Exception as exc:
                self.notify(f"stop failed: {type(exc).__name__}: {exc}")

    def kill(self, reason: str = "panel kill switch") -> None:
        """The kill switch: halt, cancel working orders, flatten (thread-safe)."""
        eng = self.engine
        if eng is None:
            self.notify("kill switch: no engine to halt")
            return
        try:
            eng.kill(reason)
        except Exception as exc:
            self.notify(f"kill failed: {type(exc).__name__}: {exc}")

    def resume(self) -> None:
        eng = self.engine
        if eng is not None:
            eng.resume()

    def close_position(self, deal_id: str) -> None:
        eng = self.engine
        if eng is not None:
            try:
                r = eng.broker.close_position(deal_id, reason="manual")
                if not r.ok:
                    self.notify(f"close {deal_id}: {r.status.value} {r.reason}")
            except Exception as exc:
                self.notify(f"close {deal_id} failed: {type(exc).__name__}: {exc}")

    def cancel_order(self, deal_id: str) -> None:
        eng = self.engine
        if eng is not None:
            try:
                r = eng.broker.cancel_order(deal_id)
                if not r.ok:
                    self.notify(f"cancel {deal_id}: {r.status.value} {r.reason}")
            except Exception as exc:
                self.notify(f"cancel {deal_id} failed: {type(exc).__name__}: {exc}")

    # ------------------------------------------------------------------ callbacks → actions
    def _wire(self) -> None:
        w = self.widgets
        w.start.on_click(lambda _b: self.start())
        w.stop.on_click(lambda _b: self.stop())
        w.kill.on_click(lambda _b: self.kill())
        w.resume.on_click(lambda _b: self.resume())
        w.confirm_yes.on_click(self._on_confirm_yes)
        w.confirm_no.on_click(lambda _b: self.refresher.call_soon(self._renderer.hide_confirm))
        w.strategy.observe(self._on_strategy, names="value")
        w.chart_instrument.observe(lambda _c: self._renderer.request_rebind(), names="value")
        w.follow.observe(lambda c: self.refresher.call_soon(lambda: setattr(self.chart, "follow", c["new"])),
                         names="value")

    def _on_confirm_yes(self, _b: Any) -> None:
        self.confirmed_live = True
        self.refresher.call_soon(self._renderer.hide_confirm)
        self.start(confirm_live=True)

    def _on_strategy(self, change: Any) -> None:
        name = change["new"]
        self.refresher.call_soon(lambda: set_params(self.widgets, name, {}))

    # ------------------------------------------------------------------ tests, teardown
    def guard(self) -> Refresher:
        """Arm a check on every widget (and the figure): writes off the refresher thread are counted in
        ``refresher.writes_off_thread``. For tests; returns the refresher."""
        for x in [*self.widgets.all, self.chart.widget]:
            guard_widget(x, self.refresher)
        return self.refresher

    def close(self) -> None:
        """Stop the refresher and the engine, close every widget. Idempotent."""
        if self.closed:
            return
        self.closed = True
        self.refresher.stop()
        self.refresher.guard_armed = False
        eng = self.engine
        if eng is not None:
            try:
                close_engine(eng)
            except Exception:
                log.exception("closing the engine failed")
        self._renderer.close()
        self._logger.removeHandler(self.log_buffer)
        self._logger.setLevel(self._old_level)
        self.chart.close()
        for x in self.widgets.all:
            x.close()
        for x in self.widgets.param_inputs.values():
            x.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else (self.engine.status.value if self.engine is not None else "no engine")
        return f"<ControlPanel {state} refresher={'on' if self.refresher.running else 'off'}>"


@atexit.register
def _close_all() -> None:
    for p in live_panels():
        try:
            p.close()
        except Exception:  # best effort at exit
            log.exception("closing %r at exit failed", p)
