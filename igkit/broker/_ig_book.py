"""The IG broker's local book: IG's positions and working orders as igkit records, and the difference
between the local book and IG's (what reconciliation reports and turns into fills).

Hand-written because it is igkit's own bookkeeping over IG's answers. No locking, no REST and no events
here: :class:`igkit.broker.ig.IGBroker` holds the locks, makes the calls and emits the events.

Units: igkit's stop/limit/trailing *distances* are price units (like :class:`~igkit.types.Order`); IG's
are points. ``point`` is the price value of one IG point for an epic (``onePipMeans`` × scaling factor).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import datetime

from igkit.ig import models as igm
from igkit.ig._model_base import parse_utc
from igkit.types import Direction, Order, OrderType, Position, WorkingOrder

__all__ = ["EPS", "Book", "Diff", "classify_close", "order_for_working", "position_from_ig", "working_from_ig"]

EPS = 1e-9


def dt_ns(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1e9)


def _dist(points: float | None, point: float) -> float | None:
    return None if points is None else round(points * point, 10)


def position_from_ig(p: igm.Position, point: float) -> Position:
    """``GET /positions`` entry → :class:`~igkit.types.Position` (trailing distance in price units)."""
    d = p.position
    return Position(
        d.deal_id, p.epic, d.direction, float(d.size), float(d.level or 0.0),
        dt_ns(d.created_date_utc) or time.time_ns(), d.stop_level, d.limit_level,
        _dist(d.trailing_stop_distance, point), d.deal_reference or "",
    )  # fmt: skip


def working_from_ig(w: igm.WorkingOrder, point: float) -> WorkingOrder:
    """``GET /workingorders`` entry → :class:`~igkit.types.WorkingOrder` (distances in price units)."""
    d = w.working_order_data
    kind = OrderType.STOP if (d.order_type or "").upper() == "STOP" else OrderType.LIMIT
    gtd: int | None = None
    if d.good_till_date_iso or d.good_till_date:
        try:
            gtd = dt_ns(parse_utc(d.good_till_date_iso or d.good_till_date))
        except ValueError:
            gtd = None
    return WorkingOrder(
        d.deal_id, d.epic, d.direction, float(d.order_size), float(d.order_level), kind,
        dt_ns(d.created_date_utc) or time.time_ns(), _dist(d.stop_distance, point), _dist(d.limit_distance, point),
        gtd, d.deal_reference or "",
    )  # fmt: skip


def order_for_working(wo: WorkingOrder, reason: str = "adopted") -> Order:
    """An :class:`Order` record for a working order the broker did not create (results must carry one)."""
    order = Order(wo.epic, wo.direction, wo.size, wo.order_type, wo.level, wo.stop_distance, wo.limit_distance,
                  reason=reason, good_till_ns=wo.good_till_ns)
    return replace(order, deal_reference=wo.deal_reference) if wo.deal_reference else order


def classify_close(pos: Position, price: float | None, tol: float) -> str:
    """Why IG closed ``pos`` at ``price`` on its own: ``stop``, ``trailing_stop``, ``limit`` or ``close``."""
    long = pos.direction is Direction.BUY
    stop_name = "trailing_stop" if pos.trailing_distance is not None else "stop"
    if price is None:
        if pos.stop_level is not None and pos.limit_level is None:
            return stop_name
        if pos.limit_level is not None and pos.stop_level is None:
            return "limit"
        return "close"
    if pos.stop_level is not None and ((price <= pos.stop_level + tol) if long else (price >= pos.stop_level - tol)):
        return stop_name
    if pos.limit_level is not None and ((price >= pos.limit_level - tol) if long else (price <= pos.limit_level + tol)):
        return "limit"
    if pos.trailing_distance is not None:  # the stop trailed since the book last saw it
        return "trailing_stop"
    return "close"


@dataclass
class Diff:
    """Local book versus IG."""

    disappeared: list[Position] = field(default_factory=list)  # local positions IG no longer has
    appeared: list[Position] = field(default_factory=list)  # IG's positions the book did not know
    resized: list[tuple[Position, Position]] = field(default_factory=list)  # (local, IG): size changed
    amended: list[tuple[Position, Position]] = field(default_factory=list)  # (local, IG): stop/limit changed
    orders_gone: list[tuple[WorkingOrder, Order]] = field(default_factory=list)
    orders_new: list[WorkingOrder] = field(default_factory=list)
    orders_changed: list[WorkingOrder] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (
            self.disappeared
            or self.appeared
            or self.resized
            or self.amended
            or self.orders_gone
            or self.orders_new
            or self.orders_changed
        )


def _differs(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return (a is None) != (b is None)
    return abs(a - b) > 1e-9 * max(1.0, abs(a), abs(b))


@dataclass
class Book:
    """Positions (insertion order = opening order) and working orders (with the orders that made them)."""

    positions: dict[str, Position] = field(default_factory=dict)
    working: dict[str, tuple[WorkingOrder, Order]] = field(default_factory=dict)
    quotes: dict[str, tuple[int, float, float]] = field(default_factory=dict)

    def net(self, epic: str) -> float:
        return round(sum(p.signed_size for p in self.positions.values() if p.epic == epic), 10)

    def opposite(self, epic: str, direction: Direction) -> list[Position]:
        """Positions ``direction`` would net against, oldest first (IG's order)."""
        return sorted(
            (p for p in self.positions.values() if p.epic == epic and p.direction is not direction),
            key=lambda p: p.open_ns,
        )

    def diff(self, positions: list[Position], working: list[WorkingOrder]) -> Diff:
        d = Diff()
        remote = {p.deal_id: p for p in positions}
        for deal_id, mine in self.positions.items():
            theirs = remote.get(deal_id)
            if theirs is None:
                d.disappeared.append(mine)
            elif _differs(mine.size, theirs.size):
                d.resized.append((mine, theirs))
            elif _differs(mine.stop_level, theirs.stop_level) or _differs(mine.limit_level, theirs.limit_level):
                d.amended.append((mine, theirs))
        d.appeared = [p for p in positions if p.deal_id not in self.positions]
        remote_w = {w.deal_id: w for w in working}
        for deal_id, (wo, order) in self.working.items():
            theirs_w = remote_w.get(deal_id)
            if theirs_w is None:
                d.orders_gone.append((wo, order))
            elif _differs(wo.level, theirs_w.level) or _differs(wo.size, theirs_w.size):
                d.orders_changed.append(theirs_w)
        d.orders_new = [w for w in working if w.deal_id not in self.working]
        return d
