"""Speed of igkit.widgets: kernel time per chart refresh at 500 bars, and the kernel's responsiveness
while a panel streams.

* ``CandleChart.update`` on a 500-bar window, one new bar per call (the live case) and the open bar
  changing in place, vs the naive refresh measured in the same run: every trace of the same figure
  reassigned from the frame on each call (no diff, datetime64 x). Target ≤ 5 ms per refresh.
  Kernel-side only: outside a kernel ipywidgets still serialises every message (``get_state``, buffers)
  but the comm sends nothing.
* Responsiveness: while a ``ControlPanel`` runs a Demo engine on 10 instruments at 20 ticks/s each
  (feed, engine and refresher threads all live), a tiny function is due on the main thread every 10 ms;
  the p99 of how late it completes (oversleep and GIL waits included) must stay under 100 ms. Baseline:
  the same probe with nothing else running, in the same run. The full run repeats it inside a real
  ipykernel (``jupyter_client``), where every widget message really goes out on iopub.

Run alone: ``python bench/bench_widgets.py [--quick]``.
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, "") and str(Path(__file__).resolve().parents[1]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd

from igkit.candles import resample_arrays
from igkit.market import SyntheticMarket

EPIC = "CS.D.EURUSD.MINI.IP"
FX10 = ["CS.D.EURUSD.MINI.IP", "CS.D.GBPUSD.MINI.IP", "CS.D.USDJPY.MINI.IP", "CS.D.AUDUSD.MINI.IP",
        "CS.D.EURGBP.MINI.IP", "CS.D.USDCHF.MINI.IP", "CS.D.USDCAD.MINI.IP", "CS.D.NZDUSD.MINI.IP",
        "CS.D.EURJPY.MINI.IP", "CS.D.GBPJPY.MINI.IP"]
START = "2026-11-17T10:00:00Z"


def _row(name: str, value: float, unit: str, baseline: str | None, base_value: float | None, target: str,
         ok: bool) -> dict[str, Any]:
    return {"name": name, "value": value, "unit": unit, "baseline": baseline, "baseline_value": base_value,
            "ratio": None if not base_value else value / base_value, "target": target, "ok": ok}


def _candles(bars: int) -> pd.DataFrame:
    t0 = pd.Timestamp("2026-11-17 00:00", tz="UTC").value
    ts, bid, ask = SyntheticMarket(1).ticks(EPIC, t0, t0 + (bars + 60) * 60 * 10**9)
    frame = resample_arrays(ts, bid, ask, "1min")
    assert len(frame) >= bars, len(frame)
    return frame


def _naive_refresh(widget: Any, frame: pd.DataFrame) -> None:
    """Every trace reassigned from the frame's last 500 rows (what a chart without diffs does)."""
    tail = frame.iloc[-500:]
    x = tail.index.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    with widget.batch_update():
        widget.data[0].update(x=x, open=tail["mid_open"].to_numpy(), high=tail["mid_high"].to_numpy(),
                              low=tail["mid_low"].to_numpy(), close=tail["mid_close"].to_numpy())
        for i in range(1, 9):
            widget.data[i].update(x=x[:0], y=np.zeros(0))
        widget.data[9].update(x=x, y=tail["ticks"].to_numpy(dtype=np.float64))


def _chart_refresh(n_calls: int, repeats: int) -> list[dict[str, Any]]:
    from igkit.widgets import CandleChart

    frame = _candles(500 + n_calls + 2)
    base = 500
    chart = CandleChart(EPIC, window=500)
    chart.update(frame.iloc[:base])
    _ = chart.widget  # built (as at display), so updates go through restyles
    naive = CandleChart(EPIC, window=500)
    naive.update(frame.iloc[:base])
    nw = naive.widget
    new_bar, same_bar, naive_t = [], [], []
    moved = frame.iloc[: base + n_calls].copy()
    col = moved.columns.get_loc("mid_close")
    for _ in range(repeats):  # interleaved runs, medians
        gc.collect()
        for k in range(n_calls):
            f = frame.iloc[: base + k + 1]
            t = time.perf_counter()
            chart.update(f)
            new_bar.append(time.perf_counter() - t)
        for k in range(n_calls):
            moved.iloc[-1, col] += 1e-5 * (1 if k % 2 else -1)
            t = time.perf_counter()
            chart.update(moved)
            same_bar.append(time.perf_counter() - t)
        for k in range(n_calls):
            f = frame.iloc[: base + k + 1]
            t = time.perf_counter()
            _naive_refresh(nw, f)
            naive_t.append(time.perf_counter() - t)
    nb, sb, nv = (statistics.median(v) * 1e3 for v in (new_bar, same_bar, naive_t))
    return [
        _row("chart refresh 500 bars, new bar", nb, "ms", "naive: every trace reassigned", nv, "<= 5 ms", nb <= 5.0),
        _row("chart refresh 500 bars, open bar moves", sb, "ms", "naive: every trace reassigned", nv, "<= 5 ms",
             sb <= 5.0),
        _row("naive chart refresh 500 bars (baseline)", nv, "ms", None, None, "reference", True),
    ]


