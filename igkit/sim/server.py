"""The simulator's HTTP server: an aiohttp app on 127.0.0.1 in a background thread, and its dispatcher.

Every gateway request goes through one pipeline: request log → faults (delay, fail, drop, allowance) →
API key → ``Version`` header (any case, default 1) → authentication (v2 CST/X-SECURITY-TOKEN or v3
bearer + IG-ACCOUNT-ID) → rate limits → trigger evaluation → the route handler → (drop after).
``POST`` with a ``_method: DELETE`` header is dispatched as DELETE. Routes are registered by the
``routes_*`` modules on a :class:`Router`; more aiohttp routes (the streaming server at
``/lightstreamer``) are added by app hooks before the app starts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from aiohttp import web
from multidict import MultiMapping

from igkit.sim._util import ApiError
from igkit.sim.auth import Session

if TYPE_CHECKING:
    from igkit.sim.simulator import IGSimulator

__all__ = ["BASE_PATH", "SIM_KEY", "Ctx", "Reply", "RequestRecord", "Router", "ServerThread", "build_app"]

log = logging.getLogger(__name__)
BASE_PATH = "/gateway/deal"
SIM_KEY: web.AppKey[Any] = web.AppKey("igkit_sim", object)
"""``app[SIM_KEY]`` is the :class:`~igkit.sim.IGSimulator` serving the app (for app hooks)."""


class RequestRecord(NamedTuple):
    """One request the server received: effective ``method`` (DELETE for a ``_method`` override),
    ``path`` after ``/gateway/deal``, answered ``status`` (0 = connection dropped), ``version``."""

    method: str
    path: str
    status: int
    version: int
    ts_ns: int


@dataclass(slots=True)
class Reply:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Ctx:
    """What a route handler gets."""

    sim: IGSimulator
    method: str
    path: str
    version: int
    headers: Any
    query: MultiMapping[str]
    match: dict[str, str]
    body: dict[str, Any]
    api_key: str
    session: Session | None = None
    account_id: str | None = None

    def need_account(self) -> str:
        assert self.account_id is not None
        return self.account_id

    def need_session(self) -> Session:
        assert self.session is not None
        return self.session


Handler = Callable[[Ctx], Any]


@dataclass(slots=True)
class _Route:
    handler: Handler
    auth: bool
    trading: bool
    slow: bool


@dataclass(slots=True)
class _Outcome:
    resp: web.StreamResponse
    version: int = 1
    dropped: bool = False


class Router:
    """Gateway routes: ``(method, path pattern)`` → handler (aiohttp ``{name}`` patterns)."""

    def __init__(self) -> None:
        self.routes: dict[str, dict[str, _Route]] = {}

    def add(
        self, method: str, path: str, handler: Handler, *, auth: bool = True, trading: bool = False, slow: bool = False
    ) -> None:
        """Register ``handler``. ``trading``: counts against the trading allowance. ``slow``: runs in a
        worker thread so that it cannot stall the event loop (which the streaming server shares)."""
        self.routes.setdefault(path, {})[method.upper()] = _Route(handler, auth, trading, slow)


def _error(status: int, code: str) -> web.Response:
    return web.json_response({"errorCode": code}, status=status)


def _version(headers: Any) -> int:
    raw = headers.get("Version")
    if raw is None or str(raw).strip() == "":
        return 1
    try:
        v = int(str(raw).strip())
    except ValueError:
        raise ApiError(400, "invalid.input") from None
    if v < 1:
        raise ApiError(400, "invalid.input")
    return v


def _body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ApiError(400, "invalid.input") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid.input")
    return data


def _make_dispatch(sim: IGSimulator, methods: dict[str, _Route]) -> Callable[[web.Request], Any]:
    async def handle(request: web.Request) -> web.StreamResponse:
        method = request.method.upper()
        override = request.headers.get("_method")
        if method == "POST" and override:
            method = override.strip().upper()
        rel = request.path[len(BASE_PATH) :] or "/"
        out = _Outcome(_error(500, "system.error"), dropped=True)
        try:
            out = await _pipeline(sim, request, methods, method, rel)
            return out.resp
        finally:
            status = 0 if out.dropped else out.resp.status
            sim._log_request(RequestRecord(method, rel, status, out.version, sim.clock.now_ns()))

    async def dispatch(request: web.Request) -> web.StreamResponse:
        # Shielded: a client that gives up (timeout, disconnect) does not cancel the request, which IG
        # would carry out anyway (a deal sent is a deal done).
        return await asyncio.shield(handle(request))

    return dispatch


async def _pipeline(
    sim: IGSimulator, request: web.Request, methods: dict[str, _Route], method: str, rel: str
) -> _Outcome:
    raw_body = await request.read()  # read first: a delayed request must not need the connection later
    route = methods.get(method)
    faults = sim.faults.take(method, rel, authenticated=bool(route and route.auth))
    kinds = {f.kind: f for f in faults}
    if "delay" in kinds:
        await asyncio.sleep(kinds["delay"].seconds)
    drop = kinds.get("drop")
    if drop is not None and not drop.after:
        return _dropped(request, _Outcome(web.Response(status=204)))
    if "fail" in kinds:
        return _Outcome(_error(kinds["fail"].status, kinds["fail"].code))
    if "allowance" in kinds:
        return _Outcome(_error(403, kinds["allowance"].code))
    version = 1
    try:
        api_key = sim.auth.check_api_key(request.headers)
        version = _version(request.headers)
        if route is None:
            if methods:
                raise ApiError(405, "invalid.url")
            raise ApiError(404, "invalid.url")
        session = account = None
        if route.auth:
            if "token" in kinds:
                bearer = request.headers.get("Authorization")
                raise ApiError(
                    401, "error.security.oauth-token-invalid" if bearer else "error.security.client-token-invalid"
                )
            session, account = sim.auth.authenticate(request.headers)
        sim.limiter.check(api_key, account, route.trading)
        # IG's gateway drops the body of a real DELETE: only POST + "_method: DELETE" carries one
        body = {} if request.method.upper() == "DELETE" else _body(raw_body)
        ctx = Ctx(
            sim,
            method,
            rel,
            version,
            request.headers,
            request.query,
            dict(request.match_info),
            body,
            api_key,
            session,
            account,
        )
        sim.broker.evaluate()
        if route.slow:
            result = await asyncio.get_running_loop().run_in_executor(None, route.handler, ctx)
        else:
            result = route.handler(ctx)
        reply = result if isinstance(result, Reply) else Reply(result)
        if reply.body is None:
            resp: web.StreamResponse = web.Response(status=reply.status, headers=reply.headers)
        else:
            resp = web.json_response(reply.body, status=reply.status, headers=reply.headers)
    except ApiError as exc:
        resp = _error(exc.status, exc.code)
    except Exception:  # a simulator bug: answer like IG's gateway does, keep the traceback in the log
        log.exception("simulator failed on %s %s", method, rel)
        resp = _error(500, "system.error")
    resp.headers["X-REQUEST-ID"] = uuid.uuid4().hex[:16]
    out = _Outcome(resp, version)
    if drop is not None and drop.after:
        return _dropped(request, out)
    return out


def _dropped(request: web.Request, out: _Outcome) -> _Outcome:
    """Close the connection: the client gets no response (``out`` is what the server had)."""
    if request.transport is not None:
        request.transport.close()
    out.dropped = True
    return out


def build_app(sim: IGSimulator, router: Router) -> web.Application:
    """The aiohttp app: every gateway route behind the dispatcher, then the app hooks."""
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app[SIM_KEY] = sim
    # literal paths first, so /positions/otc is not taken for /positions/{dealId}
    for path in sorted(router.routes, key=lambda p: ("{" in p, p)):
        app.router.add_route("*", BASE_PATH + path, _make_dispatch(sim, router.routes[path]))
    app.router.add_route("*", BASE_PATH + "/{tail:.*}", _make_dispatch(sim, {}))
    for hook in sim.app_hooks:
        hook(app, sim)
    return app


class ServerThread:
    """Runs an aiohttp app on its own event loop in a daemon thread, plus a periodic callback."""

    def __init__(
        self,
        app: web.Application,
        host: str,
        port: int,
        *,
        tick: Callable[[], Any] | None = None,
        tick_interval: float = 0.1,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._tick = tick
        self._tick_interval = tick_interval
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._ticker: asyncio.Task[None] | None = None

    def start(self, timeout: float = 10.0) -> int:
        """Start serving; returns the bound port."""
        self._thread = threading.Thread(target=self._run, name="igkit-sim", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"simulator did not start on {self.host}:{self.port} within {timeout} s")
        if self._error is not None:
            raise RuntimeError(f"simulator failed to start on {self.host}:{self.port}: {self._error}") from self._error
        return self.port

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._setup())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _setup(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        if self._tick is not None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick_loop())

    async def _tick_loop(self) -> None:
        assert self._tick is not None
        while True:
            await asyncio.sleep(self._tick_interval)
            try:
                self._tick()
            except Exception:
                log.exception("simulator background tick failed")

    async def _shutdown(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self, timeout: float = 5.0) -> None:
        loop, thread = self.loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        try:
            fut = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            fut.result(timeout)
        except Exception:
            log.exception("simulator shutdown failed")
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if thread.is_alive():
            log.warning("simulator thread did not stop within %.1f s", timeout)
