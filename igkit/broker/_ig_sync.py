"""The IG broker's bookkeeping: applying deal outcomes to the book, TRADE stream updates, reconciliation
with IG's positions and working orders, the account, and event delivery.

A mixin of :class:`igkit.broker.ig.IGBroker` (split out to keep each module to one job and a readable
size): the dealing side (what is sent to IG) lives in :mod:`igkit.broker.ig`, this side keeps the local
book true to IG. Hand-written because it is igkit's own bookkeeping; see the broker's docstring for the
conventions (fills, reasons, events).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, NamedTuple

import pandas as pd

from igkit.broker._ig_book import EPS, Book, classify_close, order_for_working, position_from_ig, working_from_ig
from igkit.broker._ig_confirms import ConfirmBox, outcome_from_stream
from igkit.broker.base import BrokerListener
from igkit.broker.rules import InstrumentRules
from igkit.errors import IGError, IGRequestError
from igkit.ig.client import IGClient
from igkit.types import AccountState, Direction, Fill, Order, OrderResult, OrderStatus, Position, WorkingOrder

__all__ = ["BookKeeping", "MarketFacts"]

log = logging.getLogger("igkit.broker.ig")

_CLOSE_ACTIONS = frozenset({"POSITION_CLOSED", "POSITION_PARTIALLY_CLOSED"})


def _first_number(text: Any) -> float | None:
    if text is None:
        return None
    if isinstance(text, int | float):
        return float(text)
    for part in str(text).replace(",", " ").split():
        try:
            return float(part)
        except ValueError:
            continue
    return None


class MarketFacts(NamedTuple):
    """What the broker reads once per epic from ``GET /markets/{epic}``."""

    point: float  # price value of one IG point
    value_per_point: float  # account currency per unit of size per 1.0 of price
    rules: InstrumentRules
    expiry: str | None  # IG's expiry for deals on it: "-" (CFD, undated), "DFB" (spread bet), "DEC-26", ...
    found: bool = True  # False: IG does not know the epic (the catalog's rules stand in)


class BookKeeping:
    """The book side of :class:`~igkit.broker.ig.IGBroker` (state is created by its ``__init__``)."""

    client: IGClient
    account_id: str | None
    currency: str | None
    account_interval: float
    _vpp: float | Mapping[str, float] | None
    _deal_lock: threading.RLock
    _lock: threading.RLock
    _book: Book
    _listeners: list[BrokerListener]
    _events: list[tuple[str, object]]
    _recent_refs: deque[str]
    _busy: set[str]
    _info_cache: dict[str, MarketFacts]
    _status_cache: dict[str, tuple[float, bool]]
    status_ttl: float
    _account_type: str | None
    _box: ConfirmBox
    _dirty: bool
    _stream: Any
    _last_sync: float
    _synced_ns: int | None
    _realized: float
    _acct: AccountState | None
    _acct_ts: float
    _acct_lock: threading.Lock
    last_report: dict[str, object] | None

    # -- state ---------------------------------------------------------------------------------------------
    def positions(self) -> list[Position]:
        with self._lock:
            return list(self._book.positions.values())

    def working_orders(self) -> list[WorkingOrder]:
        with self._lock:
            return [wo for wo, _ in self._book.working.values()]

    def net_position(self, epic: str) -> float:
        with self._lock:
            return self._book.net(epic)

    @property
    def realized_pnl(self) -> float:
        """Realised P&L of the fills this broker has seen (IG's profit where the confirm gave it)."""
        with self._lock:
            return self._realized

    def account(self, *, refresh: bool = False) -> AccountState:
        """Balance, equity, margin (IG's deposit), available and P&L from ``GET /accounts``, read at most
        every ``account_interval`` seconds (``refresh=True`` forces a read). On failure: the last state."""
        with self._acct_lock:
            now = time.monotonic()
            if refresh or self._acct is None or now - self._acct_ts >= self.account_interval:
                self._acct_ts = now
                try:
                    self._acct = self._read_account()
                except IGError as exc:
                    log.warning("IG broker: GET /accounts failed (%s); keeping the last account state", exc)
            acct = self._acct
        if acct is None:
            return AccountState(0.0, 0.0, 0.0, 0.0, 0.0, self._realized, self.currency or "")
        return replace(acct, realized_pnl=self._realized)

    def _read_account(self) -> AccountState:
        accounts = self.client.accounts()
        want = self.account_id or self.client.session.account_id
        chosen = next((a for a in accounts if a.account_id == want), None)
        if chosen is None:
            chosen = next((a for a in accounts if a.preferred), accounts[0] if accounts else None)
        if chosen is None:
            raise IGError("GET /accounts returned no account")
        b = chosen.balance
        bal = float(b.balance or 0.0) if b else 0.0
        upl = float(b.profit_loss or 0.0) if b else 0.0
        margin = float(b.deposit or 0.0) if b else 0.0
        avail = float(b.available if b and b.available is not None else bal + upl - margin)
        self._account_type = chosen.account_type
        return AccountState(bal, bal + upl, margin, avail, upl, self._realized, chosen.currency or self.currency or "")

    def on_account_update(self, update: Any) -> None:
        """One ``ACCOUNT:<accountId>`` stream update (:class:`~igkit.ig.stream.AccountUpdate`) → the cached
        account state, as if :meth:`account` had just read ``GET /accounts``: balance = FUNDS, equity =
        EQUITY, margin = MARGIN, available = AVAILABLE_TO_DEAL, P&L = PNL (a field IG leaves out keeps
        its last value). :meth:`account` then answers from the stream and reads REST again only once no
        update has come for ``account_interval`` seconds (IG streams ACCOUNT on change only), or when
        asked (``refresh=True``). Updates of another account are ignored, and so is every update until
        a first REST read (which also gives the currency and the account type).

        Runs on the stream's listener thread and never blocks: while a REST read holds the account lock,
        the update is skipped (that read is at least as recent; the next update applies as usual)."""
        want = self.account_id or self.client.session.account_id
        if want and getattr(update, "account_id", want) != want:
            return
        if not self._acct_lock.acquire(blocking=False):
            return
        try:
            prev = self._acct
            if prev is None:
                return  # the first state comes from REST (it also gives the currency and the account type)
            got: dict[str, float | None] = dict(getattr(update, "values", None) or {})

            def first(*names: str) -> float | None:
                return next((float(v) for n in names if (v := got.get(n)) is not None), None)

            def both(a: str, b: str) -> float | None:
                x, y = got.get(a), got.get(b)
                return None if x is None or y is None else float(x) + float(y)

            upl = first("PNL")
            upl = upl if upl is not None else both("PNL_LR", "PNL_NLR")
            upl = upl if upl is not None else prev.upl
            bal = first("FUNDS")
            bal = bal if bal is not None else prev.balance
            equity = first("EQUITY")
            equity = equity if equity is not None else bal + upl
            margin = first("MARGIN")
            margin = margin if margin is not None else both("MARGIN_LR", "MARGIN_NLR")
            margin = margin if margin is not None else prev.margin
            avail = first("AVAILABLE_TO_DEAL", "AVAILABLE_CASH")
            avail = avail if avail is not None else prev.available
            self._acct = AccountState(bal, equity, margin, avail, upl, self._realized, prev.currency)
            self._acct_ts = time.monotonic()
        finally:
            self._acct_lock.release()

    # -- instrument facts ----------------------------------------------------------------------------------
    def rules(self, epic: str) -> InstrumentRules:
        """``epic``'s dealing rules as IG states them (``GET /markets/{epic}``, read once): minimum size,
        minimum stop/limit distance in price units, margin factor, and this broker's value per point. The
        risk manager uses it; the catalog's rules if IG cannot be read."""
        return self._info(epic).rules

    def _info(self, epic: str) -> MarketFacts:
        """``epic``'s point, value per point, rules and expiry, read once from IG."""
        with self._lock:
            got = self._info_cache.get(epic)
        if got is not None:
            return got
        base = InstrumentRules.for_epic(epic)
        point: float | None = None
        contract: float | None = None
        changes: dict[str, float] = {}
        expiry: str | None = None
        found = True
        try:
            m = self.client.market(epic)
            expiry = m.instrument.expiry
            self._remember_status(epic, m.snapshot.market_status)  # the same answer market_open() reads
            pip = _first_number(m.instrument.one_pip_means)
            point = pip * (m.snapshot.scaling_factor or 1.0) if pip else None
            contract = _first_number(m.instrument.contract_size)
            dr = m.dealing_rules
            if dr.min_deal_size is not None and dr.min_deal_size.value is not None:
                changes["min_deal_size"] = float(dr.min_deal_size.value)
            stop = dr.min_normal_stop_or_limit_distance
            if stop is not None and stop.value is not None and (stop.unit or "").upper() == "POINTS" and point:
                changes["min_stop_distance"] = float(stop.value) * point
            if m.instrument.margin_factor is not None and (m.instrument.margin_factor_unit or "").upper() in (
                    "PERCENTAGE", ""):
                changes["margin_factor"] = float(m.instrument.margin_factor)
        except IGError as exc:
            found = not (isinstance(exc, IGRequestError) and exc.status == 404)
            log.warning("IG broker: GET /markets/%s failed (%s): the catalog's rules are used", epic, exc)
        if point is None:
            point = base.pip or 1.0
        vpp = self._vpp
        if isinstance(vpp, int | float):
            value = float(vpp)
        elif vpp is not None and epic in vpp:
            value = float(vpp[epic])
        else:
            value = float(contract or 1.0)
        rules = replace(base, pip=float(point), value_per_point=value, **changes)  # type: ignore[arg-type]
        got = MarketFacts(float(point), value, rules, expiry, found)
        with self._lock:
            self._info_cache[epic] = got
        return got

    def market_open(self, epic: str, now_ns: int | None = None) -> bool:
        """Whether IG lets ``epic`` be dealt: its ``marketStatus`` (``GET /markets/{epic}``) is TRADEABLE.
        Read at most every :attr:`status_ttl` seconds per epic (the risk manager's MARKET_CLOSED rule asks
        this for opening orders only). If IG cannot be read: the last status read, else open (IG refuses a
        deal on a closed market itself)."""
        now = time.monotonic()
        with self._lock:
            cached = self._status_cache.get(epic)
        if cached is not None and now - cached[0] < self.status_ttl:
            return cached[1]
        try:
            status = self.client.market(epic).snapshot.market_status
        except IGError as exc:
            log.warning("IG broker: GET /markets/%s failed (%s): market status unknown", epic, exc)
            return cached[1] if cached is not None else True
        return self._remember_status(epic, status)

    def _remember_status(self, epic: str, status: str | None) -> bool:
        is_open = (status or "").upper() == "TRADEABLE"
        with self._lock:
            self._status_cache[epic] = (time.monotonic(), is_open)
        return is_open

    def _vpp_of(self, epic: str) -> float:
        return self._info(epic).value_per_point

    # -- TRADE stream ---------------------------------------------------------------------------------
    def on_trade_event(self, event: Any) -> None:
        """One TRADE event (TradeConfirm, PositionUpdate or WorkingOrderUpdate). Returns at once: it only
        files the confirm and flags changes the book does not explain for the next ``on_tick``. The first
        call makes the caller the broker's confirm source (as :meth:`use_trade_events` does)."""
        kind = type(event).__name__
        if self._stream is None:  # whoever calls this is a confirm source from now on
            self._stream = True
        if kind == "TradeConfirm":
            self._box.put(outcome_from_stream(event))
            return
        ref, deal_id = getattr(event, "deal_reference", None), getattr(event, "deal_id", None)
        status = (getattr(event, "status", None) or "").upper()
        with self._lock:
            if (deal_id and deal_id in self._busy) or (status == "OPEN" and ref and ref in self._recent_refs):
                return  # this broker's own deal in flight: its outcome is applied from the confirm
            if kind == "PositionUpdate":
                mine = self._book.positions.get(deal_id or "")
                if status == "OPEN" and mine is not None:
                    return
                if status == "UPDATED" and mine is not None and abs(mine.size - (event.size or 0)) <= EPS:
                    sl, ll = event.stop_level, event.limit_level
                    if sl != mine.stop_level or ll != mine.limit_level:  # a trailing stop moved
                        pos = replace(mine, stop_level=sl, limit_level=ll)
                        self._book.positions[pos.deal_id] = pos
                        self._events.append(("position", pos))
                    return
                if status == "DELETED" and mine is None:
                    return
            elif kind == "WorkingOrderUpdate":
                known = (deal_id or "") in self._book.working
                if (status == "OPEN" and known) or (status == "DELETED" and not known):
                    return
            self._dirty = True

    # -- book mutations (state lock held) -----------------------------------------------------------------
    def _close_fill(self, pos: Position, size: float, price: float, ts: int, reason: str, ref: str,
                    profit: float | None = None) -> Fill:
        pnl = profit if profit is not None else (price - pos.level) * pos.direction.sign * size * self._vpp_of(pos.epic)
        self._realized += pnl
        left = round(pos.size - size, 10)
        fill = Fill(ref or pos.deal_reference, pos.deal_id, pos.epic, pos.direction.opposite(), size, price, ts,
                    reason, pnl, opening=False)
        self._events.append(("fill", fill))
        if left <= EPS:
            self._book.positions.pop(pos.deal_id, None)
            self._events.append(("position", replace(pos, size=0.0)))
        else:
            now = replace(pos, size=left)
            self._book.positions[pos.deal_id] = now
            self._events.append(("position", now))
        return fill

    def _open_fill(self, pos: Position, reason: str, ref: str) -> Fill:
        self._book.positions[pos.deal_id] = pos
        fill = Fill(ref or pos.deal_reference, pos.deal_id, pos.epic, pos.direction, pos.size, pos.level,
                    pos.open_ns, reason)
        self._events.append(("fill", fill))
        self._events.append(("position", pos))
        return fill

    def _fallback_price(self, epic: str, side: Direction) -> float:
        q = self._book.quotes.get(epic)
        if q is None:
            return float("nan")
        return q[2] if side is Direction.BUY else q[1]

    # -- reconciliation ------------------------------------------------------------------------------------
    def reconcile(self) -> dict[str, object]:
        """Read IG's positions and working orders, fix the book to match, report the differences.

        The report: ``source``, ``ok`` (no difference and no error), ``missing_positions`` (deal ids the
        book held that IG no longer has), ``unknown_positions`` (IG's, adopted), ``changed_positions``
        (size, stop or limit changed), ``missing_orders``, ``unknown_orders``, ``fills`` (the fills
        found) and ``error`` (why IG could not be read, else None).
        """
        with self._deal_lock:
            report = self._reconcile_locked()
        self._flush()
        return report

    def _reconcile_locked(self, own: Order | None = None,
                          closing: dict[str, tuple[str, str]] | None = None) -> dict[str, object]:
        """Reconcile (dealing lock held). ``own``: an order whose outcome is unknown (its position or
        working order is recognised by its reference); ``closing``: deal id → (fill reason, reference) of
        closes this broker sent."""
        self._last_sync = time.monotonic()
        report: dict[str, Any] = {"source": "ig", "ok": False, "missing_positions": [], "unknown_positions": [],
                                  "changed_positions": [], "missing_orders": [], "unknown_orders": [],
                                  "fills": [], "error": None}
        since_ns, read_ns = self._synced_ns, time.time_ns()
        try:
            raw_p = self.client.positions()
            raw_w = self.client.working_orders()
            remote_p = [position_from_ig(p, self._info(p.epic).point) for p in raw_p]
            remote_w = [working_from_ig(w, self._info(w.epic).point) for w in raw_w]
        except IGError as exc:
            self._dirty = True
            report["error"] = f"{type(exc).__name__}: {exc}"
            log.warning("IG broker: reconciliation could not read IG (%s)", report["error"])
            self.last_report = report
            return report
        self._synced_ns = read_ns
        with self._lock:
            diff = self._book.diff(remote_p, remote_w)
        closes = self._close_levels(diff.disappeared + [m for m, t in diff.resized if t.size < m.size], since_ns)
        closing = closing or {}
        fills: list[Fill] = []
        with self._lock:
            for pos in diff.disappeared:
                price, ts = closes[pos.deal_id]
                why, ref = closing.get(pos.deal_id) or (classify_close(pos, price, self._tol(pos.epic)), "")
                fills.append(self._close_fill(pos, pos.size, self._close_price(pos, price, why), ts, why, ref))
            for mine, theirs in diff.resized:
                if theirs.size < mine.size:
                    price, ts = closes[mine.deal_id]
                    why, ref = closing.get(mine.deal_id) or ("close", "")
                    fills.append(self._close_fill(mine, round(mine.size - theirs.size, 10),
                                                  self._close_price(mine, price, why), ts, why, ref))
                    self._book.positions[mine.deal_id] = replace(self._book.positions[mine.deal_id],
                                                                 stop_level=theirs.stop_level,
                                                                 limit_level=theirs.limit_level)
                else:  # grew on IG's side: the extra is an opening we did not make
                    extra = replace(theirs, size=round(theirs.size - mine.size, 10))
                    fill = Fill(extra.deal_reference, extra.deal_id, extra.epic, extra.direction, extra.size,
                                theirs.level, time.time_ns(), "external")
                    fills.append(fill)
                    self._book.positions[theirs.deal_id] = theirs
                    self._events += [("fill", fill), ("position", theirs)]
            for mine, theirs in diff.amended:
                now = replace(mine, stop_level=theirs.stop_level, limit_level=theirs.limit_level,
                              trailing_distance=theirs.trailing_distance or mine.trailing_distance)
                self._book.positions[mine.deal_id] = now
                self._events.append(("position", now))
            gone = {wo.deal_id: (wo, order) for wo, order in diff.orders_gone}
            gone_by_ref = {wo.deal_reference: wo.deal_id for wo, _ in diff.orders_gone if wo.deal_reference}
            for pos in diff.appeared:
                wid = pos.deal_id if pos.deal_id in gone else gone_by_ref.get(pos.deal_reference)
                if wid is not None and wid in gone:  # a working order filled on IG's side
                    wo, order = gone.pop(wid)
                    self._book.working.pop(wid, None)
                    fill = self._open_fill(pos, "working_order", order.deal_reference)
                    self._events.append(("order", OrderResult(order, OrderStatus.FILLED, "SUCCESS", pos.deal_id,
                                                              pos.level, (fill,))))
                elif own is not None and pos.deal_reference == own.deal_reference:
                    fill = self._open_fill(pos, "market", own.deal_reference)
                else:
                    fill = self._open_fill(pos, "external", pos.deal_reference)
                fills.append(fill)
            now_ns = time.time_ns()
            for wid, (wo, order) in gone.items():
                self._book.working.pop(wid, None)
                why = "EXPIRED" if wo.good_till_ns is not None and wo.good_till_ns <= now_ns else "DELETED"
                self._events.append(("order", OrderResult(order, OrderStatus.CANCELLED, why, wid, wo.level)))
            for wo in diff.orders_new:
                mine_order = own if own is not None and wo.deal_reference == own.deal_reference else None
                self._book.working[wo.deal_id] = (wo, mine_order or order_for_working(wo))
            for wo in diff.orders_changed:
                self._book.working[wo.deal_id] = (wo, self._book.working[wo.deal_id][1])
            self._dirty = False
        report.update(
            missing_positions=[p.deal_id for p in diff.disappeared],
            unknown_positions=[p.deal_id for p in diff.appeared],
            changed_positions=[m.deal_id for m, _ in diff.resized] + [m.deal_id for m, _ in diff.amended],
            missing_orders=[wo.deal_id for wo, _ in diff.orders_gone],
            unknown_orders=[wo.deal_id for wo in diff.orders_new],
            fills=fills,
            ok=diff.empty,
        )  # fmt: skip
        if not diff.empty:
            log.info("IG broker: reconciled with IG: %s", {k: v for k, v in report.items() if v and k != "fills"})
        self.last_report = report
        return report

    def _tol(self, epic: str) -> float:
        return 0.5 * self._info(epic).point

    def _close_levels(self, positions: list[Position], since_ns: int | None) -> dict[str, tuple[float | None, int]]:
        """deal id → (level, time ns) at which IG closed each of ``positions`` (level None if not found),
        from ONE activity query covering the time since the last good reconciliation (``since_ns``).

        The activity is matched by ``affectedDealId`` rather than queried by ``dealId``: IG may file a
        close under the closing deal's own id."""
        now = time.time_ns()
        out: dict[str, tuple[float | None, int]] = {p.deal_id: (None, now) for p in positions}
        if not positions:
            return out
        start_ns = min(p.open_ns for p in positions)
        if since_ns is not None:
            start_ns = max(start_ns, since_ns)
        try:
            start = pd.Timestamp(start_ns - 120_000_000_000, unit="ns", tz="UTC")  # margin for clock skew
            acts = self.client.activity(start=start, detailed=True)
        except (IGError, ValueError) as exc:
            log.warning("IG broker: activity unavailable (%s): close levels unknown for %s", exc, list(out))
            return out
        best: dict[str, Any] = {}
        for a in acts:
            d = a.details
            if d is None or d.level is None:
                continue
            for x in d.actions:
                target = x.affected_deal_id or a.deal_id
                if x.action_type in _CLOSE_ACTIONS and target in out and (
                        target not in best or a.date >= best[target].date):
                    best[target] = a
        for deal_id, a in best.items():
            out[deal_id] = (a.details.level, int(a.date.timestamp() * 1e9))
        return out

    def _close_price(self, pos: Position, price: float | None, why: str) -> float:
        if price is not None:
            return price
        if why in ("stop", "trailing_stop") and pos.stop_level is not None:
            return pos.stop_level
        if why == "limit" and pos.limit_level is not None:
            return pos.limit_level
        px = self._fallback_price(pos.epic, pos.direction.opposite())
        return pos.level if px != px else px  # NaN: no quote either

    # -- events --------------------------------------------------------------------------------------------
    def _flush(self) -> None:
        """Deliver the collected events (after the locks are released), then the account after fills."""
        with self._lock:
            events, self._events = self._events, []
            listeners = list(self._listeners)
        if not events:
            return
        if listeners and any(kind == "fill" for kind, _ in events):
            events.append(("account", self.account()))
        for ev in events:
            for fn in listeners:
                try:
                    fn(ev)
                except Exception:  # a listener's bug must not break dealing
                    log.exception("IG broker listener %r failed on %s", fn, ev[0])
