"""The TLCP (Lightstreamer) server of the simulator, mountable into any ``aiohttp.web.Application``.

Hand-written because no Lightstreamer server exists as a Python library; it implements what the real
``lightstreamer-client-lib`` needs (``shared/reference/lightstreamer.md`` §6): WebSocket sessions with
``WSOK``/``CONOK``/``PROBE``, ``control`` frames (add → ``SUBOK`` + snapshot, delete → ``UNSUB``,
destroy), ``REQERR`` for refused items, IG's 40-item limit, session recovery over
``POST bind_session.txt`` (``CONOK``, ``PROG``, replay, ``LOOP,0``) or the ``CONERR,20`` path, final
``CONERR`` for bad credentials, ``END``; plus fault hooks for tests (:class:`_Faults` methods).

Threads: handlers run on the aiohttp loop. ``publish`` may be called from any thread (it hops onto the
loop with ``call_soon_threadsafe``, keeping order); the fault hooks and ``burst`` run on the loop and
wait for it when called from another thread.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aiohttp import WSMsgType, web

from igkit.errors import StreamError
from igkit.sim.lightstreamer import _control, _faults, _http
from igkit.sim.lightstreamer._conn import Conn as _Conn
from igkit.sim.lightstreamer._conn import frames as _frames
from igkit.sim.lightstreamer.backend import (
    StreamBackend,
)
from igkit.sim.lightstreamer.protocol import PROTOCOLS, Request, encode_message, parse_frame
from igkit.sim.lightstreamer.session import SentUpdate, Session, Table

__all__ = ["LSServer", "install_lightstreamer"]

log = logging.getLogger(__name__)
T = TypeVar("T")

CONERR_AUTH = 1  # final: "user/password check failed"
CONERR_NO_SESSION = 20  # the client retries with a new session


class LSServer:
    """TLCP server state: sessions, last values per item (MERGE snapshots), the delivery log, counters.

    Use :func:`install_lightstreamer` to create one inside an application.
    """

    def __init__(
        self,
        backend: StreamBackend,
        *,
        keepalive_ms: int = 5000,
        max_items: int = 40,
        history: int = 50_000,
        session_timeout_s: float = 60.0,
        request_limit: int = 50_000,
        log_limit: int = 100_000,
    ) -> None:
        self.backend = backend
        self.log_limit = log_limit
        self.keepalive_ms = keepalive_ms
        self.max_items = max_items
        self.history = history
        self.session_timeout_s = session_timeout_s
        self.request_limit = request_limit
        self.allow_recovery = True  # False: answer every recovery with CONERR,20 (client re-creates)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._sessions: dict[str, Session] = {}
        self._conns: set[_Conn] = set()
        self._tasks: set[asyncio.Future[None]] = set()
        self._state: dict[str, dict[str, str | None]] = {}
        self._log: dict[str, collections.deque[SentUpdate]] = {}
        self._sent: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._expired: set[str] = set()
        self.stats: dict[str, int] = dict.fromkeys(
            ("creates", "creates_refused", "binds", "binds_refused", "recoveries", "recoveries_refused",
             "subscriptions", "reqerr", "malformed", "probes", "ends", "dropped_after_close"), 0)  # fmt: skip

    def __repr__(self) -> str:
        return f"<LSServer sessions={len(self._sessions)} items={len(self._state)}>"

    # -- loop plumbing ---------------------------------------------------------------------------------
    async def _on_startup(self, app: web.Application) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()

    async def _on_cleanup(self, app: web.Application) -> None:
        for sess in list(self._sessions.values()):
            self._close_session(sess)
        for conn in list(self._conns):
            conn.abort()
        for task in list(self._tasks):
            task.cancel()

    def _in_loop(self) -> bool:
        return threading.get_ident() == self._loop_thread

    def _call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run ``fn`` on the server loop and return its result (directly when already on the loop)."""
        if self._loop is None:
            raise StreamError("LSServer: the application is not running yet (no event loop)")
        if self._in_loop():
            return fn()

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def sync(self, timeout: float = 10.0) -> None:
        """Wait until everything scheduled so far (e.g. ``publish`` calls) has been processed."""
        self._call(lambda: None, timeout)

    def drain(self, timeout: float = 10.0) -> None:
        """:meth:`sync` where it can mean something: a no-op on the server's own loop (it cannot wait
        for itself) and once the application has shut down (``publish`` drops updates then)."""
        loop = self._loop
        if loop is None or self._in_loop() or loop.is_closed() or not loop.is_running():
            return
        self.sync(timeout)

    # -- publishing ------------------------------------------------------------------------------------
    def publish(self, item: str, values: Mapping[str, str | None]) -> None:
        """Push new values for ``item`` (fields left out are unchanged) to every subscribed session.

        Thread-safe and non-blocking; calls from one thread are processed in order.
        """
        if self._loop is None:
            raise StreamError("LSServer.publish: the application is not running yet (no event loop)")
        if self._in_loop():
            self._publish(item, dict(values))
        elif self._loop.is_closed():  # the application has shut down: nobody left to deliver to
            self.stats["dropped_after_close"] += 1
        else:
            self._loop.call_soon_threadsafe(self._publish, item, dict(values))

    def _publish(self, item: str, values: dict[str, str | None]) -> None:
        state = self._state.setdefault(item, {})
        state.update(values)
        for sess in list(self._sessions.values()):
            for table, idx in sess.by_item.get(item, ()):
                self._send_row(sess, table, idx, [state.get(f) for f in table.fields], snapshot=False)

    def _send_row(self, sess: Session, table: Table, idx: int, row: list[str | None], *, snapshot: bool) -> None:
        line = sess.update_line(table, idx, row)
        prog = self._emit(sess, line)
        entry = SentUpdate(sess.id, table.sub_id, table.items[idx], dict(zip(table.fields, row, strict=True)),
                           snapshot, prog)  # fmt: skip
        with self._lock:
            rows = self._log.get(entry.item)
            if rows is None:
                rows = self._log[entry.item] = collections.deque(maxlen=self.log_limit)
            rows.append(entry)
            self._sent[entry.item] += 1

    def _emit(self, sess: Session, line: str) -> int:
        prog = sess.record(line)
        conn = sess.conn
        if conn is not None and not conn.closed:
            conn.send(line)
            if prog:
                sess.sent_prog = prog
                conn.data_sent += 1
        return prog

    # -- fault hooks (any thread; see igkit.sim.lightstreamer._faults) -------------------------------------
    def drop(self, how: str, *, code: int = 41, seconds: float | None = None, session_id: str | None = None) -> int:
        """Break transports: ``abort``, ``close``, ``end`` (``END,<code>``) or ``stall`` (for ``seconds``)."""
        return _faults.drop(self, how, code=code, seconds=seconds, session_id=session_id)

    def send_malformed(self, kind: str = "unknown") -> int:
        """Send a malformed line (``unknown``: ignored by the client; ``update``: unparsable ``U``)."""
        return _faults.send_malformed(self, kind)

    def expire_credentials(self) -> int:
        """Expire current sessions' passwords: later creates get ``CONERR,1``, binds ``CONERR,20``."""
        return _faults.expire_credentials(self)

    def overflow(self, item: str, lost: int) -> int:
        """Send ``OV`` (``lost`` updates dropped) to every table subscribed to ``item``."""
        return _faults.overflow(self, item, lost)

    def burst(self, item: str, n: int, make: Callable[[int], Mapping[str, str | None]] | None = None) -> None:
        """Publish ``n`` updates for ``item`` at once (values from ``make(i)`` or ``backend.make_update``)."""
        _faults.burst(self, item, n, make)

    def close_sessions(self) -> int:
        """End every session at once (their transports are killed); returns how many there were."""

        def apply() -> int:
            live = list(self._sessions.values())
            for sess in live:
                conn = sess.conn
                self._close_session(sess)
                if conn is not None:
                    conn.abort()
            return len(live)

        return self._call(apply)

    # -- inspection (any thread) -----------------------------------------------------------------------
    def updates(self, item: str, *, session_id: str | None = None, snapshot: bool | None = None) -> list[SentUpdate]:
        """``U`` notifications generated for ``item`` (optionally one session's, only/no snapshots).

        The delivery log: one entry per ``U`` line generated for a session (recorded when generated,
        so it includes what a broken transport held back for recovery); the last ``log_limit`` per item."""
        with self._lock:
            rows = list(self._log.get(item, ()))
        return [
            r for r in rows
            if (session_id is None or r.session_id == session_id) and (snapshot is None or r.snapshot == snapshot)
        ]  # fmt: skip

    def sent_count(self, item: str) -> int:
        """Every ``U`` notification ever generated for ``item`` (the log keeps the last ``log_limit``)."""
        with self._lock:
            return self._sent[item]

    def last_values(self, item: str) -> dict[str, str | None]:
        """The merged last values published for ``item`` (what a MERGE snapshot shows)."""
        return self._call(lambda: dict(self._state.get(item, {})))

    def lines(self, session_id: str) -> list[str]:
        """The data notifications still held in ``session_id``'s recovery history, as sent on the wire."""

        def get() -> list[str]:
            sess = self._sessions.get(session_id)
            return [] if sess is None else [line for _, line in sess.history]

        return self._call(get)

    def session_ids(self) -> list[str]:
        return self._call(lambda: [s.id for s in self._sessions.values() if not s.closed])

    def subscribed_items(self) -> set[str]:
        """Items with at least one subscription in a live session."""
        return self._call(self._items_now)

    def _items_now(self) -> set[str]:
        out: set[str] = set()
        for s in self._sessions.values():
            out |= s.items()
        return out

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.01) -> bool:
        """Poll ``predicate`` (from a test thread) until it is true or ``timeout`` seconds pass."""
        end = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(interval)

    # -- WebSocket transport ---------------------------------------------------------------------------
    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(protocols=PROTOCOLS, max_msg_size=4 << 20)
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="expected a WebSocket with a TLCP subprotocol")
        await ws.prepare(request)
        loop = asyncio.get_running_loop()
        conn = _Conn(request, loop.time(), ws=ws)
        self._conns.add(conn)
        writer = asyncio.create_task(self._writer(conn))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    break
                log.debug("TLCP ws <- %.300r", msg.data)
                for req in parse_frame(msg.data):
                    self._ws_request(conn, req)
        except Exception:  # the socket died under us (abort, reset)
            log.debug("TLCP socket ended with an error", exc_info=True)
        finally:
            conn.closed = True
            conn.wake.set()
            self._detach(conn)
            self._conns.discard(conn)
            writer.cancel()
        return ws

    async def _writer(self, conn: _Conn) -> None:
        loop = asyncio.get_running_loop()
        while not conn.closed:
            ka = conn.session.keepalive_ms if conn.session is not None else self.keepalive_ms
            probe_s = 0.8 * ka / 1000.0
            now = loop.time()
            if conn.stall_until > now:
                wait: float | None = min(conn.stall_until - now, probe_s)
                lines: list[str] = []
            elif conn.outbox:
                lines, conn.outbox = conn.outbox, []
                wait = None
            elif conn.close_after_flush:
                await conn.finish()
                break
            elif conn.session is not None and now - conn.last_write >= probe_s:
                lines, wait = ["PROBE"], None
                self.stats["probes"] += 1
            else:
                lines, wait = [], probe_s - (now - conn.last_write)
            if wait is not None:
                conn.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(conn.wake.wait(), max(wait, 0.001))
                continue
            try:
                for frame in _frames(lines):
                    log.debug("TLCP -> %.300r", frame)
                    await conn.write(frame)
                if conn.content_length and conn.sent_bytes >= conn.content_length and not conn.close_after_flush:
                    await conn.write("LOOP,0\r\n")  # HTTP streaming: the client rebinds on a new request
                    conn.close_after_flush = True
                    self._detach(conn)  # what comes next waits in the history for that bind
            except Exception:
                conn.closed = True
                break
            conn.last_write = loop.time()

    async def _end_poll(self, conn: _Conn, p: dict[str, str]) -> None:
        """A polling bind: wait up to LS_idle_millis for data, then ``LOOP`` and let the session go."""
        sess = conn.session
        loop = asyncio.get_running_loop()
        end = loop.time() + min(_int(p.get("LS_idle_millis"), 0), 30_000) / 1000.0
        while conn.session is sess and not conn.closed and conn.data_sent == 0 and loop.time() < end:
            conn.wake.set()  # keep the writer flushing while we wait
            await asyncio.sleep(0.005)
        if conn.session is sess and sess is not None:
            conn.send(f"LOOP,{_int(p.get('LS_polling_millis'), 0)}")
            self._detach(conn)  # later notifications wait in the history for the next poll

    def _ws_request(self, conn: _Conn, req: Request) -> None:
        verb = req.verb
        params = req.params[0] if req.params else {}
        if verb == "wsok":
            conn.send("WSOK")
        elif verb in ("create_session", "bind_session"):
            (self._create if verb == "create_session" else self._bind)(conn, params)
            if params.get("LS_polling", "").lower() == "true" and conn.session is not None:
                task = asyncio.ensure_future(self._end_poll(conn, params))  # WS-POLLING
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        elif verb == "control":
            # between two WS-POLLING polls the socket carries no session, yet still takes its requests
            sess = conn.session or self._sessions.get(conn.last_session)
            if sess is None or sess.closed:
                conn.send("ERROR,11," + encode_message("control request without a bound session"))
            else:
                reply = None if conn.session is sess else conn.send  # REQOK/REQERR straight on the socket
                for p in req.params:
                    self._control(conn, sess, p, reply)
        elif verb in ("heartbeat", "msg"):  # no reverse heartbeats or client messages in IG's use
            pass
        else:
            log.debug("TLCP: ignoring unknown request %r", verb)

    # -- sessions --------------------------------------------------------------------------------------
    def _refuse(self, conn: _Conn, code: int, message: str) -> None:
        conn.send(f"CONERR,{code},{encode_message(message)}")
        conn.close_after_flush = True

    def _create(self, conn: _Conn, p: dict[str, str]) -> None:
        self.stats["creates"] += 1
        old = self._sessions.get(p.get("LS_old_session", ""))
        if old is not None:
            self._close_session(old)
        user = p.get("LS_user")
        password = p.get("LS_password", "")
        ok = password not in self._expired and self.backend.authenticate(user, password)
        if not ok:
            self.stats["creates_refused"] += 1
            log.info("TLCP: refused a session for user %r (bad credentials)", user)
            self._refuse(conn, CONERR_AUTH, "User/password check failed")
            return
        ka = _int(p.get("LS_keepalive_millis"), self.keepalive_ms)
        sess = Session(f"S{next(self._ids):x}{int(time.time() * 1000) % 0xFFFFFF:x}", user, password, ka, self.history)
        self._sessions[sess.id] = sess
        self._attach(conn, sess)
        conn.send(f"CONOK,{sess.id},{self.request_limit},{ka},*")

    def _bind(self, conn: _Conn, p: dict[str, str]) -> None:
        """A bind on a new transport (WebSocket or HTTP): resume streaming where the session stands."""
        sid = p.get("LS_session") or conn.last_session  # WS-POLLING rebinds name no session: the socket's
        sess = self._sessions.get(sid)
        if sess is None or sess.closed or sess.password in self._expired:
            self.stats["binds_refused"] += 1
            self._refuse(conn, CONERR_NO_SESSION, "session not found")
            return
        self.stats["binds"] += 1
        sess.keepalive_ms = _int(p.get("LS_keepalive_millis"), sess.keepalive_ms)
        self._attach(conn, sess)
        conn.send(f"CONOK,{sess.id},{self.request_limit},{sess.keepalive_ms},*")
        rf = p.get("LS_recovery_from")
        if rf is not None:
            lines = sess.after(_int(rf, -1))
            if lines is None:
                self._close_session(sess)
                self._refuse(conn, CONERR_NO_SESSION, "cannot recover")
                return
            conn.send(f"PROG,{rf}")
            conn.outbox.extend(lines)
            conn.data_sent += len(lines)
        else:
            pending = [line for n, line in sess.history if n > sess.sent_prog]
            conn.outbox.extend(pending)
            conn.data_sent += len(pending)
        sess.sent_prog = sess.prog

    def _attach(self, conn: _Conn, sess: Session) -> None:
        old = sess.conn
        if old is not None and old is not conn:
            old.session = None
            old.abort()
        if sess.expiry is not None:
            sess.expiry.cancel()
            sess.expiry = None
        sess.conn = conn
        conn.session = sess
        conn.last_session = sess.id
        conn.data_sent = 0

    def _release(self, sess: Session) -> None:
        """Take ``sess`` off its transport (killing it) and start the detached-session expiry timer."""
        old = sess.conn
        if old is not None:
            old.session = None
            old.abort()
            sess.conn = None
        if sess.expiry is None and self._loop is not None:
            sess.expiry = self._loop.call_later(self.session_timeout_s, self._expire_session, sess)

    def _detach(self, conn: _Conn) -> None:
        sess = conn.session
        conn.session = None
        if sess is None or sess.conn is not conn:
            return
        sess.conn = None
        if not sess.closed and self._loop is not None:
            sess.expiry = self._loop.call_later(self.session_timeout_s, self._expire_session, sess)

    def _expire_session(self, sess: Session) -> None:
        if sess.conn is None and not sess.closed:
            log.debug("TLCP: session %s expired while detached", sess.id)
            self._close_session(sess)

    def _close_session(self, sess: Session) -> None:
        if sess.closed:
            return
        sess.closed = True
        before = self._items_now()
        self._sessions.pop(sess.id, None)
        if sess.expiry is not None:
            sess.expiry.cancel()
        self._notify_items(before, self._items_now())

    def _notify_items(self, before: set[str], after: set[str]) -> None:
        for name, items in (("item_started", after - before), ("item_stopped", before - after)):
            hook = getattr(self.backend, name, None)
            if hook is None:
                continue
            for item in sorted(items):
                try:
                    hook(item)
                except Exception:
                    log.exception("TLCP backend %s(%r) failed", name, item)

    # -- control requests (see _control.py) -------------------------------------------------------------
    def _control(
        self,
        conn: _Conn | None,
        sess: Session,
        p: dict[str, str],
        reply: Callable[[str], None] | None = None,
        *,
        force_ack: bool = False,
    ) -> None:
        _control.handle(self, conn, sess, p, reply, force_ack=force_ack)


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default


def install_lightstreamer(app: web.Application, backend: StreamBackend, **options: Any) -> LSServer:
    """Mount a TLCP server on ``app`` (routes under ``/lightstreamer``) and return it.

    ``options`` go to :class:`LSServer` (``keepalive_ms``, ``max_items``, ``history``,
    ``session_timeout_s``, ``request_limit``, ``log_limit``). Call before the application starts.
    """
    server = LSServer(backend, **options)
    app.router.add_get("/lightstreamer", server._ws_handler)
    _http.add_routes(app, server)
    app.on_startup.append(server._on_startup)
    app.on_cleanup.append(server._on_cleanup)
    return server
