"""The paper broker (Demo mode): deals in memory against the ticks it is fed, with IG's rules and reasons.

Hand-written because it is igkit's own fill model, built for exact parity with the backtest: a market
order is *accepted* by :meth:`PaperBroker.submit` and *filled* by the epic's next :meth:`~PaperBroker.on_tick`
at that tick's ask (BUY) or bid (SELL) — the backtest trades a decision at the next bar's open the same way.
The book itself (netting, stops, limits, trailing stops, working orders, cash) lives in
:mod:`igkit.broker._paper_book`; this module validates, locks and emits events.

Accounting (documented once, here):

* P&L = Δprice × size × ``value_per_point``, in the **account currency** (``currency``). By default an
  epic of the catalog is valued like IG values it: ``contract_size`` units of the instrument's
  ``currency`` per 1.0 of price (10,000 JPY per lot of USDJPY Mini, £1 per FTSE point), converted to the
  account currency at the current rate — the mid of the latest quote this broker has seen (``on_tick``)
  for the conversion pair (GBPJPY for JPY → GBP; two legs through USD/EUR/GBP when the catalog has no
  direct pair), else the catalog's reference price level for that pair (a fixed typical level: subscribe
  the pair for a live rate). :meth:`PaperBroker.fx_rate` reports the rate in use. A realised P&L converts
  at the rate of the closing tick; unrealised P&L and margin at the rate of now. An epic outside the
  catalog is worth 1.0 per point in the account currency. An explicit ``value_per_point`` (per epic) or
  ``instruments_rules`` is taken as account currency per point, with no conversion — e.g.
  ``value_per_point={epic: 1.0}`` makes a paper run's P&L equal the backtest's (price units × size).
* margin = size × opening level × ``value_per_point`` × ``margin_factor`` / 100 (``margin_factor`` in
  percent, as IG quotes it; from the catalog unless given); equity = balance + unrealised P&L marked at
  bid (longs) / ask (shorts); available = equity − margin. An opening order whose margin exceeds
  ``available`` is rejected with ``INSUFFICIENT_FUNDS`` (checked at submit when a quote is known and again
  at the fill).
* rejections use IG's reasons: ``MINIMUM_ORDER_SIZE_ERROR``, ``SIZE_INCREMENT``, ``INSUFFICIENT_FUNDS``,
  ``ATTACHED_ORDER_LEVEL_ERROR``, ``ATTACHED_ORDER_TRAILING_STOP_ERROR``, ``WRONG_SIDE_OF_MARKET``,
  ``GOOD_TILL_DATE_IN_THE_PAST``, ``POSITION_NOT_FOUND``, ``POSITION_NOT_AVAILABLE_TO_CLOSE``,
  ``ORDER_NOT_FOUND``, ``DUPLICATE_ORDER_ERROR``, and ``MARKET_CLOSED`` only with ``respect_hours=True``
  (the Demo's synthetic market trades at weekends; :meth:`PaperBroker.market_open` says which applies, and
  the risk manager's ``MARKET_CLOSED`` rule asks it, so a Demo run is never refused at weekends).
* attached stops/limits are distances in price units from the fill; a trailing stop follows the best
  closing price at its distance continuously (no IG step increment). A stop and a limit touched by the
  same tick: the stop wins.

Events (to listeners, after the lock is released, in order): ``("fill", Fill)``, ``("position",
Position)`` — a position with ``size == 0.0`` marks a closed one —, ``("order", OrderResult)`` when a
pending or working order fills, is rejected at the fill, is cancelled or expires, and ``("account",
AccountState)`` after every change of the book.

Thread safety: one re-entrant lock around the book. ``flatten`` and ``cancel_all`` may be called from any
thread while the engine thread calls ``on_tick``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from igkit.broker._paper_book import EPS, Book, Pending
from igkit.broker._paper_fx import fx_rate as _fx_rate
from igkit.broker.base import BrokerListener
from igkit.broker.rules import InstrumentRules, rules_for
from igkit.errors import DataError
from igkit.market import CATALOG, is_open
from igkit.types import (
    AccountState,
    Direction,
    Fill,
    Order,
    OrderResult,
    OrderStatus,
    OrderType,
    Position,
    WorkingOrder,
)

__all__ = ["PaperBroker"]

log = logging.getLogger(__name__)


class PaperBroker:
    """An in-memory broker with IG's netting, dealing rules and rejection reasons.

    Args:
        balance: starting cash in ``currency``.
        currency: the account currency, a 3-letter code (P&L, margin and cash are in it).
        value_per_point: epic → account currency per unit of size per 1.0 of price, no conversion (default:
            the catalog's contract size in the instrument's currency, converted; see the module docstring).
        margin_factor: percent, one number for every epic or epic → percent (default: the catalog's).
        instruments_rules: epic → complete :class:`InstrumentRules` (wins over the two above).
        clock: ``() -> int`` ns for "now" (submission times, immediate flattens); default: the latest tick
            time seen (so replays are deterministic), or the wall clock before any tick.
        respect_hours: reject orders with ``MARKET_CLOSED`` outside the catalog's opening hours.
    """

    name = "paper"

    def __init__(
        self,
        *,
        balance: float = 10_000.0,
        currency: str = "GBP",
        value_per_point: Mapping[str, float] | None = None,
        margin_factor: float | Mapping[str, float] | None = None,
        instruments_rules: Mapping[str, InstrumentRules] | None = None,
        clock: Callable[[], int] | None = None,
        respect_hours: bool = False,
    ) -> None:
        if not (balance >= 0):
            raise ValueError(f"PaperBroker: balance must be >= 0, got {balance!r}")
        if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha() and currency.isupper()):
            raise ValueError(f"PaperBroker: currency must be a 3-letter upper-case code like 'GBP', got {currency!r}")
        self.currency = currency
        self.respect_hours = respect_hours
        self._vpp = dict(value_per_point or {})
        self._mf = margin_factor
        self._overrides = dict(instruments_rules or {})
        self._rules: dict[str, InstrumentRules] = {}
        self._conv: dict[str, tuple[float, str]] = {}  # epic -> (contract size, its currency) when converted
        self._clock = clock
        self._lock = threading.RLock()
        self._book = Book(rules=self.rules, balance=float(balance))
        self._refs: set[str] = set()
        self._listeners: list[BrokerListener] = []
        self._last_ts = 0

    @classmethod
    def from_config(cls, config: Any, **kwargs: Any) -> PaperBroker:
        """The Demo broker for a ``Config``: its instruments' rules are warmed up; ``kwargs`` (balance,
        value_per_point, ...) go to the constructor."""
        broker = cls(**kwargs)
        for epic in getattr(config, "instruments", ()):
            broker.rules(epic)
        return broker

    # -- set-up ------------------------------------------------------------------------------------------
    def rules(self, epic: str) -> InstrumentRules:
        """The dealing rules this broker applies to ``epic`` (catalog + the constructor's overrides), with
        ``value_per_point`` in the account currency at the current FX rate.

        Raises :class:`ValueError` naming the epic when its currency cannot be converted to the account's."""
        r = self._rules.get(epic)
        if r is None:
            r = self._build_rules(epic)
            self._rules[epic] = r
        conv = self._conv.get(epic)
        if conv is None:
            return r
        vpp = conv[0] * self.fx_rate(conv[1])
        if vpp != r.value_per_point:  # the rate moved: a new record (rules are immutable)
            r = replace(r, value_per_point=vpp)
            self._rules[epic] = r
        return r

    def _build_rules(self, epic: str) -> InstrumentRules:
        r = rules_for(epic, self._overrides)
        if epic in self._overrides:
            return r
        changes: dict[str, float] = {}
        if epic in self._vpp:
            changes["value_per_point"] = float(self._vpp[epic])
        else:
            s = CATALOG.get(epic)
            if s is not None:
                try:
                    rate = self.fx_rate(s.currency)
                except ValueError as e:
                    raise ValueError(f"PaperBroker: cannot value {epic} (in {s.currency}) in the account currency "
                                     f"{self.currency}: {e}; pass value_per_point={{{epic!r}: ...}}") from None
                self._conv[epic] = (float(s.contract_size), s.currency)
                changes["value_per_point"] = float(s.contract_size) * rate
        if isinstance(self._mf, int | float):
            changes["margin_factor"] = float(self._mf)
        elif self._mf is not None and epic in self._mf:
            changes["margin_factor"] = float(self._mf[epic])
        return replace(r, **changes) if changes else r  # type: ignore[arg-type]

    def value_per_point(self, epic: str) -> float:
        """Account currency per unit of size per 1.0 of ``epic``'s price, at the current FX rate."""
        return self.rules(epic).value_per_point

    def fx_rate(self, currency: str) -> float:
        """Account currency per one unit of ``currency``, as this broker converts now: the mid of the latest
        quote seen for the conversion pair(s), else the catalog's reference level (1.0 for the account's own
        currency). Raises :class:`ValueError` when the catalog cannot convert ``currency``."""
        return _fx_rate(currency, self.currency, self._book.quotes)

    def market_open(self, epic: str, now_ns: int | None = None) -> bool:
        """Whether this broker deals in ``epic`` at ``now_ns`` (default: its clock): always, unless
        ``respect_hours`` (then the catalog's hours for a catalog epic). The risk manager's
        ``MARKET_CLOSED`` rule asks this, so it never refuses what the Demo broker would deal."""
        if not self.respect_hours or not self.rules(epic).known:
            return True
        return is_open(epic, self._now() if now_ns is None else int(now_ns))

    def start(self) -> None:
        """Nothing to connect: the paper broker is its own source of truth (idempotent)."""

    def stop(self) -> None:
        """Nothing to release; positions stay as they are."""

    def add_listener(self, listener: BrokerListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: BrokerListener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    # -- market data ---------------------------------------------------------------------------------------
    def on_tick(self, epic: str, ts_ns: int, bid: float, ask: float) -> list[Fill]:
        """Fill pending market orders, trigger stops/limits/trailing stops and working orders of ``epic``.

        Raises :class:`~igkit.errors.DataError` for a non-positive or NaN price (nothing changes)."""
        if not (bid > 0 and ask > 0):
            raise DataError(f"paper broker: bad quote for {epic} at {ts_ns} ns: bid={bid!r} ask={ask!r}")
        with self._lock:
            if ts_ns > self._last_ts:
                self._last_ts = ts_ns
            fills = self._book.tick(epic, ts_ns, bid, ask)
            events = self._take_events()
        self._emit(events)
        return fills

    def quote(self, epic: str) -> tuple[int, float, float] | None:
        """The last ``(ts_ns, bid, ask)`` seen for ``epic``, or None."""
        with self._lock:
            return self._book.quotes.get(epic)

    # -- orders --------------------------------------------------------------------------------------------
    def submit(self, order: Order) -> OrderResult:
        """Accept a market order for the epic's next tick, or rest a LIMIT/STOP working order."""
        with self._lock:
            result = self._submit(order)
            events = self._take_events()
        if result.status is OrderStatus.REJECTED:
            log.info("paper: %s %s %g %s rejected: %s", order.direction, order.epic, order.size,
                     order.order_type, result.reason)
        self._emit(events)
        return result

    def _submit(self, order: Order) -> OrderResult:
        if order.deal_reference in self._refs:
            return _reject(order, "DUPLICATE_ORDER_ERROR")
        self._refs.add(order.deal_reference)
        r = self.rules(order.epic)
        now = self._now()
        if not self.market_open(order.epic, now):
            return _reject(order, "MARKET_CLOSED")
        target = None
        if order.close_deal_id is not None:
            target = self._book.positions.get(order.close_deal_id)
            if target is None:
                return _reject(order, "POSITION_NOT_FOUND")
            if target.direction is order.direction or target.epic != order.epic or order.size > target.size + EPS:
                return _reject(order, "POSITION_NOT_AVAILABLE_TO_CLOSE")
        whole_close = target is not None and abs(order.size - target.size) <= EPS
        why = r.size_reason(order.size, check_min=not whole_close)
        if why:
            return _reject(order, why)
        if order.trailing_stop and order.stop_distance is None:
            return _reject(order, "ATTACHED_ORDER_TRAILING_STOP_ERROR")
        for d in (order.stop_distance, order.limit_distance):
            if d is not None and not (d > 0 and d >= r.min_stop_distance - EPS):
                return _reject(order, "ATTACHED_ORDER_LEVEL_ERROR")
        quote = self._book.quotes.get(order.epic)
        if order.order_type is not OrderType.MARKET:
            return self._rest(order, quote, now)
        if quote is not None and target is None:
            price = quote[2] if order.direction is Direction.BUY else quote[1]
            opening = max(0.0, order.size - max(0.0, -order.direction.sign * self._book.net(order.epic)))
            if opening > EPS and r.margin(opening, price) > self._book.available() + EPS:
                return _reject(order, "INSUFFICIENT_FUNDS")
        deal_id = target.deal_id if target is not None else self._book.new_deal_id()
        self._book.pending.setdefault(order.epic, []).append(Pending(order, deal_id))
        return OrderResult(order, OrderStatus.ACCEPTED, "SUCCESS", deal_id)

    def _rest(self, order: Order, quote: tuple[int, float, float] | None, now: int) -> OrderResult:
        if order.level is None or not (order.level > 0):
            return _reject(order, "GENERAL_ERROR")
        if order.good_till_ns is not None and order.good_till_ns <= now:
            return _reject(order, "GOOD_TILL_DATE_IN_THE_PAST")
        if quote is not None:
            buy = order.direction is Direction.BUY
            px = quote[2] if buy else quote[1]
            crossed = (px <= order.level) if (order.order_type is OrderType.LIMIT) == buy else (px >= order.level)
            if crossed:  # it would fill at once: IG refuses such a working order
                return _reject(order, "WRONG_SIDE_OF_MARKET")
        deal_id = self._book.new_deal_id()
        wo = WorkingOrder(deal_id, order.epic, order.direction, order.size, order.level, order.order_type, now,
                          order.stop_distance, order.limit_distance, order.good_till_ns, order.deal_reference)
        self._book.working[deal_id] = (wo, order)
        return OrderResult(order, OrderStatus.WORKING, "SUCCESS", deal_id, order.level)

    def close_position(self, deal_id: str, size: float | None = None, *, reason: str = "manual") -> OrderResult:
        """Close (part of) a position at the epic's next tick."""
        with self._lock:
            pos = self._book.positions.get(deal_id)
            if pos is None:
                return _reject(_placeholder(deal_id, reason), "POSITION_NOT_FOUND")
            order = Order(pos.epic, pos.direction.opposite(), pos.size if size is None else size,
                          close_deal_id=deal_id, reason=reason)
            result = self._submit(order)
            events = self._take_events()
        self._emit(events)
        return result

    def amend_position(
        self, deal_id: str, *, stop_level: float | None = None, limit_level: float | None = None
    ) -> OrderResult:
        """Set a position's stop and/or limit level (None leaves a level as it is).

        A stop must be beyond the closing price by at least the instrument's minimum distance (below the
        bid for a long, above the ask for a short), a limit on the other side; otherwise the amendment is
        REJECTED with ``ATTACHED_ORDER_LEVEL_ERROR`` and nothing changes.
        """
        with self._lock:
            pos = self._book.positions.get(deal_id)
            if pos is None:
                return _reject(_placeholder(deal_id, "amend"), "POSITION_NOT_FOUND")
            order = Order(pos.epic, pos.direction, pos.size, reason="amend")
            q = self._book.quotes.get(pos.epic)
            long = pos.direction is Direction.BUY
            px = pos.level if q is None else (q[1] if long else q[2])
            gap = self.rules(pos.epic).min_stop_distance - EPS
            sign = pos.direction.sign
            if stop_level is not None and (px - stop_level) * sign < max(gap, EPS):
                return _reject(order, "ATTACHED_ORDER_LEVEL_ERROR")
            if limit_level is not None and (limit_level - px) * sign < max(gap, EPS):
                return _reject(order, "ATTACHED_ORDER_LEVEL_ERROR")
            if stop_level is not None:
                pos.stop_level = stop_level
            if limit_level is not None:
                pos.limit_level = limit_level
            self._book.events.append(("position", pos.snapshot()))
            events = self._take_events()
        self._emit(events)
        return OrderResult(order, OrderStatus.ACCEPTED, "SUCCESS", deal_id)

    def cancel_order(self, deal_id: str) -> OrderResult:
        """Delete a working order (or a market order still waiting for its tick)."""
        with self._lock:
            result = self._cancel(deal_id, "manual")
            events = self._take_events()
        self._emit(events)
        return result

    def _cancel(self, deal_id: str, why: str) -> OrderResult:
        found = self._book.working.pop(deal_id, None)
        if found is not None:
            wo, order = found
            return OrderResult(order, OrderStatus.CANCELLED, "SUCCESS", deal_id, wo.level)
        for epic, queue in self._book.pending.items():
            for p in queue:
                if p.deal_id == deal_id and p.order.close_deal_id is None:
                    queue.remove(p)
                    if not queue:
                        del self._book.pending[epic]
                    return OrderResult(p.order, OrderStatus.CANCELLED, "SUCCESS", deal_id)
        return _reject(_placeholder(deal_id, why), "ORDER_NOT_FOUND")

    def cancel_all(self) -> list[OrderResult]:
        """Delete every working order. Safe from any thread."""
        with self._lock:
            results = [self._cancel(d, "cancel_all") for d in list(self._book.working)]
            for r in results:
                self._book.events.append(("order", r))
            events = self._take_events()
        self._emit(events)
        return results

    def flatten(
        self, epic: str | None = None, *, reason: str = "flatten", immediate: bool = False
    ) -> list[OrderResult]:
        """Close every position (of ``epic``, or all). Safe from any thread.

        Market orders still waiting for a tick on those epics are cancelled first (they would re-open
        what is being closed). By default each position closes at its epic's next tick like any market
        order; ``immediate=True`` closes it at once at the last known quote (the kill switch uses this,
        so the book is flat when the call returns).
        """
        with self._lock:
            results: list[OrderResult] = []
            for ep in [e for e in self._book.pending if epic is None or e == epic]:
                queue = self._book.pending[ep]
                for p in [p for p in queue if p.order.close_deal_id is None]:
                    queue.remove(p)
                    cancelled = OrderResult(p.order, OrderStatus.CANCELLED, reason.upper(), p.deal_id)
                    self._book.events.append(("order", cancelled))
                if not queue:
                    del self._book.pending[ep]
            for pos in [p for p in self._book.positions.values() if epic is None or p.epic == epic]:
                order = Order(pos.epic, pos.direction.opposite(), pos.size, close_deal_id=pos.deal_id, reason=reason)
                self._refs.add(order.deal_reference)
                q = self._book.quotes.get(pos.epic)
                if immediate and q is not None:
                    px = q[1] if pos.direction is Direction.BUY else q[2]
                    fill = self._book.close(pos, pos.size, px, self._now(), reason, order.deal_reference)
                    results.append(OrderResult(order, OrderStatus.FILLED, "SUCCESS", pos.deal_id, px, (fill,)))
                    self._drop_pending_close(pos.epic, pos.deal_id)
                else:  # one full close per position: an earlier (partial) close still waiting is replaced
                    self._drop_pending_close(pos.epic, pos.deal_id)
                    self._book.pending.setdefault(pos.epic, []).append(Pending(order, pos.deal_id))
                    results.append(OrderResult(order, OrderStatus.ACCEPTED, "SUCCESS", pos.deal_id))
            events = self._take_events()
        self._emit(events)
        return results

    def _drop_pending_close(self, epic: str, deal_id: str) -> None:
        queue = self._book.pending.get(epic)
        if queue:
            for p in [p for p in queue if p.order.close_deal_id == deal_id]:
                queue.remove(p)
                self._book.events.append(("order", OrderResult(p.order, OrderStatus.CANCELLED, "REPLACED", deal_id)))
            if not queue:
                del self._book.pending[epic]

    # -- state ---------------------------------------------------------------------------------------------
    def positions(self) -> list[Position]:
        with self._lock:
            return [p.snapshot() for p in self._book.positions.values()]

    def working_orders(self) -> list[WorkingOrder]:
        with self._lock:
            return [wo for wo, _ in self._book.working.values()]

    def pending_orders(self) -> list[Order]:
        """Market orders accepted but not yet filled (waiting for their epic's next tick)."""
        with self._lock:
            return [p.order for q in self._book.pending.values() for p in q]

    def net_position(self, epic: str) -> float:
        with self._lock:
            return self._book.net(epic)

    def account(self) -> AccountState:
        with self._lock:
            return self._account()

    def _account(self) -> AccountState:
        b = self._book
        upl, margin = b.upl(), b.margin()
        equity = b.balance + upl
        return AccountState(b.balance, equity, margin, equity - margin, upl, b.realized, self.currency)

    def reconcile(self) -> dict[str, object]:
        """The paper broker is its own source of truth: always an empty difference report."""
        return {"source": self.name, "ok": True, "missing_positions": [], "unknown_positions": [],
                "changed_positions": [], "missing_orders": [], "unknown_orders": []}

    # -- internals -----------------------------------------------------------------------------------------
    def _now(self) -> int:
        if self._clock is not None:
            return int(self._clock())
        return self._last_ts or time.time_ns()

    def _take_events(self) -> list[tuple[str, object]]:
        events = self._book.events
        if not events:
            return []  # never hand out the book's own list: another thread may append to it
        self._book.events = []
        if any(kind == "fill" for kind, _ in events) or any(kind == "position" for kind, _ in events):
            events.append(("account", self._account()))
        return events

    def _emit(self, events: list[tuple[str, object]]) -> None:
        if not events:
            return
        listeners = list(self._listeners)
        for ev in events:
            for fn in listeners:
                try:
                    fn(ev)
                except Exception:  # a listener's bug must not break dealing
                    log.exception("paper broker listener %r failed on %s", fn, ev[0])

    def __repr__(self) -> str:
        with self._lock:
            a = self._account()
            return (f"PaperBroker(balance={a.balance:.2f} {self.currency}, equity={a.equity:.2f}, "
                    f"positions={len(self._book.positions)}, working={len(self._book.working)})")


def _reject(order: Order, reason: str) -> OrderResult:
    return OrderResult(order, OrderStatus.REJECTED, reason)


def _placeholder(deal_id: str, reason: str) -> Order:
    """An order record for an answer about an unknown deal id (the result must carry an order)."""
    return Order("?", Direction.BUY, 1.0, close_deal_id=deal_id, reason=reason)