def _probe(seconds: float) -> list[float]:
    """Every 10 ms: how late a tiny function on this (the 'main') thread completes after it was due —
    the oversleep (waiting for the GIL after the wake-up included) plus the call itself."""
    out: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        due = time.perf_counter() + 0.01
        time.sleep(0.01)
        sum(range(200))
        out.append(max(time.perf_counter() - due, 0.0))
    return out


def _p99(v: list[float]) -> float:
    return float(np.percentile(np.asarray(v), 99)) * 1e3


def _responsiveness(seconds: float) -> list[dict[str, Any]]:
    os.environ.setdefault("IGKIT_CONFIG", str(Path(__file__).resolve().parents[1] / "config" / "test.json"))
    from igkit.config import load_config
    from igkit.widgets import ControlPanel, demo_engine

    idle = _probe(seconds / 2)

    def factory(cfg: Any, settings: Any, progress: Any) -> Any:
        return demo_engine(cfg, settings, progress, speed=1.0, tick_rate=20.0, start=START)

    panel = ControlPanel(load_config(), engine_factory=factory)
    try:
        panel.widgets.instruments.value = tuple(FX10)
        panel.widgets.timeframe.value = "5s"
        panel.start()
        time.sleep(1.0)  # feed connected, first pushes done
        eng = panel.engine
        t0, n0 = time.monotonic(), eng.ticks
        busy = _probe(seconds)
        ticks, elapsed, cycles = eng.ticks - n0, time.monotonic() - t0, panel.refresher.cycles
        cycle_ms = statistics.median(panel.refresher.cycle_ns) / 1e6 if panel.refresher.cycle_ns else float("nan")
    finally:
        panel.close()
    p_idle, p_busy = _p99(idle), _p99(busy)
    rate = ticks / elapsed
    return [
        _row("main-thread probe p99 while panel streams 10x20 ticks/s", p_busy, "ms", "same probe, idle", p_idle,
             "<= 100 ms", p_busy <= 100.0),
        _row("ticks/s processed during the probe (10 instruments)", rate, "ticks/s", None, None, "~200", rate > 50),
        _row("panel refresher cycle (median) while streaming", cycle_ms, "ms", None, None,
             f"< 250 ms at 4 Hz ({cycles} cycles)", cycle_ms < 250),
    ]


_KERNEL_CODE = """
import json, os, sys, time
sys.path.insert(0, {bench!r})
import bench_widgets as b
rows = b._responsiveness({seconds!r})
print("IGKIT-ROWS" + json.dumps(rows))
"""


def _in_kernel(seconds: float) -> list[dict[str, Any]]:
    """The responsiveness probe run inside a real ipykernel (widget messages really go out on iopub)."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", env={**os.environ,
                              "IGKIT_CONFIG": str(Path(__file__).resolve().parents[1] / "config" / "test.json")})
    out: list[str] = []
    try:
        code = _KERNEL_CODE.format(bench=str(Path(__file__).resolve().parent), seconds=seconds)
        reply = kc.execute_interactive(code, timeout=60 + 3 * seconds,
                                       output_hook=lambda m: out.append(m["content"].get("text", "")))
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"kernel probe failed: {reply['content'].get('evalue')}")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    import json

    text = "".join(out)
    rows: list[dict[str, Any]] = json.loads(text.split("IGKIT-ROWS", 1)[1].splitlines()[0])
    for r in rows:
        r["name"] = r["name"] + " (in ipykernel)"
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    if quick:
        return [*_chart_refresh(5, 1), *_responsiveness(1.0)]
    return [*_chart_refresh(60, 3), *_responsiveness(10.0), *_in_kernel(10.0)]


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        ratio = "" if r["ratio"] is None else f"  ratio {r['ratio']:.3g} vs {r['baseline']}"
        print(f"{r['name']:<58} {r['value']:>10,.2f} {r['unit']:<8} {'ok' if r['ok'] else 'MISS'}{ratio}")
