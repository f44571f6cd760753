"""Fault hooks of the TLCP simulator, for tests: drop the transport in several ways, stall it, send a
malformed line, expire credentials, push bursts.
Exposed as methods of :class:`~igkit.sim.lightstreamer.server.LSServer`.

Every hook may be called from any thread: it runs on the server loop and returns once applied.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from igkit.errors import StreamError
from igkit.sim.lightstreamer.protocol import encode_message

if TYPE_CHECKING:
    from igkit.sim.lightstreamer.server import LSServer

__all__ = ["DROP_KINDS", "MALFORMED_KINDS", "burst", "drop", "expire_credentials", "overflow", "send_malformed"]

DROP_KINDS = ("abort", "close", "end", "stall")
#: ``unknown``: a line with no TLCP meaning (the client ignores it, the feed goes on);
#: ``update``: a ``U`` line the client cannot parse (it raises server error 61 and stays disconnected).
MALFORMED_KINDS = ("unknown", "update")


def drop(
    server: LSServer,
    how: str,
    *,
    code: int = 41,
    seconds: float | None = None,
    session_id: str | None = None,
) -> int:
    """Break the transport of every attached session (or of ``session_id``); returns how many.

    ``abort``: kill the socket without a close frame. ``close``: clean WebSocket close (the session
    stays recoverable). ``end``: send ``END,<code>`` then close; the session is gone (41 and 48 make the
    client open a new session; other codes are final). ``stall``: send nothing, not even ``PROBE``,
    for ``seconds`` (None: until the socket is replaced).
    """
    if how not in DROP_KINDS:
        raise StreamError(f"LSServer.drop: how must be one of {', '.join(DROP_KINDS)}, got {how!r}")

    def apply() -> int:
        hit = 0
        for sess in list(server._sessions.values()):
            conn = sess.conn
            if conn is None or conn.closed or (session_id is not None and sess.id != session_id):
                continue
            hit += 1
            if how == "abort":
                conn.abort()
            elif how == "close":
                conn.close_after_flush = True
                conn.wake.set()
            elif how == "end":
                server.stats["ends"] += 1
                conn.send(f"END,{code},{encode_message('session ended by the simulator')}")
                conn.close_after_flush = True
                server._close_session(sess)
            else:
                assert server._loop is not None
                conn.stall_until = math.inf if seconds is None else server._loop.time() + seconds
                conn.wake.set()
        return hit

    return server._call(apply)


def send_malformed(server: LSServer, kind: str = "unknown") -> int:
    """Send one malformed line to every attached session (see ``MALFORMED_KINDS``); returns how many."""
    if kind not in MALFORMED_KINDS:
        raise StreamError(f"LSServer.send_malformed: kind must be one of {', '.join(MALFORMED_KINDS)}")
    line = "XJUNK,this is not a TLCP line|%%" if kind == "unknown" else "U,not-a-number,1,x"

    def apply() -> int:
        hit = 0
        for sess in server._sessions.values():
            if sess.conn is not None and not sess.conn.closed:
                sess.conn.send(line)
                hit += 1
        server.stats["malformed"] += hit
        return hit

    return server._call(apply)


def expire_credentials(server: LSServer) -> int:
    """Expire the passwords of every current session: a create or bind using one gets ``CONERR``.

    Connected sessions keep streaming (as IG streams past token expiry); a later create with an old
    password gets the final ``CONERR,1`` and a bind/recovery of such a session gets ``CONERR,20``.
    Returns the number of passwords expired.
    """

    def apply() -> int:
        olds = {s.password for s in server._sessions.values()}
        server._expired |= olds
        return len(olds)

    return server._call(apply)


def overflow(server: LSServer, item: str, lost: int) -> int:
    """Tell every session subscribed to ``item`` that ``lost`` updates were dropped (``OV`` line, as a
    server does for a client too slow for its buffer); returns the number of tables told."""
    if lost <= 0:
        raise StreamError(f"LSServer.overflow({item!r}): lost must be positive, got {lost}")

    def apply() -> int:
        hit = 0
        for sess in server._sessions.values():
            for table, idx in sess.by_item.get(item, ()):
                server._emit(sess, f"OV,{table.sub_id},{idx + 1},{lost}")
                hit += 1
        return hit

    return server._call(apply)


def burst(server: LSServer, item: str, n: int, make: Callable[[int], Any] | None = None) -> None:
    """Publish ``n`` updates for ``item`` at once; values from ``make(i)`` or the backend's ``make_update``."""
    factory: Any = make or getattr(server.backend, "make_update", None)
    if factory is None:
        raise StreamError(f"LSServer.burst({item!r}): give make= or a backend with make_update(item, i)")
    if make is not None:
        values_of: Callable[[int], Any] = make
    else:
        backend_make = factory

        def values_of(i: int) -> Any:
            return backend_make(item, i)

    def apply() -> None:
        for i in range(n):
            server._publish(item, dict(values_of(i)))

    server._call(apply, timeout=60.0)
