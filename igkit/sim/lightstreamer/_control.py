"""Control requests of the TLCP simulator (``add``, ``delete``, ``destroy``, anything else acknowledged).

``reply`` receives the request's own answer (``REQOK``/``REQERR``): over WebSocket it goes on the
session's stream; over HTTP (``control.txt``) it goes in the control response. Subscription
notifications (``SUBOK``, snapshot ``U`` lines, ``EOS``, ``UNSUB``) always go on the session's stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from igkit.sim.lightstreamer.backend import REQERR_BAD_ITEM, REQERR_BAD_SCHEMA, REQERR_LIMIT, ItemSource, Refusal
from igkit.sim.lightstreamer.protocol import encode_message
from igkit.sim.lightstreamer.session import Session, Table

if TYPE_CHECKING:
    from igkit.sim.lightstreamer.server import LSServer

__all__ = ["REQERR_NO_SUBSCRIPTION", "handle", "snapshot"]

REQERR_NO_SUBSCRIPTION = 19  # delete of an unknown subscription


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default


def handle(
    server: LSServer,
    conn: Any,
    sess: Session,
    p: dict[str, str],
    reply: Callable[[str], None] | None = None,
    *,
    force_ack: bool = False,
) -> None:
    """Apply one control request ``p`` to ``sess`` (``force_ack``: answer REQOK even with LS_ack=false)."""
    ack = force_ack or p.get("LS_ack", "true") != "false"
    if reply is None:

        def reply(line: str) -> None:
            server._emit(sess, line)

    op = p.get("LS_op", "")
    req = p.get("LS_reqId", "0")

    def reqerr(code: int, message: str) -> None:
        server.stats["reqerr"] += 1
        reply(f"REQERR,{req},{code},{encode_message(message)}")

    if op == "add":
        _add(server, sess, p, req, ack, reply, reqerr)
    elif op == "delete":
        before = server._items_now()
        table = sess.remove_table(_int(p.get("LS_subId"), -1))
        if table is None:
            reqerr(REQERR_NO_SUBSCRIPTION, f"subscription {p.get('LS_subId')} not found")
            return
        if ack:
            reply(f"REQOK,{req}")
        server._emit(sess, f"UNSUB,{table.sub_id}")
        server._notify_items(before, server._items_now())
    elif op == "destroy":
        if ack:
            reply(f"REQOK,{req}")
        server._close_session(sess)
        stream = sess.conn if sess.conn is not None else conn
        if stream is not None:
            stream.close_after_flush = True
            stream.wake.set()
    elif ack:
        reply(f"REQOK,{req}")


def _add(
    server: LSServer,
    sess: Session,
    p: dict[str, str],
    req: str,
    ack: bool,
    reply: Callable[[str], None],
    reqerr: Callable[[int, str], None],
) -> None:
    sub_id = _int(p.get("LS_subId"), -1)
    mode = p.get("LS_mode", "MERGE")
    items = p.get("LS_group", "").split()
    fields = p.get("LS_schema", "").split()
    adapter = p.get("LS_data_adapter")
    if not items:
        return reqerr(REQERR_BAD_ITEM, "empty item group")
    if not fields:
        return reqerr(REQERR_BAD_SCHEMA, "empty field schema")
    used = sess.item_count()
    if used + len(items) > server.max_items:
        return reqerr(
            REQERR_LIMIT,
            f"subscription limit reached: {used} items subscribed, {len(items)} more would exceed {server.max_items}",
        )
    sources: list[ItemSource] = []
    for item in items:
        got = server.backend.resolve(item, list(fields), mode, adapter)
        if isinstance(got, Refusal):
            return reqerr(got.code, got.message)
        sources.append(got)
    before = server._items_now()
    table = Table(sub_id, tuple(items), tuple(fields), mode, adapter, p.get("LS_snapshot") == "true")
    sess.add_table(table)
    server.stats["subscriptions"] += 1
    if ack:
        reply(f"REQOK,{req}")
    server._emit(sess, f"SUBOK,{sub_id},{len(items)},{len(fields)}")
    if table.snapshot:
        for idx, (item, src) in enumerate(zip(items, sources, strict=True)):
            snapshot(server, sess, table, idx, item, src)
    server._notify_items(before, server._items_now())
    return None


def snapshot(server: LSServer, sess: Session, table: Table, idx: int, item: str, src: ItemSource) -> None:
    """The snapshot of item ``idx`` of a new table: MERGE one full update; DISTINCT the backend's events, then EOS."""
    if table.mode == "DISTINCT":
        running: dict[str, str | None] = {}
        for event in src.snapshot or ():
            running.update(event)
            server._send_row(sess, table, idx, [running.get(f) for f in table.fields], snapshot=True)
        state = server._state.setdefault(item, {})
        for k, v in running.items():  # live updates after the snapshot carry its values forward
            state.setdefault(k, v)
        server._emit(sess, f"EOS,{table.sub_id},{idx + 1}")
        return
    if src.snapshot:
        server._state.setdefault(item, {}).update(src.snapshot[-1])
    current = server._state.get(item)
    if current:
        server._send_row(sess, table, idx, [current.get(f) for f in table.fields], snapshot=True)
