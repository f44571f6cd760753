"""Dealing in working orders: create, amend and delete LIMIT/STOP orders (GTC or GTD), with IG's rejections.

Filling them when the price crosses is the trigger loop's job (:mod:`igkit.sim.broker`).
"""

from __future__ import annotations

from typing import Any

from igkit.sim._positions import PositionDealing
from igkit.sim._state import Account, WorkingOrder
from igkit.sim._util import fmt

__all__ = ["OrderDealing"]

_EPS = 1e-9


class OrderDealing(PositionDealing):
    """Working orders on top of positions."""

    def _order_side_ok(self, epic: str, direction: str, order_type: str, level: float) -> bool:
        bid, ask = self.prices.quote(epic)
        px = ask if direction == "BUY" else bid
        below = level < px - _EPS
        above = level > px + _EPS
        if direction == "BUY":
            return below if order_type == "LIMIT" else above
        return above if order_type == "LIMIT" else below

    def _distances(self, epic: str, direction: str, level: float, stop_level: float | None,
                   stop_distance: float | None, limit_level: float | None,
                   limit_distance: float | None) -> tuple[float | None, float | None, bool]:
        """Stop/limit as distances in points from the order level; ok=False if too close or wrong side."""
        spec = self.prices.spec(epic)
        sign = 1 if direction == "BUY" else -1
        if stop_level is not None:
            stop_distance = (level - stop_level) * sign / spec.pip
        if limit_level is not None:
            limit_distance = (limit_level - level) * sign / spec.pip
        ok = all(d is None or d >= spec.min_stop_distance - 1e-6 for d in (stop_distance, limit_distance))
        rnd = lambda d: None if d is None else round(d, 4)  # noqa: E731
        return rnd(stop_distance), rnd(limit_distance), ok

    def create_order(self, account_id: str, *, epic: str, expiry: str, direction: str, size: float,
                     level: float, order_type: str, time_in_force: str, good_till_ns: int | None,
                     guaranteed: bool = False, force_open: bool = True, stop_level: float | None = None,
                     stop_distance: float | None = None, limit_level: float | None = None,
                     limit_distance: float | None = None, deal_reference: str | None = None) -> str:
        """Place a working order; returns the deal reference (the outcome is in the confirm)."""
        with self.lock:
            acc = self.account(account_id)
            ref, dup = self.take_reference(account_id, deal_reference)
            rej: dict[str, Any] = dict(epic=epic, expiry=expiry, direction=direction, kind="WORKING_ORDER")
            if dup:
                return self._reject(acc, ref, "DUPLICATE_ORDER_ERROR", keep_existing=True, **rej)
            reason = self._common_reject(acc, epic, expiry, size)
            if reason:
                return self._reject(acc, ref, reason, **rej)
            now = self.clock.now_ns()
            if time_in_force == "GOOD_TILL_DATE" and (good_till_ns is None or good_till_ns <= now):
                return self._reject(acc, ref, "GOOD_TILL_DATE_IN_THE_PAST", **rej)
            if not self._order_side_ok(epic, direction, order_type, level):
                return self._reject(acc, ref, "WRONG_SIDE_OF_MARKET", **rej)
            sd, ld, ok = self._distances(epic, direction, level, stop_level, stop_distance, limit_level,
                                         limit_distance)
            if not ok:
                return self._reject(acc, ref, "ATTACHED_ORDER_LEVEL_ERROR", **rej)
            spec = self.prices.spec(epic)
            deal_id = self.new_id()
            order = WorkingOrder(deal_id, ref, account_id, epic, expiry, direction, size,
                                 spec.round_price(level), order_type, time_in_force,
                                 good_till_ns if time_in_force == "GOOD_TILL_DATE" else None, spec.currency,
                                 now, sd, ld, guaranteed, force_open)
            self.orders[deal_id] = order
            self._order_done(acc, order, ref, "OPEN", "OPENED", "WORKING_ORDER_CREATED",
                             f"Working order placed: {deal_id}")
            return ref

    def _order_done(self, acc: Account, order: WorkingOrder, ref: str, status: str, affected: str,
                    action: str, description: str, *, channel: str = "PUBLIC_WEB_API") -> None:
        confirm = self.make_confirm(
            ref=ref, deal_id=order.deal_id, status=status, reason="SUCCESS", epic=order.epic,
            expiry=order.expiry, direction=order.direction, level=order.level, size=order.size,
            affected=[{"dealId": order.deal_id, "status": affected}], stop_distance=order.stop_distance,
            limit_distance=order.limit_distance, guaranteed=order.guaranteed)
        if channel == "PUBLIC_WEB_API":
            self.store_confirm(acc.account_id, confirm)
        self.record_activity(acc.account_id, epic=order.epic, period=order.expiry, deal_id=order.deal_id,
                             type_="WORKING_ORDER", status="ACCEPTED", description=description,
                             channel=channel, details=self.activity_details(
                                 ref=ref, epic=order.epic, size=order.size, direction=order.direction,
                                 level=order.level, acc=acc, stop_distance=order.stop_distance,
                                 limit_distance=order.limit_distance, guaranteed=order.guaranteed,
                                 good_till=fmt(order.good_till_ns, "slash") if order.good_till_ns else None,
                                 actions=[{"actionType": action, "affectedDealId": order.deal_id}]))
        wou_status = {"OPEN": "OPEN", "AMENDED": "UPDATED"}.get(status, "DELETED")
        self.events.emit("WOU", acc.account_id, self.wou(order, wou_status, ref))

    def amend_order(self, account_id: str, deal_id: str, *, level: float, order_type: str | None = None,
                    time_in_force: str | None = None, good_till_ns: int | None = None,
                    stop_level: float | None = None, stop_distance: float | None = None,
                    limit_level: float | None = None, limit_distance: float | None = None,
                    guaranteed: bool | None = None) -> str:
        """Change a working order's level, type, expiry and attached stop/limit."""
        with self.lock:
            acc = self.account(account_id)
            ref = self.new_reference()
            order = self.orders.get(deal_id)
            if order is None or order.account_id != account_id:
                return self._reject(acc, ref, "ORDER_NOT_FOUND", epic=None, expiry=None, direction=None,
                                    deal_id=deal_id, kind="WORKING_ORDER")
            rej: dict[str, Any] = dict(epic=order.epic, expiry=order.expiry, direction=order.direction, deal_id=deal_id,
                       kind="WORKING_ORDER")
            otype = order_type or order.order_type
            tif = time_in_force or order.time_in_force
            gtd = good_till_ns if good_till_ns is not None else order.good_till_ns
            if tif == "GOOD_TILL_DATE" and (gtd is None or gtd <= self.clock.now_ns()):
                return self._reject(acc, ref, "GOOD_TILL_DATE_IN_THE_PAST", **rej)
            if not self._order_side_ok(order.epic, order.direction, otype, level):
                return self._reject(acc, ref, "WRONG_SIDE_OF_MARKET", **rej)
            sd, ld, ok = self._distances(order.epic, order.direction, level, stop_level, stop_distance,
                                         limit_level, limit_distance)
            if not ok:
                return self._reject(acc, ref, "ATTACHED_ORDER_LEVEL_ERROR", **rej)
            order.level = self.prices.spec(order.epic).round_price(level)
            order.order_type, order.time_in_force = otype, tif
            order.good_till_ns = gtd if tif == "GOOD_TILL_DATE" else None
            order.stop_distance, order.limit_distance = sd, ld
            if guaranteed is not None:
                order.guaranteed = guaranteed
            self._order_done(acc, order, ref, "AMENDED", "AMENDED", "WORKING_ORDER_AMENDED",
                             f"Working order amended: {deal_id}")
            return ref

    def delete_order(self, account_id: str, deal_id: str) -> str:
        """Cancel a working order; returns the deal reference."""
        with self.lock:
            acc = self.account(account_id)
            ref = self.new_reference()
            order = self.orders.get(deal_id)
            if order is None or order.account_id != account_id:
                return self._reject(acc, ref, "ORDER_NOT_FOUND", epic=None, expiry=None, direction=None,
                                    deal_id=deal_id, kind="WORKING_ORDER")
            del self.orders[deal_id]
            self._order_done(acc, order, ref, "DELETED", "DELETED", "WORKING_ORDER_DELETED",
                             f"Working order deleted: {deal_id}")
            return ref

    def working_orders(self, account_id: str | None = None) -> list[WorkingOrder]:
        with self.lock:
            return [o for o in self.orders.values() if account_id is None or o.account_id == account_id]
