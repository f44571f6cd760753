"""The broker's books: accounts, balances, margin, confirms, ids, activity and transaction history.

Base class of :class:`igkit.sim.broker.Broker`; dealing lives there, the bookkeeping every deal shares
lives here. Everything runs under ``self.lock`` (an RLock shared with the HTTP handlers and the trigger
loop).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from igkit.market.catalog import InstrumentSpec
from igkit.sim._prices import PriceSource
from igkit.sim._state import (
    Account,
    AccountSpec,
    Activity,
    EventHub,
    Position,
    Transaction,
    WorkingOrder,
)
from igkit.sim._util import ApiError, fmt

__all__ = ["Ledger"]

_SEC = 1_000_000_000
_HISTORY_MAX = 20_000
_SYMBOLS = {"GBP": "£", "USD": "$", "EUR": "E", "JPY": "¥", "AUD": "A$", "CHF": "SF"}


def currency_symbol(code: str) -> str:
    return _SYMBOLS.get(code, code)


def _b36(n: int, width: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out.rjust(width, "0")


class Ledger:
    """Accounts, positions, working orders, confirms and history of one simulated IG client."""

    def __init__(self, prices: PriceSource, accounts: list[AccountSpec], *, confirm_ttl: float = 180.0,
                 client_id: str = "100000001") -> None:
        if not accounts:
            raise ValueError("the simulator needs at least one account")
        self.lock = threading.RLock()
        self.prices = prices
        self.clock = prices.clock
        self.events = EventHub()
        self.client_id = client_id
        self.confirm_ttl_ns = int(confirm_ttl * _SEC)
        self.accounts: dict[str, Account] = {}
        for i, a in enumerate(accounts):
            if a.account_type not in ("CFD", "SPREADBET"):
                raise ValueError(f"account {a.account_id}: account_type must be CFD or SPREADBET")
            name = a.name or ("Demo-cfd" if a.account_type == "CFD" else "Demo-SpreadBet") + f"-{i + 1}"
            self.accounts[a.account_id] = Account(a.account_id, name, a.account_type, a.currency,
                                                  float(a.balance), a.preferred)
        if not any(a.preferred for a in self.accounts.values()):
            next(iter(self.accounts.values())).preferred = True
        self.positions: dict[str, Position] = {}
        self.orders: dict[str, WorkingOrder] = {}
        self.confirms: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        self.used_refs: set[tuple[str, str]] = set()
        self.activities: deque[Activity] = deque(maxlen=_HISTORY_MAX)
        self.transactions: deque[Transaction] = deque(maxlen=_HISTORY_MAX)
        self._n = 0
        self._last_activity_ns = 0
        start = self.clock.now_ns()
        for acc in self.accounts.values():
            self.transactions.append(Transaction(start, acc.account_id, None, "Deposit", "-", acc.balance,
                                                 "DEPOSIT", self.new_id("DEP"), None, None, None,
                                                 acc.currency, True))

    # --- ids -------------------------------------------------------------------------------------------
    def new_id(self, prefix: str = "DIAAAA") -> str:
        self._n += 1
        return prefix + _b36(self._n, 9)

    def new_reference(self) -> str:
        self._n += 1
        return "SIMREF" + _b36(self._n, 9)

    # --- accounts --------------------------------------------------------------------------------------
    def account(self, account_id: str) -> Account:
        acc = self.accounts.get(account_id)
        if acc is None:
            raise ApiError(401, "error.security.account-token-invalid")
        return acc

    def preferred_account(self) -> Account:
        return next(a for a in self.accounts.values() if a.preferred)

    def to_account_ccy(self, amount: float, ccy: str, acc: Account) -> float:
        return amount * self.prices.fx_rate(ccy, acc.currency)

    def close_price(self, pos: Position) -> float:
        """The level a position would close at now: bid for a BUY, ask for a SELL."""
        bid, ask = self.prices.quote(pos.epic)
        return bid if pos.direction == "BUY" else ask

    def pnl(self, pos: Position, close_level: float, size: float | None = None) -> float:
        """Profit in the position's currency of closing ``size`` (default all) at ``close_level``."""
        s = self.prices.spec(pos.epic)
        return (close_level - pos.level) * pos.sign * (pos.size if size is None else size) * s.contract_size

    def margin_of(self, spec: InstrumentSpec, size: float, level: float, acc: Account) -> float:
        ccy = spec.currency
        return self.to_account_ccy(size * spec.contract_size * level * spec.margin_factor / 100.0, ccy, acc)

    def balance(self, account_id: str) -> dict[str, float]:
        """IG's ``{balance, deposit, profitLoss, available}`` in the account currency."""
        acc = self.account(account_id)
        upl = 0.0
        margin = 0.0
        for p in self.positions.values():
            if p.account_id != account_id:
                continue
            spec = self.prices.spec(p.epic)
            upl += self.to_account_ccy(self.pnl(p, self.close_price(p)), p.currency, acc)
            margin += self.margin_of(spec, p.size, p.level, acc)
        return {
            "balance": round(acc.balance, 2),
            "deposit": round(margin, 2),
            "profitLoss": round(upl, 2),
            "available": round(acc.balance + upl - margin, 2),
        }

    def emit_account(self, account_id: str) -> None:
        self.events.emit("ACCOUNT", account_id, self.balance(account_id))

    # --- confirms --------------------------------------------------------------------------------------
    def confirm(self, account_id: str, deal_reference: str) -> dict[str, Any]:
        self.expire_confirms()
        got = self.confirms.get((account_id, deal_reference))
        if got is None:
            raise ApiError(404, "error.confirms.deal-not-found")
        return got[1]

    def expire_confirms(self) -> None:
        cutoff = self.clock.now_ns() - self.confirm_ttl_ns
        for key in [k for k, (t, _) in self.confirms.items() if t < cutoff]:
            del self.confirms[key]

    def store_confirm(self, account_id: str, confirm: dict[str, Any], *, replace: bool = True) -> None:
        key = (account_id, confirm["dealReference"])
        if replace or key not in self.confirms:
            self.confirms[key] = (self.clock.now_ns(), confirm)
        self.events.emit("CONFIRM", account_id, dict(confirm))

    def make_confirm(self, *, ref: str, deal_id: str, status: str | None, reason: str, epic: str | None,
                     expiry: str | None, direction: str | None, level: float | None, size: float | None,
                     affected: list[dict[str, str]], stop_level: float | None = None,
                     limit_level: float | None = None, stop_distance: float | None = None,
                     limit_distance: float | None = None, guaranteed: bool = False, trailing: bool = False,
                     profit: float | None = None, profit_ccy: str | None = None) -> dict[str, Any]:
        accepted = reason == "SUCCESS"
        return {
            "date": fmt(self.clock.now_ns(), "isoms"),
            "dealId": deal_id,
            "dealReference": ref,
            "dealStatus": "ACCEPTED" if accepted else "REJECTED",
            "reason": reason,
            "status": status if accepted else None,
            "affectedDeals": affected if accepted else [],
            "epic": epic,
            "expiry": expiry,
            "direction": direction,
            "level": level if accepted else None,
            "size": size if accepted else None,
            "stopLevel": stop_level,
            "limitLevel": limit_level,
            "stopDistance": stop_distance,
            "limitDistance": limit_distance,
            "guaranteedStop": guaranteed,
            "trailingStop": trailing,
            "profit": profit,
            "profitCurrency": profit_ccy,
        }

    def take_reference(self, account_id: str, ref: str | None) -> tuple[str, bool]:
        """(reference to use, whether it is a duplicate of one already used on this account)."""
        if ref is None:
            ref = self.new_reference()
        key = (account_id, ref)
        dup = key in self.used_refs
        self.used_refs.add(key)
        return ref, dup

    # --- history ---------------------------------------------------------------------------------------
    def record_activity(self, account_id: str, *, epic: str, period: str, deal_id: str, type_: str,
                        status: str, description: str, details: dict[str, Any],
                        channel: str = "PUBLIC_WEB_API") -> None:
        ts = max(self.clock.now_ns(), self._last_activity_ns + 1_000_000)  # unique, increasing ms
        ts -= ts % 1_000_000
        self._last_activity_ns = ts
        self.activities.append(Activity(ts, account_id, epic, period, deal_id, channel, type_, status,
                                        description, details))

    def activity_details(self, *, ref: str, actions: list[dict[str, str]], epic: str, size: float | None,
                         direction: str | None, level: float | None, acc: Account,
                         stop_level: float | None = None, limit_level: float | None = None,
                         stop_distance: float | None = None, limit_distance: float | None = None,
                         guaranteed: bool = False, good_till: str | None = None,
                         trailing_distance: float | None = None,
                         trailing_step: float | None = None) -> dict[str, Any]:
        return {
            "dealReference": ref,
            "actions": actions,
            "marketName": self.prices.spec(epic).name if self.prices.known(epic) else epic,
            "goodTillDate": good_till,
            "currency": acc.currency,
            "size": size,
            "direction": direction,
            "level": level,
            "stopLevel": stop_level,
            "stopDistance": stop_distance,
            "guaranteedStop": guaranteed,
            "trailingStopDistance": trailing_distance,
            "trailingStep": trailing_step,
            "limitLevel": limit_level,
            "limitDistance": limit_distance,
        }

    def record_close(self, pos: Position, size: float, close_level: float, profit: float, acc: Account) -> None:
        self.transactions.append(Transaction(
            self.clock.now_ns(), acc.account_id, pos.created_ns, self.prices.spec(pos.epic).name,
            pos.expiry, profit, "DEAL", pos.deal_id, pos.level, close_level, size * pos.sign,
            acc.currency, False))

    # --- payload pieces shared by routes and events ----------------------------------------------------
    def opu(self, pos: Position, status: str, ref: str | None = None, *, size: float | None = None,
            level: float | None = None) -> dict[str, Any]:
        """A streaming OPU-like record of a position change (status OPEN, UPDATED or DELETED)."""
        return {
            "dealReference": ref or pos.deal_reference,
            "dealId": pos.deal_id,
            "direction": pos.direction,
            "epic": pos.epic,
            "status": status,
            "dealStatus": "ACCEPTED",
            "level": pos.level if level is None else level,
            "size": pos.size if size is None else size,
            "timestamp": fmt(self.clock.now_ns(), "isoms"),
            "channel": "PublicRestOTC",
            "expiry": pos.expiry,
            "currency": pos.currency,
            "stopLevel": pos.stop_level,
            "limitLevel": pos.limit_level,
            "guaranteedStop": pos.guaranteed,
            "trailingStop": pos.trailing_distance is not None,
        }

    def wou(self, order: WorkingOrder, status: str, ref: str | None = None) -> dict[str, Any]:
        """A streaming WOU-like record of a working-order change (status OPEN, UPDATED or DELETED)."""
        return {
            "dealReference": ref or order.deal_reference,
            "dealId": order.deal_id,
            "direction": order.direction,
            "epic": order.epic,
            "status": status,
            "dealStatus": "ACCEPTED",
            "level": order.level,
            "size": order.size,
            "timestamp": fmt(self.clock.now_ns(), "isoms"),
            "channel": "PublicRestOTC",
            "expiry": order.expiry,
            "currency": order.currency,
            "orderType": order.order_type,
            "timeInForce": order.time_in_force,
            "goodTillDate": fmt(order.good_till_ns, "slash") if order.good_till_ns else None,
            "stopDistance": order.stop_distance,
            "limitDistance": order.limit_distance,
            "guaranteedStop": order.guaranteed,
        }
