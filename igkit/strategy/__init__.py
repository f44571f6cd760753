"""Strategies: the ``Strategy`` base (declared, validated parameters; ``signals``), the built-ins and a
registry by name.

* :class:`Strategy`, :class:`Param`, :class:`ParamError` — see :mod:`igkit.strategy._base`
* built-ins: :class:`SmaCross` (``"sma"``), :class:`DonchianBreakout` (``"donchian"``),
  :class:`RsiReversion` (``"rsi"``), :class:`BollingerBands` (``"bollinger"``)
* :data:`STRATEGIES`, :func:`get_strategy`, :func:`register`, :func:`from_config`
"""

from __future__ import annotations

from typing import Any

from igkit.strategy._base import STRATEGIES, Param, ParamError, Strategy, get_strategy, register
from igkit.strategy._builtin import BollingerBands, DonchianBreakout, RsiReversion, SmaCross

__all__ = [
    "STRATEGIES",
    "BollingerBands",
    "DonchianBreakout",
    "Param",
    "ParamError",
    "RsiReversion",
    "SmaCross",
    "Strategy",
    "from_config",
    "get_strategy",
    "register",
]


def from_config(config: Any) -> Strategy:
    """The strategy named by ``config.strategy.name`` with ``config.strategy.params``."""
    return get_strategy(config.strategy.name, **dict(config.strategy.params))
