"""Per-session state of the TLCP simulator: tables (subscriptions), the notification counter and the
bounded history that makes session recovery possible. Pure data, no I/O, so it is easy to test.

The counter follows the client exactly: every data notification (``U``, ``SUBOK``, ``UNSUB``,
``EOS``, ``CS``, ``OV``, ``CONF``, ...) counts one; ``PROBE``, ``REQOK``, ``REQERR``, ``CONOK`` count
none. ``LS_recovery_from=n`` asks for every notification after the n-th.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any

from igkit.sim.lightstreamer.protocol import encode_update, is_data_line

__all__ = ["SentUpdate", "Session", "Table"]


@dataclass
class Table:
    """One client subscription inside a session (``LS_subId``)."""

    sub_id: int
    items: tuple[str, ...]
    fields: tuple[str, ...]
    mode: str
    adapter: str | None
    snapshot: bool
    prev: list[list[str | None] | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.prev:
            self.prev = [None] * len(self.items)


@dataclass(frozen=True)
class SentUpdate:
    """One ``U`` notification the server generated for a session (the delivery log's entry)."""

    session_id: str
    sub_id: int
    item: str
    values: dict[str, str | None]
    snapshot: bool
    prog: int


class Session:
    """A TLCP session: credentials, tables, notification counter, history and the attached transport."""

    def __init__(self, sid: str, user: str | None, password: str, keepalive_ms: int, history: int) -> None:
        self.id = sid
        self.user = user
        self.password = password
        self.keepalive_ms = keepalive_ms
        self.tables: dict[int, Table] = {}
        self.by_item: dict[str, list[tuple[Table, int]]] = {}
        self.prog = 0
        self.history: collections.deque[tuple[int, str]] = collections.deque(maxlen=history)
        self.sent_prog = 0  # last data notification handed to a transport
        self.conn: Any = None  # the attached transport (server-side connection object) or None
        self.closed = False
        self.expiry: Any = None  # timer handle while detached

    def __repr__(self) -> str:
        return f"<Session {self.id} tables={len(self.tables)} prog={self.prog} attached={self.conn is not None}>"

    # -- notifications ---------------------------------------------------------------------------------
    def record(self, line: str) -> int:
        """Count ``line`` if it is a data notification and keep it for recovery; returns its number (0 if none)."""
        if not is_data_line(line):
            return 0
        self.prog += 1
        self.history.append((self.prog, line))
        return self.prog

    def after(self, n: int) -> list[str] | None:
        """Data notifications numbered > n, or None if history no longer reaches back that far."""
        if n > self.prog or n < 0:
            return None
        if n == self.prog:
            return []
        if not self.history or self.history[0][0] > n + 1:
            return None
        return [line for p, line in self.history if p > n]

    # -- tables ----------------------------------------------------------------------------------------
    def item_count(self) -> int:
        """Items subscribed in this session (IG's limit counts these)."""
        return sum(len(t.items) for t in self.tables.values())

    def add_table(self, table: Table) -> None:
        self.tables[table.sub_id] = table
        for i, item in enumerate(table.items):
            self.by_item.setdefault(item, []).append((table, i))

    def remove_table(self, sub_id: int) -> Table | None:
        table = self.tables.pop(sub_id, None)
        if table is None:
            return None
        for item in table.items:
            rows = [(t, i) for t, i in self.by_item.get(item, []) if t is not table]
            if rows:
                self.by_item[item] = rows
            else:
                self.by_item.pop(item, None)
        return table

    def items(self) -> set[str]:
        return set(self.by_item)

    def update_line(self, table: Table, index: int, row: list[str | None], *, full: bool = False) -> str:
        """The ``U`` line for item ``index`` (0-based) of ``table``, encoded against its previous row."""
        prev = None if full else table.prev[index]
        table.prev[index] = row
        return f"U,{table.sub_id},{index + 1},{encode_update(prev, row)}"
