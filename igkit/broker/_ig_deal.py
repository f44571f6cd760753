"""The IG broker's dealing requests: open, close and working-order requests with the order's own deal
reference, their outcome (streamed confirm, else ``GET /confirms``, else reconciliation) and how an
outcome changes the book.

A mixin of :class:`igkit.broker.ig.IGBroker` (split out to keep modules small); see the broker's
docstring for the conventions. Hand-written because it is igkit's core dealing logic.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from igkit.broker._ig_confirms import Outcome, outcome_from_confirm
from igkit.broker._ig_sync import BookKeeping, log
from igkit.errors import IGError, IGRequestError
from igkit.ig.models import Confirm
from igkit.ig.validation import DealValidationError
from igkit.types import Direction, Fill, Order, OrderResult, OrderStatus, Position, WorkingOrder

__all__ = ["Dealing", "placeholder", "points", "reject"]

_NOT_FOUND = frozenset({"error.position.notfound", "error.service.marketdata.position.details.null.error"})


def points(distance: float, point: float) -> float:
    """A distance in price units → IG points (rounded off float noise)."""
    return round(distance / point, 6)


def reject(order: Order, reason: str, deal_id: str | None = None) -> OrderResult:
    return OrderResult(order, OrderStatus.REJECTED, reason, deal_id)


def placeholder(deal_id: str, reason: str) -> Order:
    """An order record for an answer about an unknown deal id (the result must carry an order)."""
    return Order("?", Direction.BUY, 1.0, close_deal_id=deal_id, reason=reason)


class Dealing(BookKeeping):
    """Requests to IG and their outcomes (state is created by ``IGBroker.__init__``)."""

    expiry: str | None
    stream_timeout: float
    trailing_increment: float

    def deal_expiry(self, epic: str) -> str:
        """The expiry sent with deals on ``epic``: the one given to the broker, else the market's own as IG
        states it (``"DFB"`` for a spread bet, ``"-"`` for an undated CFD), else ``"-"``."""
        if self.expiry is not None:
            return self.expiry
        return self._info(epic).expiry or "-"

    def _open(self, order: Order, size: float, *, force_open: bool) -> OrderResult:
        point = self._info(order.epic).point
        kw: dict[str, Any] = {}
        if order.stop_distance is not None:
            kw["stop_distance"] = points(order.stop_distance, point)
        if order.limit_distance is not None:
            kw["limit_distance"] = points(order.limit_distance, point)
        if order.trailing_stop:
            kw.update(trailing_stop=True, trailing_stop_increment=self.trailing_increment)
        with self._lock:
            self._recent_refs.append(order.deal_reference)
            netted = {p.deal_id for p in self._book.opposite(order.epic, order.direction)} if not force_open else set()
            self._busy |= netted

        def call(wait: bool) -> Confirm:
            return self.client.open_position(
                epic=order.epic, direction=order.direction, size=size, currency_code=self.currency,
                expiry=self.deal_expiry(order.epic), force_open=force_open, deal_reference=order.deal_reference,
                wait_confirm=wait, raise_on_reject=False, **kw,
            )  # fmt: skip

        try:
            return self._deal(order, call, lambda out: self._apply_open(order, out, size))
        finally:
            with self._lock:
                self._busy -= netted

    def _close(self, order: Order, pos: Position, size: float, reason: str) -> OrderResult:
        with self._lock:
            self._busy.add(pos.deal_id)

        def call(wait: bool) -> Confirm:
            return self.client.close_position(deal_id=pos.deal_id, size=size, direction=pos.direction.opposite(),
                                              wait_confirm=wait, raise_on_reject=False)

        try:
            return self._deal(order, call, lambda out: self._apply_close(order, pos, size, out, reason),
                              closing={pos.deal_id: (reason, order.deal_reference)})
        finally:
            with self._lock:
                self._busy.discard(pos.deal_id)

    def _place_working(self, order: Order) -> OrderResult:
        if order.level is None or not (order.level > 0):
            return reject(order, "GENERAL_ERROR")
        point = self._info(order.epic).point
        kw: dict[str, Any] = {}
        if order.stop_distance is not None:
            kw["stop_distance"] = points(order.stop_distance, point)
        if order.limit_distance is not None:
            kw["limit_distance"] = points(order.limit_distance, point)
        good_till = order.good_till_ns
        if good_till is not None:  # IG takes whole seconds: round up, so the order lives at least as asked
            good_till = -(-good_till // 1_000_000_000) * 1_000_000_000
            kw.update(time_in_force="GOOD_TILL_DATE", good_till_date=datetime.fromtimestamp(good_till // 1_000_000_000,
                                                                                           tz=UTC))
        with self._lock:
            self._recent_refs.append(order.deal_reference)
        level = order.level

        def call(wait: bool) -> Confirm:
            return self.client.create_working_order(
                epic=order.epic, direction=order.direction, size=order.size, level=level,
                type=order.order_type.value, currency_code=self.currency, expiry=self.deal_expiry(order.epic),
                deal_reference=order.deal_reference, wait_confirm=wait, raise_on_reject=False, **kw,
            )  # fmt: skip

        def apply(out: Outcome) -> OrderResult:
            deal_id = out.deal_id or order.deal_reference
            wo = WorkingOrder(deal_id, order.epic, order.direction, order.size, level, order.order_type,
                              out.time_ns, order.stop_distance, order.limit_distance, good_till, order.deal_reference)
            self._book.working[deal_id] = (wo, order)
            return OrderResult(order, OrderStatus.WORKING, "SUCCESS", deal_id, level)

        return self._deal(order, call, apply)

    def _deal(self, order: Order, call: Callable[[bool], Confirm], apply: Callable[[Outcome], OrderResult],
              closing: dict[str, tuple[str, str]] | None = None) -> OrderResult:
        """Send one deal request, get its outcome (stream, else REST) and apply it to the book."""
        try:
            out = self._outcome(call(self._stream is None))
        except DealValidationError as exc:  # broke IG's rules: nothing was sent
            return reject(order, f"INVALID_REQUEST: {exc.field}")
        except IGRequestError as exc:
            if exc.error_code in _NOT_FOUND:  # the position is gone on IG's side
                self._dirty = True
                return reject(order, "POSITION_NOT_FOUND")
            return self._ambiguous(order, exc, closing)
        except IGError as exc:
            return self._ambiguous(order, exc, closing)
        if out is None or out.recovered:
            return self._ambiguous(order, None, closing)
        if not out.accepted:
            return reject(order, out.reason or "UNKNOWN", out.deal_id)
        with self._lock:
            return apply(out)

    def _outcome(self, conf: Confirm) -> Outcome | None:
        """The deal's outcome: the client's confirm, else the streamed one, else ``GET /confirms`` (None:
        nobody knows yet)."""
        out = outcome_from_confirm(conf)
        ref = conf.deal_reference
        if out.known or not ref:
            return out if out.known else None
        got = self._box.wait(ref, self.stream_timeout)
        if got is not None:
            return got
        log.info("IG broker: no streamed confirm for %s within %.1f s: asking GET /confirms", ref,
                 self.stream_timeout)
        deadline = time.monotonic() + self.client.confirm_timeout
        delay = 0.05
        while True:
            try:
                return outcome_from_confirm(self.client.confirm(ref))
            except IGRequestError as exc:
                if exc.status != 404 or time.monotonic() >= deadline:
                    return None
            got = self._box.wait(ref, delay)  # the stream may still deliver it
            if got is not None:
                return got
            delay = min(delay * 2, 0.5)

    def _ambiguous(self, order: Order, exc: BaseException | None,
                   closing: dict[str, tuple[str, str]] | None) -> OrderResult:
        """The outcome is unknown (lost answer, no confirm): IG's positions decide what happened."""
        log.warning("IG broker: outcome of %s unknown (%s): reconciling", order.deal_reference,
                    f"{type(exc).__name__}: {exc}" if exc is not None else "no confirm")
        self._dirty = True
        report = self._reconcile_locked(own=order, closing=closing)
        fills = tuple(f for f in report["fills"]  # type: ignore[attr-defined]
                      if f.deal_reference == order.deal_reference)
        if fills:
            return OrderResult(order, OrderStatus.FILLED, "SUCCESS", fills[-1].deal_id, fills[-1].price, fills)
        with self._lock:
            for wid, (wo, o) in self._book.working.items():
                if o is order:
                    return OrderResult(order, OrderStatus.WORKING, "SUCCESS", wid, wo.level)
        if report.get("error"):
            return reject(order, f"UNKNOWN_OUTCOME: {report['error']}")
        return reject(order, f"ERROR: {type(exc).__name__}: {exc}" if exc is not None else "UNKNOWN")

    # -- applying outcomes (state lock held) -------------------------------------------------------------------
    def _apply_open(self, order: Order, out: Outcome, size: float) -> OrderResult:
        price = out.level if out.level is not None else self._fallback_price(order.epic, order.direction)
        ts = out.time_ns
        total = out.size if out.size is not None else size
        affected = list(out.affected) or [(out.deal_id or order.deal_reference, "OPENED")]
        closes = [(d, s) for d, s in affected if s in ("FULLY_CLOSED", "PARTIALLY_CLOSED")]
        single_profit = out.profit if len(closes) == 1 else None
        fills: list[Fill] = []
        closed = 0.0
        for closed_id, status in closes:
            pos = self._book.positions.get(closed_id)
            if pos is None:  # closed something the book did not hold: let IG's positions tell
                self._dirty = True
                continue
            q = pos.size if status == "FULLY_CLOSED" else round(min(pos.size, total - closed), 10)
            fills.append(self._close_fill(pos, q, price, ts, "market", order.deal_reference, single_profit))
            closed += q
        deal_id: str | None = out.deal_id
        for did, st in affected:
            if st == "OPENED":
                q = round(total - closed, 10)
                trail = order.stop_distance if order.trailing_stop else None
                pos = Position(did, order.epic, order.direction, q, price, ts, out.stop_level, out.limit_level,
                               trail, order.deal_reference)
                fills.append(self._open_fill(pos, "market", order.deal_reference))
                deal_id = did
        return OrderResult(order, OrderStatus.FILLED, "SUCCESS", deal_id, price, tuple(fills))

    def _apply_close(self, order: Order, pos: Position, size: float, out: Outcome, reason: str) -> OrderResult:
        current = self._book.positions.get(pos.deal_id)
        price = out.level if out.level is not None else self._fallback_price(pos.epic, pos.direction.opposite())
        if current is None:
            self._dirty = True
            return OrderResult(order, OrderStatus.FILLED, "SUCCESS", pos.deal_id, price)
        q = min(current.size, out.size if out.size is not None else size)
        fill = self._close_fill(current, q, price, out.time_ns, reason, order.deal_reference, out.profit)
        return OrderResult(order, OrderStatus.FILLED, "SUCCESS", pos.deal_id, price, (fill,))
