"""The panel's widget tree, built once, complete, before display (no data yet). Every element carries
its stable CSS class from :data:`igkit.widgets.theme.CLASSES`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ipywidgets as w

from igkit.market import CATALOG
from igkit.strategy import STRATEGIES, Param
from igkit.widgets.theme import CLASSES, MODE_LABELS

__all__ = ["TIMEFRAMES", "PanelWidgets", "build_layout", "param_widget"]

TIMEFRAMES = ("1s", "5s", "15s", "30s", "1min", "5min", "15min", "1h", "4h", "1D")
_HIDDEN = "none"


def _cls(widget: w.Widget, key: str) -> Any:
    widget.add_class(CLASSES[key])
    return widget


def param_widget(p: Param, value: Any) -> w.Widget:
    """An input for one strategy parameter, from its spec (type, bounds, choices, doc)."""
    desc = p.name
    style = {"description_width": "initial"}
    lay = w.Layout(width="170px")
    if p.choices is not None:
        return w.Dropdown(options=list(p.choices), value=value, description=desc, tooltip=p.doc, style=style)
    if p.type is bool:
        return w.Checkbox(value=bool(value), description=desc, tooltip=p.doc, indent=False)
    if p.type is int:
        lo = int(p.min) if p.min is not None else -(2**31)
        hi = int(p.max) if p.max is not None else 2**31 - 1
        return w.BoundedIntText(value=int(value), min=lo, max=hi, description=desc, tooltip=p.doc, style=style,
                                layout=lay)
    if p.type is float:
        lo_f = float(p.min) if p.min is not None else -1e300
        hi_f = float(p.max) if p.max is not None else 1e300
        return w.BoundedFloatText(value=float(value), min=lo_f, max=hi_f, description=desc, tooltip=p.doc,
                                  style=style, layout=lay)
    return w.Text(value=str(value), description=desc, tooltip=p.doc, style=style, layout=lay)


@dataclass
class PanelWidgets:
    """Named references into the tree (``root`` is what is displayed)."""

    root: w.VBox
    badge: w.HTML
    status: w.HTML
    connection: w.HTML
    account: w.HTML
    balance: w.HTML
    pnl: w.HTML
    tick_age: w.HTML
    kill: w.Button
    error: w.HTML
    mode: w.Dropdown
    instruments: w.SelectMultiple
    timeframe: w.Dropdown
    strategy: w.Dropdown
    params: w.HBox
    warmup: w.BoundedIntText
    start: w.Button
    stop: w.Button
    resume: w.Button
    confirm: w.HBox
    confirm_yes: w.Button
    confirm_no: w.Button
    progress: w.VBox
    chart_instrument: w.Dropdown
    candle_count: w.HTML
    follow: w.Checkbox
    chart_box: w.VBox
    tabs: w.Tab
    positions: w.VBox
    orders: w.VBox
    signals: w.HTML
    fills: w.HTML
    quality: w.HTML
    log: w.HTML
    risk: w.HTML
    param_inputs: dict[str, w.Widget] = field(default_factory=dict)
    all: list[w.Widget] = field(default_factory=list)


def build_layout(*, mode: str, instruments: list[str], freq: str, strategy: str, params: dict[str, Any],
                 chart_widget: w.Widget) -> PanelWidgets:
    """The whole tree with the given initial control values."""
    badge = _cls(w.HTML(), "mode_badge")
    status = _cls(w.HTML(), "status")
    connection = _cls(w.HTML(), "connection")
    account = _cls(w.HTML(), "account")
    balance = _cls(w.HTML(), "balance")
    pnl = _cls(w.HTML(), "pnl")
    tick_age = _cls(w.HTML(), "tick_age")
    kill = _cls(w.Button(description="KILL", button_style="danger", icon="stop-circle",
                         tooltip="kill switch: no new orders, cancel working orders, flatten everything now"),
                "kill")
    header = _cls(w.HBox([badge, status, connection, account, balance, pnl, tick_age, kill],
                         layout=w.Layout(align_items="center", justify_content="space-between",
                                         flex_flow="row wrap", padding="4px")), "header")
    error = _cls(w.HTML(layout=w.Layout(display=_HIDDEN)), "error")

    mode_w = _cls(w.Dropdown(options=[(label, value) for value, label in MODE_LABELS.items()], value=mode,
                             description="mode", layout=w.Layout(width="180px")), "mode")
    catalog = [(f"{s.symbol} ({e})", e) for e, s in CATALOG.items()]
    known = {e for _, e in catalog}
    catalog += [(e, e) for e in instruments if e not in known]
    inst = _cls(w.SelectMultiple(options=catalog, value=tuple(instruments), rows=5, description="instruments",
                                 layout=w.Layout(width="360px")), "instruments")
    tfs = list(TIMEFRAMES) + ([freq] if freq not in TIMEFRAMES else [])
    tf = _cls(w.Dropdown(options=tfs, value=freq, description="timeframe", layout=w.Layout(width="180px")),
              "timeframe")
    strat = _cls(w.Dropdown(options=sorted(STRATEGIES), value=strategy, description="strategy",
                            layout=w.Layout(width="200px")), "strategy")
    param_box = _cls(w.HBox(layout=w.Layout(flex_flow="row wrap")), "params")
    warmup = w.BoundedIntText(value=0, min=0, max=100_000, description="history bars",
                              style={"description_width": "initial"}, layout=w.Layout(width="170px"))
    start = _cls(w.Button(description="Start", button_style="success", icon="play"), "start")
    stop = _cls(w.Button(description="Stop", button_style="warning", icon="pause", disabled=True), "stop")
    resume = _cls(w.Button(description="Resume", icon="redo", disabled=True,
                           tooltip="leave HALTED after the kill switch"), "resume")
    confirm_yes = _cls(w.Button(description="Yes, trade real money", button_style="danger"), "confirm_yes")
    confirm_no = _cls(w.Button(description="Cancel"), "confirm_no")
    confirm = _cls(w.HBox([w.HTML("<b style='color:#e53935'>LIVE mode trades real money. Start?</b>"),
                           confirm_yes, confirm_no], layout=w.Layout(display=_HIDDEN)), "confirm")
    controls = w.VBox([
        w.HBox([mode_w, tf, strat, warmup], layout=w.Layout(flex_flow="row wrap")),
        w.HBox([inst, w.VBox([param_box, w.HBox([start, stop, resume])])]),
        confirm,
    ])
    progress = _cls(w.VBox(), "progress")

    chart_inst = _cls(w.Dropdown(options=list(instruments), value=instruments[0] if instruments else None,
                                 description="chart", layout=w.Layout(width="300px")), "chart_instrument")
    candle_count = _cls(w.HTML(), "candle_count")
    follow = w.Checkbox(value=True, description="follow latest", indent=False)
    # a flex column stretches the figure to the panel's width (a flex row would shrink it to its content)
    chart_box = _cls(w.VBox([chart_widget], layout=w.Layout(width="100%", align_items="stretch")), "chart")
    chart_area = w.VBox([w.HBox([chart_inst, candle_count, follow], layout=w.Layout(align_items="center")),
                         chart_box])

    positions = _cls(w.VBox(), "positions")
    orders = _cls(w.VBox(), "orders")
    signals = _cls(w.HTML(), "signals")
    fills = _cls(w.HTML(), "fills")
    quality = _cls(w.HTML(), "quality")
    log_w = _cls(w.HTML(), "log")
    risk = _cls(w.HTML(), "risk")
    tabs = _cls(w.Tab(children=[positions, orders, w.HBox([signals, fills]), quality, log_w, risk]), "tabs")
    for i, title in enumerate(("Positions", "Working orders", "Signals & fills", "Data quality", "Log", "Risk")):
        tabs.set_title(i, title)
    root = _cls(w.VBox([header, error, controls, progress, chart_area, tabs]), "panel")
    pw = PanelWidgets(root, badge, status, connection, account, balance, pnl, tick_age, kill, error, mode_w, inst,
                      tf, strat, param_box, warmup, start, stop, resume, confirm, confirm_yes, confirm_no, progress,
                      chart_inst, candle_count, follow, chart_box, tabs, positions, orders, signals, fills, quality,
                      log_w, risk)
    pw.all = [root, header, controls, chart_area, *root.children, *header.children, *controls.children,
              *chart_area.children, *tabs.children, mode_w, inst, tf, strat, param_box, warmup, start, stop, resume,
              confirm_yes, confirm_no, chart_inst, candle_count, follow, *confirm.children]
    set_params(pw, strategy, params)
    return pw


def set_params(pw: PanelWidgets, strategy: str, values: dict[str, Any]) -> None:
    """Rebuild the parameter inputs for ``strategy`` (values: overrides of the defaults)."""
    cls = STRATEGIES[strategy]
    old = list(pw.param_inputs.values())
    pw.param_inputs = {name: param_widget(p, values.get(name, p.default)) for name, p in cls.param_specs().items()}
    for box_w in pw.param_inputs.values():
        box_w.add_class("igkit-param")
    pw.params.children = tuple(pw.param_inputs.values())
    for x in old:
        x.close()
