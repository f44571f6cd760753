"""``igkit run``: the Demo engine from the command line (subprocesses, as a user runs it): a timed run with a
summary, Ctrl-C stopping cleanly (flattening on request), live refused, IG modes explained, bad params."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from igkit.cli import main
from igkit.cli.run import parse_params
from igkit.engine import read_audit
from igkit.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def igkit(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "igkit", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=os.environ.copy())


def test_run_demo_for_three_seconds_exits_0_with_a_summary() -> None:
    out = igkit("run", "--mode", "demo", "--seconds", "3", "--speed", "200")
    assert out.returncode == 0, out.stderr
    assert "stopped (time up)" in out.stdout and "status STOPPED, mode demo" in out.stdout
    assert "closed trades" in out.stdout and "EURUSD" in out.stdout


def test_run_trades_with_params_and_writes_the_audit(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    out = igkit("run", "--mode", "demo", "--strategy", "sma", "--param", "fast=2", "--param", "slow=4",
                "--instruments", "EURUSD", "GBPUSD", "--seconds", "3", "--speed", "600", "--freq", "1min",
                "--size", "2", "--audit", str(audit), "--flatten-on-exit")
    assert out.returncode == 0, out.stderr
    assert "SmaCross(fast=2, slow=4)" in out.stdout
    assert "open positions 0" in out.stdout  # --flatten-on-exit
    recs = read_audit(audit)
    fills = [r for r in recs if r["kind"] == "fill"]
    assert fills and all(r["size"] == 2 for r in fills)
    assert {r["epic"] for r in recs if r["kind"] == "signal"} == {"CS.D.EURUSD.MINI.IP", "CS.D.GBPUSD.MINI.IP"}
    assert [r["status"] for r in recs if r["kind"] == "status"][-1] == "STOPPED"


def test_ctrl_c_stops_cleanly_with_a_summary(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "igkit", "run", "--mode", "demo", "--param", "fast=2",
                             "--param", "slow=4", "--instruments", "EURUSD", "--speed", "600", "--audit", str(audit),
                             "--flatten-on-exit"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # running and trading: a fill is in the audit log
            if audit.exists() and '"kind":"fill"' in audit.read_text():
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        else:
            pytest.fail("no fill within 60 s")
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "stopped (Ctrl-C)" in stdout and "open positions 0" in stdout
    statuses = [r for r in read_audit(audit) if r["kind"] == "status"]
    assert statuses[-1]["status"] == "STOPPED" and statuses[-1]["detail"] == "positions flattened"


def test_live_without_confirmation_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--mode", "ig-live", "--seconds", "1"]) == 2
    assert "refusing to trade real money" in capsys.readouterr().err
    assert main(["run", "--mode", "ig-live", "--seconds", "1", "--confirm-live"]) == 2  # the config does not confirm
    assert "ig.confirm_live" in capsys.readouterr().err


def test_run_sim_trades_on_the_in_process_simulator(tmp_path: Path) -> None:
    """REST dealing and Lightstreamer ticks/TRADE events against a simulator started inside the command."""
    audit = tmp_path / "audit.jsonl"
    out = igkit("run", "--mode", "sim", "--strategy", "sma", "--param", "fast=2", "--param", "slow=5",
                "--freq", "1s", "--seconds", "8", "--instruments", "EURUSD", "GBPUSD", "--audit", str(audit))
    assert out.returncode == 0, out.stderr
    assert "stopped (time up)" in out.stdout and "status STOPPED, mode sim" in out.stdout
    summary = next(line for line in out.stdout.splitlines() if line.startswith("ticks "))
    ticks, candles, orders = (int(summary.split(word)[1].split()[0].rstrip(",")) for word in
                              ("ticks ", "candles ", "orders "))
    assert ticks > 20 and candles >= 6 and orders >= 1, summary
    recs = read_audit(audit)
    assert [r for r in recs if r["kind"] == "fill"], "no fill on the simulator"
    assert {r["mode"] for r in recs if r["kind"] == "status"} == {"sim"}


def test_run_sim_ctrl_c_flattens_on_the_simulator(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "igkit", "run", "--mode", "sim", "--param", "fast=2",
                             "--param", "slow=3", "--freq", "1s", "--instruments", "EURUSD", "--audit", str(audit),
                             "--flatten-on-exit"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if audit.exists() and '"kind":"fill"' in audit.read_text():
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        else:
            pytest.fail("no fill on the simulator within 40 s")
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "stopped (Ctrl-C)" in stdout and "open positions 0" in stdout and "mode sim" in stdout
    statuses = [r for r in read_audit(audit) if r["kind"] == "status"]
    assert statuses[-1]["status"] == "STOPPED" and statuses[-1]["detail"] == "positions flattened"


def test_ig_demo_without_credentials_falls_back_to_demo_with_a_warning() -> None:
    out = igkit("run", "--mode", "ig-demo", "--seconds", "1", "--speed", "100")  # config/test.json: no credentials
    assert out.returncode == 0, out.stderr
    assert "falling back to Demo" in out.stderr and "mode demo" in out.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--strategy", "nope"], "nope"),
    (["--param", "fast"], "NAME=VALUE"),
    (["--param", "fast=60", "--param", "slow=30"], "fast=60"),
    (["--instruments", "NOPE"], "unknown instrument 'NOPE'"),
    (["--freq", "3ms"], "3ms"),
])
def test_bad_arguments_exit_2_naming_them(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--mode", "demo", "--seconds", "1", *args]) == 2
    assert message in capsys.readouterr().err


def test_parse_params() -> None:
    assert parse_params(["fast=10", "ratio=0.5", "on=true", "name=abc", "s= x"]) == {
        "fast": 10, "ratio": 0.5, "on": True, "name": "abc", "s": " x"}
    assert parse_params(None) == {}
    with pytest.raises(ConfigError, match="NAME=VALUE"):
        parse_params(["=3"])
    assert json.dumps(parse_params(["a=[1,2]"])) == '{"a": [1, 2]}'


def test_exit_keeps_positions_unless_asked_to_flatten(tmp_path: Path) -> None:
    """Without --flatten-on-exit (and risk.flatten_on_stop false in config/test.json) the positions stay
    open at exit, and the summary and the audit log say so."""
    audit = tmp_path / "audit.jsonl"
    out = igkit("run", "--mode", "demo", "--param", "fast=2", "--param", "slow=4", "--instruments", "EURUSD",
                "--seconds", "3", "--speed", "600", "--freq", "1min", "--audit", str(audit))
    assert out.returncode == 0, out.stderr
    assert "open positions 1" in out.stdout  # SmaCross is always long or short once warm
    statuses = [r for r in read_audit(audit) if r["kind"] == "status"]
    assert statuses[-1]["status"] == "STOPPED" and statuses[-1]["detail"] != "positions flattened"


def test_live_view_renders_the_engine_state() -> None:
    """The terminal view (drawn only on a terminal, so rendered here into a recording console)."""
    from rich.console import Console

    from igkit.cli.run import _view
    from igkit.config import Config
    from igkit.engine.factory import build_engine

    engine, res = build_engine(Config(), mode="demo", strategy="sma", params={"fast": 2, "slow": 4},
                               instruments=["EURUSD", "USDJPY"], freq="1min", speed=600)
    with res:
        engine.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
                engine.fills and sum(v.candles for v in engine.state.instrument_states) >= 8):  # as published
            time.sleep(0.05)
        console = Console(record=True, width=200, force_terminal=True, color_system=None)
        console.print(_view(engine.state, 12.0, 30.0))
    text = console.export_text()
    head, *rest = text.splitlines()
    assert "DEMO" in head and "RUNNING" in head and "SmaCross(fast=2, slow=4)" in head and "12/30 s" in head
    for col in ("instrument", "ticks", "bid", "ask", "candles", "last close", "signal", "position", "upl"):
        assert col in text
    rows = {line.split("│")[1].strip(): line for line in rest if line.count("│") > 5}
    assert set(rows) >= {"EURUSD", "USDJPY"}
    assert any(s in rows["EURUSD"] for s in ("LONG", "SHORT"))
    assert "balance" in text and "GBP" in text and "ticks/s" in text and "latency p50/p99" in text
