"""The pre-trade risk manager: checks each order against :class:`RiskLimits` before it reaches a broker.

Hand-written because it is igkit's own safety layer. :meth:`RiskManager.check` gathers one snapshot of
the book (net sizes, open positions, prices, the day's P&L, the order rate) into a
:class:`~igkit.risk.rules.CheckContext` and runs the rules in order; the first refusal wins and names its
rule and numbers. Orders that *reduce* exposure (a close, or an order against the net position no larger
than it) pass every rule but the size step — a halted manager still lets flatten orders through.

The day's P&L is equity now − equity at the first observation of the UTC day (realised + change of
unrealised), read from the broker's :meth:`~igkit.broker.Broker.account`; without a broker it is the sum
of the closing fills' P&L given to :meth:`on_fill` since 00:00 UTC. Call :meth:`update` on each tick or
bar so the day's first equity and a breach are seen even without orders. A breach halts the manager
until :meth:`reset_halt`.

Thread-safe: one lock; ``check``/``record`` from the engine thread, ``halt``/``state`` from any thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from igkit.broker.base import Broker
from igkit.broker.rules import InstrumentRules, rules_for
from igkit.risk.limits import OK, RiskLimits, Verdict
from igkit.risk.rules import DEFAULT_RULES, CheckContext, Rule
from igkit.types import Fill, Order, OrderResult

__all__ = ["RiskManager"]

log = logging.getLogger(__name__)

_DAY_NS = 86_400 * 10**9
_MINUTE_NS = 60 * 10**9
_EPS = 1e-9


class RiskManager:
    """Checks orders against limits, counts what was sent and filled, halts on a daily-loss breach.

    Args:
        limits: the limits to enforce.
        broker: the default broker to read positions, quotes and equity from (``check`` may pass another).
        clock: ``() -> int`` UTC ns for "now" (the orders-per-minute window and the UTC day); default wall
            clock. Tests and replays inject one; ``check(now_ns=...)`` overrides it per call.
        rules: the rules to run, in order (default :data:`~igkit.risk.rules.DEFAULT_RULES`).
        instruments: epic → :class:`InstrumentRules` (default: the broker's ``rules(epic)`` if it has one,
            else the catalog's).
        respect_hours: refuse opening orders with ``MARKET_CLOSED`` when the market is closed.
        market_open: ``epic -> bool``, the market status to use with ``respect_hours`` (e.g. IG's own, from
            a market snapshot's ``marketStatus``; the same callable :class:`~igkit.feeds.StreamingFeed`
            takes). Without it the rule asks the broker's ``market_open(epic, now_ns)`` when it has one
            — the paper (Demo) broker's synthetic market trades at weekends, so it says open unless that
            broker itself respects hours —, else the catalog's opening hours (which follow daylight
            saving, :mod:`igkit.market.hours`) at the check's time.
    """

    def __init__(
        self,
        limits: RiskLimits,
        *,
        broker: Broker | None = None,
        clock: Callable[[], int] | None = None,
        rules: Iterable[Rule] | None = None,
        instruments: Mapping[str, InstrumentRules] | None = None,
        respect_hours: bool = False,
        market_open: Callable[[str], bool] | None = None,
    ) -> None:
        if market_open is not None and not callable(market_open):
            raise TypeError(f"RiskManager: market_open must be a callable epic -> bool, got {market_open!r}")
        self.limits = limits
        self.broker = broker
        self.rules: tuple[Rule, ...] = tuple(DEFAULT_RULES if rules is None else rules)
        self.respect_hours = respect_hours
        self.market_open = market_open
        self._clock = clock or time.time_ns
        self._instruments = dict(instruments or {})
        self._lock = threading.RLock()
        self._deal_lock = threading.RLock()  # submit (check + send) and halt exclude each other
        self._sent: deque[int] = deque()
        self._halted = False
        self._halt_reason: str | None = None
        self._last_refusal: dict[str, Any] | None = None
        self._refused_refs: dict[str, None] = {}  # recent refused deal references (ordered, bounded)
        self._day: int | None = None
        self._day_equity: float | None = None
        self._day_realized = 0.0
        self._daily_pnl: float | None = None
        self.counts = {"checked": 0, "refused": 0, "sent": 0, "fills": 0}

    @classmethod
    def from_config(cls, config: Any, **kwargs: Any) -> RiskManager:
        """From a ``Config`` (its ``risk`` section) or a ``RiskConfig``; ``kwargs`` go to the constructor.

        ``respect_hours`` comes from ``risk.respect_hours`` (default true in ``config/global.json``) unless
        given. It is safe in every mode: with the paper broker (Demo, replays) the rule asks that broker,
        whose synthetic market is always open; with the IG broker it uses the catalog's hours (or the
        ``market_open`` given)."""
        risk = getattr(config, "risk", config)
        kwargs.setdefault("respect_hours", bool(getattr(risk, "respect_hours", False)))
        return cls(RiskLimits.from_config(config), **kwargs)

    # -- halting -------------------------------------------------------------------------------------------
    @property
    def halted(self) -> bool:
        return self._halted

    @property
    def halt_reason(self) -> str | None:
        return self._halt_reason

    def halt(self, reason: str) -> None:
        """Refuse every order that does not reduce exposure until :meth:`reset_halt`. Any thread."""
        with self._deal_lock, self._lock:
            if not self._halted:
                log.warning("risk: trading halted: %s", reason)
            self._halted, self._halt_reason = True, reason

    def reset_halt(self) -> None:
        """Resume trading; the day's P&L baseline restarts from the current equity."""
        with self._lock:
            if self._halted:
                log.warning("risk: halt reset (was: %s)", self._halt_reason)
            self._halted, self._halt_reason = False, None
            self._day_equity = None
            self._day_realized = 0.0

    # -- the check -----------------------------------------------------------------------------------------
    def check(
        self,
        order: Order,
        *,
        broker: Broker | None = None,
        quote: Any = None,
        now_ns: int | None = None,
    ) -> Verdict:
        """Run the rules on ``order``; the first refusal wins. ``quote`` is ``(bid, ask)``, a
        :class:`~igkit.types.Tick` or ``(ts_ns, bid, ask)`` for the order's epic (default: the broker's
        last quote, if it keeps one)."""
        broker = broker or self.broker
        now = int(self._clock() if now_ns is None else now_ns)
        with self._deal_lock, self._lock:  # the same order as halt(): a refusal may halt
            self.counts["checked"] += 1
            ctx = self._context(order, broker, quote, now)
            for rule in self.rules:
                if ctx.reducing and not rule.applies_to_reducing:
                    continue
                msg = rule.check(ctx)
                if msg is not None:
                    return self._refuse(order, rule.name, msg, now)
            return OK

    def submit(self, order: Order, *, broker: Broker | None = None, quote: Any = None,
               now_ns: int | None = None) -> OrderResult:
        """Check, send to the broker if allowed, record; a refusal comes back as a REJECTED result
        whose ``reason`` is the rule.

        Check and send are atomic with respect to :meth:`halt` (and so to the kill switch): an order that
        passed the check reaches the broker before a halt completes, so a flatten that follows the halt
        sees it. An engine that calls ``check`` and ``broker.submit`` separately loses that guarantee.
        """
        broker = broker or self.broker
        if broker is None:
            raise ValueError(f"RiskManager.submit({order.epic}): no broker given or set")
        with self._deal_lock:
            verdict = self.check(order, broker=broker, quote=quote, now_ns=now_ns)
            if not verdict:
                return verdict.to_result(order)
            result = broker.submit(order)
        self.record(result, now_ns=now_ns)
        return result

    def _refuse(self, order: Order, rule: str, msg: str, now: int) -> Verdict:
        if rule == "MAX_DAILY_LOSS":
            self.halt(f"MAX_DAILY_LOSS: {msg}")
        self.counts["refused"] += 1
        self._refused_refs[order.deal_reference] = None
        if len(self._refused_refs) > 1_000:
            del self._refused_refs[next(iter(self._refused_refs))]
        self._last_refusal = {"rule": rule, "message": msg, "epic": order.epic, "direction": str(order.direction),
                              "size": order.size, "deal_reference": order.deal_reference, "time_ns": now}
        log.info("risk refused %s %s %g: %s: %s", order.direction, order.epic, order.size, rule, msg)
        return Verdict(False, rule, msg)

    def _context(self, order: Order, broker: Broker | None, quote: Any, now: int) -> CheckContext:
        nets: dict[str, float] = {}
        marks: dict[str, float] = {}
        n_open = 0
        if broker is not None:
            for p in broker.positions():
                nets[p.epic] = nets.get(p.epic, 0.0) + p.signed_size
                marks.setdefault(p.epic, p.level)
                n_open += 1
        mark = _mid(quote)
        if mark is None:
            q = getattr(broker, "quote", None)
            mark = _mid(q(order.epic)) if callable(q) else None
        if mark is not None:
            marks[order.epic] = mark
        elif order.level is not None:
            marks.setdefault(order.epic, order.level)
        net = nets.get(order.epic, 0.0)
        reducing = order.close_deal_id is not None or (
            net * order.direction.sign < 0 and order.size <= abs(net) + _EPS)
        # the broker's account is read only when a daily-loss limit needs it
        daily = self._update_daily(broker, now) if self.limits.max_daily_loss is not None else None
        cutoff = now - _MINUTE_NS
        while self._sent and self._sent[0] <= cutoff:
            self._sent.popleft()
        status, source = self._market_status(broker) if self.respect_hours else (None, "")
        return CheckContext(
            order=order, limits=self.limits, rules=self._instrument(order.epic, broker), now_ns=now,
            reducing=reducing, nets=nets, marks=marks, value_per_point=lambda e: self._vpp(e, broker),
            open_positions=n_open, orders_last_minute=len(self._sent), daily_pnl=daily, halted=self._halted,
            halt_reason=self._halt_reason, respect_hours=self.respect_hours, market_open=status,
            market_source=source or "catalog hours")

    def _market_status(self, broker: Broker | None) -> tuple[Callable[[str, int], bool] | None, str]:
        """The market-status function for the MARKET_CLOSED rule: the injected one, else the broker's,
        else None (the rule uses the catalog's hours)."""
        fn = self.market_open
        if fn is not None:
            return (lambda epic, _now: bool(fn(epic))), "market status"
        own = getattr(broker, "market_open", None)
        if callable(own):
            return (lambda epic, now: bool(own(epic, now))), f"{getattr(broker, 'name', 'the')} broker"
        return None, "catalog hours"

    def _instrument(self, epic: str, broker: Broker | None) -> InstrumentRules:
        if epic in self._instruments:
            return self._instruments[epic]
        fn = getattr(broker, "rules", None)
        if callable(fn):
            r = fn(epic)
            if isinstance(r, InstrumentRules):
                return r
        return rules_for(epic)

    def _vpp(self, epic: str, broker: Broker | None) -> float:
        return self._instrument(epic, broker).value_per_point

    # -- daily P&L -----------------------------------------------------------------------------------------
    def _update_daily(self, broker: Broker | None, now: int) -> float | None:
        day = now // _DAY_NS
        if day != self._day:
            self._day, self._day_equity, self._day_realized = day, None, 0.0
        if broker is not None:
            equity = broker.account().equity
            if self._day_equity is None:
                self._day_equity = equity
            self._daily_pnl = equity - self._day_equity
        else:
            self._daily_pnl = self._day_realized
        return self._daily_pnl

    def update(self, *, broker: Broker | None = None, now_ns: int | None = None) -> bool:
        """Mark the day's P&L now (call per tick or bar); halts on a breach. Returns ``halted``."""
        broker = broker or self.broker
        now = int(self._clock() if now_ns is None else now_ns)
        with self._deal_lock, self._lock:
            daily = self._update_daily(broker, now)
            lim = self.limits.max_daily_loss
            if lim is not None and daily is not None and daily <= -lim and not self._halted:
                self.halt(f"MAX_DAILY_LOSS: daily P&L {daily:.2f} has reached the max daily loss of {lim:g}")
            return self._halted

    # -- counters ------------------------------------------------------------------------------------------
    def record(self, result: OrderResult, *, now_ns: int | None = None) -> None:
        """Count an order that went to the broker (its answer), for the orders-per-minute window.
        The risk manager's own refusals are not counted (a broker's rejection is: IG counts it too)."""
        now = int(self._clock() if now_ns is None else now_ns)
        with self._lock:
            if not result.ok and result.order.deal_reference in self._refused_refs:
                return
            self._sent.append(now)
            self.counts["sent"] += 1

    def on_fill(self, fill: Fill, *, now_ns: int | None = None) -> None:
        """Count a fill; a closing fill's P&L adds to the day's realised P&L (used without a broker)."""
        now = int(self._clock() if now_ns is None else now_ns)
        with self._lock:
            day = now // _DAY_NS
            if day != self._day:
                self._day, self._day_equity, self._day_realized = day, None, 0.0
            self.counts["fills"] += 1
            if not fill.opening:
                self._day_realized += fill.pnl

    def orders_last_minute(self, now_ns: int | None = None) -> int:
        now = int(self._clock() if now_ns is None else now_ns)
        with self._lock:
            return sum(1 for t in self._sent if t > now - _MINUTE_NS)

    def state(self, *, broker: Broker | None = None) -> dict[str, Any]:
        """A plain dict for the UI: limits, usage, halted, the last refusal."""
        broker = broker or self.broker
        with self._lock:
            nets: dict[str, float] = {}
            n_open = 0
            if broker is not None:
                for p in broker.positions():
                    nets[p.epic] = nets.get(p.epic, 0.0) + p.signed_size
                    n_open += 1
            return {
                "limits": self.limits.as_dict(),
                "usage": {
                    "orders_last_minute": self.orders_last_minute(),
                    "open_positions": n_open,
                    "positions": nets,
                    "exposure_size": sum(abs(n) for n in nets.values()),
                    "daily_pnl": self._daily_pnl,
                },
                "halted": self._halted,
                "halt_reason": self._halt_reason,
                "last_refusal": None if self._last_refusal is None else dict(self._last_refusal),
                "counts": dict(self.counts),
            }

    def __repr__(self) -> str:
        return f"RiskManager(halted={self._halted}, refused={self.counts['refused']}, sent={self.counts['sent']})"


def _mid(q: Any) -> float | None:
    if q is None:
        return None
    bid, ask = getattr(q, "bid", None), getattr(q, "ask", None)
    if bid is None and isinstance(q, tuple | list) and len(q) in (2, 3):
        bid, ask = q[-2], q[-1]
    if bid is None or ask is None:
        return None
    return (float(bid) + float(ask)) / 2.0
