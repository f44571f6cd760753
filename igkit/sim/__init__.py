"""An IG REST gateway simulator on 127.0.0.1, backed by the seeded synthetic market.

``with IGSimulator(always_open=True) as sim:`` serves IG's REST API at ``sim.rest_url`` (sessions v1–v3,
accounts, markets, prices, dealing, working orders, history, limits) with a believable broker behind
it, fault injection (``sim.faults``), a request log and test controls (``sim.clock``,
``sim.set_price``). Small private modules, re-exported here:

* :mod:`~igkit.sim.simulator`: :class:`IGSimulator`
* :mod:`~igkit.sim.clock`: :class:`SimClock`
* :mod:`~igkit.sim.faults`: :class:`Faults`
* :mod:`~igkit.sim.ratelimit`: :class:`RateLimits`
* :mod:`~igkit.sim.broker`: :class:`Broker` (dealing), :mod:`~igkit.sim.auth` (sessions)
"""

from __future__ import annotations

from igkit.sim._state import AccountSpec, SimEvent
from igkit.sim.broker import Broker
from igkit.sim.clock import SimClock
from igkit.sim.faults import Faults
from igkit.sim.ratelimit import RateLimits
from igkit.sim.server import RequestRecord
from igkit.sim.simulator import IGSimulator

__all__ = ["AccountSpec", "Broker", "Faults", "IGSimulator", "RateLimits", "RequestRecord", "SimClock",
           "SimEvent"]
