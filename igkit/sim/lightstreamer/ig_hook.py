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
  ``ACCOUNT:<account>`` (:func:`event_values`);
* the account as IG streams it: every ``ACCOUNT:<account>`` field (limited-risk = guaranteed-stop
  positions split out, :func:`account_data`), a snapshot on subscription, and, while someone is
  subscribed, an update whenever a value changes with prices (checked every ``account_interval_s``).

The server is stored in the app as ``app[LS_SERVER_KEY]`` (``IGSimulator.stream``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from aiohttp import web

from igkit.ig.stream import _items as it
from igkit.sim.lightstreamer.demo_backend import MarketStreamer
from igkit.sim.lightstreamer.server import LSServer, install_lightstreamer

__all__ = ["LS_SERVER_KEY", "LS_STREAMER_KEY", "account_data", "event_values", "lightstreamer_app_hook"]

log = logging.getLogger(__name__)

LS_SERVER_KEY = web.AppKey("igkit_lightstreamer", LSServer)
LS_STREAMER_KEY = web.AppKey("igkit_market_streamer", MarketStreamer)

_TRADE_FIELD = {"CONFIRM": "CONFIRMS", "OPU": "OPU", "WOU": "WOU"}


def event_values(kind: str, account_id: str, data: dict[str, Any]) -> tuple[str, dict[str, str | None]] | None:
    """A simulator event → ``(item, values)`` to publish, as IG streams it; None for unknown kinds.

    CONFIRM/OPU/WOU become one JSON string field of ``TRADE:<account>``; ACCOUNT (IG's REST balance
    ``{balance, deposit, profitLoss, available}``, plus the limited-risk parts ``profitLossLR`` and
    ``depositLR`` when known, see :func:`account_data`) becomes every ``ACCOUNT:<account>`` field.
    """
    if kind in _TRADE_FIELD:
        return it.trade_item(account_id), {_TRADE_FIELD[kind]: json.dumps(data, default=str)}
    if kind == "ACCOUNT":
        bal, dep = float(data.get("balance") or 0.0), float(data.get("deposit") or 0.0)
        pnl, avail = float(data.get("profitLoss") or 0.0), float(data.get("available") or 0.0)
        pnl_lr, dep_lr = float(data.get("profitLossLR") or 0.0), float(data.get("depositLR") or 0.0)
        equity = bal + pnl
        used = 100.0 * dep / equity if equity > 0 else 0.0
        return it.account_item(account_id), {
            "PNL": f"{pnl:.2f}", "PNL_LR": f"{pnl_lr:.2f}", "PNL_NLR": f"{pnl - pnl_lr:.2f}",
            "DEPOSIT": f"{dep:.2f}", "AVAILABLE_CASH": f"{avail:.2f}", "FUNDS": f"{bal:.2f}",
            "MARGIN": f"{dep:.2f}", "MARGIN_LR": f"{dep_lr:.2f}", "MARGIN_NLR": f"{dep - dep_lr:.2f}",
            "AVAILABLE_TO_DEAL": f"{avail:.2f}", "EQUITY": f"{equity:.2f}", "EQUITY_USED": f"{used:.2f}",
        }  # fmt: skip
    return None


def account_data(broker: Any, account_id: str) -> dict[str, float]:
    """The simulator's balance of ``account_id`` (``broker.balance``) plus its limited-risk parts: P&L
    (``profitLossLR``) and margin (``depositLR``) of the positions with a guaranteed stop. Call with
    ``broker.lock`` held."""
    data = dict(broker.balance(account_id))
    acc = broker.account(account_id)
    pnl_lr = dep_lr = 0.0
    for p in broker.positions.values():
        if p.account_id != account_id or not p.guaranteed:
            continue
        pnl_lr += broker.to_account_ccy(broker.pnl(p, broker.close_price(p)), p.currency, acc)
        dep_lr += broker.margin_of(broker.prices.spec(p.epic), p.size, p.level, acc)
    data.update(profitLossLR=round(pnl_lr, 2), depositLR=round(dep_lr, 2))
    return data


def lightstreamer_app_hook(
    *, keepalive_ms: int = 5000, interval_s: float = 0.05, account_interval_s: float | None = 1.0, **options: Any
) -> Callable[[web.Application, Any], None]:
    """The hook: ``(app, sim)`` → TLCP server + market streamer + dealing events bridged.

    ``account_interval_s``: how often subscribed accounts are checked for values that moved with prices
    (None: ACCOUNT changes only on dealing events). ``options`` go to
    :class:`~igkit.sim.lightstreamer.server.LSServer` (``max_items``, ``history``, ...).
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

        broker = sim.broker

        def account_values(account_id: str) -> dict[str, str | None] | None:
            if not broker.lock.acquire(timeout=2.0):  # (the server's loop may call this: never hang it)
                return None
            try:
                got = event_values("ACCOUNT", account_id, account_data(broker, account_id))
            finally:
                broker.lock.release()
            return None if got is None else got[1]

        streamer.backend.account_snapshot = account_values

        def on_event(event: Any) -> None:  # runs in the dealing thread (broker lock held): publish() hands over
            data = dict(event.data)
            if event.kind == "ACCOUNT":
                with broker.lock:  # (held already by the dealing code; re-entrant)
                    data = account_data(broker, event.account_id)
            got = event_values(event.kind, event.account_id, data)
            if got is not None:
                server.publish(*got)

        unsubscribe = sim.subscribe(on_event)
        halt = threading.Event()

        def watch_accounts() -> None:  # publishes an account's values when prices moved them
            while not halt.wait(account_interval_s):
                try:
                    items = server.subscribed_items()
                    for account_id in list(broker.accounts):
                        item = it.account_item(account_id)
                        if item not in items:
                            continue
                        values = account_values(account_id)
                        if values is not None and values != {k: v for k, v in server.last_values(item).items()
                                                             if k in values}:  # fmt: skip
                            server.publish(item, values)
                except Exception:
                    if not halt.is_set():
                        log.exception("simulator: publishing ACCOUNT updates failed; going on")

        watcher = threading.Thread(target=watch_accounts, name="ls-account-streamer", daemon=True)

        async def start(app: web.Application) -> None:  # after the server captured its loop
            streamer.start(server)
            if account_interval_s:
                watcher.start()

        async def stop(app: web.Application) -> None:
            halt.set()
            unsubscribe()
            streamer.stop()

        app.on_startup.append(start)
        app.on_cleanup.append(stop)

    hook.igkit_lightstreamer = True  # type: ignore[attr-defined]
    return hook
