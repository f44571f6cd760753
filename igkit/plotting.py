"""Reusable plotly trace builders for candles, signals, trades and equity, and the backtest figure.

Shared by :meth:`igkit.backtest.BacktestResult.plot` and the live chart: each builder takes a frame or a
series in igkit's schemas and returns plain ``plotly.graph_objects`` traces (x as numpy datetime64 and y
as float64 arrays, so they travel to the browser as binary). Figures are returned, never shown.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from igkit.errors import DataError

__all__ = [
    "LONG_COLOR",
    "SHORT_COLOR",
    "backtest_figure",
    "candlestick_trace",
    "equity_trace",
    "fill_traces",
    "level_traces",
    "live_figure",
    "signal_traces",
    "tick_count_trace",
    "trade_traces",
]

LONG_COLOR = "#26a69a"
SHORT_COLOR = "#ef5350"
_SIDES = ("bid", "ask", "mid")


def _x(index: pd.Index) -> np.ndarray:
    if isinstance(index, pd.DatetimeIndex):
        idx = index.tz_convert("UTC").tz_localize(None) if index.tz is not None else index
        return idx.to_numpy(dtype="datetime64[ns]")
    return np.asarray(index)


def candlestick_trace(candles: pd.DataFrame, side: str = "mid", *, name: str | None = None) -> go.Candlestick:
    """A candlestick trace of the ``side`` ("bid", "ask" or "mid") OHLC columns of a candle frame."""
    if side not in _SIDES:
        raise DataError(f"candlestick side must be one of {_SIDES}, got {side!r}")
    cols = [f"{side}_{p}" for p in ("open", "high", "low", "close")]
    missing = [c for c in cols if c not in candles.columns]
    if missing:
        raise DataError(f"candles have no column(s) {missing} for side {side!r}")
    o, h, lo, c = (candles[col].to_numpy(dtype=np.float64) for col in cols)
    return go.Candlestick(
        x=_x(candles.index), open=o, high=h, low=lo, close=c, name=name or side,
        increasing_line_color=LONG_COLOR, decreasing_line_color=SHORT_COLOR, showlegend=False,
    )


def signal_traces(signals: pd.Series, candles: pd.DataFrame, *, side: str = "mid") -> list[go.Scatter]:
    """Markers where the target position changes: up triangles (to long) under the bar's low, down
    triangles (to short) over its high, grey circles (to flat) at the close."""
    s = signals.to_numpy()
    if s.shape[0] == 0:
        return []
    prev = np.concatenate(([0], s[:-1]))
    changed = s != prev
    x = _x(candles.index)
    low = candles[f"{side}_low"].to_numpy(dtype=np.float64)
    high = candles[f"{side}_high"].to_numpy(dtype=np.float64)
    close = candles[f"{side}_close"].to_numpy(dtype=np.float64)
    out = []
    for value, label, y, symbol, color in (
        (1, "signal long", low, "triangle-up", LONG_COLOR),
        (-1, "signal short", high, "triangle-down", SHORT_COLOR),
        (0, "signal flat", close, "circle-open", "#888888"),
    ):
        m = changed & (s == value)
        out.append(go.Scatter(x=x[m], y=y[m], mode="markers", name=label,
                              marker={"symbol": symbol, "color": color, "size": 8}))
    return out


def trade_traces(trades: pd.DataFrame) -> list[go.Scatter]:
    """Entry markers (triangles, colour by direction) and exit markers (crosses), with hover text."""
    if trades.empty:
        return []
    d = trades["direction"].to_numpy()
    entry_x = _x(pd.DatetimeIndex(trades["entry_time"]))
    exit_x = _x(pd.DatetimeIndex(trades["exit_time"]))
    text = [f"{'long' if di > 0 else 'short'} {sz:g} → {why}, pnl {p:.2f}"
            for di, sz, why, p in zip(d, trades["size"], trades["exit_reason"], trades["pnl"], strict=True)]
    entries = go.Scatter(
        x=entry_x, y=trades["entry_price"].to_numpy(dtype=np.float64), mode="markers", name="entry",
        marker={"symbol": np.where(d > 0, "triangle-up", "triangle-down"),
                "color": np.where(d > 0, LONG_COLOR, SHORT_COLOR), "size": 10,
                "line": {"width": 1, "color": "black"}},
        text=text, hoverinfo="x+y+text",
    )
    exits = go.Scatter(
        x=exit_x, y=trades["exit_price"].to_numpy(dtype=np.float64), mode="markers", name="exit",
        marker={"symbol": "x", "color": "black", "size": 8}, text=list(trades["exit_reason"]),
        hoverinfo="x+y+text",
    )
    return [entries, exits]


def equity_trace(equity: pd.Series, *, name: str = "equity") -> go.Scatter:
    """A line of the equity curve."""
    return go.Scatter(x=_x(equity.index), y=equity.to_numpy(dtype=np.float64), mode="lines", name=name,
                      line={"color": "#1f77b4"})


def backtest_figure(
    candles: pd.DataFrame,
    signals: pd.Series,
    trades: pd.DataFrame,
    equity: pd.Series,
    *,
    side: str = "mid",
    title: str = "",
) -> go.Figure:
    """Two stacked subplots sharing x: candles with signal and trade markers, and the equity curve."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.03)
    fig.add_trace(candlestick_trace(candles, side), row=1, col=1)
    for tr in signal_traces(signals, candles, side=side):
        fig.add_trace(tr, row=1, col=1)
    for tr in trade_traces(trades):
        fig.add_trace(tr, row=1, col=1)
    fig.add_trace(equity_trace(equity), row=2, col=1)
    fig.update_layout(title=title, xaxis_rangeslider_visible=False, height=650,
                      margin={"l": 50, "r": 20, "t": 50, "b": 30}, legend={"orientation": "h"})
    fig.update_yaxes(title_text="price", row=1, col=1)
    fig.update_yaxes(title_text="equity", row=2, col=1)
    return fig


