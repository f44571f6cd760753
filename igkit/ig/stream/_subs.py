"""Subscription handles of the streaming client: one :class:`StreamSubscription` per builder call,
holding one Lightstreamer ``Subscription`` per item so that one refused item never takes the others down.

The one rule (from the Lightstreamer client's threading): listener callbacks run on the library's
listener thread; they only parse, append and count, and never block. User callbacks given to the
builders run there too and must be just as quick.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from lightstreamer.client import Subscription, SubscriptionListener

from igkit.errors import StreamError

__all__ = ["StreamSubscription"]

log = logging.getLogger(__name__)

#: handler(item_name, item_update) called for every update; raises only on a bug or malformed data
UpdateHandler = Callable[[str, Any], None]
#: gap hook: called with the item name when updates of it were lost (subscribed again after the
#: session was lost, or the server reported dropped updates with ``OV``)
ItemGapHandler = Callable[[str], None]


class _ItemListener(SubscriptionListener):
    """Listener of one item's Lightstreamer subscription; state lives in the owning handle."""

    def __init__(self, owner: StreamSubscription, item: str) -> None:
        self.owner = owner
        self.item = item

    def onSubscription(self) -> None:
        self.owner._on_subscribed(self.item)

    def onSubscriptionError(self, code: int, message: str | None) -> None:
        self.owner._on_error(self.item, code, message)

    def onUnsubscription(self) -> None:
        self.owner._on_unsubscribed(self.item)

    def onItemUpdate(self, update: Any) -> None:
        owner = self.owner
        owner.stats["updates"] += 1
        try:
            owner._handler(self.item, update)
        except Exception as exc:  # malformed data or a user-callback bug: count, log once in a while, go on
            owner.stats["bad_updates"] += 1
            owner.last_problem = f"{self.item}: {exc}"
            if owner.stats["bad_updates"] <= 5:
                log.warning("stream %s: update for %s not handled: %s", owner.kind, self.item, exc)

    def onItemLostUpdates(self, itemName: str | None, itemPos: int, lostUpdates: int) -> None:
        self.owner._on_lost(self.item, int(lostUpdates))

    def onEndOfSnapshot(self, itemName: str | None, itemPos: int) -> None:
        self.owner.stats["end_of_snapshot"] += 1


class StreamSubscription:
    """What a ``subscribe_*`` call returns: the items, their state, counters and errors.

    Attributes:
        kind: ``ticks``, ``prices``, ``market``, ``candles``, ``account`` or ``trades``.
        items: the Lightstreamer item names.
        errors: item → :class:`StreamError` for items the server refused (``onSubscriptionError``);
            ``error_codes`` holds the server's REQERR code per item.
        stats: ``updates``, ``bad_updates``, ``lost`` (server-reported overflow), ``resubscribed``,
            ``unsubscribed``, ``end_of_snapshot``.
    """

    def __init__(
        self,
        kind: str,
        mode: str,
        items: list[str],
        fields: tuple[str, ...],
        handler: UpdateHandler,
        *,
        adapter: str | None = None,
        snapshot: bool = False,
        on_gap: ItemGapHandler | None = None,
    ) -> None:
        self.kind = kind
        self.mode = mode
        self.items = tuple(items)
        self.fields = fields
        self._handler = handler
        self._on_gap = on_gap
        self.errors: dict[str, StreamError] = {}
        self.error_codes: dict[str, int] = {}
        self.stats: dict[str, int] = dict.fromkeys(
            ("updates", "bad_updates", "lost", "subscribed", "resubscribed", "unsubscribed", "end_of_snapshot"), 0
        )
        self.last_problem = ""
        self._active: set[str] = set()
        self._ever: set[str] = set()
        self._lost_since: dict[str, int] = {}
        self._cond = threading.Condition()
        self.ls: list[Subscription] = []
        for item in self.items:
            sub = Subscription(mode, [item], list(fields))
            if adapter is not None:
                sub.setDataAdapter(adapter)
            sub.setRequestedSnapshot("yes" if snapshot else "no")
            sub.addListener(_ItemListener(self, item))
            self.ls.append(sub)

    def __repr__(self) -> str:
        return (
            f"<StreamSubscription {self.kind} items={len(self.items)} active={len(self._active)} "
            f"errors={len(self.errors)} updates={self.stats['updates']}>"
        )

    # -- listener side -----------------------------------------------------------------------------------
    def _on_subscribed(self, item: str) -> None:
        with self._cond:
            again = item in self._ever
            self._active.add(item)
            self._ever.add(item)
            self.stats["subscribed"] += 1
            if again:
                self.stats["resubscribed"] += 1
            self._cond.notify_all()
        if again and self._on_gap is not None:
            try:
                self._on_gap(item)
            except Exception:
                log.exception("stream %s: gap handler failed for %s", self.kind, item)

    def _on_lost(self, item: str, n: int) -> None:
        self.stats["lost"] += n
        log.warning("stream %s: the server dropped %d update(s) of %s", self.kind, n, item)
        if self._on_gap is not None:
            try:
                self._on_gap(item)
            except Exception:
                log.exception("stream %s: gap handler failed for %s", self.kind, item)

    def _on_unsubscribed(self, item: str) -> None:
        with self._cond:
            self._active.discard(item)
            self.stats["unsubscribed"] += 1
            self._lost_since[item] = time.time_ns()
            self._cond.notify_all()

    def _on_error(self, item: str, code: int, message: str | None) -> None:
        err = StreamError(f"stream {self.kind}: the server refused {item} (code {code}: {message or 'no message'})")
        with self._cond:
            self.errors[item] = err
            self.error_codes[item] = code
            self._cond.notify_all()
        log.warning("%s", err)

    # -- caller side -------------------------------------------------------------------------------------
    @property
    def active_items(self) -> set[str]:
        with self._cond:
            return set(self._active)

    @property
    def subscribed(self) -> bool:
        """True when every item is currently subscribed."""
        with self._cond:
            return len(self._active) == len(self.items)

    def wait_subscribed(self, timeout: float = 10.0) -> bool:
        """Wait until every item is either subscribed or refused; True if all are subscribed."""
        end = time.monotonic() + timeout
        with self._cond:
            while len(self._active | set(self.errors)) < len(self.items):
                left = end - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return len(self._active) == len(self.items)

    def raise_errors(self) -> None:
        """Raise the first refusal as a :class:`StreamError` (naming the item and the server's code)."""
        with self._cond:
            first = next(iter(self.errors.values()), None)
        if first is not None:
            raise first
