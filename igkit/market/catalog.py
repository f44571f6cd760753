"""The instrument catalog: IG epics with realistic levels, pip sizes, spreads, volatilities and dealing rules.

Hand-written because it is data about IG's own instruments: the epics are IG's real ones (the ``MINI``
FX CFDs, the ``DAILY``/``TODAY`` spread bets, the ``CASH``/``UNC`` CFDs), the rest is typical of IG's
published market details around late 2026. Levels are *typical*, not quotes: the synthetic market wanders
around them.

Prices are real levels (EUR/USD ``1.16``, not IG's scaled ``11600`` points). ``pip`` is one IG point or
pip in those units; ``decimals`` is the quoting precision (one tick is ``10**-decimals``).
``currency`` is the currency a position's profit is in: IG's default currency for the instrument, GBP for
the spread bets (expiry ``"DFB"``), the quote currency for the CFDs (expiry ``"-"``). The profit of
``size`` contracts over a price move ``d`` is ``d * size * contract_size`` in ``currency``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from igkit.errors import DataError

__all__ = ["CATALOG", "InstrumentSpec", "resolve", "spec"]

INSTRUMENT_TYPES = ("CURRENCIES", "INDICES", "COMMODITIES")


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """One IG instrument as the synthetic market, the paper broker and the simulator see it."""

    epic: str
    symbol: str
    name: str
    instrument_type: str
    price: float
    pip: float
    decimals: int
    spread: float  # typical spread, in pips
    vol: float  # annualised volatility of the log price
    currency: str
    lot_size: float
    contract_size: float
    value_of_one_pip: str
    min_deal_size: float
    min_stop_distance: float  # points (pips)
    margin_factor: float  # percent
    hours: str
    expiry: str

    @property
    def tick(self) -> float:
        """The smallest price step IG quotes: ``10 ** -decimals``."""
        return 10.0 ** -self.decimals

    @property
    def typical_spread(self) -> float:
        """The typical spread in price units (``spread * pip``)."""
        return self.spread * self.pip

    def round_price(self, price: float) -> float:
        """``price`` rounded to the instrument's quoting precision."""
        return round(price, self.decimals)


# ---------------------------------------------------------------------------------------------------------
# FX: IG's "Mini" CFDs, 10,000 units of the base currency per contract, quoted in the quote currency.
# (symbol, typical price, typical spread in pips, annualised vol, margin %, min stop distance in pips)
_FX: tuple[tuple[str, float, float, float, float, float], ...] = (
    ("EURUSD", 1.1580, 0.6, 0.07, 3.33, 2),
    ("GBPUSD", 1.3120, 0.9, 0.08, 3.33, 2),
    ("USDJPY", 155.20, 0.7, 0.10, 3.33, 2),
    ("AUDUSD", 0.6510, 0.6, 0.10, 5.0, 2),
    ("EURGBP", 0.8825, 0.9, 0.06, 3.33, 2),
    ("USDCHF", 0.8050, 1.5, 0.08, 3.33, 2),
    ("USDCAD", 1.4050, 1.3, 0.06, 3.33, 2),
    ("NZDUSD", 0.5650, 2.0, 0.10, 5.0, 2),
    ("EURJPY", 179.70, 1.5, 0.09, 3.33, 2),
    ("GBPJPY", 203.60, 2.5, 0.11, 3.33, 3),
    ("EURCHF", 0.9320, 2.0, 0.05, 3.33, 2),
    ("AUDJPY", 101.00, 1.3, 0.13, 5.0, 2),
    ("EURAUD", 1.7790, 1.8, 0.09, 5.0, 3),
    ("GBPCHF", 1.0560, 3.0, 0.08, 3.33, 3),
    ("CADJPY", 110.50, 2.5, 0.11, 3.33, 3),
    ("AUDNZD", 1.1520, 3.0, 0.06, 5.0, 3),
    ("EURCAD", 1.6270, 2.0, 0.07, 3.33, 3),
    ("GBPAUD", 2.0150, 3.0, 0.09, 5.0, 4),
    ("NZDJPY", 87.70, 2.5, 0.13, 5.0, 3),
    ("CHFJPY", 192.80, 3.0, 0.10, 3.33, 3),
    ("AUDCAD", 0.9150, 2.0, 0.08, 5.0, 3),
    ("GBPCAD", 1.8430, 3.5, 0.08, 3.33, 4),
    ("EURNZD", 2.0490, 3.5, 0.09, 5.0, 4),
    ("USDSGD", 1.3030, 3.0, 0.05, 5.0, 5),
    ("USDMXN", 18.450, 60.0, 0.14, 10.0, 100),
    ("USDZAR", 17.300, 90.0, 0.16, 10.0, 150),
    ("USDSEK", 9.4800, 40.0, 0.10, 5.0, 60),
    ("USDNOK", 10.150, 45.0, 0.11, 5.0, 60),
    ("EURSEK", 10.980, 35.0, 0.07, 5.0, 50),
    ("EURNOK", 11.750, 45.0, 0.08, 5.0, 60),
    ("USDPLN", 3.6650, 30.0, 0.11, 10.0, 40),
    ("EURPLN", 4.2450, 25.0, 0.05, 10.0, 40),
)


