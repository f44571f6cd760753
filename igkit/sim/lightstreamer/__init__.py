"""A Lightstreamer (TLCP-2.5.0/2.4.0) server for the IG simulator, driven by the real client in tests.

Mount it into any ``aiohttp.web.Application`` with :func:`install_lightstreamer`, give it a
:class:`StreamBackend` (credentials and item resolution) and push values with ``LSServer.publish``::

    app = web.Application()
    ls = install_lightstreamer(app, backend, keepalive_ms=1000)
    ...                                # run the app; then from any thread:
    ls.publish("CHART:CS.D.EURUSD.MINI.IP:TICK", {"BID": "1.1", "OFR": "1.1001", "UTM": "1700000000000"})

Modules: :mod:`.protocol` (TLCP lines and value encoding), :mod:`.session` (per-session state),
:mod:`.server` (the server, WebSocket transport, inspection), ``_control`` (control requests),
``_http`` (HTTP create/bind/recovery/control), ``_conn`` (a transport), ``_faults`` (fault hooks),
:mod:`.backend` (the backend protocol), :mod:`.ig_items` (IG's items and fields),
:mod:`.demo_backend` (IG's price items from the synthetic market), :mod:`.ig_hook` (the IGSimulator
app hook), :mod:`.runner` (run an app on 127.0.0.1 in a background thread).
"""

from __future__ import annotations

from igkit.sim.lightstreamer.backend import ItemSource, Refusal, StreamBackend
from igkit.sim.lightstreamer.server import LSServer, install_lightstreamer
from igkit.sim.lightstreamer.session import SentUpdate

__all__ = ["ItemSource", "LSServer", "Refusal", "SentUpdate", "StreamBackend", "install_lightstreamer"]
