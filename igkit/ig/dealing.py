"""Dealing endpoints: positions, working orders and confirms, with no duplicate deal ever.

Hand-written core because safety rules here are ours:

* every deal is checked against IG's dealing rules before anything is sent (:mod:`igkit.ig.validation`);
* every new deal carries a ``dealReference`` chosen by the client (unique, ``[A-Za-z0-9_-]{1,30}``);
* a deal request is never blindly repeated: after an ambiguous failure (dropped connection, timeout after
  sending, 5xx) or a session renewal, the reference is looked up in ``/confirms/{ref}`` (then in
  positions / working orders); only if IG has no trace of it is the request sent again;
* a close (which IG gives no client reference) is recovered by reading the position: gone or reduced
  means the close went through;
* a ``REJECTED`` confirm raises :class:`~igkit.errors.DealRejected` (or is returned with
  ``raise_on_reject=False``).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from igkit.errors import DealRejected, IGError, IGRequestError
from igkit.ig._model_base import parse_model
from igkit.ig.enums import OrderType, TimeInForce, WorkingOrderTimeInForce, WorkingOrderType
from igkit.ig.limits import Budget
from igkit.ig.models import AffectedDeal, Confirm, MarketDetails, Position, WorkingOrder
from igkit.ig.transport import AmbiguousRequestError, RequestNotSentError, Response, SessionRenewedError, Transport
from igkit.ig.validation import (
    DEAL_ID as _DEAL_ID,
)
from igkit.ig.validation import (
    _Checker,
    amend_position_body,
    amend_working_order_body,
    check_deal_reference,
    close_position_body,
    open_position_body,
    working_order_body,
)
from igkit.types import Direction

__all__ = ["DealingAPI", "new_deal_reference"]

log = logging.getLogger(__name__)
_NOT_FOUND = frozenset({"error.confirms.deal-not-found", "error.position.notfound"})


def new_deal_reference(prefix: str = "IGK") -> str:
    """A fresh unique deal reference matching IG's pattern (28 characters)."""
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def _not_found(exc: IGError) -> bool:
    return exc.error_code in _NOT_FOUND or exc.status == 404


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def _recovered(deal_id: str, status: str, epic: str | None) -> Confirm:
    """A confirm rebuilt from IG's state after the answer to a request was lost (``recovered=True``)."""
    return Confirm(deal_id=deal_id, deal_status="ACCEPTED", reason="SUCCESS", status=status, epic=epic,
                   affected_deals=[AffectedDeal(deal_id=deal_id, status=status)], recovered=True)  # fmt: skip


