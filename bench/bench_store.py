"""Speed of the tick store, the Recorder, the ReplayFeed and the quality report.

Each figure is compared with a plain baseline measured in the same run:

* ``quality_from_arrays`` on N ticks against the same measurements written the obvious pandas way;
* ``write_ticks`` / ``read_ticks`` (partitioned by date, zstd, write-order kept) against pandas
  ``to_parquet`` / ``read_parquet`` of one file holding the same frame;
* the Recorder, fed at full speed through ``offer_many``, from first tick to ``stop()`` returning with
  everything on disk, against ``write_ticks`` of the same arrays in one call;
* ReplayFeed at ``speed=None`` (read, merge, push into a fresh hub) against ``read_arrays`` plus one
  ``extend`` per instrument.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from igkit.feeds.replay import ReplayFeed
from igkit.quality import quality_from_arrays
from igkit.store import Recorder, read_arrays, read_ticks, write_ticks
from igkit.ticks import TickHub

EPICS = ["CS.D.EURUSD.MINI.IP", "CS.D.GBPUSD.MINI.IP"]
SEC = 1_000_000_000


def _best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _ticks(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n ticks over ~3 days (so the store splits them across dates), a few bad quotes included."""
    rng = np.random.default_rng(seed)
    start = int(pd.Timestamp("2026-11-20 12:00", tz="UTC").value)
    ts = start + np.cumsum(rng.integers(0, 3 * 86_400 * SEC // n * 2, n)).astype(np.int64)
    bid = np.round(1.1 + np.cumsum(rng.normal(0, 1e-5, n)), 5)
    ask = bid + 1e-5 * rng.integers(0, 4, n)
    return ts, bid, ask


def _pandas_quality(frame: pd.DataFrame, threshold_s: float) -> dict[str, float]:
    """The baseline: the same measurements as one would write them with pandas."""
    t = frame.index.to_series()
    step = t.diff().dt.total_seconds()
    prev = frame.shift()
    spread = (frame["ask"] - frame["bid"])[(frame["bid"] <= frame["ask"]) & (frame["bid"] > 0)]
    return {
        "gaps": float((step > threshold_s).sum()),
        "longest": float(step.max()),
        "ooo": float((step < 0).sum()),
        "dup": float(((step == 0) & (frame["bid"] == prev["bid"]) & (frame["ask"] == prev["ask"])).sum()),
        "crossed": float((frame["bid"] > frame["ask"]).sum()),
        "locked": float((frame["bid"] == frame["ask"]).sum()),
        "nan": float(frame.isna().any(axis=1).sum()),
        "p50": float(spread.quantile(0.5)),
        "p95": float(spread.quantile(0.95)),
    }


def _row(name: str, value: float, unit: str, baseline: str, ratio: float, target: str, ok: bool) -> dict:
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "ratio": ratio,
        "target": target,
        "ok": ok,
    }


def run(quick: bool = False) -> list[dict]:
    rows: list[dict] = []
    n = 20_000 if quick else 2_000_000
    repeat = 1 if quick else 3
    ts, bid, ask = _ticks(n)
    frame = pd.DataFrame({"bid": bid, "ask": ask}, index=pd.DatetimeIndex(pd.to_datetime(ts, utc=True)))

    # 1) quality report
    q = _best(lambda: quality_from_arrays(ts, bid, ask, gap_threshold=5.0, now=int(ts[-1])), repeat)
    qb = _best(lambda: _pandas_quality(frame, 5.0), repeat)
    rows.append(
        _row(
            f"quality_from_arrays, {n:,} ticks",
            q / n * 1e9,
            "ns/tick",
            "the same measurements in pandas",
            q / qb,
            "faster than pandas (ratio < 1)",
            q < qb,
        )
    )

    tmp = Path(tempfile.mkdtemp(prefix="igkit-bench-store-"))
    try:
        # 2) write and read
        def write_ours() -> None:
            shutil.rmtree(tmp / "ours", ignore_errors=True)
            write_ticks(tmp / "ours", EPICS[0], (ts, bid, ask))

        w = _best(write_ours, repeat)
        wb = _best(lambda: frame.to_parquet(tmp / "pandas.parquet", engine="pyarrow"), repeat)
        rows.append(
            _row(
                f"write_ticks, {n:,} ticks over 4 dates",
                w / n * 1e9,
                "ns/tick",
                "pandas to_parquet, one file",
                w / wb,
                "within 2x of pandas",
                w / wb < 2.0,
            )
        )
        r = _best(lambda: read_ticks(tmp / "ours", EPICS[0]), repeat)
        rb = _best(lambda: pd.read_parquet(tmp / "pandas.parquet"), repeat)
        rows.append(
            _row(
                f"read_ticks, {n:,} ticks",
                r / n * 1e9,
                "ns/tick",
                "pandas read_parquet, one file",
                r / rb,
                "within 2x of pandas",
                r / rb < 2.0,
            )
        )

        # 3) Recorder fed at full speed (capacity holds everything: measures the writer, not loss)
        def record() -> None:
            shutil.rmtree(tmp / "rec", ignore_errors=True)
            hub = TickHub(capacity=n + 1)
            rec = Recorder(hub, tmp / "rec", flush_interval=0.2)
            rec.start()
            buf = hub.buffer(EPICS[0])
            for i in range(0, n, 5_000):
                buf.offer_many(ts[i : i + 5_000], bid[i : i + 5_000], ask[i : i + 5_000])
            rec.stop()
            assert rec.stats()["rows_written"] == n and rec.lost == 0

        rr = _best(record, repeat)
        rows.append(
            _row(
                f"Recorder, {n:,} ticks fed in batches of 5,000, until stop() returns",
                n / rr,
                "ticks/s",
                "write_ticks of the same arrays in one call",
                rr / w,
                "within 3x of one write_ticks call",
                rr / w < 3.0,
            )
        )

        # 4) ReplayFeed as fast as possible, two instruments
        write_ticks(tmp / "two", EPICS[0], (ts, bid, ask))
        write_ticks(tmp / "two", EPICS[1], (ts + 1, bid, ask))

        def replay() -> None:
            hub = TickHub(capacity=n + 1)
            feed = ReplayFeed(hub, tmp / "two", speed=None, batch=10_000)
            feed.start()
            feed.join()
            assert feed.finished and hub.buffer(EPICS[1]).total == n

        def replay_floor() -> None:
            hub = TickHub(capacity=n + 1)
            for e in EPICS:
                hub.buffer(e).extend(*read_arrays(tmp / "two", e))

        p = _best(replay, repeat)
        pb = _best(replay_floor, repeat)
        rows.append(
            _row(
                f"ReplayFeed speed=None, 2 instruments x {n:,} ticks",
                2 * n / p,
                "ticks/s",
                "read_arrays + one extend per instrument",
                p / pb,
                "> 1M ticks/s",
                2 * n / p > 1e6,
            )
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


if __name__ == "__main__":
    for r in run(quick=False):
        print(r)
