"""The simulated IG broker: accounts, positions, working orders, confirms and history, plus the trigger loop.

Stops, limits (trailing included) and working orders are evaluated on every request and on a background
tick (the server calls :meth:`Broker.evaluate` every ~100 ms) over the market's ticks since the last
check, so a price that crossed a level between two checks still triggers, at the crossing tick's price
(at the exact level for a guaranteed stop or a working order). A forced price (tests) is one tick.
"""

from __future__ import annotations

import numpy as np

from igkit.sim._orders import OrderDealing
from igkit.sim._positions import SIZE_STEP
from igkit.sim._prices import PriceSource
from igkit.sim._state import AccountSpec, Position, WorkingOrder

__all__ = ["SIZE_STEP", "Broker"]

_SEC = 1_000_000_000
_MAX_WINDOW_NS = 3600 * _SEC  # look back at most an hour (e.g. after the clock jumped)


class Broker(OrderDealing):
    """Accounts and dealing of one simulated IG client; thread-safe (every public method takes the lock)."""

    def __init__(self, prices: PriceSource, accounts: list[AccountSpec], *, confirm_ttl: float = 180.0,
                 client_id: str = "100000001") -> None:
        super().__init__(prices, accounts, confirm_ttl=confirm_ttl, client_id=client_id)
        self._checked: dict[str, int] = {}  # epic -> time (ns) up to which its ticks were evaluated

    def evaluate(self) -> int:
        """Fire every stop, limit and working order the price crossed since the last check.

        Returns how many positions were closed or orders filled or expired.
        """
        with self.lock:
            now = self.clock.now_ns()
            self.expire_confirms()
            fired = self._expire_orders(now)
            epics = {p.epic for p in self.positions.values()} | {o.epic for o in self.orders.values()}
            for epic in sorted(epics):
                last = self._checked.get(epic)
                forced = self.prices.is_forced(epic)
                if last is None or last > now:
                    last = now - 1
                start = max(last, now - _MAX_WINDOW_NS)
                self._checked[epic] = now
                if not forced and start >= now:
                    continue
                ts, bid, ask = self.prices.ticks(epic, start, now)
                if forced:
                    ts = np.array([now], dtype=np.int64)
                if not len(ts):
                    continue
                if not self.prices.is_open(epic):
                    continue
                for pos in sorted((p for p in self.positions.values() if p.epic == epic),
                                  key=lambda p: p.created_ns):
                    fired += self._check_position(pos, ts, bid, ask)
                for order in sorted((o for o in self.orders.values() if o.epic == epic),
                                    key=lambda o: o.created_ns):
                    fired += self._check_order(order, ts, bid, ask)
            return fired

    def _check_position(self, pos: Position, ts: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> int:
        keep = ts >= pos.created_ns
        if not keep.any():
            return 0
        px = (bid if pos.direction == "BUY" else ask)[keep]
        sign = pos.sign
        spec = self.prices.spec(pos.epic)
        stop_path: np.ndarray | None = None
        if pos.trailing_distance is not None and pos.stop_level is not None:
            best = np.maximum.accumulate(px * sign) * sign  # running best close price
            cand = best - sign * pos.trailing_distance * spec.pip
            stop_path = np.maximum(pos.stop_level * sign, cand * sign) * sign
        hits: list[tuple[int, float]] = []
        if pos.stop_level is not None:
            levels = stop_path if stop_path is not None else np.full(len(px), pos.stop_level)
            crossed = np.nonzero((px - levels) * sign <= 1e-12)[0]
            if len(crossed):
                i = int(crossed[0])
                lvl = float(levels[i])
                hits.append((i, lvl if pos.guaranteed else float(px[i])))
        if pos.limit_level is not None:
            crossed = np.nonzero((px - pos.limit_level) * sign >= -1e-12)[0]
            if len(crossed):
                hits.append((int(crossed[0]), float(px[int(crossed[0])])))
        if not hits:
            if stop_path is not None and pos.trailing_step is not None and pos.stop_level is not None:
                new = float(stop_path[-1])
                if (new - pos.stop_level) * sign >= pos.trailing_step * spec.pip - 1e-12:
                    pos.stop_level = spec.round_price(new)
                    self.events.emit("OPU", pos.account_id, self.opu(pos, "UPDATED"))
            return 0
        _, level = min(hits)
        acc = self.account(pos.account_id)
        self._close_part(acc, pos, pos.size, spec.round_price(level), [], system=True)
        self.emit_account(acc.account_id)
        return 1

    def _check_order(self, order: WorkingOrder, ts: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> int:
        keep = ts >= order.created_ns
        if not keep.any():
            return 0
        buy = order.direction == "BUY"
        px = (ask if buy else bid)[keep]
        rising = (buy and order.order_type == "STOP") or (not buy and order.order_type == "LIMIT")
        crossed = px >= order.level - 1e-12 if rising else px <= order.level + 1e-12
        if not crossed.any():
            return 0
        acc = self.account(order.account_id)
        spec = self.prices.spec(order.epic)
        del self.orders[order.deal_id]
        self._order_done(acc, order, order.deal_reference, "DELETED", "DELETED", "WORKING_ORDER_DELETED",
                         f"Working order filled: {order.deal_id}", channel="SYSTEM")
        sign = 1 if buy else -1
        stop = None if order.stop_distance is None else spec.round_price(
            order.level - sign * order.stop_distance * spec.pip)
        limit = None if order.limit_distance is None else spec.round_price(
            order.level + sign * order.limit_distance * spec.pip)
        pos = Position(order.deal_id, order.deal_reference, order.account_id, order.epic, order.expiry,
                       order.direction, order.size, order.level, order.currency, self.clock.now_ns(),
                       stop, limit, order.guaranteed)
        self.positions[pos.deal_id] = pos
        self.record_activity(acc.account_id, epic=pos.epic, period=pos.expiry, deal_id=pos.deal_id,
                             type_="POSITION", status="ACCEPTED", channel="SYSTEM",
                             description=f"Position opened: {pos.deal_id}",
                             details=self.activity_details(
                                 ref=pos.deal_reference, epic=pos.epic, size=pos.size, direction=pos.direction,
                                 level=pos.level, acc=acc, stop_level=stop, limit_level=limit,
                                 guaranteed=pos.guaranteed,
                                 actions=[{"actionType": "POSITION_OPENED", "affectedDealId": pos.deal_id}]))
        self.events.emit("OPU", acc.account_id, self.opu(pos, "OPEN"))
        self.emit_account(acc.account_id)
        return 1

    def _expire_orders(self, now: int) -> int:
        n = 0
        for order in [o for o in self.orders.values() if o.good_till_ns is not None and o.good_till_ns <= now]:
            del self.orders[order.deal_id]
            self._order_done(self.account(order.account_id), order, order.deal_reference, "DELETED", "DELETED",
                             "WORKING_ORDER_DELETED", f"Working order expired: {order.deal_id}",
                             channel="SYSTEM")
            n += 1
        return n
