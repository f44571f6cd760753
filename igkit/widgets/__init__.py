"""The notebook face: a live candle chart, the control panel, the one refresher and progress bars.

* :class:`CandleChart` — one instrument's candles, markers, position lines and tick counts (plotly)
* :class:`ControlPanel` — header, controls, kill switch, live chart and tabs around a ``LiveEngine``
* :class:`Refresher` — the ONE thread that writes to widgets (2–5 Hz)
* :class:`PanelProgress`, :func:`progress_bar` — progress inside a panel, tqdm in scripts
* :data:`CLASSES` — the stable CSS classes of the panel's elements (see :mod:`igkit.widgets.theme`)
"""

from __future__ import annotations

from igkit.widgets._factory import EngineSettings, close_engine, default_factory, demo_engine, demo_start_ns, ig_engine
from igkit.widgets.chart import TRACE_INDEX, CandleChart
from igkit.widgets.panel import ControlPanel, live_panels
from igkit.widgets.progress import PanelProgress, progress_bar
from igkit.widgets.refresher import Refresher, guard_widget
from igkit.widgets.theme import CLASSES

__all__ = [
    "CLASSES",
    "TRACE_INDEX",
    "CandleChart",
    "ControlPanel",
    "EngineSettings",
    "PanelProgress",
    "Refresher",
    "close_engine",
    "default_factory",
    "demo_engine",
    "demo_start_ns",
    "guard_widget",
    "ig_engine",
    "live_panels",
    "progress_bar",
]
