"""The paper broker's book: positions, pending market orders, working orders, cash, and how ticks move them.

Hand-written because it *is* the Demo broker's fill model (bid/ask sides, IG-style netting, attached
stops/limits/trailing stops, working orders) and must match the backtest's conventions exactly. No
locking and no events here: :class:`igkit.broker.paper.PaperBroker` holds the lock, validates orders and
emits the events this book collects in ``events``.

Rules (every price is the side the deal trades at: BUY at the ask, SELL at the bid):

* a fill nets against the epic's opposite positions first (oldest first), like IG with
  ``forceOpen=false``; the remainder opens a new position (a reversal is close + open, two fills);
* P&L of a close is ``(exit − entry) × sign × size × value_per_point``; cash (``balance``) moves by it.
  ``value_per_point`` is read from ``rules(epic)`` at the moment of valuation, in the account currency:
  the broker folds the FX rate of now into it (see :mod:`igkit.broker.paper`);
* margin is ``size × opening level × value_per_point × margin_factor / 100`` (the opening level, so it
  does not move with the market — IG's simulator does the same; only the FX rate in ``value_per_point``
  moves it);
* triggers fill at the tick's price on the closing side (a long on the bid, a short on the ask): a stop
  or stop order gapped through fills *worse* than its level, a limit *at or better* than it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from igkit.broker.rules import InstrumentRules
from igkit.types import Direction, Fill, Order, OrderResult, OrderStatus, OrderType, Position, WorkingOrder

__all__ = ["EPS", "Book", "OpenPosition", "Pending"]

EPS = 1e-9


@dataclass(slots=True)
class OpenPosition:
    """A position's mutable state inside the book (``snapshot()`` gives the public frozen record)."""

    deal_id: str
    epic: str
    direction: Direction
    size: float
    level: float
    open_ns: int
    stop_level: float | None = None
    limit_level: float | None = None
    trailing_distance: float | None = None
    deal_reference: str = ""

    def snapshot(self, size: float | None = None) -> Position:
        return Position(self.deal_id, self.epic, self.direction, self.size if size is None else size,
                        self.level, self.open_ns, self.stop_level, self.limit_level, self.trailing_distance,
                        self.deal_reference)


@dataclass(slots=True)
class Pending:
    """A market order waiting for its epic's next tick."""

    order: Order
    deal_id: str


