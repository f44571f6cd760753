"""Long jobs report progress to tqdm or to any (desc, total) factory, e.g. the notebook panel's bars."""

from __future__ import annotations

from typing import Any

from igkit.history import load_history, random_candles
from igkit.progress import make_progress
from igkit.strategy import SmaCross
from igkit.sweep import sweep
from igkit.widgets.progress import PanelProgress


class Recorder:
    def __init__(self) -> None:
        self.bars: list[PanelProgress] = []

    def __call__(self, desc: str, total: int) -> PanelProgress:
        bar = PanelProgress(total, desc)
        self.bars.append(bar)
        return bar


def test_sweep_reports_every_parameter_set_to_the_factory() -> None:
    rec = Recorder()
    grid = {"fast": [2, 3, 8], "slow": [5, 8]}
    table = sweep(SmaCross, grid, random_candles(300, seed=1), scheduler="sync", progress=rec)
    (bar,) = rec.bars
    assert bar.desc == "sweep SmaCross"
    assert bar.total == len(table) == 4  # (8, 5) and (8, 8) are invalid and skipped
    assert bar.n == bar.total and bar.closed


def test_demo_history_reports_each_chunk_to_the_factory() -> None:
    rec = Recorder()
    candles = load_history("EURUSD", "1h", "2024-03-04", "2024-03-07", source="demo", progress=rec)
    (bar,) = rec.bars
    assert bar.total == 3 and bar.n == 3 and bar.closed  # one chunk per day
    assert len(candles) > 0


def test_make_progress_falls_back_to_tqdm() -> None:
    quiet: Any = make_progress(False, 10, "quiet")
    assert quiet.disable and quiet.total == 10
    quiet.close()
    shown: Any = make_progress(True, 10, "shown")
    shown.update(4)
    assert not shown.disable and shown.n == 4 and shown.desc == "shown"
    shown.close()