class DealingAPI:
    """Dealing endpoints (mixed into :class:`~igkit.ig.client.IGClient`)."""

    _t: Transport
    confirm_timeout: float
    settle: float
    _currencies: dict[str, str]
    _currency_lock: threading.Lock
    _sleep: Callable[[float], None]

    def market(self, epic: str) -> MarketDetails:  # provided by MarketsAPI
        raise NotImplementedError

    # -- reads ---------------------------------------------------------------------------------------------
    def positions(self) -> list[Position]:
        """``GET /positions`` (v2)."""
        data = self._t.request("GET", "/positions", version=2).data or {}
        return [parse_model(Position, p, "GET /positions") for p in data.get("positions") or []]

    def position(self, deal_id: str) -> Position:
        """``GET /positions/{dealId}`` (v2); IGRequestError ``error.position.notfound`` if there is none."""
        _Checker("GET /positions").pattern("dealId", deal_id, _DEAL_ID, "a deal id")
        resp = self._t.request("GET", f"/positions/{deal_id}", version=2)
        return parse_model(Position, resp.data, resp.endpoint)

    def working_orders(self) -> list[WorkingOrder]:
        """``GET /workingorders`` (v2)."""
        data = self._t.request("GET", "/workingorders", version=2).data or {}
        return [parse_model(WorkingOrder, w, "GET /workingorders") for w in data.get("workingOrders") or []]

    def confirm(self, deal_reference: str) -> Confirm:
        """``GET /confirms/{dealReference}`` (v1); IG keeps confirms for about a minute."""
        check_deal_reference(deal_reference, endpoint="GET /confirms")
        resp = self._t.request("GET", f"/confirms/{deal_reference}", version=1)
        return parse_model(Confirm, resp.data, resp.endpoint)

    # -- positions -------------------------------------------------------------------------------------------
    def open_position(
        self,
        *,
        epic: str,
        direction: Direction | str,
        size: float,
        currency_code: str | None = None,
        expiry: str = "-",
        order_type: OrderType | str = OrderType.MARKET,
        level: float | None = None,
        quote_id: str | None = None,
        stop_level: float | None = None,
        stop_distance: float | None = None,
        limit_level: float | None = None,
        limit_distance: float | None = None,
        guaranteed_stop: bool = False,
        trailing_stop: bool = False,
        trailing_stop_increment: float | None = None,
        force_open: bool | None = None,
        time_in_force: TimeInForce | str | None = None,
        deal_reference: str | None = None,
        wait_confirm: bool = True,
        raise_on_reject: bool = True,
    ) -> Confirm:
        """``POST /positions/otc`` (v2) then its confirm. ``currency_code`` defaults to the instrument's."""
        ref = deal_reference if deal_reference is not None else new_deal_reference()
        body = open_position_body(
            epic=epic, direction=direction, size=size, currency_code=currency_code or "XXX", expiry=expiry,
            order_type=order_type, level=level, quote_id=quote_id, stop_level=stop_level,
            stop_distance=stop_distance, limit_level=limit_level, limit_distance=limit_distance,
            guaranteed_stop=guaranteed_stop, trailing_stop=trailing_stop,
            trailing_stop_increment=trailing_stop_increment, force_open=force_open,
            time_in_force=time_in_force, deal_reference=ref,
        )  # fmt: skip
        if currency_code is None:
            body["currencyCode"] = self._currency(epic)
        out = self._trade(
            lambda: self._t.request("POST", "/positions/otc", version=2, json_body=body, budget=Budget.TRADING,
                                    idempotent=False),
            lambda: self._lookup(ref, "positions"),
            f"deal {ref}",
        )  # fmt: skip
        return self._finish(ref, wait_confirm, raise_on_reject, out if isinstance(out, Confirm) else None)

    def close_position(
        self,
        *,
        deal_id: str,
        size: float | None = None,
        direction: Direction | str | None = None,
        order_type: OrderType | str = OrderType.MARKET,
        level: float | None = None,
        quote_id: str | None = None,
        time_in_force: TimeInForce | str | None = None,
        wait_confirm: bool = True,
        raise_on_reject: bool = True,
    ) -> Confirm:
        """Close all (or ``size`` of) a position: POST /positions/otc (v1) with ``_method: DELETE``.

        The position is read first: it gives the default ``direction`` (the opposite side) and ``size``
        (all of it), and tells after a lost answer whether the close went through.
        """
        close_position_body(
            deal_id=deal_id, direction=direction or Direction.BUY, size=size if size is not None else 1.0,
            order_type=order_type, level=level, quote_id=quote_id, time_in_force=time_in_force,
        )  # fmt: skip  (checks the arguments before any request)
        pos = self.position(deal_id)
        body = close_position_body(
            deal_id=deal_id, direction=direction or pos.direction.opposite(),
            size=size if size is not None else pos.size, order_type=order_type, level=level,
            quote_id=quote_id, time_in_force=time_in_force,
        )  # fmt: skip
        size_sent = float(body["size"])
        out = self._trade(
            lambda: self._t.request("POST", "/positions/otc", version=1, json_body=body, budget=Budget.TRADING,
                                    idempotent=False, delete_override=True),
            lambda: self._close_went_through(pos, size_sent),
            f"close of {deal_id}",
        )  # fmt: skip
        return self._complete(out, wait_confirm, raise_on_reject)

    def amend_position(
        self,
        deal_id: str,
        *,
        stop_level: float | None = None,
        limit_level: float | None = None,
        guaranteed_stop: bool = False,
        trailing_stop: bool = False,
        trailing_stop_distance: float | None = None,
        trailing_stop_increment: float | None = None,
        wait_confirm: bool = True,
        raise_on_reject: bool = True,
    ) -> Confirm:
        """``PUT /positions/otc/{dealId}`` (v2): set the stop and limit levels (absolute, so repeatable)."""
        body = amend_position_body(
            deal_id, stop_level=stop_level, limit_level=limit_level, guaranteed_stop=guaranteed_stop,
            trailing_stop=trailing_stop, trailing_stop_distance=trailing_stop_distance,
            trailing_stop_increment=trailing_stop_increment,
        )  # fmt: skip

        def check() -> Confirm | None:
            pos = self.position(deal_id)
            p = pos.position
            if _same(p.stop_level, body["stopLevel"]) and _same(p.limit_level, body["limitLevel"]):
                return _recovered(deal_id, "AMENDED", pos.epic)
            return None

        out = self._trade(
            lambda: self._t.request("PUT", f"/positions/otc/{deal_id}", version=2, json_body=body,
                                    budget=Budget.TRADING, idempotent=False),
            check,
            f"amend of {deal_id}",
            repeatable=True,
        )  # fmt: skip
        return self._complete(out, wait_confirm, raise_on_reject)

    # -- working orders ---------------------------------------------------------------------------------------
    def create_working_order(
        self,
        *,
        epic: str,
        direction: Direction | str,
        size: float,
        level: float,
        type: WorkingOrderType | str,
        currency_code: str | None = None,
        expiry: str = "-",
        time_in_force: WorkingOrderTimeInForce | str = WorkingOrderTimeInForce.GOOD_TILL_CANCELLED,
        good_till_date: datetime | str | int | None = None,
        stop_level: float | None = None,
        stop_distance: float | None = None,
        limit_level: float | None = None,
        limit_distance: float | None = None,
        guaranteed_stop: bool = False,
        force_open: bool | None = None,
        deal_reference: str | None = None,
        wait_confirm: bool = True,
        raise_on_reject: bool = True,
    ) -> Confirm:
        """``POST /workingorders/otc`` (v2) then its confirm."""
        ref = deal_reference if deal_reference is not None else new_deal_reference()
        body = working_order_body(
            epic=epic, direction=direction, size=size, level=level, type=type,
            currency_code=currency_code or "XXX", expiry=expiry, time_in_force=time_in_force,
            good_till_date=good_till_date, stop_level=stop_level, stop_distance=stop_distance,
            limit_level=limit_level, limit_distance=limit_distance, guaranteed_stop=guaranteed_stop,
            force_open=force_open, deal_reference=ref,
        )  # fmt: skip
        if currency_code is None:
            body["currencyCode"] = self._currency(epic)
        out = self._trade(
            lambda: self._t.request("POST", "/workingorders/otc", version=2, json_body=body,
                                    budget=Budget.TRADING, idempotent=False),
            lambda: self._lookup(ref, "workingorders"),
            f"working order {ref}",
        )  # fmt: skip
        return self._finish(ref, wait_confirm, raise_on_reject, out if isinstance(out, Confirm) else None)

    def amend_working_order(
        self,
        deal_id: str,
        *,
        level: float,
        type: WorkingOrderType | str | None = None,
        time_in_force: WorkingOrderTimeInForce | str | None = None,
        good_till_date: datetime | str | int | None = None,
        stop_level: float | None = None,
        stop_distance: float | None = None,
        limit_level: float | None = None,
        limit_distance: float | None = None,
        guaranteed_stop: bool | None = None,
        wait_confirm: bool = True,
        raise_on_reject: bool = True,
    ) -> Confirm:
        """``PUT /workingorders/otc/{dealId}`` (v2)."""
        body = amend_working_order_body(
            deal_id, level=level, type=type, time_in_force=time_in_force, good_till_date=good_till_date,
            stop_level=stop_level, stop_distance=stop_distance, limit_level=limit_level,
            limit_distance=limit_distance, guaranteed_stop=guaranteed_stop,
        )  # fmt: skip

        def check() -> Confirm | None:
            for w in self.working_orders():
                if w.deal_id == deal_id and _same(w.working_order_data.order_level, body["level"]):
                    return _recovered(deal_id, "AMENDED", w.epic)
            return None

        out = self._trade(
            lambda: self._t.request("PUT", f"/workingorders/otc/{deal_id}", version=2, json_body=body,
                                    budget=Budget.TRADING, idempotent=False),
            check,
            f"amend of working order {deal_id}",
            repeatable=True,
        )  # fmt: skip
        return self._complete(out, wait_confirm, raise_on_reject)

    def delete_working_order(
        self, deal_id: str, *, wait_confirm: bool = True, raise_on_reject: bool = True
    ) -> Confirm:
        """``DELETE /workingorders/otc/{dealId}`` (v2, no body)."""
        _Checker("DELETE /workingorders/otc").pattern("dealId", deal_id, _DEAL_ID, "a deal id")

        def check() -> Confirm | None:
            if any(w.deal_id == deal_id for w in self.working_orders()):
                return None
            return _recovered(deal_id, "DELETED", None)

        out = self._trade(
            lambda: self._t.request("DELETE", f"/workingorders/otc/{deal_id}", version=2, budget=Budget.TRADING,
                                    idempotent=False),
            check,
            f"delete of working order {deal_id}",
            repeatable=True,
        )  # fmt: skip
        return self._complete(out, wait_confirm, raise_on_reject)

    # -- internals -----------------------------------------------------------------------------------------
    @staticmethod
    def _ref_of(data: Any, endpoint: str) -> str:
        ref = data.get("dealReference") if isinstance(data, dict) else None
        if not ref:
            raise IGRequestError("answer without a dealReference", endpoint=endpoint)
        return str(ref)

    def _currency(self, epic: str) -> str:
        with self._currency_lock:
            cached = self._currencies.get(epic)
        if cached:
            return cached
        code = self.market(epic).instrument.default_currency
        if not code:
            raise IGRequestError(f"instrument {epic} lists no currency: pass currency_code", endpoint="GET /markets")
        with self._currency_lock:
            self._currencies[epic] = code
        return code

    def _trade(
        self, send: Callable[[], Response], check: Callable[[], Confirm | None], what: str, *,
        repeatable: bool = False,
    ) -> Response | Confirm:
        """Send a trading request; after a lost answer, ask IG (``check``) before anything else.

        A request IG refused before executing it (an invalid token: the session was renewed) or that never
        reached IG (connection refused, connect timeout) is sent again, up to ``max_retries`` times. After
        any other failure (no answer in time, a 5xx, a dropped connection) IG may have executed it, or may
        still be executing it: ``check`` asks IG until it finds it done or ``confirm_timeout`` has passed.
        Found: IG's record of it is returned. Not found: a ``repeatable`` request (an amend to absolute
        levels, a working-order delete: done twice, the same result) is sent again; a deal that opens or
        closes is not: :class:`AmbiguousRequestError` is raised (a doubled deal costs more than a missed
        one; the IG broker then reconciles with IG's positions, and a strategy's target position is
        pursued again at its next bar). A failure of ``check`` itself propagates.
        """
        attempts = self._t.max_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return send()
            except (SessionRenewedError, RequestNotSentError) as exc:
                if attempt == attempts:
                    raise
                log.warning("%s: not executed (%s); sending again", what, exc)
                self._sleep(self._t.backoff_delay(attempt))
            except AmbiguousRequestError as exc:
                found = self._look_for(check)
                if found is not None:
                    log.warning("%s: answer lost (%s) but IG shows it done", what, exc)
                    return found
                if repeatable and attempt < attempts:
                    log.warning("%s: answer lost (%s) and IG shows it not done; sending again", what, exc)
                    continue
                log.error("%s: answer lost (%s) and no trace of it at IG after %.1f s: not resending; "
                          "reconcile with IG's positions", what, exc, self.confirm_timeout)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _look_for(self, check: Callable[[], Confirm | None]) -> Confirm | None:
        """``check()`` until it finds the deal or ``confirm_timeout`` has passed (first wait: ``settle``)."""
        deadline = time.monotonic() + self.confirm_timeout
        delay = max(self.settle, 0.01)
        while True:
            found = check()
            left = deadline - time.monotonic()
            if found is not None or left <= 0:
                return found
            self._sleep(min(delay, left))
            delay = min(delay * 2, 1.0)

    def _complete(self, out: Response | Confirm, wait: bool, raise_on_reject: bool) -> Confirm:
        if isinstance(out, Confirm):
            return self._finish(None, wait, raise_on_reject, out)
        return self._finish(self._ref_of(out.data, out.endpoint), wait, raise_on_reject, None)

    def _lookup(self, ref: str, look_in: str) -> Confirm | None:
        """IG's record of deal ``ref``: its confirm, else a confirm rebuilt from positions/orders, else None.

        A failure of the lookup itself propagates: without knowing, nothing is resent.
        """
        try:
            return self.confirm(ref)
        except IGRequestError as exc:
            if not _not_found(exc):
                raise
        if look_in == "positions":
            for p in self.positions():
                if p.position.deal_reference == ref:
                    return Confirm(
                        deal_reference=ref, deal_id=p.deal_id, deal_status="ACCEPTED", reason="SUCCESS",
                        status="OPEN", epic=p.epic, direction=p.direction, size=p.size, level=p.level,
                        affected_deals=[AffectedDeal(deal_id=p.deal_id, status="OPENED")], recovered=True,
                    )  # fmt: skip
        else:
            for w in self.working_orders():
                if w.working_order_data.deal_reference == ref:
                    d = w.working_order_data
                    return Confirm(
                        deal_reference=ref, deal_id=d.deal_id, deal_status="ACCEPTED", reason="SUCCESS",
                        status="OPEN", epic=d.epic, direction=d.direction, size=d.order_size,
                        level=d.order_level, recovered=True,
                    )  # fmt: skip
        return None

    def _close_went_through(self, before: Position, size: float) -> Confirm | None:
        try:
            now: Position | None = self.position(before.deal_id)
        except IGRequestError as exc:
            if not _not_found(exc):
                raise
            now = None
        remaining = 0.0 if now is None else now.size
        if remaining > before.size - size + 1e-9:
            return None
        status = "CLOSED" if now is None else "PARTIALLY_CLOSED"  # (a rebuilt confirm: IG's was lost)
        return Confirm(
            deal_id=before.deal_id, deal_status="ACCEPTED", reason="SUCCESS", status=status,
            epic=before.epic, direction=before.direction.opposite(), size=size,
            affected_deals=[
                AffectedDeal(deal_id=before.deal_id, status="FULLY_CLOSED" if now is None else "PARTIALLY_CLOSED")
            ],
            recovered=True,
        )  # fmt: skip

    def _finish(self, ref: str | None, wait: bool, raise_on_reject: bool, known: Confirm | None) -> Confirm:
        if known is not None and (not known.recovered or ref is None):
            c = known
        elif not wait or ref is None:
            return known if known is not None else Confirm(deal_reference=ref)
        else:
            c = self._wait_confirm(ref, fallback=known)
        if c.deal_status == "REJECTED" and raise_on_reject:
            raise DealRejected(c.reason or "UNKNOWN", deal_reference=ref, confirm=c)
        return c

    def _wait_confirm(self, ref: str, *, fallback: Confirm | None = None) -> Confirm:
        deadline = time.monotonic() + self.confirm_timeout
        delay = 0.05
        while True:
            try:
                return self.confirm(ref)
            except IGRequestError as exc:
                if not _not_found(exc):
                    raise
                if fallback is not None:
                    return fallback
                if time.monotonic() >= deadline:
                    raise
            self._sleep(delay)
            delay = min(delay * 2, 0.5)

