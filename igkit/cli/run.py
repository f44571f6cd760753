"""``igkit run``: run a strategy live with the engine — a feed, a broker, risk checks and the kill switch —
with a live terminal view (candles, signals, positions, P&L), a clean stop on Ctrl-C and a summary.

Mode ``demo`` runs offline: the Demo market (``DemoFeed``) and the paper broker. Mode ``sim`` trades on the
IG simulator through the real REST and Lightstreamer paths (an in-process simulator unless
``ig.endpoints.sim`` names one); ``ig-demo`` and ``ig-live`` log in to IG with the configured credentials
(missing credentials: Demo, with a warning). Every mode is built by :func:`igkit.engine.factory.build_engine`.
Real money (``ig-live``) needs ``--confirm-live`` AND ``ig.confirm_live: true`` in the config.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from igkit.config import Config, load_config
from igkit.engine import EngineState, LiveEngine
from igkit.engine.factory import EngineResources
from igkit.engine.factory import build_engine as factory_build
from igkit.errors import ConfigError
from igkit.market import CATALOG
from igkit.types import Mode

__all__ = ["add_parser", "build_engine", "parse_params", "run"]

_MODES = [m.value for m in Mode]


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``["fast=10", "slow=30", "mode=fast"]`` → ``{"fast": 10, "slow": 30, "mode": "fast"}`` (JSON values
    where they parse: numbers, true/false; text otherwise)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param {item!r}: expected NAME=VALUE, e.g. --param fast=10")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key.strip()] = value
    return out


def _symbol(epic: str) -> str:
    return CATALOG[epic].symbol if epic in CATALOG else epic


def _digits(epic: str) -> int:
    return CATALOG[epic].decimals if epic in CATALOG else 5


def _fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def _view(st: EngineState, elapsed: float, seconds: float | None) -> Group:
    head = Text.assemble(
        (f" {st.mode.upper()} ", "bold white on red" if st.mode == "ig-live" else "bold black on grey70"),
        f"  {st.status.value}",
        f" ({st.status_detail})" if st.status_detail else "",
        f"  feed {st.connection}  {st.strategy}  {st.freq} bars  ",
        f"{elapsed:.0f}" + (f"/{seconds:.0f}" if seconds else "") + " s",
    )
    t = Table(expand=False)
    for col in ("instrument", "ticks", "bid", "ask", "candles", "last close", "signal", "position", "upl"):
        t.add_column(col, justify="left" if col == "instrument" else "right")
    for v in st.instrument_states:
        d = _digits(v.epic)
        c = v.last_candle
        t.add_row(
            _symbol(v.epic),
            str(v.ticks),
            _fmt(v.bid, d),
            _fmt(v.ask, d),
            str(v.candles),
            _fmt(c.mid_close if c is not None else None, d),
            {None: "-", 1: "LONG", -1: "SHORT", 0: "flat"}.get(v.signal, "?"),
            f"{v.net:+g}",
            _fmt(v.upl),
        )
    money = Text(
        f"balance {_fmt(st.balance)} {st.currency}  equity {_fmt(st.equity)}  realised "
        f"{_fmt(st.realized_pnl)}  unrealised {_fmt(st.unrealized_pnl)}  ticks/s {st.tick_rate:,.0f}  "
        f"latency p50/p99 {_fmt(st.latency_p50_us, 0)}/{_fmt(st.latency_p99_us, 0)} µs"
    )
    parts: list[Any] = [head, t, money]
    if st.errors:
        parts.append(Text(f"last error ({st.errors[-1].where}): {st.errors[-1].message}", style="bold red"))
    return Group(*parts)


def _summary(engine: LiveEngine, elapsed: float, why: str) -> Group:
    st = engine.state
    trades = engine.trades()
    closed = trades[trades["exit_reason"] != "open"]
    t = Table(title=f"trades (last 10 of {len(closed)} closed)", expand=False)
    for col in ("instrument", "entry", "exit", "dir", "size", "entry price", "exit price", "pnl", "reason"):
        t.add_column(col)
    for _, r in closed.tail(10).iterrows():
        d = _digits(r["epic"])
        t.add_row(
            _symbol(r["epic"]),
            r["entry_time"].strftime("%m-%d %H:%M"),
            r["exit_time"].strftime("%m-%d %H:%M"),
            "LONG" if r["direction"] > 0 else "SHORT",
            f"{r['size']:g}",
            _fmt(r["entry_price"], d),
            _fmt(r["exit_price"], d),
            _fmt(r["pnl"], 4),
            r["exit_reason"],
        )
    p50, p99 = engine.latency_us()
    lines = [
        f"stopped ({why}) after {elapsed:.1f} s: status {st.status.value}, mode {st.mode}",
        f"ticks {engine.ticks}, candles {engine.candle_count}, signals {len(engine.signals)} (recent), "
        f"orders {len(engine.orders)} (recent), fills {len(engine.fills)}, closed trades {len(closed)}",
        f"realised P&L {_fmt(st.realized_pnl, 4)}, unrealised {_fmt(st.unrealized_pnl, 4)}, equity "
        f"{_fmt(st.equity)} {st.currency}, open positions {len(st.positions)}",
        f"tick → decision latency p50 {_fmt(p50, 1)} µs, p99 {_fmt(p99, 1)} µs; errors {len(st.errors)}",
    ]
    if engine.audit.path is not None:
        lines.append(f"audit log: {engine.audit.path} ({engine.audit.records} records)")
    return Group(t, *(Text(x) for x in lines))


def build_engine(cfg: Config, args: argparse.Namespace, mode: Mode | None) -> tuple[LiveEngine, EngineResources]:
    """The engine for ``mode`` (None: the config's) and its resources, from the config and the command line
    (one builder for every mode: :func:`igkit.engine.factory.build_engine`)."""
    params = parse_params(args.param) if args.param else None
    strategy = args.strategy or cfg.strategy.name
    if params is None and not args.strategy:
        params = dict(cfg.strategy.params)
    return factory_build(
        cfg,
        mode=mode,
        strategy=strategy,
        params=params or {},
        instruments=args.instruments,
        freq=args.freq,
        size=args.size,
        confirm_live=args.confirm_live,
        audit_path=args.audit,
        speed=args.speed if args.speed is not None else "config",
        seed=args.seed,
    )


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "run", help="run a strategy live (Demo by default) with risk checks and a kill switch", description=__doc__
    )
    p.add_argument("--strategy", help="registered strategy name, e.g. sma (default: config)")
    p.add_argument(
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="strategy parameter, repeatable: --param fast=10 --param slow=30 (default: config)",
    )
    p.add_argument("--instruments", nargs="+", metavar="NAME", help="epics or symbols (default: config)")
    p.add_argument("--mode", choices=_MODES, help="demo, sim, ig-demo or ig-live (default: config)")
    p.add_argument("--seconds", type=float, default=None, help="stop after this many seconds (default: Ctrl-C)")
    p.add_argument("--speed", type=float, default=None, help="Demo market speed × real time (default: config)")
    p.add_argument("--freq", default=None, help="bar frequency, e.g. 1min (default: config)")
    p.add_argument("--size", type=float, default=None, help="units per trade (default: config risk.size)")
    p.add_argument("--seed", type=int, default=None, help="Demo market seed (default: config)")
    p.add_argument("--audit", metavar="FILE", default=None, help="append the JSON-lines audit log to FILE")
    p.add_argument("--confirm-live", action="store_true", help="confirm trading real money (ig-live)")
    p.add_argument(
        "--flatten-on-exit",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="close every position when stopping (default: config risk.flatten_on_stop)",
    )
    return p


def run(args: argparse.Namespace) -> int:
    cfg = load_config()
    err = Console(stderr=True)
    mode = Mode(args.mode) if args.mode else cfg.resolve_mode(confirm_live=args.confirm_live)[0]
    if mode is Mode.IG_LIVE and not (args.confirm_live and cfg.ig.confirm_live):
        err.print(
            "igkit run: refusing to trade real money: ig-live needs --confirm-live AND ig.confirm_live=true "
            "in the config"
        )
        return 2
    console = Console() if sys.stdout.isatty() else Console(width=150)
    if mode is Mode.SIM and cfg.ig.endpoints.sim is None:
        console.print("igkit run: sim: starting the in-process IG simulator (REST + Lightstreamer) ...")
    engine, resources = build_engine(cfg, args, mode if args.mode else None)
    for w in resources.warnings:
        err.print(f"igkit run: warning: {w}")
    seconds = args.seconds
    why = "time up"
    t0 = time.monotonic()
    prev = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C → KeyboardInterrupt, even if ignored
    try:
        try:
            engine.start(confirm_live=args.confirm_live)
            with Live(console=console, auto_refresh=False, transient=console.is_terminal) as live:
                while seconds is None or time.monotonic() - t0 < seconds:
                    time.sleep(0.25)
                    if console.is_terminal:
                        live.update(_view(engine.state, time.monotonic() - t0, seconds), refresh=True)
        except KeyboardInterrupt:
            why = "Ctrl-C"
        finally:
            signal.signal(signal.SIGINT, prev)
            try:
                engine.stop(flatten=args.flatten_on_exit)
            finally:
                engine.audit.close()
        elapsed = time.monotonic() - t0
        console.print(_view(engine.state, elapsed, seconds))
        console.print(_summary(engine, elapsed, why))
    finally:
        resources.close()  # logout, feed, in-process simulator (the engine is stopped already)
    return 0
