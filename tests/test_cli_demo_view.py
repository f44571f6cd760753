"""``igkit demo``'s live view: a market table (candles, rates, quotes) above a data-quality table (gaps,
locked and crossed quotes, rejected ticks, seconds since the last tick, lost ticks), rendered with a
recording rich Console since the test run has no terminal."""

from __future__ import annotations

import numpy as np
from rich.console import Console

from igkit.candles import CandleBuilder
from igkit.cli.demo import MARKET_COLUMNS, QUALITY_COLUMNS, InstrumentState, _summary, _view, run_demo
from igkit.quality import quality_of_buffer
from igkit.ticks import TickHub

EURUSD = "CS.D.EURUSD.MINI.IP"
SUMMARY_COLUMNS = ("instrument", "ticks", "rate/s", "gaps", "longest gap s", "locked", "crossed", "rejected",
                   "spread p50", "spread p95", "lost")
SEC = 1_000_000_000
T0 = 1_709_589_600 * SEC  # 2024-03-04 22:00 UTC


def render(renderable: object, width: int = 100) -> str:
    console = Console(record=True, force_terminal=True, width=width, color_system=None)
    console.print(renderable)
    return console.export_text(styles=False)


def rows(text: str, label: str) -> list[list[str]]:
    """The cells of every rendered table row whose first cell is ``label``. Header rows (┃) that rich
    wrapped over several lines are joined back, cell by cell."""
    found, header = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("┃"):
            header.append([c.strip() for c in line.split("┃")][1:-1])
            continue
        if header:
            cells = [" ".join(p for p in col if p) for col in zip(*header, strict=True)]
            header = []
            if cells[0] == label:
                found.append(cells)
        parts = [c.strip() for c in line.split("│")]
        if len(parts) > 2 and parts[1] == label:
            found.append(parts[1:-1])
    assert found, f"no table row {label!r} in:\n{text}"
    return found


def view_rows(text: str, symbol: str) -> tuple[dict[str, str], dict[str, str]]:
    """(market row, quality row) of ``symbol``, checking both header lines on the way."""
    assert rows(text, "instrument") == [list(MARKET_COLUMNS), list(QUALITY_COLUMNS)], text
    market, quality = rows(text, symbol)
    return dict(zip(MARKET_COLUMNS, market, strict=True)), dict(zip(QUALITY_COLUMNS, quality, strict=True))


def state(hub: TickHub, epic: str = EURUSD) -> InstrumentState:
    buf = hub.buffer(epic)
    return InstrumentState(epic, buf, buf.reader("view"), CandleBuilder("1min"))


def test_live_view_shows_quality_columns_and_values() -> None:
    hub = TickHub()
    st = state(hub)
    buf = st.buffer
    # batch 1: 1 s apart, one locked quote, then a 12 s gap and a 6 s gap (both > 5 s)
    ts1 = T0 + np.array([0, 1, 2, 3, 15, 21], dtype=np.int64) * SEC
    bid1 = np.array([1.0800, 1.0801, 1.0802, 1.0803, 1.0804, 1.0805])
    ask1 = bid1 + 0.0001
    ask1[2] = bid1[2]  # locked
    assert buf.offer_many(ts1, bid1, ask1) == 6
    st.drain()
    # refused at entry: two crossed, one NaN, one non-positive
    assert not buf.offer(int(T0 + 22 * SEC), 1.0810, 1.0805)
    assert not buf.offer(int(T0 + 22 * SEC), 1.0811, 1.0806)
    assert not buf.offer(int(T0 + 22 * SEC), float("nan"), 1.0806)
    assert not buf.offer(int(T0 + 22 * SEC), -1.0, 1.0806)
    # batch 2 starts 9 s after batch 1 ended: the gap across the drain boundary counts too
    ts2 = T0 + np.array([30, 31, 32], dtype=np.int64) * SEC
    bid2 = np.array([1.0806, 1.0807, 1.0808])
    assert buf.offer_many(ts2, bid2, bid2 + 0.0002) == 3
    st.drain()
    st.clock_ns = int(T0 + 35_500_000_000)  # market clock 3.5 s after the newest tick

    text = render(_view({EURUSD: st}, 4.5, "live"))
    assert "data quality (gaps > 5 s, market clock)" in text
    market, quality = view_rows(text, "EURUSD")
    assert market["ticks"] == "9" and market["ticks/s"] == "2.0"
    assert market["bid"] == "1.08080" and market["ask"] == "1.08100" and market["spread pips"] == "2.0"
    assert quality == {"instrument": "EURUSD", "gaps": "3", "locked": "1", "crossed": "2", "rejected": "4",
                       "last tick s": "3.5", "lost": "0"}
    # the running counts agree with igkit.quality over everything the buffer holds
    rep = quality_of_buffer(buf, now=st.clock_ns)
    assert (rep["gaps"], rep["locked"], rep["seconds_since_last"]) == (st.gaps, st.locked, 3.5)
    assert buf.rejected == {"non_finite": 1, "non_positive": 1, "crossed": 2}


def test_live_view_before_any_tick_shows_dashes() -> None:
    st = state(TickHub())
    st.drain()
    market, quality = view_rows(render(_view({EURUSD: st}, 0.0, "live")), "EURUSD")
    assert market["ticks"] == "0" and market["ticks/s"] == "-" and market["bid"] == "-"
    assert quality == {"instrument": "EURUSD", "gaps": "0", "locked": "0", "crossed": "0", "rejected": "0",
                       "last tick s": "-", "lost": "0"}


def test_demo_run_refreshes_the_view_with_market_clock_staleness() -> None:
    seen: list[str] = []

    def on_refresh(states: dict[str, InstrumentState], elapsed: float) -> None:
        seen.append(render(_view(states, elapsed, "live"), width=100))

    summary = run_demo(["EURUSD", "USDJPY"], seconds=1.0, speed=60.0, seed=5, tick_rate=20.0, refresh=0.05,
                       on_refresh=on_refresh)
    assert seen
    market, quality = view_rows(seen[-1], "USDJPY")
    assert "…" not in seen[-1]  # nothing truncated
    assert float(market["bid"]) > 50  # a yen price, shown in full
    st = summary.instruments["CS.D.USDJPY.MINI.IP"]
    assert st.ticks > 100
    assert st.clock_ns is not None and st.last_ts_ns is not None and st.clock_ns >= st.last_ts_ns
    # at 20 ticks/s of market time the newest tick is a fraction of a market second behind the clock
    assert 0.0 <= float(quality["last tick s"]) < 2.0
    assert quality["crossed"] == quality["rejected"] == quality["lost"] == "0"
    rep = summary.quality["CS.D.USDJPY.MINI.IP"]
    assert (st.gaps, st.locked) == (rep["gaps"], rep["locked"])
    final = render(_summary(summary), width=140)
    assert "data quality (market time)" in final and "done:" in final
    summary_row = dict(zip(SUMMARY_COLUMNS, rows(final, "USDJPY")[1], strict=True))
    assert summary_row["ticks"] == str(st.ticks) and summary_row["gaps"] == str(rep["gaps"])
    assert summary_row["crossed"] == summary_row["rejected"] == summary_row["lost"] == "0"
