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
    "signal_traces",
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
