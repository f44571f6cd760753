"""Candle speed: batch resampling against pandas and the memory floor, live update against an empty call.

- ``resample_ticks`` on N ticks (10M; 200k with ``quick``) → 1-min bid/ask/mid bars, against pandas
  ``resample("1min").ohlc()`` on the same tick frame (target: ≥ 6× faster) and against ``np.sum`` over
  the same three arrays, ts + bid + ask (the memory floor; target: ≤ 2.5×). An info row does the same
  into 1-s bars (~10 ticks each), where the cost per bar dominates. The target row gives pandas
  the same job (bid/ask/mid, so it first adds the mid column: design.md's ~18 ns/tick baseline); a
  second row shows pandas on bid/ask only, which does a third less work than we do.
- ``CandleBuilder.update`` per tick, bar closes included (target: ≤ 150 ns and ≤ 3× an empty method call
  timed by the same loop in the same run).

All timings are medians of several repeats of this process's CPU time (``time.process_time``: every
contender is single-threaded, and the 2 shared cores here are often busy with other work, which wall
time would charge to whoever ran at the wrong moment), the contenders interleaved in each repeat;
ratios compare figures from the same run.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from statistics import median
from typing import Any

import numpy as np
import pandas as pd

from igkit.candles import CandleBuilder, resample_ticks

T0 = 1_700_000_000_000_000_000


def _ticks(n: int, seed: int = 1) -> pd.DataFrame:
    """Sorted UTC ticks ~100 ms apart (≈600 per 1-min bar), random-walk bid, a few spread values."""
    rng = np.random.default_rng(seed)
    ts = T0 + np.cumsum(rng.integers(0, 200_000_000, n))
    bid = 1.1 + np.cumsum(rng.normal(0.0, 1e-5, n))
    ask = bid + rng.choice([0.6e-4, 0.8e-4, 1.0e-4], n)
    index = pd.DatetimeIndex(ts.view("datetime64[ns]"), name="time").tz_localize("UTC")
    return pd.DataFrame({"bid": bid, "ask": ask}, index=index)


def _timeit(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median seconds per call of each function, interleaved: one call of each per repeat."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():  # warm-up
        fn()
    gc.disable()
    try:
        for _ in range(repeats):
            for name, fn in fns.items():
                t0 = time.process_time()
                fn()
                times[name].append(time.process_time() - t0)
    finally:
        gc.enable()
    return {k: median(v) for k, v in times.items()}


class _Empty:
    def update(self, ts_ns: int, bid: float, ask: float) -> None:
        return None


def _feed(update: Callable[[int, float, float], Any], ts: list[int], bid: list[float], ask: list[float],
          ) -> Callable[[], None]:
    def run() -> None:
        for t, b, a in zip(ts, bid, ask):  # noqa: B905 - the same loop for every contender
            update(t, b, a)

    return run


def run(quick: bool = False) -> list[dict[str, Any]]:
    n = 200_000 if quick else 10_000_000
    repeats = 3 if quick else 7
    df = _ticks(n)
    ts, bid, ask = df.index.asi8, df["bid"].to_numpy(), df["ask"].to_numpy()
    t = _timeit({
        "ours": lambda: resample_ticks(df, "1min"),
        "pandas": lambda: df.assign(mid=(df["bid"] + df["ask"]) / 2).resample("1min").ohlc(),
        "pandas bid/ask": lambda: df.resample("1min").ohlc(),
        "np.sum": lambda: (np.sum(ts), np.sum(bid), np.sum(ask)),
    }, repeats)
    ns = {k: v * 1e9 / n for k, v in t.items()}
    rows: list[dict[str, Any]] = []
    speedup = t["pandas"] / t["ours"]
    rows.append(dict(name=f"resample_ticks {n:,} ticks → 1min bid/ask/mid", value=ns["ours"], unit="ns/tick",
                     baseline=f"pandas .assign(mid).resample('1min').ohlc(), same output: {ns['pandas']:.2f} ns/tick",
                     ratio=speedup, target="ratio = pandas time / ours ≥ 6", ok=speedup >= 6))
    lite = t["pandas bid/ask"] / t["ours"]
    rows.append(dict(name=f"resample_ticks {n:,} ticks vs pandas on bid/ask only", value=ns["ours"],
                     unit="ns/tick", baseline=f"pandas .resample('1min').ohlc(), no mid: {ns['pandas bid/ask']:.2f} "
                     "ns/tick", ratio=lite, target="info (pandas does 2/3 of the work)", ok=True))
    floor = t["ours"] / t["np.sum"]
    rows.append(dict(name=f"resample_ticks {n:,} ticks vs memory floor", value=ns["ours"], unit="ns/tick",
                     baseline=f"np.sum over ts + bid + ask: {ns['np.sum']:.2f} ns/tick",
                     ratio=floor, target="ratio = ours / np.sum ≤ 2.5", ok=floor <= 2.5))
    s = _timeit({
        "ours": lambda: resample_ticks(df, "1s"),
        "pandas": lambda: df.assign(mid=(df["bid"] + df["ask"]) / 2).resample("1s").ohlc(),
    }, max(1, repeats // 2))
    per_bar = n / max(1, len(resample_ticks(df, "1s")))
    rows.append(dict(name=f"resample_ticks {n:,} ticks → 1s bars ({per_bar:.0f} ticks/bar)",
                     value=s["ours"] * 1e9 / n, unit="ns/tick",
                     baseline=f"pandas, same output: {s['pandas'] * 1e9 / n:.2f} ns/tick",
                     ratio=s["pandas"] / s["ours"], target="info (short bars: per-bar cost dominates)", ok=True))

    m = 100_000 if quick else 1_000_000
    tl, bl, al = ts[:m].tolist(), bid[:m].tolist(), ask[:m].tolist()
    for freq in ("1min", "1s"):

        def fresh(f: str = freq) -> None:  # a new builder per repeat (construction: ~1 µs of 1M ticks)
            _feed(CandleBuilder(f).update, tl, bl, al)()

        u = _timeit({"builder": fresh, "empty": _feed(_Empty().update, tl, bl, al)}, repeats)
        per = u["builder"] * 1e9 / m
        ratio = u["builder"] / u["empty"]
        ticks_per_bar = m / max(1, len(resample_ticks(df.iloc[:m], freq)))
        target = "≤ 150 ns/tick and ratio ≤ 3" if freq == "1min" else "info (short bars: close cost dominates)"
        rows.append(dict(name=f"CandleBuilder('{freq}').update, {ticks_per_bar:.0f} ticks/bar, closes included",
                         value=per, unit="ns/tick",
                         baseline=f"empty method call, same loop: {u['empty'] * 1e9 / m:.1f} ns/tick",
                         ratio=ratio, target=target,
                         ok=(per <= 150 and ratio <= 3) if freq == "1min" else True))
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
