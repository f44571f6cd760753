"""Target position → orders: what the engine sends to move an instrument's net position to a target.

The strategy says where to be (-1, 0, +1); the size says how much one unit of target is; the broker says
where we are (its signed net position). The difference becomes orders:

* ``reversal="net"`` (default): ONE order for the whole difference (long 1 → short 1 is one SELL of 2).
  IG with ``forceOpen=false`` and the paper broker both net it: close the long, open the short, at the
  same price, exactly like the backtest's reversal.
* ``reversal="split"``: a reversal becomes a close of the current position (reason ``"reverse"``) then an
  open of the new one, as two orders — for brokers that do not net.

Hand-written because it is a few lines of our own arithmetic.
"""

from __future__ import annotations

import math
from typing import Literal

from igkit.types import Direction, Order

__all__ = ["EPS", "orders_for_target"]

EPS = 1e-9


def _order(epic: str, qty: float, reason: str) -> Order:
    direction = Direction.BUY if qty > 0 else Direction.SELL
    return Order(epic=epic, direction=direction, size=round(abs(qty), 10), reason=reason)


def orders_for_target(
    epic: str,
    target: int,
    size: float,
    net: float,
    *,
    reversal: Literal["net", "split"] = "net",
) -> list[Order]:
    """Orders that take ``epic`` from the signed ``net`` position to ``target × size``.

    Raises ``ValueError`` naming the epic for a target outside {-1, 0, 1}, a size ≤ 0 or a non-finite net.
    Reasons on the orders: ``"signal"`` (open or add), ``"close"`` (to flat or reduce), ``"reverse"``
    (crossing zero: the single net order, or the closing half of a split reversal).
    """
    if target not in (-1, 0, 1):
        raise ValueError(f"{epic}: target must be -1, 0 or 1, got {target!r}")
    if not (isinstance(size, int | float) and math.isfinite(size) and size > 0):
        raise ValueError(f"{epic}: size must be a positive number, got {size!r}")
    if not math.isfinite(net):
        raise ValueError(f"{epic}: net position must be finite, got {net!r}")
    want = target * float(size)
    delta = round(want - net, 10)
    if abs(delta) <= EPS:
        return []
    crossing = abs(net) > EPS and abs(want) > EPS and (net > 0) != (want > 0)
    if not crossing:
        reducing = abs(want) < abs(net) and (abs(want) <= EPS or (want > 0) == (net > 0))
        return [_order(epic, delta, "close" if reducing else "signal")]
    if reversal == "net":
        return [_order(epic, delta, "reverse")]
    if reversal == "split":
        return [_order(epic, -net, "reverse"), _order(epic, want, "signal")]
    raise ValueError(f"{epic}: reversal must be 'net' or 'split', got {reversal!r}")
