"""The pre-trade risk rules: small functions from a snapshot of the book to a refusal or None.

Hand-written because these are igkit's own limits. Each :class:`Rule` has a name (the ``reason`` of the
refusal: IG's own where IG has one — ``MARKET_CLOSED``, ``MINIMUM_ORDER_SIZE_ERROR``, ``SIZE_INCREMENT``,
``ATTACHED_ORDER_LEVEL_ERROR`` — so a local refusal reads like the broker's) and says whether it also
applies to orders that *reduce* exposure. Only the size step does: closing and flattening are never
blocked by a limit, a halt or the market clock (IG would refuse a closed market itself).

A custom rule is any ``Rule(name, check)`` with ``check(ctx: CheckContext) -> str | None`` returning the
refusal message; pass ``rules=[*DEFAULT_RULES, my_rule]`` to :class:`~igkit.risk.RiskManager`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from igkit.broker.rules import InstrumentRules
from igkit.market import is_open
from igkit.risk.limits import RiskLimits
from igkit.types import Order

__all__ = [
    "DEFAULT_RULES",
    "RULE_NAMES",
    "CheckContext",
    "Rule",
]

_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class CheckContext:
    """Everything a rule may look at, gathered once per check (no rule calls the broker itself)."""

    order: Order
    limits: RiskLimits
    rules: InstrumentRules
    now_ns: int
    reducing: bool  # closes or shrinks a position without opening anything
    nets: Mapping[str, float]  # signed net size per epic, before the order
    marks: Mapping[str, float]  # a price per epic for the notional exposure (missing → 0)
    value_per_point: Callable[[str], float]
    open_positions: int
    orders_last_minute: int
    daily_pnl: float | None
    halted: bool
    halt_reason: str | None
    respect_hours: bool
    market_open: Callable[[str, int], bool] | None = None  # (epic, now_ns) -> open; None: the catalog's hours
    market_source: str = "catalog hours"  # what said closed, for the message

    @property
    def net_after(self) -> float:
        return self.nets.get(self.order.epic, 0.0) + self.order.size * self.order.direction.sign

    def exposure(self, nets: Mapping[str, float]) -> float:
        if self.limits.exposure_measure == "size":
            return sum(abs(n) for n in nets.values())
        return sum(abs(n) * self.marks.get(e, 0.0) * self.value_per_point(e) for e, n in nets.items())


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    check: Callable[[CheckContext], str | None]
    applies_to_reducing: bool = False


def _halted(c: CheckContext) -> str | None:
    return f"trading is halted ({c.halt_reason}); reset_halt() to resume" if c.halted else None


def _daily_loss(c: CheckContext) -> str | None:
    lim = c.limits.max_daily_loss
    if lim is None or c.daily_pnl is None or c.daily_pnl > -lim:
        return None
    return f"daily P&L {c.daily_pnl:.2f} has reached the max daily loss of {lim:g}"


def _market(c: CheckContext) -> str | None:
    if not c.respect_hours:
        return None
    if c.market_open is not None:
        try:
            closed = not c.market_open(c.order.epic, c.now_ns)
        except Exception as exc:  # unknown status: refuse to open rather than guess
            return f"{c.order.epic}: market status unknown ({c.market_source} failed: {type(exc).__name__}: {exc})"
    else:
        closed = c.rules.known and not is_open(c.order.epic, c.now_ns)
    if not closed:
        return None
    when = datetime.fromtimestamp(c.now_ns / 1e9, UTC).strftime("%a %Y-%m-%d %H:%M:%S UTC")
    return f"{c.order.epic} market is closed at {when} ({c.market_source})"


def _min_size(c: CheckContext) -> str | None:
    if c.order.size < c.rules.min_deal_size - _EPS:
        return f"{c.order.epic}: size {c.order.size:g} is below the minimum deal size {c.rules.min_deal_size:g}"
    return None


def _size_step(c: CheckContext) -> str | None:
    if c.rules.size_reason(c.order.size, check_min=False):
        return f"{c.order.epic}: size {c.order.size:g} is not a multiple of the size step {c.rules.size_step:g}"
    return None


def _stop_distance(c: CheckContext) -> str | None:
    o, m = c.order, c.rules.min_stop_distance
    for what, d in (("stop", o.stop_distance), ("limit", o.limit_distance)):
        if d is not None and (d <= 0 or d < m - _EPS):
            return f"{o.epic}: {what} distance {d:g} is below the minimum {m:g} (price units)"
    return None


def _order_size(c: CheckContext) -> str | None:
    lim = c.limits.max_order_size
    if lim is not None and c.order.size > lim + _EPS:
        return f"{c.order.epic}: order size {c.order.size:g} exceeds the max order size {lim:g}"
    return None


def _position(c: CheckContext) -> str | None:
    lim = c.limits.max_position
    after = c.net_after
    if lim is not None and abs(after) > lim + _EPS:
        return (f"{c.order.epic}: net position after the order would be {after:+g} "
                f"(now {c.nets.get(c.order.epic, 0.0):+g}), over the max position {lim:g}")
    return None


def _exposure(c: CheckContext) -> str | None:
    lim = c.limits.max_exposure
    if lim is None:
        return None
    after = dict(c.nets)
    after[c.order.epic] = c.net_after
    exp = c.exposure(after)
    if exp > lim + _EPS:
        return (f"total exposure after the order would be {exp:g} ({c.limits.exposure_measure}; "
                f"now {c.exposure(c.nets):g}), over the max exposure {lim:g}")
    return None


def _open_positions(c: CheckContext) -> str | None:
    lim = c.limits.max_open_positions
    if lim is not None and c.open_positions + 1 > lim:
        return f"{c.open_positions} positions are open: another would exceed max open positions {lim}"
    return None


def _rate(c: CheckContext) -> str | None:
    lim = c.limits.max_orders_per_minute
    if lim is not None and c.orders_last_minute + 1 > lim:
        return f"{c.orders_last_minute} orders in the last 60 s: another would exceed {lim} per minute"
    return None


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("HALTED", _halted),
    Rule("MAX_DAILY_LOSS", _daily_loss),
    Rule("MARKET_CLOSED", _market),
    Rule("MINIMUM_ORDER_SIZE_ERROR", _min_size),
    Rule("SIZE_INCREMENT", _size_step, applies_to_reducing=True),
    Rule("ATTACHED_ORDER_LEVEL_ERROR", _stop_distance),
    Rule("MAX_ORDER_SIZE", _order_size),
    Rule("MAX_POSITION", _position),
    Rule("MAX_EXPOSURE", _exposure),
    Rule("MAX_OPEN_POSITIONS", _open_positions),
    Rule("MAX_ORDERS_PER_MINUTE", _rate),
)
"""The built-in rules in the order they are checked (the first refusal wins)."""

RULE_NAMES: frozenset[str] = frozenset(r.name for r in DEFAULT_RULES)
