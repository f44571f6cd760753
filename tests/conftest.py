"""Shared test set-up: the suite always runs on ``config/test.json`` (Demo broker, no credentials)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Tests never inherit config overrides (or secrets) from the shell that runs them.
for _name in [n for n in os.environ if n.startswith("IGKIT_") and ("__" in n or n in {"IGKIT_MODE", "IGKIT_BROKER"})]:
    del os.environ[_name]
os.environ["IGKIT_CONFIG"] = str(ROOT / "config" / "test.json")
os.environ.setdefault("IGKIT_FAST", "1")
