"""Dealing in positions: open, close (fully or partly) and amend, with IG's rejections.

Hand-written because it is the simulator's core: the rules (fills at bid/ask, margin, minimum size,
size increment, stop/limit distances, CFD versus spread-bet accounts, duplicate references) are what
the client is tested against. Business rejections never raise: like IG, the request succeeds with a
``dealReference`` and the REJECTED outcome (with its ``reason``) is in the confirm. Working orders and
triggers build on this in :mod:`igkit.sim._orders` and :mod:`igkit.sim.broker`.
"""

from __future__ import annotations

from typing import Any

from igkit.sim._ledger import Ledger
from igkit.sim._state import Account, Position
from igkit.sim._util import ApiError

__all__ = ["SIZE_STEP", "PositionDealing"]

SIZE_STEP = 0.01  # every instrument's deal-size increment
_EPS = 1e-9


class PositionDealing(Ledger):
    """Positions of one simulated IG client; thread-safe (every public method takes the lock)."""

    # --- shared checks ---------------------------------------------------------------------------------
    def _common_reject(self, acc: Account, epic: str, expiry: str, size: float) -> str | None:
        spec = self.prices.spec(epic)
        if not self.prices.is_open(epic):
            return "MARKET_CLOSED"
        spreadbet = expiry == "DFB" or spec.expiry == "DFB"
        if spreadbet and acc.account_type != "SPREADBET":
            return "REJECT_SPREADBET_ORDER_ON_CFD_ACCOUNT"
        if not spreadbet and acc.account_type == "SPREADBET":
            return "REJECT_CFD_ORDER_ON_SPREADBET_ACCOUNT"
        if expiry != spec.expiry:
            return "INSTRUMENT_NOT_FOUND"
        if size < spec.min_deal_size - _EPS:
            return "MINIMUM_ORDER_SIZE_ERROR"
        if abs(size / SIZE_STEP - round(size / SIZE_STEP)) > 1e-6:
            return "SIZE_INCREMENT"
        return None

    def attached_levels(self, epic: str, direction: str, ref_level: float, *, stop_level: float | None,
                        stop_distance: float | None, limit_level: float | None,
                        limit_distance: float | None, from_market: bool = False,
                        ) -> tuple[float | None, float | None, bool]:
        """(stop, limit, ok): levels from levels or distances (points) off ``ref_level``.

        ok is False when a level is on the wrong side of the market (it would fire at once) or nearer than
        the instrument's minimum distance to ``ref_level`` (the deal level), or to the market if
        ``from_market`` (amending an open position).
        """
        spec = self.prices.spec(epic)
        sign = 1 if direction == "BUY" else -1
        stop = stop_level if stop_distance is None else ref_level - sign * stop_distance * spec.pip
        limit = limit_level if limit_distance is None else ref_level + sign * limit_distance * spec.pip
        bid, ask = self.prices.quote(epic)
        exit_px = bid if direction == "BUY" else ask  # the side a stop or limit closes at
        base = exit_px if from_market else ref_level  # where the minimum distance is measured from
        min_gap = spec.min_stop_distance * spec.pip - _EPS
        ok = True
        if stop is not None:
            stop = spec.round_price(stop)
            ok &= (base - stop) * sign >= min_gap and (exit_px - stop) * sign > _EPS
        if limit is not None:
            limit = spec.round_price(limit)
            ok &= (limit - base) * sign >= min_gap and (limit - exit_px) * sign > _EPS
        return stop, limit, ok

    def _reject(self, acc: Account, ref: str, reason: str, *, epic: str | None, expiry: str | None,
                direction: str | None, kind: str = "POSITION", deal_id: str | None = None,
                keep_existing: bool = False) -> str:
        deal_id = deal_id or self.new_id()
        confirm = self.make_confirm(ref=ref, deal_id=deal_id, status=None, reason=reason, epic=epic,
                                    expiry=expiry, direction=direction, level=None, size=None, affected=[])
        self.store_confirm(acc.account_id, confirm, replace=not keep_existing)
        self.record_activity(acc.account_id, epic=epic or "", period=expiry or "-", deal_id=deal_id,
                             type_=kind, status="REJECTED", description=f"Rejected: {reason}",
                             details=self.activity_details(ref=ref, actions=[], epic=epic or "", size=None,
                                                           direction=direction, level=None, acc=acc))
        return ref

    # --- open ------------------------------------------------------------------------------------------
    def open_position(self, account_id: str, *, epic: str, expiry: str, direction: str, size: float,
                      force_open: bool, guaranteed: bool = False, order_type: str = "MARKET",
                      level: float | None = None, stop_level: float | None = None,
                      stop_distance: float | None = None, limit_level: float | None = None,
                      limit_distance: float | None = None, trailing: bool = False,
                      trailing_increment: float | None = None, deal_reference: str | None = None) -> str:
        """Deal at the market (or at ``level`` or better for LIMIT); returns the deal reference."""
        with self.lock:
            acc = self.account(account_id)
            ref, dup = self.take_reference(account_id, deal_reference)
            rej: dict[str, Any] = dict(epic=epic, expiry=expiry, direction=direction)
            if dup:
                return self._reject(acc, ref, "DUPLICATE_ORDER_ERROR", keep_existing=True, **rej)
            reason = self._common_reject(acc, epic, expiry, size)
            if reason:
                return self._reject(acc, ref, reason, **rej)
            spec = self.prices.spec(epic)
            bid, ask = self.prices.quote(epic)
            fill = ask if direction == "BUY" else bid
            if order_type in ("LIMIT", "QUOTE") and level is not None and (fill - level) * (
                    1 if direction == "BUY" else -1) > _EPS:
                return self._reject(acc, ref, "LEVEL_TOLERANCE_ERROR", **rej)
            stop, limit, ok = self.attached_levels(epic, direction, fill, stop_level=stop_level,
                                                   stop_distance=stop_distance, limit_level=limit_level,
                                                   limit_distance=limit_distance)
            if not ok:
                return self._reject(acc, ref, "ATTACHED_ORDER_LEVEL_ERROR", **rej)
            affected: list[dict[str, str]] = []
            opposite = 0.0 if force_open else sum(
                p.size for p in self.positions.values()
                if p.account_id == account_id and p.epic == epic and p.direction != direction)
            left = max(0.0, size - opposite)
            if left > _EPS and self.margin_of(spec, left, fill, acc) > self.balance(account_id)["available"] + _EPS:
                return self._reject(acc, ref, "INSUFFICIENT_FUNDS", **rej)
            remaining, profit_total = size, 0.0
            if not force_open:
                remaining, profit_total = self._net(acc, epic, direction, size, affected, ref)
            if remaining > _EPS:
                deal_id = self.new_id()
                pos = Position(deal_id, ref, account_id, epic, expiry, direction, round(remaining, 2), fill,
                               spec.currency, self.clock.now_ns(), stop, limit, guaranteed,
                               stop_distance if trailing else None, trailing_increment if trailing else None)
                self.positions[deal_id] = pos
                affected.append({"dealId": deal_id, "status": "OPENED"})
                self.events.emit("OPU", account_id, self.opu(pos, "OPEN", ref))
                status = "OPEN"
            else:
                deal_id = affected[0]["dealId"]
                status = "CLOSED" if all(a["status"] == "FULLY_CLOSED" for a in affected) else "PARTIALLY_CLOSED"
            confirm = self.make_confirm(
                ref=ref, deal_id=deal_id, status=status, reason="SUCCESS", epic=epic, expiry=expiry,
                direction=direction, level=fill, size=size, affected=affected, stop_level=stop,
                limit_level=limit, stop_distance=stop_distance, limit_distance=limit_distance,
                guaranteed=guaranteed, trailing=trailing,
                profit=round(profit_total, 2) if not force_open and remaining < size else None,
                profit_ccy=acc.currency if not force_open and remaining < size else None)
            self.store_confirm(account_id, confirm)
            if status == "OPEN":  # closes by netting were recorded by _close_part
                self.record_activity(
                    account_id, epic=epic, period=expiry, deal_id=deal_id, type_="POSITION", status="ACCEPTED",
                    description=f"Position opened: {deal_id}",
                    details=self.activity_details(
                        ref=ref, actions=[{"actionType": "POSITION_OPENED", "affectedDealId": deal_id}],
                        epic=epic, size=round(remaining, 2), direction=direction, level=fill, acc=acc,
                        stop_level=stop, limit_level=limit, stop_distance=stop_distance,
                        limit_distance=limit_distance, guaranteed=guaranteed))
            self.emit_account(account_id)
            return ref

    def _net(self, acc: Account, epic: str, direction: str, size: float, affected: list[dict[str, str]],
             ref: str) -> tuple[float, float]:
        """Reduce opposite positions in ``epic`` oldest first; returns (size left, profit realised)."""
        remaining, profit = size, 0.0
        opposite = sorted((p for p in self.positions.values() if p.account_id == acc.account_id
                           and p.epic == epic and p.direction != direction), key=lambda p: p.created_ns)
        for pos in opposite:
            if remaining <= _EPS:
                break
            take = min(pos.size, remaining)
            profit += self._close_part(acc, pos, take, self.close_price(pos), affected, system=False, ref=ref)
            remaining = round(remaining - take, 10)
        return remaining, profit

    def _close_part(self, acc: Account, pos: Position, size: float, level: float,
                    affected: list[dict[str, str]], *, system: bool, ref: str | None = None) -> float:
        """Close ``size`` of ``pos`` at ``level``: book the profit, record history, emit OPU. Returns profit."""
        profit = round(self.to_account_ccy(self.pnl(pos, level, size), pos.currency, acc), 2)
        acc.balance += profit
        self.record_close(pos, size, level, profit, acc)
        full = size >= pos.size - _EPS
        affected.append({"dealId": pos.deal_id, "status": "FULLY_CLOSED" if full else "PARTIALLY_CLOSED"})
        what = "closed" if full else "partially closed"
        self.record_activity(
            acc.account_id, epic=pos.epic, period=pos.expiry, deal_id=pos.deal_id, type_="POSITION",
            status="ACCEPTED", description=f"Position {what}: {pos.deal_id}",
            channel="SYSTEM" if system else "PUBLIC_WEB_API",
            details=self.activity_details(
                ref=ref or pos.deal_reference, epic=pos.epic, size=size, level=level, acc=acc,
                direction="SELL" if pos.direction == "BUY" else "BUY",
                actions=[{"actionType": "POSITION_CLOSED" if full else "POSITION_PARTIALLY_CLOSED",
                          "affectedDealId": pos.deal_id}]))
        if full:
            del self.positions[pos.deal_id]
            self.events.emit("OPU", acc.account_id, self.opu(pos, "DELETED", ref, level=level))
        else:
            pos.size = round(pos.size - size, 10)
            self.events.emit("OPU", acc.account_id, self.opu(pos, "UPDATED", ref))
        return profit

    # --- close -----------------------------------------------------------------------------------------
    def close_position(self, account_id: str, *, direction: str, size: float, deal_id: str | None = None,
                       epic: str | None = None, expiry: str | None = None, order_type: str = "MARKET",
                       level: float | None = None) -> str:
        """Close by dealId, or by epic+expiry (oldest positions first); returns the deal reference."""
        with self.lock:
            acc = self.account(account_id)
            ref = self.new_reference()
            if deal_id is not None:
                pos = self.positions.get(deal_id)
                if pos is None or pos.account_id != account_id:
                    return self._reject(acc, ref, "POSITION_NOT_FOUND", epic=epic, expiry=expiry,
                                        direction=direction, deal_id=deal_id)
                targets = [pos]
            else:
                targets = sorted((p for p in self.positions.values() if p.account_id == account_id
                                  and p.epic == epic and p.expiry == expiry and p.direction != direction),
                                 key=lambda p: p.created_ns)
                if not targets:
                    return self._reject(acc, ref, "POSITION_NOT_FOUND", epic=epic, expiry=expiry,
                                        direction=direction)
            first = targets[0]
            rej: dict[str, Any] = dict(epic=first.epic, expiry=first.expiry, direction=direction, deal_id=first.deal_id)
            if first.direction == direction or size > sum(p.size for p in targets) + _EPS:
                return self._reject(acc, ref, "POSITION_NOT_AVAILABLE_TO_CLOSE", **rej)
            if not self.prices.is_open(first.epic):
                return self._reject(acc, ref, "MARKET_CLOSED", **rej)
            if abs(size / SIZE_STEP - round(size / SIZE_STEP)) > 1e-6:
                return self._reject(acc, ref, "SIZE_INCREMENT", **rej)
            px = self.close_price(first)
            if order_type in ("LIMIT", "QUOTE") and level is not None and (level - px) * first.sign > _EPS:
                return self._reject(acc, ref, "LEVEL_TOLERANCE_ERROR", **rej)
            affected: list[dict[str, str]] = []
            profit = 0.0
            remaining = size
            for pos in targets:
                if remaining <= _EPS:
                    break
                take = min(pos.size, remaining)
                profit += self._close_part(acc, pos, take, px, affected, system=False, ref=ref)
                remaining = round(remaining - take, 10)
            full = all(a["status"] == "FULLY_CLOSED" for a in affected)
            confirm = self.make_confirm(
                ref=ref, deal_id=first.deal_id, status="CLOSED" if full else "PARTIALLY_CLOSED",
                reason="SUCCESS", epic=first.epic, expiry=first.expiry, direction=direction, level=px,
                size=size, affected=affected, profit=round(profit, 2), profit_ccy=acc.currency)
            self.store_confirm(account_id, confirm)
            self.emit_account(account_id)
            return ref

    # --- amend -----------------------------------------------------------------------------------------
    def amend_position(self, account_id: str, deal_id: str, *, stop_level: float | None,
                       limit_level: float | None, guaranteed: bool = False, trailing: bool = False,
                       trailing_distance: float | None = None,
                       trailing_increment: float | None = None) -> str:
        """Replace a position's stop and limit (a missing level removes it); returns the deal reference."""
        with self.lock:
            acc = self.account(account_id)
            pos = self.positions.get(deal_id)
            if pos is None or pos.account_id != account_id:
                raise ApiError(404, "error.service.marketdata.position.details.null.error")
            ref = self.new_reference()
            stop, limit, ok = self.attached_levels(pos.epic, pos.direction, pos.level, stop_level=stop_level,
                                                   stop_distance=None, limit_level=limit_level,
                                                   limit_distance=None, from_market=True)
            if not ok:
                return self._reject(acc, ref, "ATTACHED_ORDER_LEVEL_ERROR", epic=pos.epic, expiry=pos.expiry,
                                    direction=pos.direction, deal_id=deal_id, kind="EDIT_STOP_AND_LIMIT")
            pos.stop_level, pos.limit_level, pos.guaranteed = stop, limit, guaranteed
            pos.trailing_distance = trailing_distance if trailing else None
            pos.trailing_step = trailing_increment if trailing else None
            confirm = self.make_confirm(
                ref=ref, deal_id=deal_id, status="AMENDED", reason="SUCCESS", epic=pos.epic,
                expiry=pos.expiry, direction=pos.direction, level=pos.level, size=pos.size,
                affected=[{"dealId": deal_id, "status": "AMENDED"}], stop_level=stop, limit_level=limit,
                guaranteed=guaranteed, trailing=trailing)
            self.store_confirm(account_id, confirm)
            self.record_activity(account_id, epic=pos.epic, period=pos.expiry, deal_id=deal_id,
                                 type_="EDIT_STOP_AND_LIMIT", status="ACCEPTED",
                                 description=f"Limit and stop amended: {deal_id}",
                                 details=self.activity_details(
                                     ref=ref, epic=pos.epic, size=pos.size, direction=pos.direction,
                                     level=pos.level, acc=acc, stop_level=stop, limit_level=limit,
                                     guaranteed=guaranteed,
                                     actions=[{"actionType": "STOP_LIMIT_AMENDED", "affectedDealId": deal_id}]))
            self.events.emit("OPU", account_id, self.opu(pos, "UPDATED", ref))
            return ref

    # --- reads -----------------------------------------------------------------------------------------
    def open_positions(self, account_id: str | None = None) -> list[Position]:
        with self.lock:
            return [p for p in self.positions.values() if account_id is None or p.account_id == account_id]

    def position(self, account_id: str, deal_id: str) -> Position:
        with self.lock:
            pos = self.positions.get(deal_id)
            if pos is None or pos.account_id != account_id:
                raise ApiError(404, "error.position.notfound")
            return pos

    def snapshot(self) -> dict[str, Any]:
        """Counts for logs and the CLI."""
        with self.lock:
            return {"positions": len(self.positions), "orders": len(self.orders),
                    "accounts": {a: self.balance(a) for a in self.accounts}}
