"""HTTP side of the TLCP simulator: ``create_session.txt``, ``bind_session.txt`` (session recovery,
streaming and polling binds), ``control.txt`` and ``heartbeat.txt``.

The real client uses HTTP to recover a session after a broken WebSocket (``LS_recovery_from``: the
server answers ``CONOK``, ``PROG``, the notifications after that number, ``LOOP,0``), and as its
fallback transport (HTTP-STREAMING: a polling create, then streaming binds that end with ``LOOP`` after
``LS_content_length`` bytes; control requests answered ``REQOK``/``REQERR`` on ``control.txt``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

from igkit.sim.lightstreamer._conn import Conn
from igkit.sim.lightstreamer.protocol import encode_message, parse_params

if TYPE_CHECKING:
    from igkit.sim.lightstreamer.server import LSServer

__all__ = ["add_routes"]

CONERR_NO_SESSION = 20


def _txt(body: str) -> web.Response:
    return web.Response(text=body + "\r\n", content_type="text/enriched", headers={"Cache-Control": "no-store"})


async def _params(request: web.Request) -> dict[str, str]:
    p = dict(request.query)
    p.update(parse_params((await request.text()).strip()))
    return p


def _true(p: dict[str, str], key: str) -> bool:
    return p.get(key, "").lower() == "true"


def add_routes(app: web.Application, server: LSServer) -> None:
    """Register the HTTP endpoints of ``server`` under ``/lightstreamer``."""

    async def create(request: web.Request) -> web.StreamResponse:
        p = await _params(request)
        return await _serve(server, request, p, create=True)

    async def bind(request: web.Request) -> web.StreamResponse:
        p = await _params(request)
        if "LS_recovery_from" in p:
            return _recover(server, p)
        return await _serve(server, request, p, create=False)

    async def control(request: web.Request) -> web.Response:
        sess = server._sessions.get(request.query.get("LS_session", ""))
        text = await request.text()
        requests = [parse_params(ln) for ln in text.split("\r\n") if ln.strip()]
        if sess is None or sess.closed:
            return _txt("\r\n".join(f"REQERR,{r.get('LS_reqId', '0')},20,session%20not%20found" for r in requests))
        out: list[str] = []
        for r in requests:
            server._control(sess.conn, sess, r, out.append, force_ack=True)
        return _txt("\r\n".join(out) if out else "REQOK")

    async def heartbeat(request: web.Request) -> web.Response:
        return _txt("REQOK")

    app.router.add_post("/lightstreamer/create_session.txt", create)
    app.router.add_post("/lightstreamer/bind_session.txt", bind)
    app.router.add_post("/lightstreamer/control.txt", control)
    app.router.add_post("/lightstreamer/heartbeat.txt", heartbeat)


def _recover(server: LSServer, p: dict[str, str]) -> web.Response:
    sess = server._sessions.get(p.get("LS_session", ""))
    rf = p.get("LS_recovery_from", "")
    try:
        n = int(rf)
    except ValueError:
        n = -1
    lines = None if sess is None else sess.after(n)
    if sess is None or sess.closed or lines is None or not server.allow_recovery or sess.password in server._expired:
        server.stats["recoveries_refused"] += 1
        if sess is not None:
            server._close_session(sess)
        return _txt(f"CONERR,{CONERR_NO_SESSION},{encode_message('session cannot be recovered')}")
    server.stats["recoveries"] += 1
    server._release(sess)
    sess.sent_prog = sess.prog
    body = [f"CONOK,{sess.id},{server.request_limit},{sess.keepalive_ms},*", f"PROG,{n}", *lines, "LOOP,0"]
    return _txt("\r\n".join(body))


async def _serve(server: LSServer, request: web.Request, p: dict[str, str], *, create: bool) -> web.StreamResponse:
    """A create or bind over HTTP: polling (answer and LOOP) or streaming (until LS_content_length)."""
    loop = server._loop
    assert loop is not None
    polling = _true(p, "LS_polling")
    resp = web.StreamResponse(headers={"Content-Type": "text/enriched; charset=UTF-8", "Cache-Control": "no-store"})
    await resp.prepare(request)
    limit = 0 if polling else max(int(p.get("LS_content_length") or 0), 0) or 50_000_000
    conn = Conn(request, loop.time(), resp=resp, content_length=limit)
    server._conns.add(conn)
    try:
        if create:
            server._create(conn, p)
        else:
            server._bind(conn, p)
        writer = asyncio.ensure_future(server._writer(conn))
        if polling and not conn.close_after_flush:
            await server._end_poll(conn, p)  # CONOK and data go out meanwhile; then LOOP ends the poll
            conn.close_after_flush = True
            conn.wake.set()
        await writer
    finally:
        conn.closed = True
        server._detach(conn)
        server._conns.discard(conn)
    return resp
