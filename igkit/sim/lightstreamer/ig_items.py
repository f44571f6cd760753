"""IG's streaming items on the simulator side: :class:`IGStreamBackend` accepts exactly what IG accepts.

Item names, modes, fields and the ``Pricing`` data adapter follow ``shared/reference/lightstreamer.md``
§5 (vocabulary shared with the client, :mod:`igkit.ig.stream`). Credentials are checked by a callable
the owner gives (the IG simulator compares the password with ``CST-<cst>|XST-<xst>`` of a live REST
session); snapshots come from an optional callable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence

from igkit.ig.stream import _items as it
from igkit.sim.lightstreamer.backend import (
    REQERR_BAD_ADAPTER,
    REQERR_BAD_ITEM,
    REQERR_BAD_MODE,
    REQERR_BAD_SCHEMA,
    ItemSource,
    Refusal,
    Values,
)

__all__ = ["IGStreamBackend", "ItemKind", "classify"]

_LADDER = re.compile(r"^(BID|ASK)(PRICE|SIZE)([1-9]|10)$")
_MARKET_EXTRA = ("STRIKE_PRICE", "ODDS")


class ItemKind:
    """A parsed IG item name: ``kind`` (TICK, CANDLE, PRICE, MARKET, ACCOUNT, TRADE) and its parts."""

    __slots__ = ("account", "epic", "kind", "scale")

    def __init__(self, kind: str, epic: str | None = None, account: str | None = None, scale: str | None = None):
        self.kind = kind
        self.epic = epic
        self.account = account
        self.scale = scale

    def __repr__(self) -> str:
        return f"ItemKind({self.kind}, epic={self.epic}, account={self.account}, scale={self.scale})"


def classify(item: str) -> ItemKind | None:
    """Parse an IG item name; None when it is not one of IG's item shapes."""
    parts = item.split(":")
    head = parts[0]
    if head == "CHART" and len(parts) == 3 and parts[1]:
        if parts[2] == "TICK":
            return ItemKind("TICK", epic=parts[1])
        if parts[2] in it.CANDLE_SCALES:
            return ItemKind("CANDLE", epic=parts[1], scale=parts[2])
        return None
    if head == "PRICE" and len(parts) == 3 and parts[1] and parts[2]:
        return ItemKind("PRICE", epic=parts[2], account=parts[1])
    if head == "MARKET" and len(parts) == 2 and parts[1]:
        return ItemKind("MARKET", epic=parts[1])
    if head in ("ACCOUNT", "TRADE") and len(parts) == 2 and parts[1]:
        return ItemKind(head, account=parts[1])
    return None


_MODES = {"TICK": "DISTINCT", "CANDLE": "MERGE", "PRICE": "MERGE", "MARKET": "MERGE", "ACCOUNT": "MERGE",
          "TRADE": "DISTINCT"}  # fmt: skip


def _field_ok(kind: str, name: str) -> bool:
    if kind == "TICK":
        return name in it.TICK_FIELDS
    if kind == "CANDLE":
        return name in it.CANDLE_FIELDS
    if kind == "PRICE":
        return name in it.PRICE_FIELDS or _LADDER.match(name) is not None
    if kind == "MARKET":
        return name in it.MARKET_FIELDS or name in _MARKET_EXTRA
    if kind == "ACCOUNT":
        return name in it.ACCOUNT_FIELDS
    return name in it.TRADE_FIELDS


class IGStreamBackend:
    """A :class:`~igkit.sim.lightstreamer.backend.StreamBackend` serving IG's item vocabulary.

    Args:
        epics: epics that exist (or a predicate).
        account_ids: accounts whose PRICE/ACCOUNT/TRADE items exist (or a predicate).
        check_password: ``(user, password) -> bool``; IG accepts a None user (the password authenticates).
        snapshot: ``item -> list of value dicts | None`` for snapshots (None: the server's last values).
        account_snapshot: ``account_id -> values | None``: the current ``ACCOUNT:<account>`` values for a
            subscription's snapshot (IG sends the account's state at once); settable after construction.
        make_update: optional ``(item, i) -> values`` used by ``LSServer.burst``.
        on_item_started, on_item_stopped: told when an item gains its first / loses its last subscriber.
    """

    def __init__(
        self,
        epics: Collection[str] | Callable[[str], bool],
        account_ids: Collection[str] | Callable[[str], bool],
        check_password: Callable[[str | None, str], bool],
        *,
        snapshot: Callable[[str], Sequence[Values] | None] | None = None,
        account_snapshot: Callable[[str], Values | None] | None = None,
        make_update: Callable[[str, int], Values] | None = None,
        on_item_started: Callable[[str], None] | None = None,
        on_item_stopped: Callable[[str], None] | None = None,
    ) -> None:
        self._epic_ok = epics if callable(epics) else frozenset(epics).__contains__
        self._account_ok = account_ids if callable(account_ids) else frozenset(account_ids).__contains__
        self._check = check_password
        self._snapshot = snapshot
        self.account_snapshot = account_snapshot
        if make_update is not None:
            self.make_update = make_update
        self.on_item_started = on_item_started
        self.on_item_stopped = on_item_stopped
        self.auth_attempts = 0

    def item_started(self, item: str) -> None:
        """Server hook: the first subscription to ``item`` arrived."""
        if self.on_item_started is not None:
            self.on_item_started(item)

    def item_stopped(self, item: str) -> None:
        """Server hook: the last subscription to ``item`` went away."""
        if self.on_item_stopped is not None:
            self.on_item_stopped(item)

    def authenticate(self, user: str | None, password: str) -> bool:
        self.auth_attempts += 1
        return bool(self._check(user, password))

    def resolve(self, item: str, fields: list[str], mode: str, adapter: str | None) -> ItemSource | Refusal:
        k = classify(item)
        if k is None:
            return Refusal(REQERR_BAD_ITEM, f"unknown item {item}")
        if k.epic is not None and not self._epic_ok(k.epic):
            return Refusal(REQERR_BAD_ITEM, f"unknown epic {k.epic} in item {item}")
        if k.account is not None and not self._account_ok(k.account):
            return Refusal(REQERR_BAD_ITEM, f"unknown account {k.account} in item {item}")
        if mode != _MODES[k.kind]:
            return Refusal(REQERR_BAD_MODE, f"item {item} is served in {_MODES[k.kind]} mode, not {mode}")
        if k.kind == "PRICE" and adapter != it.PRICE_ADAPTER:
            return Refusal(REQERR_BAD_ADAPTER, f"item {item} needs data adapter {it.PRICE_ADAPTER}, got {adapter}")
        if k.kind != "PRICE" and adapter not in (None, "DEFAULT"):
            return Refusal(REQERR_BAD_ADAPTER, f"item {item} is not served by data adapter {adapter}")
        bad = [f for f in fields if not _field_ok(k.kind, f)]
        if bad:
            return Refusal(REQERR_BAD_SCHEMA, f"unknown field(s) {' '.join(bad)} for item {item}")
        snap = self._snapshot(item) if self._snapshot is not None else None
        if snap is None and k.kind == "ACCOUNT" and k.account is not None and self.account_snapshot is not None:
            values = self.account_snapshot(k.account)
            snap = None if values is None else [values]
        return ItemSource(snapshot=snap)
