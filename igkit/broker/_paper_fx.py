"""Currency conversion for the paper broker: an amount in an instrument's currency → the account currency.

Hand-written because it is a few lines over our own catalog. A rate comes from the catalog's FX pairs (IG's
``CS.D.<BASE><QUOTE>.MINI.IP`` epics): the direct pair (``GBPUSD`` for USD → GBP, inverted), else two legs
through USD, EUR or GBP (``NZDUSD`` then ``GBPUSD`` for NZD → GBP). Each leg is priced at the mid of the
latest quote the caller has seen for that epic, else at the catalog's reference price level (a typical
level, not a quote: a run that does not subscribe to the conversion pair converts at that fixed level).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from igkit.market import CATALOG

__all__ = ["Leg", "fx_rate", "fx_route"]

Leg = tuple[str, bool]
"""One conversion step: (the FX epic, whether its price is inverted)."""

_PIVOTS = ("USD", "EUR", "GBP")


def _pairs() -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for s in CATALOG.values():
        if s.instrument_type == "CURRENCIES" and len(s.symbol) == 6:
            out[(s.symbol[:3], s.symbol[3:])] = s.epic
    return out


_PAIRS = _pairs()


def _leg(src: str, dst: str) -> Leg | None:
    """How to turn one unit of ``src`` into ``dst`` with one pair: ``SRCDST`` as is, or ``DSTSRC`` inverted."""
    if (src, dst) in _PAIRS:
        return (_PAIRS[(src, dst)], False)
    if (dst, src) in _PAIRS:
        return (_PAIRS[(dst, src)], True)
    return None


@cache
def fx_route(src: str, dst: str) -> tuple[Leg, ...]:
    """The legs converting ``src`` into ``dst`` (empty when they are the same currency).

    Raises :class:`ValueError` naming both currencies when the catalog has no pair or two-leg path."""
    if src == dst:
        return ()
    one = _leg(src, dst)
    if one is not None:
        return (one,)
    for pivot in _PIVOTS:
        if pivot in (src, dst):
            continue
        a, b = _leg(src, pivot), _leg(pivot, dst)
        if a is not None and b is not None:
            return (a, b)
    raise ValueError(f"no FX rate from {src} to {dst} in igkit's catalog (no {src}{dst} or {dst}{src} pair, "
                     f"nor a path through {'/'.join(_PIVOTS)})")


def fx_rate(src: str, dst: str, quotes: Mapping[str, tuple[int, float, float]]) -> float:
    """``dst`` per one unit of ``src``: each leg at the mid of ``quotes[epic]`` (``(ts_ns, bid, ask)``) when
    present, else at the catalog's reference price."""
    rate = 1.0
    for epic, invert in fx_route(src, dst):
        q = quotes.get(epic)
        px = (q[1] + q[2]) / 2.0 if q is not None else CATALOG[epic].price
        rate = rate / px if invert else rate * px
    return rate
