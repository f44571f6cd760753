"""A seeded synthetic market: the instrument catalog, opening hours and a deterministic tick generator.

Used by the Demo feed (:class:`igkit.feeds.demo.DemoFeed`), the IG simulator (prices, history, dealing
rules) and research on Demo history. Three small modules, re-exported here:

* :mod:`~igkit.market.catalog`: :class:`InstrumentSpec`, :data:`CATALOG` (IG epics), :func:`resolve`, :func:`spec`
* :mod:`~igkit.market.hours`: :func:`is_open`, :func:`next_open`, :func:`next_close`, the schedules
* :mod:`~igkit.market.process`: :class:`SyntheticMarket` (``ticks``, ``ticks_frame``, ``quote``)
"""

from __future__ import annotations

from igkit.market.catalog import CATALOG, InstrumentSpec, resolve, spec
from igkit.market.hours import SCHEDULES, is_open, next_close, next_open, open_mask
from igkit.market.process import SyntheticMarket, TickArrays, to_ns

__all__ = [
    "CATALOG",
    "SCHEDULES",
    "InstrumentSpec",
    "SyntheticMarket",
    "TickArrays",
    "is_open",
    "next_close",
    "next_open",
    "open_mask",
    "resolve",
    "spec",
    "to_ns",
]
