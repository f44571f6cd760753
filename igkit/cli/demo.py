"""``igkit demo``: the offline Demo market streaming into tick buffers and candle builders, with a live
terminal view (closed candles per instrument, tick rates, data quality) and a closing summary.

The live view's quality columns are kept up to date from each drained batch alone (O(new ticks) per
refresh, whatever the buffer holds), measured by :func:`igkit.quality.quality_from_arrays`: ``gaps``
(inter-arrival gaps longer than 5 s of market time), ``locked`` quotes (bid == ask, accepted),
``crossed`` quotes (bid > ask, refused by the buffer at entry), ``rejected`` (every tick the buffer
refused: crossed, non-finite or non-positive), ``last tick s`` (market clock minus the newest tick) and
``lost`` (ticks the view's reader fell too far behind to see).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from igkit.candles import Candle, CandleBuilder, candles_to_frame, freq_to_ns
from igkit.config import load_config
from igkit.feeds.demo import DemoFeed
from igkit.market import CATALOG, resolve
from igkit.quality import quality_from_arrays, quality_of_buffer
from igkit.ticks import TickBuffer, TickHub, TickReader

__all__ = ["MARKET_COLUMNS", "QUALITY_COLUMNS", "DemoSummary", "InstrumentState", "add_parser", "run", "run_demo"]


@dataclass
class InstrumentState:
    """What the demo keeps per instrument: its buffer reader, candle builder and closed candles, plus the
    live view's running quality: ``gaps`` (longer than ``gap_threshold`` seconds) and ``locked`` quotes
    among the ticks drained, ``last_ts_ns`` (newest drained tick) and ``clock_ns`` (the feed's market
    clock at the last drain, what ``seconds_since_last`` is measured against)."""

    epic: str
    buffer: TickBuffer
    reader: TickReader
    builder: CandleBuilder
    candles: list[Candle] = field(default_factory=list)
    ticks: int = 0
    lost: int = 0
    gap_threshold: float = 5.0
    gaps: int = 0
    locked: int = 0
    last_ts_ns: int | None = None
    prev_ts_ns: int | None = None
    clock_ns: int | None = None

    @property
    def symbol(self) -> str:
        return CATALOG[self.epic].symbol if self.epic in CATALOG else self.epic

    @property
    def crossed(self) -> int:
        """Crossed quotes (bid > ask) the feed offered: the buffer refuses them at entry and counts them."""
        return self.buffer.rejected["crossed"]

    @property
    def rejected(self) -> int:
        """Every tick the buffer refused at entry (crossed, non-finite, non-positive)."""
        return sum(self.buffer.rejected.values())

    @property
    def seconds_since_last(self) -> float | None:
        """Market clock (``clock_ns``, else the wall clock) minus the newest tick drained, in seconds."""
        if self.last_ts_ns is None:
            return None
        now = self.clock_ns if self.clock_ns is not None else time.time_ns()
        return max(now - self.last_ts_ns, 0) / 1e9

    def drain(self) -> None:
        batch = self.reader.read()
        if len(batch):
            self.ticks += len(batch)
            self.candles.extend(self.builder.update_many(batch.ts_ns, batch.bid, batch.ask))
            self._measure(batch.ts_ns, batch.bid, batch.ask)
        self.lost += batch.lost

    def _measure(self, ts: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> None:
        """Add one batch to the running quality counts. The previous batch's last tick goes in front as a
        (ts, NaN, NaN) row: it brings the gap across the batch boundary and counts as neither locked
        nor crossed."""
        if self.prev_ts_ns is not None:
            ts = np.concatenate(([self.prev_ts_ns], ts))
            bid = np.concatenate(([np.nan], bid))
            ask = np.concatenate(([np.nan], ask))
        rep = quality_from_arrays(ts, bid, ask, gap_threshold=self.gap_threshold, now=0)
        self.gaps += rep["gaps"]
        self.locked += rep["locked"]
        self.prev_ts_ns = int(ts[-1])
        newest = int(ts.max())
        self.last_ts_ns = newest if self.last_ts_ns is None else max(self.last_ts_ns, newest)


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
                st.clock_ns = feed.market_time
            if on_refresh is not None:
                on_refresh(states, elapsed)
            if feed.error is not None:
                raise feed.error
    finally:
        feed.stop()
        for st in states.values():
            st.drain()
            st.clock_ns = feed.market_time
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


MARKET_COLUMNS = ("instrument", "ticks", "ticks/s", "bid", "ask", "spread pips", "candles", "last mid close",
                  "bar range pips")
QUALITY_COLUMNS = ("instrument", "gaps", "locked", "crossed", "rejected", "last tick s", "lost")


def _new_table(title: str, columns: Sequence[str]) -> Table:
    t = Table(title=title, expand=False)
    for col in columns:
        t.add_column(col, justify="left" if col == "instrument" else "right", no_wrap=col == "instrument")
    return t


def _table(states: dict[str, InstrumentState], elapsed: float, title: str) -> Table:
    """Prices and candles per instrument: ticks and rate (wall time), last quote, closed candles."""
    t = _new_table(title, MARKET_COLUMNS)
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
        )
    return t


def _quality_table(states: dict[str, InstrumentState]) -> Table:
    """Data quality per instrument, live: see the module docstring for the columns."""
    threshold = {st.gap_threshold for st in states.values()}
    gaps = f"gaps > {threshold.pop():g} s" if len(threshold) == 1 else "gaps"
    t = _new_table(f"data quality ({gaps}, market clock)", QUALITY_COLUMNS)
    for st in states.values():
        t.add_row(
            st.symbol,
            str(st.gaps),
            str(st.locked),
            str(st.crossed),
            str(st.rejected),
            _fmt(st.seconds_since_last, 1),
            str(st.lost),
        )
    return t


def _view(states: dict[str, InstrumentState], elapsed: float, title: str) -> Group:
    """The live terminal view: the market table above the data-quality table."""
    return Group(_table(states, elapsed, title), _quality_table(states))


def _summary(summary: DemoSummary) -> Group:
    q = _new_table("data quality (market time)", ("instrument", "ticks", "rate/s", "gaps", "longest gap s",
                                                   "locked", "crossed", "rejected", "spread p50", "spread p95",
                                                   "lost"))
    for epic, rep in summary.quality.items():
        st = summary.instruments[epic]
        q.add_row(
            st.symbol,
            str(rep["ticks"]),
            f"{rep['rate_per_s'] or 0:.2f}",
            str(rep["gaps"]),
            f"{rep['longest_gap_s'] or 0:.1f}",
            str(rep["locked"]),
            str(rep["crossed"] + st.crossed),  # held ones (none: refused at entry) + refused at entry
            str(st.rejected),
            _fmt(rep["spread_p50"], 6),
            _fmt(rep["spread_p95"], 6),
            str(st.lost),
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
                live.update(_view(states, elapsed, f"{title} — {elapsed:.0f}/{args.seconds:.0f} s"), refresh=True)

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
