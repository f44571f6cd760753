"""Committed notebooks carry no outputs, no execution counts, no saved widget state and nothing that
looks like a secret (IG API keys, CST / X-SECURITY-TOKEN values, passwords, bearer tokens)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

SECRET_PATTERNS = {
    "IG API key (40 hex)": re.compile(r"\b[0-9a-f]{40}\b", re.I),
    "CST / X-SECURITY-TOKEN value": re.compile(
        r"(?i)\b(cst|x-security-token|xst)\b\W{0,4}[:=]\W{0,4}[A-Za-z0-9+/=_-]{16,}"),
    "password value": re.compile(r"(?i)\"?password\"?\s*[:=]\s*['\"][^'\"\s]{3,}['\"]"),
    "api key value": re.compile(r"(?i)\"?api[_-]?key\"?\s*[:=]\s*['\"][^'\"\s]{8,}['\"]"),
    "bearer token": re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]{20,}"),
    "long hex token": re.compile(r"\b[0-9a-f]{48,}\b", re.I),
}


def committed_notebooks() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "notebooks/*.ipynb"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
    return [ROOT / p for p in out]


def problems(nb: dict[str, Any]) -> list[str]:
    """Everything wrong with one notebook's JSON, each naming the cell."""
    found: list[str] = []
    if "widgets" in nb.get("metadata", {}):
        found.append("metadata.widgets: saved widget state")
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") == "code":
            if cell.get("outputs"):
                found.append(f"cell {i}: {len(cell['outputs'])} output(s)")
            if cell.get("execution_count") is not None:
                found.append(f"cell {i}: execution_count {cell['execution_count']}")
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else source
        for what, pattern in SECRET_PATTERNS.items():
            if pattern.search(text):
                found.append(f"cell {i}: {what}")
    return found


def test_there_are_notebooks() -> None:
    names = {p.name for p in committed_notebooks()}
    assert {"01_quickstart.ipynb", "03_live_panel.ipynb", "05_record_replay.ipynb"} <= names


@pytest.mark.parametrize("path", committed_notebooks(), ids=lambda p: p.name)
def test_committed_notebook_is_clean(path: Path) -> None:
    raw = path.read_text(encoding="utf-8")
    nb = json.loads(raw)
    assert problems(nb) == [], f"{path.name}: strip outputs (nbstripout / Clear All Outputs) and secrets"
    for what, pattern in SECRET_PATTERNS.items():  # also metadata and anything outside the sources
        assert not pattern.search(raw), f"{path.name}: {what}"


def test_the_checker_catches_outputs_and_secrets() -> None:
    dirty = {
        "metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {}}},
        "cells": [
            {"cell_type": "code", "source": "1 + 1", "execution_count": 3,
             "outputs": [{"output_type": "execute_result", "data": {"text/plain": "2"}}]},
            {"cell_type": "code", "source": 'cfg = {"password": "hunter22", "api_key": "0123456789abcdef"}',
             "execution_count": None, "outputs": []},
            {"cell_type": "markdown", "source": "CST: 3f2a9c0b1d7e4a6f8b2c5d9e0f1a3b4c"},
            {"cell_type": "code", "source": "key = 'a' * 0  # fine", "execution_count": None, "outputs": []},
            {"cell_type": "code", "source": ["h = 'Bearer ", "eyJhbGciOiJIUzI1NiJ9.abcdefghij'"],
             "execution_count": None, "outputs": []},
            {"cell_type": "code", "source": "k = '" + "ab12" * 10 + "'", "execution_count": None, "outputs": []},
        ],
    }
    found = problems(dirty)
    assert "metadata.widgets: saved widget state" in found
    assert "cell 0: 1 output(s)" in found and "cell 0: execution_count 3" in found
    assert "cell 1: password value" in found and "cell 1: api key value" in found
    assert "cell 2: CST / X-SECURITY-TOKEN value" in found
    assert "cell 4: bearer token" in found
    assert "cell 5: IG API key (40 hex)" in found
    assert not any(f.startswith("cell 3") for f in found)
