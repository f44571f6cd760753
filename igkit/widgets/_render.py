"""The panel's refresher job: engine state snapshot → header, buttons, chart, tabs, progress bars.

Runs ONLY on the refresher thread. Each part is rebuilt only when its inputs changed (the state's
``version``, the chart source's ticks, the set of positions), so a quiet cycle sends nothing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import pandas as pd

from igkit.widgets._source import ChartSource
from igkit.widgets.theme import (
    CLASSES,
    MODE_COLORS,
    MODE_LABELS,
    STATUS_COLORS,
    badge_html,
    esc,
    light_html,
)

if TYPE_CHECKING:
    from igkit.widgets.panel import ControlPanel

__all__ = ["Renderer"]

_MESSAGE_SECONDS = 30.0
_ERROR_SECONDS = 60.0
_ROWS = 30
_SHOWN = ""
_HIDDEN = "none"


def _t(ns: int | None) -> str:
    return "" if ns is None else pd.Timestamp(ns, unit="ns", tz="UTC").strftime("%H:%M:%S")


def _table(headers: list[str], rows: list[list[Any]], cls: str = "") -> str:
    head = "".join(f"<th style='text-align:left;padding:0 8px'>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td style='padding:0 8px'>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table class='{cls}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return str(v)


class Renderer:
    """Turns the panel's engine state into widget values. Owned by the panel; runs on its refresher."""

    def __init__(self, panel: ControlPanel) -> None:
        self.p = panel
        self.source: ChartSource | None = None
        self._gen = -1
        self._want_rebind = False
        self._version = -1
        self._rows: dict[str, tuple[w.HBox, w.HTML]] = {}
        self._orders: dict[str, tuple[w.HBox, w.HTML]] = {}
        self._bars: dict[int, tuple[w.HBox, w.IntProgress, w.HTML, float]] = {}
        self._log_len = -1
        self._last_tick: int | None = None
        self._last_tick_seen = 0.0
        self.chart_ms: float = 0.0

    # ------------------------------------------------------------------ requests (any thread)
    def request_rebind(self) -> None:
        self._want_rebind = True

    def show_confirm(self) -> None:
        self.p.widgets.confirm.layout.display = _SHOWN

    def hide_confirm(self) -> None:
        self.p.widgets.confirm.layout.display = _HIDDEN

    # ------------------------------------------------------------------ the job
    def refresh(self) -> None:
        p = self.p
        eng = p.engine
        state = eng.state.snapshot() if eng is not None else None
        self._header(state)
        self._buttons(state)
        self._chart(eng, state)
        if state is not None and state["version"] != self._version:
            self._version = state["version"]
            self._tabs(state)
        self._log()
        self._progress()

    # ------------------------------------------------------------------ header and buttons
    def _header(self, s: dict[str, Any] | None) -> None:
        p, wd = self.p, self.p.widgets
        mode = s["mode"] if s is not None else str(wd.mode.value)
        wd.badge.value = badge_html(MODE_LABELS.get(mode, mode.upper()), MODE_COLORS.get(mode, "#757575"))
        status = s["status"].value if s is not None else "IDLE"
        detail = s["status_detail"] if s is not None else "no engine yet: press Start"
        wd.status.value = (f"<span data-status='{esc(status)}' style='color:{STATUS_COLORS.get(status, '#000')};"
                           f"font-weight:bold' title='{esc(detail)}'>{esc(status)}</span>")
        conn = s["connection"] if s is not None else "DISCONNECTED"
        wd.connection.value = light_html(conn)
        acct = _account_id(p.engine) or p.config.ig.account_id or ("paper" if mode == "demo" else "?")
        wd.account.value = f"account <b>{esc(acct)}</b>"
        if s is not None:
            cur = s["currency"]
            wd.balance.value = f"balance <b>{s['balance']:,.2f} {esc(cur)}</b> · equity {s['equity']:,.2f}"
            real, unreal = _cents(s["realized_pnl"]), _cents(s["unrealized_pnl"])
            pnl = _cents(real + unreal)
            color = "#43a047" if pnl >= 0 else "#e53935"
            wd.pnl.value = (f"P&amp;L <b style='color:{color}'>{pnl:+,.2f}</b> "
                            f"(real. {real:+,.2f}, unreal. {unreal:+,.2f})")
            # wall time since a new tick was last seen: a Demo or replay clock may be far from now, so
            # comparing tick timestamps with the wall clock would say nothing about staleness
            last = s["last_tick_ns"]
            if last != self._last_tick:
                self._last_tick, self._last_tick_seen = last, time.monotonic()
            age = None if last is None else time.monotonic() - self._last_tick_seen
            wd.tick_age.value = ("no tick yet" if age is None else
                                 f"last tick {_t(last)} UTC, <span data-age='{age:.1f}'>{age:,.1f} s ago</span>")
        self._error_line(s)

    def _error_line(self, s: dict[str, Any] | None) -> None:
        p = self.p
        now = time.monotonic()
        parts = [text for t, text in list(p.messages) if now - t < _MESSAGE_SECONDS]
        if s is not None:
            if s["status"].value == "ERROR":
                parts.append(f"engine ERROR: {s['status_detail']}")
            if s["status"].value == "HALTED":
                parts.append(f"HALTED: {s['status_detail']}")
            if s["status"].value == "RUNNING" and s["connection"] != "CONNECTED":
                parts.append(f"feed {s['connection']}")
            errs = s["errors"]
            if errs and (time.time_ns() - errs[-1].time_ns) / 1e9 < _ERROR_SECONDS:
                e = errs[-1]
                parts.append(f"{e.where}{f' {e.epic}' if e.epic else ''}: {e.message}")
        r = p.refresher
        if r.errors:
            parts.append(f"display error ({r.errors}): {r.last_error}")
        wd = p.widgets
        if parts:
            wd.error.value = ("<div style='color:white;background:#c62828;padding:2px 8px;border-radius:3px'>"
                              + " · ".join(esc(x) for x in parts[-4:]) + "</div>")
            wd.error.layout.display = _SHOWN
        else:
            wd.error.value = ""
            wd.error.layout.display = _HIDDEN

    def _buttons(self, s: dict[str, Any] | None) -> None:
        wd = self.p.widgets
        status = s["status"].value if s is not None else "IDLE"
        running = status in ("STARTING", "RUNNING", "HALTED", "ERROR", "STOPPING")
        wd.start.disabled = running and status != "ERROR"
        wd.stop.disabled = not running
        wd.resume.disabled = status != "HALTED"
        for x in (wd.mode, wd.instruments, wd.timeframe, wd.strategy, wd.warmup, *wd.param_inputs.values()):
            x.disabled = running

    # ------------------------------------------------------------------ chart
    def _chart(self, eng: Any, s: dict[str, Any] | None) -> None:
        p, wd = self.p, self.p.widgets
        if eng is None:
            return
        if self._gen != p.engine_gen:
            self._gen = p.engine_gen
            epics = list(eng.instruments)
            if list(wd.chart_instrument.options) != epics:
                keep = wd.chart_instrument.value if wd.chart_instrument.value in epics else epics[0]
                with wd.chart_instrument.hold_sync():
                    wd.chart_instrument.options = epics
                    wd.chart_instrument.value = keep
            self._want_rebind = True
        if self._want_rebind:
            self._want_rebind = False
            if self.source is not None:
                self.source.close()
            epic = wd.chart_instrument.value or next(iter(eng.instruments))
            self.source = ChartSource(eng.hub.buffer(epic), eng.freq, p.chart.window)
            p.chart.set_instrument(epic)
        src = self.source
        if src is None:
            return
        changed = src.poll()
        if changed or (s is not None and s["version"] != self._version):
            t0 = time.perf_counter()
            epic = src.epic
            sigs = [x for x in s["signals"] if x.epic == epic] if s is not None else None
            fills = [x for x in s["fills"] if x.epic == epic] if s is not None else None
            pos = [x for x in s["positions"] if x.epic == epic] if s is not None else None
            p.chart.update(src.frame(), signals=sigs, fills=fills, position=pos)
            self.chart_ms = (time.perf_counter() - t0) * 1e3
        cur = src.builder.current
        wd.candle_count.value = (f"<span data-candles='{src.count}'>{esc(src.epic)}: <b>{src.count}</b> candles"
                                 f"{f' · open bar {cur.ticks} ticks' if cur is not None else ''}</span>")

    # ------------------------------------------------------------------ tabs
    def _tabs(self, s: dict[str, Any]) -> None:
        wd = self.p.widgets
        self._rows_sync(self._rows, wd.positions, {x.deal_id: x for x in s["positions"]}, "close_position",
                        "Close", self.p.close_position,
                        lambda x: f"{x.epic} {x.direction.value} {x.size:g} @ {x.level:g}"
                                  f"{'' if x.stop_level is None else f' stop {x.stop_level:g}'}"
                                  f"{'' if x.limit_level is None else f' limit {x.limit_level:g}'}"
                                  f" · opened {_t(x.open_ns)} · {x.deal_id}")
        self._rows_sync(self._orders, wd.orders, {x.deal_id: x for x in s["working_orders"]}, "cancel_order",
                        "Cancel", self.p.cancel_order,
                        lambda x: f"{x.epic} {x.order_type.value} {x.direction.value} {x.size:g} @ {x.level:g}"
                                  f" · {x.deal_id}")
        sig = list(s["signals"])[-_ROWS:][::-1]
        wd.signals.value = "<b>Signals</b>" + _table(
            ["bar", "epic", "target", "price"],
            [[_t(x.time_ns), x.epic, {1: "long", -1: "short", 0: "flat"}.get(x.target, x.target), _fmt(x.price)]
             for x in sig], CLASSES["signals"])
        fl = list(s["fills"])[-_ROWS:][::-1]
        wd.fills.value = "<b>Fills</b>" + _table(
            ["time", "epic", "side", "size", "price", "reason", "P&L"],
            [[_t(x.time_ns), x.epic, x.direction.value, f"{x.size:g}", _fmt(x.price), x.reason,
              f"{x.pnl:+.2f}" if not x.opening else ""] for x in fl], CLASSES["fills"])
        q = s["quality"]
        keys: list[str] = []
        for rep in q.values():
            for k in rep:
                if k not in keys and not isinstance(rep[k], tuple | Mapping) and len(keys) < 10:
                    keys.append(k)
        rows = [[epic, *(_fmt(rep.get(k, "")) for k in keys)] for epic, rep in q.items()]
        if any("ig_candles" in rep for rep in q.values()):  # the feed keeps IG's candles: how ours compare
            keys.append("vs IG candles")
            for row, rep in zip(rows, q.values(), strict=True):
                row.append(_vs_ig(rep.get("ig_candles")))
        inst_rows = [[v.epic, v.ticks, v.lost, v.candles, _t(v.last_tick_ns)] for v in s["instrument_states"]]
        wd.quality.value = (_table(["epic", *keys], rows) + "<br>"
                            + _table(["epic", "ticks", "lost", "candles", "last tick"], inst_rows)
                            + f"<br>tick rate {s['tick_rate']:,.1f}/s · latency p50 {s['latency_p50_us']} µs "
                              f"p99 {s['latency_p99_us']} µs")
        risk_rows: list[list[Any]] = []
        for k, v in s["risk"].items():
            if hasattr(v, "items"):
                risk_rows += [[f"{k}.{k2}", _fmt(v2)] for k2, v2 in v.items()]
            else:
                risk_rows.append([k, _fmt(v)])
        cfg = self.p.config.risk
        risk_rows += [[f"config.risk.{k}", _fmt(v)] for k, v in cfg.model_dump().items()]
        wd.risk.value = _table(["limit / usage", "value"], risk_rows)

    def _rows_sync(self, held: dict[str, tuple[w.HBox, w.HTML]], box: w.VBox, items: dict[str, Any], cls: str,
                   label: str, action: Any, text: Any) -> None:
        if set(held) != set(items):
            for key in [k for k in held if k not in items]:
                row, _ = held.pop(key)
                for c in row.children:
                    c.close()
                row.close()
            for key in items:
                if key not in held:
                    html = w.HTML()
                    btn = w.Button(description=label, layout=w.Layout(width="90px"))
                    btn.add_class(CLASSES[cls])
                    btn.on_click(lambda _b, d=key: action(d))
                    held[key] = (w.HBox([btn, html]), html)
            box.children = tuple(held[k][0] for k in items)
        for key, item in items.items():
            held[key][1].value = esc(text(item))
        if not items:
            box.children = (w.HTML("<i>none</i>"),) if not box.children else box.children

    # ------------------------------------------------------------------ log and progress
    def _log(self) -> None:
        lines = self.p.log_buffer.lines
        n = len(lines) + (hash(lines[-1]) if lines else 0)
        if n == self._log_len:
            return
        self._log_len = n
        body = esc("\n".join(list(lines)[-100:]))
        self.p.widgets.log.value = (f"<pre style='max-height:240px;overflow-y:auto;font-size:11px;"
                                    f"margin:0'>{body}</pre>")

    def _progress(self) -> None:
        box = self.p.widgets.progress
        now = time.monotonic()
        changed = False
        for bar in list(self.p.progress_bars):
            key = id(bar)
            if key not in self._bars:
                ip = w.IntProgress(min=0, max=max(bar.total, 1))
                lbl = w.HTML()
                row = w.HBox([ip, lbl])
                self._bars[key] = (row, ip, lbl, 0.0)
                changed = True
            row, ip, lbl, done_at = self._bars[key]
            with ip.hold_sync():
                ip.value = min(bar.n, ip.max)
                ip.bar_style = "danger" if bar.error else ("success" if bar.closed else "info")
            lbl.value = esc(bar.text())
            if bar.closed and not done_at:
                self._bars[key] = (row, ip, lbl, now)
            elif done_at and now - done_at > 10.0:
                self.p.progress_bars.remove(bar)
                del self._bars[key]
                for x in (ip, lbl, row):
                    x.close()
                changed = True
        if changed:
            box.children = tuple(self._bars[id(b)][0] for b in self.p.progress_bars if id(b) in self._bars)

    def close(self) -> None:
        if self.source is not None:
            self.source.close()
            self.source = None
        for held in (self._rows, self._orders):
            for row, _ in held.values():
                for c in row.children:
                    c.close()
                row.close()
        for row, ip, lbl, _ in self._bars.values():
            for x in (ip, lbl, row):
                x.close()


def _account_id(eng: Any) -> str | None:
    """The account the running engine deals on: its broker's ``account_id`` (an IG broker's chosen account),
    else the broker's IG session's (the account IG logged in to); None for a broker without one (paper)."""
    broker = getattr(eng, "broker", None)
    acct = getattr(broker, "account_id", None)
    if not acct:
        session = getattr(getattr(broker, "client", None), "session", None)
        acct = getattr(session, "account_id", None)
    return acct if isinstance(acct, str) and acct else None


def _cents(x: float) -> float:
    """Rounded to cents, so a tiny negative residue shows as +0.00, not -0.00."""
    return round(float(x), 2) + 0.0


def _vs_ig(cmp: Any) -> str:
    """One cell: how many bars ours and IG's share and their largest difference (or the error)."""
    if not cmp:
        return ""
    if "error" in cmp:
        return f"error: {cmp['error']}"
    diffs = [v for v in cmp.get("max_abs_diff", {}).values() if v == v]  # NaN: no common bar
    return f"{cmp['common']} bars, max diff {max(diffs, default=0.0):g}"
