"""The engine factory of ``notebooks/03_live_panel.ipynb`` (its first code cell, run here as the notebook runs
it): Demo keeps the notebook's fast settings, and SIM (like IG-DEMO and LIVE) goes to igkit's default factory,
so choosing SIM in the notebook or in ``make dashboard`` builds a simulator-backed engine instead of failing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _waiting import wait

from igkit.engine import EngineStatus
from igkit.widgets import EngineSettings, close_engine

EURUSD = "CS.D.EURUSD.MINI.IP"
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "03_live_panel.ipynb"


def factory_cell() -> dict[str, Any]:
    """Run the notebook's first code cell (the one defining ``factory``) and return its namespace."""
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    cell = next((c for c in code if "def factory(" in c), None)
    assert cell is not None, f"{NOTEBOOK.name}: no code cell defines factory()"
    ns: dict[str, Any] = {"__name__": "notebook_03"}
    exec(compile(cell, f"{NOTEBOOK.name}[factory cell]", "exec"), ns)  # the notebook's own cell, as Jupyter runs it
    return ns


@pytest.fixture
def cell(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("IGKIT_FAST", "1")
    monkeypatch.delenv("IGKIT_DEMO_SECONDS", raising=False)
    monkeypatch.delenv("VOILA_KERNEL_ID", raising=False)
    monkeypatch.delenv("VOILA_SERVER_URL", raising=False)
    return factory_cell()


def test_demo_keeps_the_notebooks_fast_settings(cell: dict[str, Any]) -> None:
    settings = EngineSettings("demo", (EURUSD,), "5s", "sma", {"fast": 2, "slow": 3})
    eng = cell["factory"](cell["config"], settings, None)
    try:
        assert eng.mode.value == "demo" and type(eng.broker).__name__ == "PaperBroker"
        assert eng.feed.speed == 60.0
        assert eng.feed.start_ns == pd.Timestamp(cell["START"]).value
    finally:
        close_engine(eng)


def test_sim_builds_a_simulator_engine_that_streams_then_closes(cell: dict[str, Any]) -> None:
    settings = EngineSettings("sim", (EURUSD,), "1s", "sma", {"fast": 2, "slow": 3})
    eng = cell["factory"](cell["config"], settings, None)  # config/test.json: an in-process simulator
    res = eng.resources
    try:
        assert eng.mode.value == "sim"
        assert res.owns_sim and res.sim.running and res.client.logged_in
        assert type(eng.broker).__name__ == "IGBroker" and type(eng.feed).__name__ == "StreamingFeed"
        assert res.client.transport.base_url.startswith("http://127.0.0.1:")  # loopback only
        eng.start()
        assert wait(lambda: eng.ticks > 0, timeout=15.0), "no tick streamed from the simulator"
    finally:
        close_engine(eng)
    assert eng.status is EngineStatus.STOPPED and not eng.running
    assert not res.sim.running and not res.client.logged_in and res.closed
