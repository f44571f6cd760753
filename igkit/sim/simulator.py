"""``IGSimulator``: a local IG REST gateway and Lightstreamer endpoint over the synthetic market.

One object owns the clock, the prices, the broker, the sessions, the rate limiter, the fault queue and
the HTTP server thread; tests and the ``igkit sim`` command use it as a context manager. The TLCP
(Lightstreamer) server is mounted by default on the same port (``lightstreamerEndpoint`` of
``POST /session``), fed from the same market and dealing events; :attr:`IGSimulator.stream` is it, and
:meth:`drop_streams`, :meth:`stream_malformed`, :meth:`expire_stream_credentials`, :meth:`stream_burst`
are its fault hooks.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, ClassVar

import pandas as pd
from aiohttp import web

from igkit.sim import routes_dealing, routes_history, routes_markets, routes_session
from igkit.sim._prices import PriceSource
from igkit.sim._state import AccountSpec, Position, SimEvent, WorkingOrder
from igkit.sim.auth import AuthStore
from igkit.sim.broker import Broker
from igkit.sim.clock import SimClock
from igkit.sim.faults import Faults
from igkit.sim.lightstreamer.ig_hook import LS_SERVER_KEY, lightstreamer_app_hook
from igkit.sim.lightstreamer.server import LSServer
from igkit.sim.ratelimit import RateLimiter, RateLimits
from igkit.sim.server import BASE_PATH, RequestRecord, Router, ServerThread, build_app

__all__ = ["IGSimulator"]

log = logging.getLogger(__name__)

AppHook = Callable[[web.Application, "IGSimulator"], None]

DEFAULT_ACCOUNTS: tuple[AccountSpec, ...] = (
    AccountSpec("Z1CFD", "CFD", "GBP", 10_000.0, "Demo-cfd", preferred=True),
    AccountSpec("Z2SPB", "SPREADBET", "GBP", 10_000.0, "Demo-SpreadBet"),
    AccountSpec("Z3CFD", "CFD", "USD", 10_000.0, "Demo-cfd-USD"),
)


def _limits(value: RateLimits | Mapping[str, Any] | None) -> RateLimits:
    if value is None:
        return RateLimits.unlimited()
    if isinstance(value, RateLimits):
        return value
    return RateLimits(**dict(value))


class IGSimulator:
    """An IG-compatible REST gateway on 127.0.0.1, in a background thread.

    Args:
        seed, tick_rate: the synthetic market (``igkit.market.SyntheticMarket``) behind every price.
        always_open: ignore opening hours (markets always TRADEABLE).
        host, port: where to listen (port 0 = an ephemeral port; read ``sim.port`` after start).
        clock: a :class:`SimClock`, or a start time (runs on from there), or None for real time.
        token_ttl: CST/X-SECURITY-TOKEN idle lifetime, seconds (sliding, capped at 72 h).
        access_token_ttl, refresh_token_ttl: v3 OAuth lifetimes, seconds.
        accounts: the client's accounts, as :class:`AccountSpec` or dicts of its fields (default: CFD GBP
            10,000 (preferred), spread bet GBP 10,000, CFD USD 10,000).
        rate_limits: a :class:`RateLimits` or a dict of its fields; None = no per-minute limits
            (the 10,000 points/week historical allowance still applies).
        confirm_ttl: how long GET /confirms/{ref} finds a confirm, seconds.
        tick_interval: period of the background trigger evaluation, seconds.
        app_hooks: callables ``(app, sim)`` run while the aiohttp app is built (to add routes).
        stream: mount the Lightstreamer (TLCP) server (default True); ``stream_keepalive_ms`` is its
            keepalive (short, so that clients with shortened timers notice a stall quickly) and
            ``stream_interval_s`` how often the market streamer publishes due ticks.

    Credentials for clients: :attr:`username`, :attr:`password`, :attr:`api_key`, :attr:`account_id`.
    """

    default_app_hooks: ClassVar[list[AppHook]] = []

    username = "igkit_sim"
    password = "sim-password"
    api_key = "sim-api-key-0123456789abcdef"

    def __init__(self, *, seed: int = 0, always_open: bool = False, host: str = "127.0.0.1", port: int = 0,
                 clock: SimClock | str | datetime | pd.Timestamp | int | None = None,
                 token_ttl: float = 6 * 3600, access_token_ttl: float = 60, refresh_token_ttl: float = 600,
                 tick_rate: float = 4.0, accounts: Iterable[AccountSpec | Mapping[str, Any]] | None = None,
                 rate_limits: RateLimits | Mapping[str, Any] | None = None, confirm_ttl: float = 180.0,
                 tick_interval: float = 0.1, app_hooks: Iterable[AppHook] = (),
                 request_log_size: int = 10_000, stream: bool = True, stream_keepalive_ms: int = 1000,
                 stream_interval_s: float = 0.05) -> None:
        self.clock = clock if isinstance(clock, SimClock) else SimClock(clock)
        self.host = host
        self._port = port
        self.prices = PriceSource(seed=seed, tick_rate=tick_rate, clock=self.clock, always_open=always_open)
        specs = [a if isinstance(a, AccountSpec) else AccountSpec(**dict(a))
                 for a in (DEFAULT_ACCOUNTS if accounts is None else accounts)]
        self.broker = Broker(self.prices, specs, confirm_ttl=confirm_ttl)
        preferred = self.broker.preferred_account().account_id
        self.auth = AuthStore(self.clock, username=self.username, password=self.password,
                              api_keys={self.api_key}, account_ids=list(self.broker.accounts),
                              default_account=preferred, token_ttl=token_ttl,
                              access_token_ttl=access_token_ttl, refresh_token_ttl=refresh_token_ttl)
        self.limiter = RateLimiter(_limits(rate_limits), self.clock)
        self.faults = Faults(self.auth.expire_tokens)
        hooks = [*self.default_app_hooks, *app_hooks]
        if stream and not any(getattr(h, "igkit_lightstreamer", False) for h in hooks):
            # last: a test's own hook that mounts another TLCP server wins (the default then stands aside)
            hooks.append(lightstreamer_app_hook(keepalive_ms=stream_keepalive_ms, interval_s=stream_interval_s))
        self.app_hooks: list[AppHook] = hooks
        self.router = Router()
        for module in (routes_session, routes_markets, routes_dealing, routes_history):
            module.register(self.router)
        self._log: deque[RequestRecord] = deque(maxlen=request_log_size)
        self._log_lock = threading.Lock()
        self._tick_interval = tick_interval
        self._server: ServerThread | None = None
        self.app: web.Application | None = None

    @classmethod
    def from_config(cls, config: Any, *, enforce_limits: bool = False, **overrides: Any) -> IGSimulator:
        """A simulator for an ``igkit.config.Config``: its market seed and tick rate, its historical
        allowance, and (only if ``enforce_limits``) its per-minute allowances. ``overrides`` win."""
        lim = config.limits
        limits = RateLimits(lim.app_non_trading_per_min, lim.account_non_trading_per_min,
                            lim.account_trading_per_min, lim.historical_points_per_week) if enforce_limits \
            else RateLimits.unlimited(lim.historical_points_per_week)
        kwargs: dict[str, Any] = {"seed": config.market.seed, "tick_rate": config.market.tick_rate,
                                  "rate_limits": limits}
        kwargs.update(overrides)
        return cls(**kwargs)

    # --- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> IGSimulator:
        """Start serving (idempotent); returns self."""
        if self._server is not None:
            return self
        self.app = build_app(self, self.router)
        server = ServerThread(self.app, self.host, self._port, tick=self.broker.evaluate,
                              tick_interval=self._tick_interval)
        self._port = server.start()
        self._server = server
        atexit.register(self.stop)
        log.info("IG simulator listening on %s", self.rest_url)
        return self

    def stop(self) -> None:
        """Stop serving and join the server thread (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            atexit.unregister(self.stop)
            server.stop()

    def __enter__(self) -> IGSimulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def loop(self) -> Any:
        """The server's asyncio loop (for hooks that schedule work on it), or None when stopped."""
        return self._server.loop if self._server is not None else None

    # --- where and who ---------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._port

    @property
    def lightstreamer_url(self) -> str:
        return f"http://{self.host}:{self._port}"

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self._port}{BASE_PATH}"

    @property
    def account_id(self) -> str:
        """The preferred (default) account: a CFD account unless ``accounts`` said otherwise."""
        return self.broker.preferred_account().account_id

    def _first(self, account_type: str) -> str | None:
        return next((a.account_id for a in self.broker.accounts.values() if a.account_type == account_type),
                    None)

    @property
    def cfd_account_id(self) -> str | None:
        return self._first("CFD")

    @property
    def spreadbet_account_id(self) -> str | None:
        return self._first("SPREADBET")

    @property
    def second_account_id(self) -> str:
        """Another account than :attr:`account_id` (for switch tests)."""
        return next(a for a in self.broker.accounts if a != self.account_id)

    def credentials(self) -> dict[str, str]:
        return {"rest_url": self.rest_url, "lightstreamer_url": self.lightstreamer_url,
                "username": self.username, "password": self.password, "api_key": self.api_key,
                "account_id": self.account_id}

    # --- inspection and control for tests --------------------------------------------------------------
    def _log_request(self, record: RequestRecord) -> None:
        with self._log_lock:
            self._log.append(record)

    @property
    def request_log(self) -> list[RequestRecord]:
        """Every request received so far (oldest first)."""
        with self._log_lock:
            return list(self._log)

    def clear_request_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    def positions(self, account_id: str | None = None) -> list[Position]:
        """Open positions (all accounts unless ``account_id``)."""
        return self.broker.open_positions(account_id)

    def working_orders(self, account_id: str | None = None) -> list[WorkingOrder]:
        return self.broker.working_orders(account_id)

    def balance(self, account_id: str | None = None) -> dict[str, float]:
        with self.broker.lock:
            return self.broker.balance(account_id or self.account_id)

    def quote(self, epic: str) -> tuple[float, float]:
        """The current (bid, ask) of ``epic`` as the simulator deals it."""
        return self.prices.quote(epic)

    def set_price(self, epic: str, bid: float, ask: float | None = None, *, evaluate: bool = True) -> None:
        """Force ``epic``'s quote (ask defaults to bid + typical spread) and fire what it triggers."""
        self.prices.force(epic, bid, ask)
        if evaluate:
            self.broker.evaluate()

    def clear_price(self, epic: str | None = None) -> None:
        """Back to the market's prices for ``epic`` (all epics if None)."""
        self.prices.unforce(epic)

    def subscribe(self, callback: Callable[[SimEvent], None]) -> Callable[[], None]:
        """Call ``callback(SimEvent)`` on every confirm, OPU, WOU and account change; returns unsubscribe."""
        return self.broker.events.subscribe(callback)

    def check_stream_credentials(self, user: str | None, password: str) -> bool:
        """Whether a Lightstreamer login (accountId, ``CST-…|XST-…``) belongs to a live REST session."""
        return self.auth.check_stream_credentials(user, password)

    def expire_tokens(self, *, refresh: bool = False) -> None:
        """Expire every session token now (refresh tokens too if ``refresh``)."""
        self.auth.expire_tokens(refresh=refresh)

    # --- streaming (Lightstreamer) -------------------------------------------------------------------------
    @property
    def stream(self) -> LSServer:
        """The TLCP server (delivery log ``updates(item)``, ``stats``, fault hooks); needs a started simulator
        with streaming on."""
        if self.app is None or LS_SERVER_KEY not in self.app:
            raise RuntimeError("IGSimulator.stream: no Lightstreamer server (start the simulator with stream=True)")
        return self.app[LS_SERVER_KEY]

    def drop_streams(self, how: str, *, code: int = 41, seconds: float | None = None) -> int:
        """Break every streaming connection: ``abort`` (no close frame), ``close`` (clean close), ``end``
        (``END,<code>``: the session is gone, 41/48 make clients open a new one) or ``stall`` (send
        nothing for ``seconds``; None: until the client replaces the socket). Returns how many."""
        return self.stream.drop(how, code=code, seconds=seconds)

    def stream_malformed(self, kind: str = "unknown") -> int:
        """Send a malformed line to every stream (``unknown``: ignored by clients; ``update``: a ``U`` line
        the real client cannot parse: it stops with server error 61)."""
        return self.stream.send_malformed(kind)

    def expire_stream_credentials(self) -> int:
        """Expire the passwords of the current streams (connected ones go on; a new create gets ``CONERR,1``)."""
        return self.stream.expire_credentials()

    def stream_burst(self, item: str, n: int, make: Callable[[int], Mapping[str, str | None]] | None = None) -> None:
        """Publish ``n`` updates of ``item`` at once (values from ``make(i)`` or the backend's)."""
        self.stream.burst(item, n, make)

    def __repr__(self) -> str:
        where = self.rest_url if self.running else "stopped"
        return f"<IGSimulator {where} clock={self.clock!r}>"
