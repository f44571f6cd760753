"""Deal outcomes for the IG broker: one record for a REST confirm or a streamed TRADE confirm, and the
box where streamed confirms wait for the order that sent them.

Hand-written because it is a few lines of our own glue: IG documents streaming TRADE confirms as the
recommended source and ``GET /confirms/{ref}`` as a fallback kept for about a minute; the broker waits
for the stream first and falls back to REST (see :class:`igkit.broker.ig.IGBroker`).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from igkit.ig._model_base import parse_utc
from igkit.ig.models import Confirm

__all__ = ["ConfirmBox", "Outcome", "outcome_from_confirm", "outcome_from_stream"]

_KEEP = 1000  # streamed confirms kept (by deal reference) for orders still waiting


@dataclass(frozen=True, slots=True)
class Outcome:
    """What IG says happened to one deal (from REST ``/confirms`` or the TRADE stream's CONFIRMS)."""

    deal_reference: str | None
    deal_id: str | None
    deal_status: str | None  # ACCEPTED, REJECTED, or None (not known yet)
    reason: str | None
    status: str | None  # OPEN, AMENDED, CLOSED, DELETED, PARTIALLY_CLOSED
    level: float | None
    size: float | None
    stop_level: float | None
    limit_level: float | None
    affected: tuple[tuple[str, str | None], ...]  # (dealId, OPENED | FULLY_CLOSED | PARTIALLY_CLOSED | ...)
    profit: float | None
    time_ns: int
    recovered: bool = False  # rebuilt by the client from IG's state after a lost answer (no level, no closes)
    source: str = "rest"  # rest | stream

    @property
    def known(self) -> bool:
        return self.deal_status is not None

    @property
    def accepted(self) -> bool:
        return self.deal_status == "ACCEPTED"


def _ns(value: Any) -> int:
    try:
        dt = value if isinstance(value, datetime) else parse_utc(value)
    except ValueError:
        dt = None
    return int(dt.timestamp() * 1e9) if dt is not None else time.time_ns()


def _num(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def outcome_from_confirm(c: Confirm) -> Outcome:
    """A REST :class:`~igkit.ig.models.Confirm` (possibly a rebuilt one) → :class:`Outcome`."""
    return Outcome(
        c.deal_reference, c.deal_id, c.deal_status, c.reason, c.status, c.level, c.size, c.stop_level,
        c.limit_level, tuple((a.deal_id, a.status) for a in c.affected_deals), c.profit, _ns(c.date),
        recovered=c.recovered, source="rest",
    )  # fmt: skip


def outcome_from_stream(event: Any) -> Outcome:
    """A streamed :class:`~igkit.ig.stream.TradeConfirm` → :class:`Outcome` (profit and date from its raw JSON)."""
    raw = getattr(event, "raw", None) or {}
    return Outcome(
        event.deal_reference, event.deal_id, event.deal_status, event.reason, event.status, event.level,
        event.size, event.stop_level, event.limit_level, tuple(event.affected_deals), _num(raw.get("profit")),
        _ns(raw.get("date")), source="stream",
    )  # fmt: skip


class ConfirmBox:
    """Streamed confirms by deal reference; an order's thread waits here for its own (thread-safe)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._items: OrderedDict[str, Outcome] = OrderedDict()

    def put(self, outcome: Outcome) -> None:
        if not outcome.deal_reference:
            return
        with self._cond:
            self._items[outcome.deal_reference] = outcome
            self._items.move_to_end(outcome.deal_reference)
            while len(self._items) > _KEEP:
                self._items.popitem(last=False)
            self._cond.notify_all()

    def wait(self, deal_reference: str, timeout: float) -> Outcome | None:
        """The streamed confirm of ``deal_reference`` (taken out of the box), or None after ``timeout`` s."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cond:
            while True:
                got = self._items.pop(deal_reference, None)
                if got is not None:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
