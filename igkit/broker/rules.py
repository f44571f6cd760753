"""An instrument's dealing rules as the paper broker and the risk manager apply them.

One small record per epic (:class:`InstrumentRules`): minimum deal size, size increment, minimum
stop/limit distance (in price units, like :class:`~igkit.types.Order` distances), margin factor and the
value of one point of price move. Built from the synthetic market's catalog (IG's real epics and typical
dealing rules) by :meth:`InstrumentRules.for_epic`, with any field overridden per instrument.

Hand-written because it is a few lines of arithmetic on our own catalog; the check functions return IG's
own rejection reasons (``MINIMUM_ORDER_SIZE_ERROR``, ``SIZE_INCREMENT``) so a paper rejection reads like
an IG one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

from igkit.market import CATALOG

__all__ = ["DEFAULT_SIZE_STEP", "InstrumentRules", "rules_for"]

log = logging.getLogger(__name__)

DEFAULT_SIZE_STEP = 0.01
"""IG's deal-size increment for the instruments igkit knows (the simulator uses the same)."""

_EPS = 1e-9
_warned: set[str] = set()


@dataclass(frozen=True, slots=True)
class InstrumentRules:
    """Dealing rules of one instrument.

    Attributes:
        epic: the IG epic.
        min_deal_size: the smallest order size accepted (``MINIMUM_ORDER_SIZE_ERROR`` below it).
        size_step: the size increment (``SIZE_INCREMENT`` when a size is not a multiple); None = any size.
        min_stop_distance: the smallest distance of an attached stop or limit from the price it closes
            at, in **price units** (the catalog's points × the pip size).
        margin_factor: margin in **percent** of the notional, as IG and the catalog quote it (3.33 = 3.33 %).
        value_per_point: account currency per unit of size per 1.0 of price move. 1.0 makes paper P&L
            equal the backtest's (price units × size). :meth:`for_epic` leaves it at 1.0; the paper broker
            sets it to the catalog's ``contract_size`` converted to the account currency at the current
            rate (see :mod:`igkit.broker.paper`), the IG broker to IG's contract size.
        pip: one IG point in price units (None when the epic is unknown).
        known: whether the epic is in the catalog (market hours are only known for those).
    """

    epic: str
    min_deal_size: float = 0.0
    size_step: float | None = DEFAULT_SIZE_STEP
    min_stop_distance: float = 0.0
    margin_factor: float = 5.0
    value_per_point: float = 1.0
    pip: float | None = None
    known: bool = False

    def __post_init__(self) -> None:
        for name in ("min_deal_size", "min_stop_distance", "margin_factor", "value_per_point"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                raise ValueError(f"{self.epic}: {name} must be a finite number >= 0, got {v!r}")
        if self.value_per_point <= 0:
            raise ValueError(f"{self.epic}: value_per_point must be > 0, got {self.value_per_point!r}")
        if self.size_step is not None and not (math.isfinite(self.size_step) and self.size_step > 0):
            raise ValueError(f"{self.epic}: size_step must be > 0 or None, got {self.size_step!r}")

    @classmethod
    def for_epic(cls, epic: str, **overrides: float | None) -> InstrumentRules:
        """The rules of ``epic`` from the catalog (generic defaults for an unknown epic), then ``overrides``."""
        s = CATALOG.get(epic)
        if s is None:
            if epic not in _warned:
                _warned.add(epic)
                log.info("%s is not in igkit's catalog: generic dealing rules (no minimum size, step %g, "
                         "margin 5%%, always open)", epic, DEFAULT_SIZE_STEP)
            base = cls(epic=epic)
        else:
            base = cls(epic=epic, min_deal_size=s.min_deal_size, size_step=DEFAULT_SIZE_STEP,
                       min_stop_distance=s.min_stop_distance * s.pip, margin_factor=s.margin_factor,
                       value_per_point=1.0, pip=s.pip, known=True)
        return replace(base, **overrides) if overrides else base  # type: ignore[arg-type]

    # -- checks (IG's reasons) ---------------------------------------------------------------------------
    def size_reason(self, size: float, *, check_min: bool = True) -> str | None:
        """``MINIMUM_ORDER_SIZE_ERROR``, ``SIZE_INCREMENT`` or None (the size is acceptable)."""
        if check_min and size < self.min_deal_size - _EPS:
            return "MINIMUM_ORDER_SIZE_ERROR"
        if self.size_step is not None:
            q = size / self.size_step
            if abs(q - round(q)) > 1e-6:
                return "SIZE_INCREMENT"
        return None

    def round_size(self, size: float) -> float:
        """``size`` rounded DOWN to the size step (floating noise tolerated), 0.0 below the minimum."""
        if not math.isfinite(size) or size <= 0:
            return 0.0
        if self.size_step is not None:
            size = math.floor(size / self.size_step + 1e-9) * self.size_step
            size = round(size, 10)
        return size if size >= self.min_deal_size - _EPS and size > 0 else 0.0

    def margin(self, size: float, price: float) -> float:
        """Margin of ``size`` at ``price``: ``size × price × value_per_point × margin_factor / 100``."""
        return abs(size) * price * self.value_per_point * self.margin_factor / 100.0


def rules_for(epic: str, overrides: Mapping[str, InstrumentRules] | None = None) -> InstrumentRules:
    """``overrides[epic]`` if given, else the catalog's rules for ``epic``."""
    if overrides is not None:
        found = overrides.get(epic)
        if found is not None:
            return found
    return InstrumentRules.for_epic(epic)
