"""The ``igkit`` command: help, the Demo run end to end (feed → hub → candles → summary), errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from igkit.candles import resample_ticks
from igkit.cli import main
from igkit.cli.demo import run_demo
from igkit.store import list_instruments, read_ticks

ROOT = Path(__file__).resolve().parents[1]


def igkit(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "igkit", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_help_lists_commands() -> None:
    out = igkit("--help")
    assert out.returncode == 0
    assert "demo" in out.stdout and "sim" in out.stdout


def test_demo_command_runs_records_and_summarises(tmp_path: Path) -> None:
    rec = tmp_path / "ticks"
    out = igkit("demo", "--instruments", "EURUSD", "GBPUSD", "--seconds", "3", "--speed", "120", "--freq", "1min",
                "--record", str(rec))
    assert out.returncode == 0, out.stderr
    assert "EURUSD" in out.stdout and "GBPUSD" in out.stdout and "data quality" in out.stdout
    done = [line for line in out.stdout.splitlines() if line.startswith("done:")]
    assert done and "2 instruments" in done[0] and "ticks recorded" in done[0]
    assert sorted(list_instruments(rec)) == ["CS.D.EURUSD.MINI.IP", "CS.D.GBPUSD.MINI.IP"]
    assert len(read_ticks(rec, "CS.D.EURUSD.MINI.IP")) > 100


def test_demo_candles_equal_batch_resample_of_the_same_ticks() -> None:
    summary = run_demo(["EURUSD", "CS.D.USDJPY.MINI.IP"], seconds=1.5, speed=300, freq="10s", seed=3, refresh=0.05)
    for epic, state in summary.instruments.items():
        ticks = state.buffer.snapshot()
        assert state.ticks == len(ticks) > 50 and state.lost == 0
        live = summary.candles(epic)
        batch = resample_ticks(ticks, "10s")
        pd.testing.assert_frame_equal(live, batch, check_exact=True)
        assert summary.quality[epic]["ticks"] == len(ticks)
        assert summary.quality[epic]["crossed"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo", "--instruments", "NOPE", "--seconds", "1"], "unknown instrument 'NOPE'"),
        (["demo", "--freq", "3ms", "--seconds", "1"], "3ms"),
    ],
)
def test_demo_bad_input_is_a_clear_error(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("igkit demo: error:") and message in err
