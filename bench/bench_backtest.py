"""Backtest speed: igkit's SmaCross backtest against vectorbt ``Portfolio.from_signals`` on the same bars.

Rows (the baseline is measured in the same run):

* ``sma_backtest_1m`` — igkit ``backtest(candles, SmaCross(20, 50))`` (signals, bid/ask fills, trades
  with P&L; like vectorbt, the per-bar equity is computed on first access), warm, median of several
  runs, vs vectorbt ``Portfolio.from_signals`` on the same signals (warm: compiled beforehand; tz-naive
  index). Runs of the two are interleaved. Target: ≥ 3× faster.
* ``sma_backtest_equity_1m`` — the same with the equity curve computed on both sides (igkit
  ``result.equity``, vectorbt ``pf.value()``).
* ``sma_backtest_stats_1m`` — the same plus ``result.stats`` (not part of the comparison, for reference).
* ``bars_per_second`` — bars / igkit's warm time.
* ``stop_path_1m`` — with a stop and a take-profit (first touching bar of every trade), no baseline.
* ``first_call`` — the first backtest in a fresh interpreter (after imports: any compile/warm-up cost
  shows here), same bars, vs vectorbt's first call in a fresh interpreter. Target: ≤ 1 s.
  ``quick=True`` skips vectorbt's first call. ``import_time``: importing igkit's research modules.

Warm timings are CPU time of this process (single-threaded on both sides), so other load on the shared
machine does not leak into them; the first-call timings are wall time in a fresh interpreter.

Data: a 1-minute random walk with a constant spread (``igkit.history.random_candles``), 1M bars
(20k with ``quick=True``).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

from igkit.backtest import backtest
from igkit.history import random_candles
from igkit.strategy import SmaCross

_FIRST_IGKIT = """
import time, json
t0 = time.perf_counter()
from igkit.backtest import backtest
from igkit.history import random_candles
from igkit.strategy import SmaCross
t1 = time.perf_counter()
c = random_candles({n})
t2 = time.perf_counter()
backtest(c, SmaCross(fast=20, slow=50))
t3 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "first": t3 - t2}}))
"""

_FIRST_VBT = """
import time, json
t0 = time.perf_counter()
import numpy as np, pandas as pd
import vectorbt as vbt
t1 = time.perf_counter()
n = {n}
rng = np.random.default_rng(0)
close = pd.Series(1.1 + np.cumsum(rng.normal(0, 1e-4, n)), index=pd.date_range("2024-01-01", periods=n, freq="1min"))
sig = np.sign(close.rolling(20).mean() - close.rolling(50).mean()).fillna(0).to_numpy()
t2 = time.perf_counter()
vbt.Portfolio.from_signals(close, entries=sig == 1, exits=sig != 1, short_entries=sig == -1, short_exits=sig != -1)
t3 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "first": t3 - t2}}))
"""


def _median_time(fn: Any, repeat: int) -> float:
    """Median CPU time of this process (``process_time``) over ``repeat`` calls.

    CPU time, not wall time: the machine is shared, and both sides run single-threaded, so time spent
    waiting for a core would only add noise.
    """
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def _fresh(code: str) -> dict[str, float] | None:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _vbt_runner(candles: pd.DataFrame, signals: np.ndarray) -> Any:
    try:
        import vectorbt as vbt
    except ImportError:
        return None
    close = pd.Series(candles["mid_close"].to_numpy(), index=candles.index.tz_localize(None))
    entries, exits = signals == 1, signals != 1
    short_entries, short_exits = signals == -1, signals != -1

    def run() -> Any:
        return vbt.Portfolio.from_signals(close, entries=entries, exits=exits, short_entries=short_entries,
                                          short_exits=short_exits)

    run()  # compile (numba) before timing: the warm comparison
    return run


def run(quick: bool = False) -> list[dict[str, Any]]:
    n = 20_000 if quick else 1_000_000
    repeat = 5 if quick else 11
    label = "20k" if quick else "1m"
    candles = random_candles(n, seed=1)
    strategy = SmaCross(fast=20, slow=50)
    backtest(candles, strategy)  # warm caches (first-call cost is measured separately, in a fresh process)
    signals = strategy.signals(candles).to_numpy()
    vbt_run = _vbt_runner(candles, signals)
    # interleave the two so that load from other processes hits both alike
    ours: list[float] = []
    theirs: list[float] = []
    ours_eq: list[float] = []
    theirs_eq: list[float] = []
    for _ in range(repeat):
        ours.append(_median_time(lambda: backtest(candles, strategy), 1))
        ours_eq.append(_median_time(lambda: backtest(candles, strategy).equity, 1))
        if vbt_run is not None:
            theirs.append(_median_time(vbt_run, 1))
            theirs_eq.append(_median_time(lambda: vbt_run().value(), 1))
    t_igkit = statistics.median(ours)
    t_vbt = statistics.median(theirs) if theirs else None
    t_eq = statistics.median(ours_eq)
    t_vbt_eq = statistics.median(theirs_eq) if theirs_eq else None
    t_stats = _median_time(lambda: backtest(candles, strategy).stats, repeat)
    t_stop = _median_time(lambda: backtest(candles, strategy, stop=1e-3, take_profit=2e-3), max(1, repeat // 2))
    ratio = t_vbt / t_igkit if t_vbt is not None else None
    ratio_eq = t_vbt_eq / t_eq if t_vbt_eq is not None else None
    rows: list[dict[str, Any]] = [
        {"name": f"sma_backtest_{label}", "value": t_igkit * 1e3, "unit": "ms",
         "baseline": f"vectorbt from_signals warm {t_vbt * 1e3:.1f} ms" if t_vbt is not None else None,
         "ratio": ratio, "target": "≥ 3× faster than vectorbt (warm)", "ok": ratio is None or ratio >= 3.0},
        {"name": f"sma_backtest_equity_{label}", "value": t_eq * 1e3, "unit": "ms",
         "baseline": f"vectorbt from_signals + value() {t_vbt_eq * 1e3:.1f} ms" if t_vbt_eq is not None else None,
         "ratio": ratio_eq, "target": "≥ 3× (equity curve included on both sides)",
         "ok": ratio_eq is None or ratio_eq >= 3.0},
        {"name": f"sma_backtest_stats_{label}", "value": t_stats * 1e3, "unit": "ms", "baseline": None,
         "ratio": None, "target": "reference: backtest + stats", "ok": True},
        {"name": "bars_per_second", "value": n / t_igkit, "unit": "bars/s", "baseline": None, "ratio": None,
         "target": "reference", "ok": True},
        {"name": f"stop_path_{label}", "value": t_stop * 1e3, "unit": "ms", "baseline": None, "ratio": None,
         "target": "reference: with stop + take-profit", "ok": True},
    ]
    first = _fresh(_FIRST_IGKIT.format(n=n))
    vbt_first = None if quick or vbt_run is None else _fresh(_FIRST_VBT.format(n=n))
    if first is not None:
        first_ratio = vbt_first["first"] / first["first"] if vbt_first else None
        rows.append({
            "name": "first_call", "value": first["first"], "unit": "s",
            "baseline": (f"vectorbt first call {vbt_first['first']:.2f} s (+ import {vbt_first['import']:.1f} s)"
                         if vbt_first else None),
            "ratio": first_ratio, "target": "≤ 1 s (no JIT warm-up)", "ok": first["first"] <= 1.0,
        })
        rows.append({"name": "import_time", "value": first["import"], "unit": "s", "baseline": None,
                     "ratio": None, "target": "reference: import igkit.backtest/strategy/history", "ok": True})
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