# ---------------------------------------------------------------- live chart (igkit.widgets.CandleChart)
LEVEL_STYLES = {
    "position": {"color": "#1e88e5", "width": 1.5, "dash": "solid"},
    "stop": {"color": SHORT_COLOR, "width": 1, "dash": "dash"},
    "limit": {"color": LONG_COLOR, "width": 1, "dash": "dash"},
}


def tick_count_trace(candles: pd.DataFrame, *, name: str = "ticks") -> go.Bar:
    """Bars of the ``ticks`` column (ticks per candle), for a pane under the candles."""
    if "ticks" not in candles.columns:
        raise DataError("candles have no column 'ticks' for the tick-count pane")
    return go.Bar(x=_x(candles.index), y=candles["ticks"].to_numpy(dtype=np.float64), name=name,
                  marker={"color": "#90a4ae"}, showlegend=False)


def fill_traces(fills: pd.DataFrame) -> list[go.Scatter]:
    """Entry markers (opening fills: triangles coloured by direction) and exit markers (closing fills:
    black crosses) from a frame with columns ``time`` (UTC), ``direction`` (+1/-1 or "BUY"/"SELL"),
    ``price`` and ``opening`` (bool). The live counterpart of :func:`trade_traces`."""
    missing = [c for c in ("time", "direction", "price", "opening") if c not in fills.columns]
    if missing:
        raise DataError(f"fills have no column(s) {missing}")
    d = np.array([1 if str(v) in ("1", "BUY", "Direction.BUY") else -1 for v in fills["direction"]], dtype=np.int8)
    op = fills["opening"].to_numpy(dtype=bool)
    x = _x(pd.DatetimeIndex(fills["time"]))
    y = fills["price"].to_numpy(dtype=np.float64)
    entries = go.Scatter(
        x=x[op], y=y[op], mode="markers", name="entry",
        marker={"symbol": np.where(d[op] > 0, "triangle-up", "triangle-down"),
                "color": np.where(d[op] > 0, LONG_COLOR, SHORT_COLOR), "size": 10,
                "line": {"width": 1, "color": "black"}},
    )
    exits = go.Scatter(x=x[~op], y=y[~op], mode="markers", name="exit",
                       marker={"symbol": "x", "color": "black", "size": 8})
    return [entries, exits]


def level_traces(x0: object, x1: object, *, level: float | None = None, stop: float | None = None,
                 limit: float | None = None) -> list[go.Scatter]:
    """Three horizontal lines from ``x0`` to ``x1``: the open position's level, its stop and its limit
    (a line whose value is None is empty)."""
    out = []
    for name, value in (("position", level), ("stop", stop), ("limit", limit)):
        xs = [x0, x1] if value is not None else []
        ys = [value, value] if value is not None else []
        out.append(go.Scatter(x=xs, y=ys, mode="lines", name=name, line=LEVEL_STYLES[name], hoverinfo="name+y"))
    return out


def live_figure(candles: pd.DataFrame, *, side: str = "mid", title: str = "", height: int = 520) -> go.Figure:
    """The live chart's complete figure: candles, signal markers (long/short/flat), entries and exits,
    position/stop/limit lines (row 1) and the tick-count pane (row 2), in that fixed trace order, with a
    date x axis shared by both rows. Built from the same builders as :func:`backtest_figure`."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.78, 0.22], vertical_spacing=0.03)
    fig.add_trace(candlestick_trace(candles, side), row=1, col=1)
    empty_signals = pd.Series(np.zeros(0, dtype=np.int8), index=candles.index[:0])
    sig = signal_traces(empty_signals, candles.iloc[:0], side=side) or [
        go.Scatter(x=[], y=[], mode="markers", name=label, marker={"symbol": sym, "color": col, "size": 8})
        for label, sym, col in (("signal long", "triangle-up", LONG_COLOR),
                                ("signal short", "triangle-down", SHORT_COLOR),
                                ("signal flat", "circle-open", "#888888"))
    ]
    for tr in sig:
        fig.add_trace(tr, row=1, col=1)
    empty_fills = pd.DataFrame({"time": pd.DatetimeIndex([], tz="UTC"), "direction": [], "price": [], "opening": []})
    for tr in fill_traces(empty_fills):
        fig.add_trace(tr, row=1, col=1)
    for tr in level_traces(None, None):
        fig.add_trace(tr, row=1, col=1)
    fig.add_trace(tick_count_trace(candles), row=2, col=1)
    fig.update_layout(title=title or None, xaxis_rangeslider_visible=False, height=height, uirevision="igkit",
                      margin={"l": 50, "r": 20, "t": 40 if title else 10, "b": 30},
                      legend={"orientation": "h", "y": 1.02, "x": 0}, bargap=0.1)
    fig.update_xaxes(type="date")
    fig.update_yaxes(title_text="price", row=1, col=1)
    fig.update_yaxes(title_text="ticks", row=2, col=1)
    return fig
