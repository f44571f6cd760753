"""Risk limits (what the risk manager enforces) and verdicts (its answer to one order).

Hand-written: two small records. :class:`RiskLimits` mirrors the ``risk`` section of the config
(:class:`igkit.config.RiskConfig`); every limit may be None to switch its rule off.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from igkit.errors import RiskRejected
from igkit.types import Order, OrderResult, OrderStatus

__all__ = ["OK", "RiskLimits", "Verdict"]


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Pre-trade limits. Sizes are in deal-size units, money in account currency.

    Attributes:
        size: the default order size (the engine's, kept here so one object carries the risk settings).
        max_order_size: largest size of one order.
        max_position: largest absolute net position per instrument *after* the order.
        max_exposure: largest total exposure after the order, measured by ``exposure_measure``:
            ``"size"`` (default) = Σ |net size| over instruments; ``"notional"`` = Σ |net size| × price ×
            value_per_point, priced at the ``quote`` given to ``check`` (else the broker's last quote, else
            the positions' opening levels or the order's level; an epic with no price counts 0).
        max_open_positions: most positions open at once (IG counts each opening deal as a position).
        max_orders_per_minute: most orders sent in any sliding 60-second window.
        max_daily_loss: the loss (realised + unrealised, since 00:00 UTC) at which trading halts.
        risk_per_trade: the fraction of equity a sizing rule risks per trade (see :mod:`igkit.risk.sizing`).
    """

    size: float = 1.0
    max_order_size: float | None = None
    max_position: float | None = None
    max_exposure: float | None = None
    max_open_positions: int | None = None
    max_orders_per_minute: int | None = None
    max_daily_loss: float | None = None
    risk_per_trade: float = 0.01
    exposure_measure: Literal["size", "notional"] = "size"

    def __post_init__(self) -> None:
        for name in ("size", "max_order_size", "max_position", "max_exposure", "max_open_positions",
                     "max_orders_per_minute", "max_daily_loss", "risk_per_trade"):
            v = getattr(self, name)
            if v is None and name not in ("size", "risk_per_trade"):
                continue
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"RiskLimits.{name} must be a finite number > 0 (or None), got {v!r}")
        if self.risk_per_trade > 1:
            raise ValueError(f"RiskLimits.risk_per_trade must be <= 1, got {self.risk_per_trade!r}")
        if self.exposure_measure not in ("size", "notional"):
            raise ValueError(f"RiskLimits.exposure_measure must be 'size' or 'notional', got {self.exposure_measure!r}")

    @classmethod
    def from_config(cls, risk: Any) -> RiskLimits:
        """From ``config.risk`` (an :class:`igkit.config.RiskConfig`) or a whole ``Config``."""
        risk = getattr(risk, "risk", risk)
        names = ("size", "max_order_size", "max_position", "max_exposure", "max_open_positions",
                 "max_orders_per_minute", "max_daily_loss", "risk_per_trade")
        return cls(**{n: getattr(risk, n) for n in names if getattr(risk, n, None) is not None})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The risk manager's answer: ``ok``, or the ``rule`` that refused and a message with the numbers."""

    ok: bool
    rule: str | None = None
    message: str = ""

    def __bool__(self) -> bool:
        return self.ok

    def raise_for_refusal(self) -> None:
        """Raise :class:`~igkit.errors.RiskRejected` naming the rule if refused."""
        if not self.ok:
            raise RiskRejected(self.rule or "RISK", self.message)

    def to_result(self, order: Order) -> OrderResult:
        """A REJECTED :class:`OrderResult` whose ``reason`` is the rule (for the engine's records)."""
        return OrderResult(order, OrderStatus.REJECTED, self.rule or "RISK")


OK = Verdict(True)