@dataclass
class Book:
    """Positions, orders and cash of one paper account (not thread-safe: the broker locks around it)."""

    rules: Callable[[str], InstrumentRules]
    balance: float
    realized: float = 0.0
    positions: dict[str, OpenPosition] = field(default_factory=dict)  # insertion order = opening order
    pending: dict[str, list[Pending]] = field(default_factory=dict)  # epic -> FIFO
    working: dict[str, tuple[WorkingOrder, Order]] = field(default_factory=dict)
    quotes: dict[str, tuple[int, float, float]] = field(default_factory=dict)  # epic -> (ts_ns, bid, ask)
    events: list[tuple[str, object]] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    id_prefix: str = "PAPER"

    def new_deal_id(self) -> str:
        return f"{self.id_prefix}{next(self._ids):07d}"

    # -- valuation -----------------------------------------------------------------------------------------
    def upl(self) -> float:
        total = 0.0
        for p in self.positions.values():
            q = self.quotes.get(p.epic)
            if q is not None:
                total += _pnl(p.direction, p.level, q[1] if p.direction is Direction.BUY else q[2], p.size,
                              self.rules(p.epic).value_per_point)
        return total

    def margin(self) -> float:
        return sum(self.rules(p.epic).margin(p.size, p.level) for p in self.positions.values())

    def available(self) -> float:
        return self.balance + self.upl() - self.margin()

    def net(self, epic: str) -> float:
        return sum(p.size * p.direction.sign for p in self.positions.values() if p.epic == epic)

    # -- execution -----------------------------------------------------------------------------------------
    def execute(self, order: Order, deal_id: str, price: float, ts_ns: int, reason: str) -> tuple[list[Fill], str]:
        """Deal ``order`` at ``price``: net against opposite positions, open the rest. Returns (fills, reason);
        reason is ``"SUCCESS"`` or IG's rejection (then nothing changed)."""
        r = self.rules(order.epic)
        closes: list[tuple[OpenPosition, float]] = []
        left = order.size
        if order.close_deal_id is not None:
            pos = self.positions.get(order.close_deal_id)
            if pos is None:
                return [], "POSITION_NOT_FOUND"
            if pos.direction is order.direction or pos.epic != order.epic:
                return [], "POSITION_NOT_AVAILABLE_TO_CLOSE"
            closes.append((pos, min(left, pos.size)))
            left = 0.0  # a close never opens anything
        else:
            for pos in self.positions.values():
                if left <= EPS:
                    break
                if pos.epic == order.epic and pos.direction is not order.direction:
                    q = min(left, pos.size)
                    closes.append((pos, q))
                    left -= q
        left = round(left, 10)
        if left > EPS:
            freed = sum(r.margin(q, p.level) + _pnl(p.direction, p.level, price, q, r.value_per_point)
                        for p, q in closes)
            if r.margin(left, price) > self.available() + freed + EPS:
                return [], "INSUFFICIENT_FUNDS"
        fills = [self.close(p, q, price, ts_ns, reason, order.deal_reference) for p, q in closes]
        if left > EPS:
            fills.append(self._open(order, deal_id, left, price, ts_ns, reason))
        return fills, "SUCCESS"

    def close(self, pos: OpenPosition, size: float, price: float, ts_ns: int, reason: str,
              deal_reference: str | None = None) -> Fill:
        """Close ``size`` of ``pos`` at ``price``; books the P&L and records the events."""
        pnl = _pnl(pos.direction, pos.level, price, size, self.rules(pos.epic).value_per_point)
        self.balance += pnl
        self.realized += pnl
        pos.size = round(pos.size - size, 10)
        fill = Fill(deal_reference or pos.deal_reference, pos.deal_id, pos.epic, pos.direction.opposite(), size,
                    price, ts_ns, reason, pnl, opening=False)
        self.events.append(("fill", fill))
        if pos.size <= EPS:
            del self.positions[pos.deal_id]
            self.events.append(("position", pos.snapshot(size=0.0)))  # size 0 marks a closed position
        else:
            self.events.append(("position", pos.snapshot()))
        return fill

    def _open(self, order: Order, deal_id: str, size: float, price: float, ts_ns: int, reason: str) -> Fill:
        sign = order.direction.sign
        stop = None if order.stop_distance is None else price - sign * order.stop_distance
        limit = None if order.limit_distance is None else price + sign * order.limit_distance
        trail = order.stop_distance if order.trailing_stop else None
        if deal_id in self.positions:  # never reuse an id (a working order's id reused after a partial close)
            deal_id = self.new_deal_id()
        pos = OpenPosition(deal_id, order.epic, order.direction, size, price, ts_ns, stop, limit, trail,
                           order.deal_reference)
        self.positions[deal_id] = pos
        fill = Fill(order.deal_reference, deal_id, order.epic, order.direction, size, price, ts_ns, reason)
        self.events.append(("fill", fill))
        self.events.append(("position", pos.snapshot()))
        return fill

    # -- ticks ---------------------------------------------------------------------------------------------
    def tick(self, epic: str, ts_ns: int, bid: float, ask: float) -> list[Fill]:
        """Pending market orders fill first (they were sent before this tick), then stops/limits of the
        positions held before this tick, then working orders."""
        held = [p for p in self.positions.values() if p.epic == epic]
        self.quotes[epic] = (ts_ns, bid, ask)
        fills: list[Fill] = []
        for p in self.pending.pop(epic, ()):
            px = ask if p.order.direction is Direction.BUY else bid
            o = p.order
            why_fill = "market" if o.close_deal_id is None else (o.reason if o.reason in ("flatten", "kill")
                                                                 else "close")
            got, why = self.execute(o, p.deal_id, px, ts_ns, why_fill)
            fills += got
            self.events.append(("order", _result(p.order, got, why, p.deal_id, px)))
        for pos in held:
            if pos.deal_id in self.positions:
                f = self._trigger(pos, ts_ns, bid, ask)
                if f is not None:
                    fills.append(f)
        for wid, (wo, order) in [(k, v) for k, v in self.working.items() if v[0].epic == epic]:
            if wo.good_till_ns is not None and ts_ns >= wo.good_till_ns:
                del self.working[wid]
                self.events.append(("order", OrderResult(order, OrderStatus.CANCELLED, "EXPIRED", wid, wo.level)))
                continue
            px = ask if wo.direction is Direction.BUY else bid
            buy = wo.direction is Direction.BUY
            if wo.order_type is OrderType.LIMIT:
                hit = px <= wo.level if buy else px >= wo.level
            else:
                hit = px >= wo.level if buy else px <= wo.level
            if hit:
                del self.working[wid]
                got, why = self.execute(order, wid, px, ts_ns, "working_order")
                fills += got
                self.events.append(("order", _result(order, got, why, wid, px)))
        return fills

    def _trigger(self, pos: OpenPosition, ts_ns: int, bid: float, ask: float) -> Fill | None:
        long = pos.direction is Direction.BUY
        px = bid if long else ask
        stop, limit = pos.stop_level, pos.limit_level
        if stop is not None and (px <= stop if long else px >= stop):
            why = "trailing_stop" if pos.trailing_distance is not None else "stop"
            return self.close(pos, pos.size, px, ts_ns, why)
        if limit is not None and (px >= limit if long else px <= limit):
            return self.close(pos, pos.size, px, ts_ns, "limit")
        if pos.trailing_distance is not None:
            new = px - pos.trailing_distance if long else px + pos.trailing_distance
            if stop is None or (new > stop + EPS if long else new < stop - EPS):
                pos.stop_level = new
                self.events.append(("position", pos.snapshot()))
        return None


def _pnl(direction: Direction, entry: float, exit_price: float, size: float, vpp: float) -> float:
    return (exit_price - entry) * direction.sign * size * vpp


def _result(order: Order, fills: list[Fill], why: str, deal_id: str, px: float) -> OrderResult:
    if why != "SUCCESS":
        return OrderResult(order, OrderStatus.REJECTED, why, deal_id)
    return OrderResult(order, OrderStatus.FILLED, "SUCCESS", deal_id, px, tuple(fills))
