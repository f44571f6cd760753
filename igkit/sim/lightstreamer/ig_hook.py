"""Lightstreamer for the IG simulator, as an ``IGSimulator`` app hook.

``IGSimulator`` runs this hook by default (``stream=True``; ``IGSimulator(app_hooks=[lightstreamer_app_hook(
...)])`` chooses other options): it mounts the TLCP server on the simulator's aiohttp app
(``/lightstreamer``, next to ``/gateway/deal``), so ``lightstreamerEndpoint`` from ``POST /session``
works as on IG. A hook that finds a TLCP server mounted already (another hook ran first) does nothing.

* credentials: the simulator's ``check_stream_credentials(user, password)`` (``CST-…|XST-…`` of
  a live REST session);
* prices: a :class:`~igkit.sim.lightstreamer.demo_backend.MarketStreamer` on the simulator's price
  source and clock (forced prices included; one tick per change of a forced price);
* dealing: every ``SimEvent`` (CONFIRM, OPU, WOU, ACCOUNT) is published on ``TRADE:<account>`` /
  ``ACCOUNT:<account>`` (:func:`event_values`).

The server is stored in the app as ``app[LS_SERVER_KEY]`` (``IGSimulator.stream``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
from aiohttp import web

from igkit.ig.stream import _items as it
from igkit.sim.lightstreamer.demo_backend import MarketStreamer
from igkit.sim.lightstreamer.server import LSServer, install_lightstreamer

__all__ = ["LS_SERVER_KEY", "LS_STREAMER_KEY", "event_values", "lightstreamer_app_hook"]

LS_SERVER_KEY = web.AppKey("igkit_lightstreamer", LSServer)
LS_STREAMER_KEY = web.AppKey("igkit_market_streamer", MarketStreamer)

_TRADE_FIELD = {"CONFIRM": "CONFIRMS", "OPU": "OPU", "WOU": "WOU"}


def event_values(kind: str, account_id: str, data: dict[str, Any]) -> tuple[str, dict[str, str | None]] | None:
    """A simulator event → ``(item, values)`` to publish, as IG streams it; None for unknown kinds.

    CONFIRM/OPU/WOU become one JSON string field of ``TRADE:<account>``; ACCOUNT (IG's REST balance
    ``{balance, deposit, profitLoss, available}``) becomes ``ACCOUNT:<account>`` fields.
    """
    if kind in _TRADE_FIELD:
        return it.trade_item(account_id), {_TRADE_FIELD[kind]: json.dumps(data, default=str)}
    if kind == "ACCOUNT":
        bal, dep = float(data.get("balance") or 0.0), float(data.get("deposit") or 0.0)
        pnl, avail = float(data.get("profitLoss") or 0.0), float(data.get("available") or 0.0)
        equity = bal + pnl
        used = 100.0 * dep / equity if equity > 0 else 0.0
        return it.account_item(account_id), {
            "PNL": f"{pnl:.2f}", "DEPOSIT": f"{dep:.2f}", "MARGIN": f"{dep:.2f}", "FUNDS": f"{bal:.2f}",
            "AVAILABLE_CASH": f"{avail:.2f}", "AVAILABLE_TO_DEAL": f"{avail:.2f}", "EQUITY": f"{equity:.2f}",
            "EQUITY_USED": f"{used:.2f}",
        }  # fmt: skip
    return None


def lightstreamer_app_hook(
    *, keepalive_ms: int = 5000, interval_s: float = 0.05, **options: Any
) -> Callable[[web.Application, Any], None]:
    """The hook: ``(app, sim)`` → TLCP server + market streamer + dealing events bridged.

    ``options`` go to :class:`~igkit.sim.lightstreamer.server.LSServer` (``max_items``, ``history``, ...).
    """

    def hook(app: web.Application, sim: Any) -> None:
        mounted = any(getattr(r, "canonical", "") == "/lightstreamer" for r in app.router.resources())
        if LS_SERVER_KEY in app or mounted:  # a server is there already (an explicit hook ran first)
            return
        prices = sim.prices
        last_forced: dict[str, tuple[float, float]] = {}
        empty = (np.empty(0, np.int64), np.empty(0), np.empty(0))

        def ticks(epic: str, start: int, end: int) -> Any:
            if prices.is_forced(epic):  # one tick per change of a forced price, not one per step
                q = prices.quote(epic)
                if last_forced.get(epic) == q:
                    return empty
                last_forced[epic] = q
            else:
                last_forced.pop(epic, None)
            return prices.ticks(epic, start, end)

        streamer = MarketStreamer(
            prices.market,
            list(sim.broker.accounts),
            sim.check_stream_credentials,
            clock=sim.clock.now_ns,
            interval_s=interval_s,
            ticks=ticks,
            quote=lambda epic, t: prices.quote(epic),
            is_open=lambda epic, t: prices.is_open(epic, t),
        )
        server = install_lightstreamer(app, streamer.backend, keepalive_ms=keepalive_ms, **options)
        app[LS_SERVER_KEY] = server
        app[LS_STREAMER_KEY] = streamer

        def on_event(event: Any) -> None:  # runs in the dealing thread: publish() only hands over
            got = event_values(event.kind, event.account_id, dict(event.data))
            if got is not None:
                server.publish(*got)

        unsubscribe = sim.subscribe(on_event)

        async def start(app: web.Application) -> None:  # after the server captured its loop
            streamer.start(server)

        async def stop(app: web.Application) -> None:
            unsubscribe()
            streamer.stop()

        app.on_startup.append(start)
        app.on_cleanup.append(stop)

    hook.igkit_lightstreamer = True  # type: ignore[attr-defined]
    return hook
