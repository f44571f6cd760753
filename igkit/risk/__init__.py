"""Pre-trade risk, position sizing and the kill switch.

* :class:`RiskLimits` (from ``config.risk``), :class:`Verdict`
* :class:`RiskManager` — ``check(order, *, broker, quote, now_ns) -> Verdict``, ``submit``, ``record``,
  ``on_fill``, ``update``, ``halt``/``reset_halt``, ``state()``
* :mod:`~igkit.risk.rules` — the rules (:data:`DEFAULT_RULES`), each naming its refusal
* :mod:`~igkit.risk.sizing` — :func:`fixed_fractional`, :func:`atr`, :func:`atr_size` and the backtester
  hooks :class:`FixedFractional`, :class:`ATRSizing`
* :class:`KillSwitch` — ``fire(reason) -> KillReport``, ``reset()``
"""

from __future__ import annotations

from igkit.risk.killswitch import KillReport, KillSwitch
from igkit.risk.limits import OK, RiskLimits, Verdict
from igkit.risk.manager import RiskManager
from igkit.risk.rules import DEFAULT_RULES, RULE_NAMES, CheckContext, Rule
from igkit.risk.sizing import ATRSizing, FixedFractional, atr, atr_size, fixed_fractional, round_down

__all__ = [
    "DEFAULT_RULES",
    "OK",
    "RULE_NAMES",
    "ATRSizing",
    "CheckContext",
    "FixedFractional",
    "KillReport",
    "KillSwitch",
    "RiskLimits",
    "RiskManager",
    "Rule",
    "Verdict",
    "atr",
    "atr_size",
    "fixed_fractional",
    "round_down",
]