def _fx(symbol: str, price: float, spread: float, vol: float, margin: float, stop: float) -> InstrumentSpec:
    base, quote = symbol[:3], symbol[3:]
    jpy = quote == "JPY"
    pip = 0.01 if jpy else 0.0001
    contract = 10_000.0
    return InstrumentSpec(
        epic=f"CS.D.{symbol}.MINI.IP",
        symbol=symbol,
        name=f"{base}/{quote} Mini",
        instrument_type="CURRENCIES",
        price=price,
        pip=pip,
        decimals=3 if jpy else 5,
        spread=spread,
        vol=vol,
        currency=quote,
        lot_size=1.0,
        contract_size=contract,
        value_of_one_pip=f"{contract * pip:g} {quote}",
        min_deal_size=1.0,
        min_stop_distance=float(stop),
        margin_factor=margin,
        hours="fx",
        expiry="-",
    )


def _other(
    epic: str,
    symbol: str,
    name: str,
    instrument_type: str,
    price: float,
    pip: float,
    decimals: int,
    spread: float,
    vol: float,
    currency: str,
    contract_size: float,
    min_deal_size: float,
    min_stop_distance: float,
    margin_factor: float,
    hours: str,
    expiry: str,
) -> InstrumentSpec:
    return InstrumentSpec(
        epic=epic,
        symbol=symbol,
        name=name,
        instrument_type=instrument_type,
        price=price,
        pip=pip,
        decimals=decimals,
        spread=spread,
        vol=vol,
        currency=currency,
        lot_size=1.0,
        contract_size=contract_size,
        value_of_one_pip=f"{contract_size * pip:g} {currency}",
        min_deal_size=min_deal_size,
        min_stop_distance=min_stop_distance,
        margin_factor=margin_factor,
        hours=hours,
        expiry=expiry,
    )


