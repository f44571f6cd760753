"""``CandleChart``: one instrument's live candles as a plotly ``FigureWidget``, updated by cheap diffs.

The figure comes from :func:`igkit.plotting.live_figure` (the same trace builders as
``BacktestResult.plot()``, so research and live charts look alike): candles (bid, ask or mid), signal
markers, entries and exits, the open position's level with its stop and limit lines, and a tick-count
pane. Only a sliding window of the last ``window`` bars goes to the browser; x values are float64
milliseconds since the epoch on a date axis, so every array travels as binary.

Rules from ``design.md`` §5, kept here:

* The ``FigureWidget`` is built complete (``go.Figure`` → ``FigureWidget``) the first time it is needed
  for display, from the data known at that moment; ``update()`` before that only changes the chart's
  own arrays. A FigureWidget edited before it is displayed renders empty in Voilà.
* After display, ``update()`` compares the new window with what was sent and restyles only the traces
  whose arrays changed (plotly has no partial-array message, so a changed trace sends its window),
  inside one ``batch_update()``; nothing changed → nothing is sent.
* When the browser reports its first render (plotly's ``_js2py_traceDeltas``) the whole window is sent
  again, so edits made between display and first render are never lost.
* Not thread-safe: in a :class:`~igkit.widgets.ControlPanel` only the refresher calls ``update()``; used
  on its own, call it from one thread (the notebook's).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from igkit.candles import empty_candles
from igkit.errors import DataError
from igkit.plotting import live_figure

__all__ = ["TRACE_INDEX", "CandleChart"]

log = logging.getLogger(__name__)

# fixed trace order of igkit.plotting.live_figure
TRACE_INDEX: Mapping[str, int] = {
    "candles": 0, "signal_long": 1, "signal_short": 2, "signal_flat": 3, "entry": 4, "exit": 5,
    "position": 6, "stop": 7, "limit": 8, "ticks": 9,
}
_SIDES = ("bid", "ask", "mid")
_EMPTY = np.zeros(0, dtype=np.float64)
_NS_PER_MS = 1_000_000.0


def _index_ns(index: pd.Index, what: str) -> np.ndarray:
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(f"{what}: candles need a DatetimeIndex (UTC bar open times), got {type(index).__name__}")
    if index.tz is None:
        raise DataError(f"{what}: candle index is naive; igkit needs tz-aware UTC times")
    return np.asarray(index.as_unit("ns").asi8, dtype=np.int64)


def _direction(value: Any) -> int:
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return 1 if value > 0 else -1
    return 1 if str(getattr(value, "value", value)).upper() == "BUY" else -1


class CandleChart:
    """A live candle chart for ``instrument``.

    Args:
        instrument: epic shown in the title (change it with :meth:`set_instrument`).
        side: "bid", "ask" or "mid" candles.
        window: bars kept on the chart (a sliding window of the latest bars).
        follow: keep the x axis on the latest bars; False freezes the current view while data slides.
        height: figure height in pixels.

    ``chart.widget`` is the ``FigureWidget``; ``display(chart)`` or a cell ending in ``chart`` shows it.
    """

    def __init__(self, instrument: str = "", *, side: str = "mid", window: int = 500, follow: bool = True,
                 height: int = 520) -> None:
        if side not in _SIDES:
            raise DataError(f"CandleChart {instrument!r}: side must be one of {_SIDES}, got {side!r}")
        if isinstance(window, bool) or not isinstance(window, int) or window < 2:
            raise DataError(f"CandleChart {instrument!r}: window must be an int >= 2, got {window!r}")
        self.instrument = instrument
        self.side = side
        self.window = window
        self.height = height
        self._follow = bool(follow)
        self._range_dirty = True
        self._widget: go.FigureWidget | None = None
        self._resend = False
        self.sent = 0  # traces restyled since creation (for tests and benchmarks)
        self.updates = 0
        self.bars = 0  # bars in the window
        self.total_bars = 0  # bars in the last frame given
        self._ts = np.zeros(0, dtype=np.int64)
        # what the traces should show (trace index → dict of arrays); _shown: what was sent
        self._want: dict[int, dict[str, Any]] = {}
        self._shown: dict[int, dict[str, Any]] = {}
        self._apply_candles(empty_candles())
        self._apply_markers(None, None, None)

    # ------------------------------------------------------------------ public
    @property
    def widget(self) -> go.FigureWidget:
        """The ``FigureWidget`` (built complete from the current data the first time it is asked for)."""
        if self._widget is None:
            self._widget = self._build()
        return self._widget

    @property
    def follow(self) -> bool:
        return self._follow

    @follow.setter
    def follow(self, value: bool) -> None:
        self._follow = bool(value)
        self._range_dirty = True

    @property
    def figure_built(self) -> bool:
        return self._widget is not None

    def set_instrument(self, instrument: str) -> None:
        """Show another instrument: the data is cleared until the next ``update``."""
        self.instrument = instrument
        self._apply_candles(empty_candles())
        self._apply_markers(None, None, None)
        self._range_dirty = True
        if self._widget is not None:
            self._widget.layout.title = {"text": instrument}
            self._flush()

    def update(self, candles: pd.DataFrame, signals: Any = None, fills: Any = None, position: Any = None) -> int:
        """Show ``candles`` (its last ``window`` rows), with markers and levels; returns the traces sent.

        Args:
            candles: a candle frame (igkit schema: UTC index, ``{side}_open..close``, ``ticks``).
            signals: a Series of targets (-1/0/+1) aligned to ``candles`` (markers where it changes), or
                records with ``time_ns`` (bar open) and ``target`` (e.g. ``igkit.types.Signal``), or None.
            fills: records with ``time_ns``, ``direction``, ``price``, ``opening`` (``igkit.types.Fill``)
                or a frame with columns ``time``, ``direction``, ``price``, ``opening``; or None.
            position: the open position — a record with ``level``/``stop_level``/``limit_level`` (e.g.
                ``igkit.types.Position``), several (their size-weighted level), a mapping with keys
                ``level``, ``stop``, ``limit``, or None (no lines).
        """
        self.updates += 1
        self._apply_candles(candles, signals)
        self._apply_markers(signals, fills, position)
        return self._flush() if self._widget is not None else 0

    def close(self) -> None:
        """Close the widget (its front-end views disappear)."""
        if self._widget is not None:
            self._widget.close()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return (f"<CandleChart {self.instrument!r} side={self.side} bars={self.bars}/{self.window} "
                f"follow={self._follow}>")

    # ------------------------------------------------------------------ data → wanted arrays
    def _apply_candles(self, candles: pd.DataFrame, signals: Any = None) -> None:
        what = f"CandleChart {self.instrument!r}"
        if not isinstance(candles, pd.DataFrame):
            raise DataError(f"{what}: candles must be a DataFrame, got {type(candles).__name__}")
        cols = [f"{self.side}_{p}" for p in ("open", "high", "low", "close")]
        missing = [c for c in (*cols, "ticks") if c not in candles.columns]
        if missing:
            raise DataError(f"{what}: candles have no column(s) {missing}")
        self.total_bars = n = len(candles)
        tail = candles.iloc[max(n - self.window, 0):]
        ts = _index_ns(tail.index, what)
        self._ts = ts
        self.bars = ts.shape[0]
        x = ts / _NS_PER_MS
        # copies: the caller may change its frame in place, and what was sent is compared with it later
        o, h, lo, c = (tail[col].to_numpy(dtype=np.float64, copy=True) for col in cols)
        self._o, self._h, self._l, self._c = o, h, lo, c
        self._want[0] = {"x": x, "open": o, "high": h, "low": lo, "close": c}
        self._want[9] = {"x": x, "y": tail["ticks"].to_numpy(dtype=np.float64, copy=True)}
        self._bar_ns = int(ts[-1] - ts[-2]) if ts.shape[0] >= 2 else 60_000_000_000
        self._frame_index = candles.index if isinstance(signals, pd.Series) else None

    def _apply_markers(self, signals: Any, fills: Any, position: Any) -> None:
        self._signals(signals)
        self._fills(fills)
        self._levels(position)

    def _signals(self, signals: Any) -> None:
        ts = self._ts
        times = targets = np.zeros(0, dtype=np.int64)
        if isinstance(signals, pd.Series):
            s = signals.to_numpy()
            if s.shape[0]:
                prev = np.concatenate(([0], s[:-1]))
                changed = s != prev
                idx_ns = _index_ns(signals.index, f"CandleChart {self.instrument!r} signals")
                times, targets = idx_ns[changed], s[changed].astype(np.int64)
        elif signals is not None:
            recs = list(signals)
            times = np.fromiter((int(r.time_ns) for r in recs), dtype=np.int64, count=len(recs))
            targets = np.fromiter((int(r.target) for r in recs), dtype=np.int64, count=len(recs))
        pos = np.searchsorted(ts, times)
        ok = pos < ts.shape[0]
        ok[ok] = ts[pos[ok]] == times[ok]  # markers only on bars in the window
        pos, tg = pos[ok], targets[ok]
        x = ts[pos] / _NS_PER_MS
        for trace, value, y in ((1, 1, self._l), (2, -1, self._h), (3, 0, self._c)):
            m = tg == value
            self._want[trace] = {"x": x[m], "y": y[pos[m]]}

    def _fills(self, fills: Any) -> None:
        if fills is None:
            t = p = _EMPTY
            d = np.zeros(0, dtype=np.int8)
            op = np.zeros(0, dtype=bool)
        elif isinstance(fills, pd.DataFrame):
            t = _index_ns(pd.DatetimeIndex(fills["time"]), "fills").astype(np.float64)
            d = np.array([_direction(v) for v in fills["direction"]], dtype=np.int8)
            p = fills["price"].to_numpy(dtype=np.float64)
            op = fills["opening"].to_numpy(dtype=bool)
        else:
            recs = list(fills)
            t = np.array([r.time_ns for r in recs], dtype=np.float64)
            d = np.array([_direction(r.direction) for r in recs], dtype=np.int8)
            p = np.array([r.price for r in recs], dtype=np.float64)
            op = np.array([bool(r.opening) for r in recs], dtype=bool)
        if self._ts.shape[0]:
            inside = (t >= self._ts[0]) & (t < self._ts[-1] + self._bar_ns)
        else:
            inside = np.zeros(t.shape[0], dtype=bool)
        e, x = inside & op, inside & ~op
        self._want[4] = {"x": t[e] / _NS_PER_MS, "y": p[e],
                         "marker.symbol": np.where(d[e] > 0, "triangle-up", "triangle-down"),
                         "marker.color": np.where(d[e] > 0, "#26a69a", "#ef5350")}
        self._want[5] = {"x": t[x] / _NS_PER_MS, "y": p[x]}

    def _levels(self, position: Any) -> None:
        level = stop = limit = None
        if position is not None:
            if isinstance(position, Mapping):
                level, stop, limit = position.get("level"), position.get("stop"), position.get("limit")
            else:
                recs = list(position) if isinstance(position, Iterable) else [position]
                recs = [r for r in recs if float(getattr(r, "size", 1.0)) > 0]
                if recs:
                    sizes = np.array([float(getattr(r, "size", 1.0)) for r in recs])
                    levels = np.array([float(r.level) for r in recs])
                    level = float((sizes * levels).sum() / sizes.sum())
                    stop = next((r.stop_level for r in recs if getattr(r, "stop_level", None) is not None), None)
                    limit = next((r.limit_level for r in recs if getattr(r, "limit_level", None) is not None), None)
        has_bars = self._ts.shape[0] > 0
        x = (np.array([self._ts[0], self._ts[-1] + self._bar_ns], dtype=np.float64) / _NS_PER_MS
             if has_bars else _EMPTY)
        for trace, value in ((6, level), (7, stop), (8, limit)):
            if value is None or not has_bars:
                self._want[trace] = {"x": _EMPTY, "y": _EMPTY}
            else:
                self._want[trace] = {"x": x, "y": np.array([value, value], dtype=np.float64)}

    # ------------------------------------------------------------------ wanted → figure
    def _build(self) -> go.FigureWidget:
        fig = live_figure(empty_candles(), side=self.side, title=self.instrument, height=self.height)
        for i, props in self._want.items():
            fig.data[i].update(_plotly_props(props))
        self._set_range(fig)
        widget = go.FigureWidget(fig)
        self._shown = {i: dict(p) for i, p in self._want.items()}
        widget.observe(self._on_render, names="_js2py_traceDeltas")
        return widget

    def _on_render(self, change: Any) -> None:
        if change.get("new"):
            self._resend = True  # send everything at the next update/flush

    def _set_range(self, fig: Any) -> None:
        self._range_dirty = False
        if self._follow:
            fig.layout.xaxis.autorange = True
        elif self._ts.shape[0]:
            fig.layout.xaxis.range = [self._ts[0] / _NS_PER_MS, (self._ts[-1] + self._bar_ns) / _NS_PER_MS]
            fig.layout.xaxis.autorange = False

    def flush(self) -> int:
        """Send what changed since the last send (also called by ``update``); returns the traces sent."""
        return self._flush() if self._widget is not None else 0

    def _flush(self) -> int:
        w = self._widget
        assert w is not None
        resend, self._resend = self._resend, False
        changed = [i for i, props in self._want.items() if resend or not _same(props, self._shown.get(i))]
        if not changed and not self._range_dirty and not (self._follow and resend):
            return 0
        with w.batch_update():
            for i in changed:
                w.data[i].update(_plotly_props(self._want[i]))
                self._shown[i] = self._want[i]
            if self._range_dirty or resend:
                self._set_range(w)
        self.sent += len(changed)
        return len(changed)


def _plotly_props(props: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in props.items():
        if "." in key:
            a, b = key.split(".", 1)
            out.setdefault(a, {})[b] = value
        else:
            out[key] = value
    return out


def _same(a: dict[str, Any], b: dict[str, Any] | None) -> bool:
    if b is None or a.keys() != b.keys():
        return False
    for k, v in a.items():
        w = b[k]
        if v is w:
            continue
        if v.shape != w.shape or not np.array_equal(v, w):
            return False
    return True
