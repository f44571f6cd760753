"""``igkit demo``: the offline Demo market streaming into tick buffers and candle builders, with a live
terminal view (closed candles per instrument, tick rates, data quality) and a closing summary."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from igkit.candles import Candle, CandleBuilder, candles_to_frame, freq_to_ns
from igkit.config import load_config
from igkit.feeds.demo import DemoFeed
from igkit.market import CATALOG, resolve
from igkit.quality import quality_of_buffer
from igkit.ticks import TickBuffer, TickHub, TickReader

__all__ = ["DemoSummary", "InstrumentState", "add_parser", "run", "run_demo"]


@dataclass
class InstrumentState:
    """What the demo keeps per instrument: its buffer reader, candle builder and closed candles."""

    epic: str
    buffer: TickBuffer
    reader: TickReader
    builder: CandleBuilder
    candles: list[Candle] = field(default_factory=list)
    ticks: int = 0
    lost: int = 0

    @property
    def symbol(self) -> str:
        return CATALOG[self.epic].symbol if self.epic in CATALOG else self.epic

    def drain(self) -> None:
        batch = self.reader.read()
        if len(batch):
            self.ticks += len(batch)
            self.candles.extend(self.builder.update_many(batch.ts_ns, batch.bid, batch.ask))
        self.lost += batch.lost


@dataclass
class DemoSummary:
    """The outcome of a demo run: per instrument, ticks seen, candles closed and a quality report."""

    seconds: float
    instruments: dict[str, InstrumentState]
    quality: dict[str, dict[str, Any]]
    recorded_rows: int = 0

    def candles(self, epic: str) -> Any:
        """Closed candles of ``epic`` (plus the bar still open) as a candle frame."""
        return candles_to_frame(self.instruments[epic].candles)


def run_demo(
    instruments: Sequence[str],
    *,
    seconds: float = 20.0,
    speed: float | None = 1.0,
    freq: str = "1min",
    seed: int = 0,
    tick_rate: float = 4.0,
    record: str | None = None,
    refresh: float = 0.25,
    on_refresh: Callable[[dict[str, InstrumentState], float], None] | None = None,
) -> DemoSummary:
    """Stream the Demo market for ``seconds`` of wall time at ``speed`` × real time into candles."""
    freq_to_ns(freq)  # a bad frequency fails before any thread starts
    epics = [resolve(name) for name in instruments]
    hub = TickHub()
    states = {
        e: InstrumentState(e, hub.buffer(e), hub.buffer(e).reader("demo-cli"), CandleBuilder(freq)) for e in epics
    }
    feed = DemoFeed(hub, epics, seed=seed, tick_rate=tick_rate, speed=speed)
    recorder = None
    if record:
        from igkit.store import Recorder

        recorder = Recorder(hub, record, instruments=epics)
        recorder.start()
    t0 = time.monotonic()
    feed.start()
    try:
        while (elapsed := time.monotonic() - t0) < seconds:
            hub.wait_any(timeout=min(refresh, max(0.0, seconds - elapsed)))
            for st in states.values():
                st.drain()
            if on_refresh is not None:
                on_refresh(states, elapsed)
            if feed.error is not None:
                raise feed.error
    finally:
        feed.stop()
        for st in states.values():
            st.drain()
            last = st.builder.flush()
            if last is not None:
                st.candles.append(last)
        rows = 0
        if recorder is not None:
            recorder.stop()
            rows = int(recorder.stats().get("rows_written", 0))
    quality = {e: quality_of_buffer(st.buffer) for e, st in states.items()}
    return DemoSummary(time.monotonic() - t0, states, quality, rows)


# -- terminal view -----------------------------------------------------------------------------------
def _fmt(x: float | None, digits: int = 5) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _table(states: dict[str, InstrumentState], elapsed: float, title: str) -> Table:
    t = Table(title=title, expand=False)
    for col in ("instrument", "ticks", "ticks/s", "bid", "ask", "spread pips", "candles", "last mid close",
                "bar range pips", "lost"):
        t.add_column(col, justify="left" if col == "instrument" else "right")
    for st in states.values():
        spec = CATALOG.get(st.epic)
        digits, pip = (spec.decimals, spec.pip) if spec else (5, 1e-4)
        last = st.buffer.last()
        c = st.candles[-1] if st.candles else None
        t.add_row(
            st.symbol,
            str(st.ticks),
            f"{st.ticks / elapsed:.1f}" if elapsed > 0 else "-",
            _fmt(last.bid if last else None, digits),
            _fmt(last.ask if last else None, digits),
            _fmt((last.ask - last.bid) / pip if last else None, 1),
            str(len(st.candles)),
            _fmt(c.mid_close if c else None, digits),
            _fmt((c.mid_high - c.mid_low) / pip if c else None, 1),
            str(st.lost),
        )
    return t


def _summary(summary: DemoSummary) -> Group:
    q = Table(title="data quality (market time)", expand=False)
    for col in ("instrument", "ticks", "rate/s", "gaps", "longest gap s", "crossed", "spread p50", "spread p95"):
        q.add_column(col, justify="left" if col == "instrument" else "right")
    for epic, rep in summary.quality.items():
        q.add_row(
            summary.instruments[epic].symbol,
            str(rep["ticks"]),
            f"{rep['rate_per_s'] or 0:.2f}",
            str(rep["gaps"]),
            f"{rep['longest_gap_s'] or 0:.1f}",
            str(rep["crossed"]),
            _fmt(rep["spread_p50"], 6),
            _fmt(rep["spread_p95"], 6),
        )
    total = sum(st.ticks for st in summary.instruments.values())
    candles = sum(len(st.candles) for st in summary.instruments.values())
    n = len(summary.instruments)
    line = f"done: {total} ticks, {candles} candles over {n} instruments in {summary.seconds:.1f} s"
    if summary.recorded_rows:
        line += f", {summary.recorded_rows} ticks recorded"
    return Group(_table(summary.instruments, summary.seconds, "candles"), q, Text(line))


# -- argparse glue -----------------------------------------------------------------------------------
def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "demo", help="stream the offline Demo market into candles", description=__doc__
    )
    p.add_argument("--instruments", nargs="+", metavar="NAME", help="epics or symbols (default: from config)")
    p.add_argument("--seconds", type=float, default=20.0, help="how long to run, wall-clock seconds (default 20)")
    p.add_argument("--speed", type=float, default=None, help="market time per wall second (default: config)")
    p.add_argument("--freq", default=None, help="candle frequency, 1s to 1D (default: config, e.g. 1min)")
    p.add_argument("--record", metavar="DIR", help="also record the ticks to a Parquet dataset in DIR")
    p.add_argument("--seed", type=int, default=None, help="market seed (default: config)")
    p.add_argument("--rate", type=float, default=None, help="mean ticks per second per instrument")
    return p


def run(args: argparse.Namespace) -> int:
    cfg = load_config()
    console = Console()
    if not console.is_terminal:
        console = Console(width=140)
    instruments = args.instruments or cfg.instruments
    speed = args.speed if args.speed is not None else cfg.market.speed
    freq = args.freq or cfg.candles.freq
    title = f"igkit Demo — {freq} candles, speed {speed or 'max'}×"

    with Live(console=console, auto_refresh=False, transient=console.is_terminal) as live:

        def show(states: dict[str, InstrumentState], elapsed: float) -> None:
            if console.is_terminal:
                live.update(_table(states, elapsed, f"{title} — {elapsed:.0f}/{args.seconds:.0f} s"), refresh=True)

        summary = run_demo(
            instruments,
            seconds=args.seconds,
            speed=speed,
            freq=freq,
            seed=args.seed if args.seed is not None else cfg.market.seed,
            tick_rate=args.rate or cfg.market.tick_rate,
            record=args.record,
            on_refresh=show,
        )
    console.print(_summary(summary))
    return 0