# fmt: off
_OTHERS: tuple[InstrumentSpec, ...] = (
    # Indices: spread bets (DFB, £ per point) and one cash CFD.
    _other("IX.D.FTSE.DAILY.IP", "FTSE", "FTSE 100", "INDICES", 9700.0, 1.0, 1, 1.0, 0.14, "GBP",
           1.0, 0.5, 6, 5.0, "index_uk", "DFB"),
    _other("IX.D.DAX.DAILY.IP", "DAX", "Germany 40", "INDICES", 24000.0, 1.0, 1, 1.2, 0.18, "GBP",
           1.0, 0.5, 6, 5.0, "index_eu", "DFB"),
    _other("IX.D.CAC.DAILY.IP", "CAC", "France 40", "INDICES", 8100.0, 1.0, 1, 1.0, 0.16, "GBP",
           1.0, 0.5, 6, 5.0, "index_eu", "DFB"),
    _other("IX.D.SPTRD.DAILY.IP", "SPX", "US 500", "INDICES", 6750.0, 1.0, 1, 0.4, 0.17, "GBP",
           1.0, 0.5, 2, 5.0, "index_us", "DFB"),
    _other("IX.D.DOW.DAILY.IP", "DOW", "Wall Street", "INDICES", 47000.0, 1.0, 1, 2.4, 0.16, "GBP",
           1.0, 0.5, 10, 5.0, "index_us", "DFB"),
    _other("IX.D.NASDAQ.CASH.IP", "NASDAQ", "US Tech 100 Cash", "INDICES", 25000.0, 1.0, 1, 1.0, 0.22, "USD",
           1.0, 1.0, 8, 5.0, "index_us", "-"),
    _other("IX.D.RUSSELL.DAILY.IP", "RUSSELL", "US Russell 2000", "INDICES", 2450.0, 1.0, 1, 0.3, 0.22,
           "GBP", 1.0, 0.5, 2, 5.0, "index_us", "DFB"),
    _other("IX.D.NIKKEI.DAILY.IP", "NIKKEI", "Japan 225", "INDICES", 49500.0, 1.0, 1, 7.0, 0.20, "GBP",
           1.0, 0.5, 30, 5.0, "index_jp", "DFB"),
    _other("IX.D.HANGSENG.DAILY.IP", "HSI", "Hong Kong HS50", "INDICES", 26000.0, 1.0, 1, 6.0, 0.22, "GBP",
           1.0, 0.5, 30, 10.0, "index_hk", "DFB"),
    # Commodities: spot metals as spread bets, oil as undated CFDs (one point = one US cent).
    _other("CS.D.USCGC.TODAY.IP", "XAUUSD", "Spot Gold", "COMMODITIES", 4150.0, 0.1, 1, 3.0, 0.16, "GBP",
           10.0, 0.5, 10, 5.0, "metals", "DFB"),
    _other("CS.D.USCSI.TODAY.IP", "XAGUSD", "Spot Silver", "COMMODITIES", 50.0, 0.01, 3, 2.0, 0.30, "GBP",
           100.0, 0.5, 20, 10.0, "metals", "DFB"),
    _other("CS.D.PLAT.TODAY.IP", "XPTUSD", "Spot Platinum", "COMMODITIES", 1550.0, 0.1, 1, 15.0, 0.28,
           "GBP", 10.0, 0.5, 50, 10.0, "metals", "DFB"),
    _other("CS.D.PALL.TODAY.IP", "XPDUSD", "Spot Palladium", "COMMODITIES", 1400.0, 0.1, 1, 25.0, 0.35,
           "GBP", 10.0, 0.5, 80, 10.0, "metals", "DFB"),
    _other("CS.D.COPPER.TODAY.IP", "COPPER", "High Grade Copper", "COMMODITIES", 5.10, 0.001, 4, 4.0, 0.22,
           "GBP", 1000.0, 0.5, 20, 10.0, "metals", "DFB"),
    _other("CC.D.CL.UNC.IP", "WTI", "Oil - US Crude", "COMMODITIES", 60.0, 0.01, 3, 2.8, 0.32, "USD",
           1000.0, 1.0, 12, 10.0, "energy", "-"),
    _other("CC.D.LCO.UNC.IP", "BRENT", "Oil - Brent Crude", "COMMODITIES", 64.0, 0.01, 3, 2.8, 0.30, "USD",
           1000.0, 1.0, 12, 10.0, "energy", "-"),
)
# fmt: on


def _build() -> Mapping[str, InstrumentSpec]:
    specs = [_fx(*row) for row in _FX] + list(_OTHERS)
    by_epic: dict[str, InstrumentSpec] = {}
    for s in specs:
        if s.epic in by_epic:  # pragma: no cover - a data bug caught at import
            raise RuntimeError(f"duplicate epic in catalog: {s.epic}")
        by_epic[s.epic] = s
    return MappingProxyType(by_epic)


CATALOG: Mapping[str, InstrumentSpec] = _build()
"""Every instrument the synthetic market knows, keyed by IG epic (read-only)."""

_BY_NAME: dict[str, str] = {}
for _s in CATALOG.values():
    _BY_NAME[_s.epic.upper()] = _s.epic
    _BY_NAME[_s.symbol.upper()] = _s.epic
    _BY_NAME.setdefault(_s.name.upper(), _s.epic)


def resolve(name: str) -> str:
    """An epic or symbol (case-insensitive; ``"eurusd"``, ``"EUR/USD"``, ``"CS.D.EURUSD.MINI.IP"``) → the epic.

    Raises :class:`~igkit.errors.DataError` naming the unknown instrument and the closest matches.
    """
    if not isinstance(name, str) or not name.strip():
        raise DataError(f"instrument name must be a non-empty string, got {name!r}")
    key = name.strip().upper()
    epic = _BY_NAME.get(key) or _BY_NAME.get(key.replace("/", "").replace(" ", ""))
    if epic is not None:
        return epic
    close = difflib.get_close_matches(key, list(_BY_NAME), n=8, cutoff=0.5)
    epics = list(dict.fromkeys(_BY_NAME[c] for c in close))[:5]
    hint = ", ".join(f"{CATALOG[e].symbol} ({e})" for e in epics)
    raise DataError(
        f"unknown instrument {name!r} in the synthetic market catalog"
        + (f"; close matches: {hint}" if hint else f"; known symbols: {', '.join(sorted(_symbols()))}")
    )


def _symbols() -> list[str]:
    return [s.symbol for s in CATALOG.values()]


def spec(epic: str) -> InstrumentSpec:
    """The :class:`InstrumentSpec` of an epic (a symbol is resolved first)."""
    found = CATALOG.get(epic) if isinstance(epic, str) else None
    return found if found is not None else CATALOG[resolve(epic)]
