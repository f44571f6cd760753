"""PaperBroker in the account currency: the catalog's contract size and currency by default, converted at
the latest quote of the conversion pair (else the catalog's reference level); explicit values unconverted.
Expected numbers are worked out by hand from the documented rules."""

from __future__ import annotations

import pytest

from igkit.broker import PaperBroker
from igkit.broker._paper_fx import fx_route
from igkit.market import CATALOG
from igkit.types import Direction, Order

BUY, SELL = Direction.BUY, Direction.SELL
USDJPY, GBPJPY = "CS.D.USDJPY.MINI.IP", "CS.D.GBPJPY.MINI.IP"
EURUSD, GBPUSD = "CS.D.EURUSD.MINI.IP", "CS.D.GBPUSD.MINI.IP"
AUDNZD, NZDUSD = "CS.D.AUDNZD.MINI.IP", "CS.D.NZDUSD.MINI.IP"
FTSE, GOLD = "IX.D.FTSE.DAILY.IP", "CS.D.USCGC.TODAY.IP"


def round_trip(b: PaperBroker, epic: str, entry: tuple[float, float], exit_: tuple[float, float],
               size: float = 1.0, direction: Direction = BUY) -> float:
    """Open ``size`` at the tick ``entry`` (bid, ask), close at the tick ``exit_``; the closing fill's P&L."""
    assert b.submit(Order(epic, direction, size)).ok
    (opened,) = b.on_tick(epic, 2, *entry)
    assert opened.opening
    assert b.submit(Order(epic, direction.opposite(), size)).ok
    (closed,) = b.on_tick(epic, 3, *exit_)
    assert not closed.opening
    return closed.pnl


def test_usdjpy_in_a_gbp_account_converts_at_the_gbpjpy_quote() -> None:
    b = PaperBroker(balance=10_000.0, currency="GBP")
    b.on_tick(GBPJPY, 1, 199.99, 200.01)  # GBPJPY mid 200: one JPY is 1/200 GBP
    assert b.fx_rate("JPY") == pytest.approx(1 / 200)
    assert b.value_per_point(USDJPY) == pytest.approx(10_000 / 200)  # 10,000 JPY per 1.00 per lot = £50
    assert b.submit(Order(USDJPY, BUY, 1.0)).ok
    b.on_tick(USDJPY, 2, 149.99, 150.00)  # long 1 lot at 150.00
    a = b.account()
    # margin: 1 lot x 150.00 x 10,000 x 3.33% = 49,950 JPY = £249.75 at 200
    assert a.margin == pytest.approx(1 * 150.0 * 10_000 * 3.33 / 100 / 200)
    assert a.upl == pytest.approx((149.99 - 150.00) * 10_000 / 200)  # marked at the bid: -100 JPY = -£0.50
    assert b.submit(Order(USDJPY, SELL, 1.0)).ok
    (f,) = b.on_tick(USDJPY, 3, 151.00, 151.01)  # +1.00: 10,000 JPY
    rate = b.fx_rate("JPY")
    assert f.pnl == pytest.approx(1.00 * 10_000 * rate) and f.pnl == pytest.approx(50.0)
    a = b.account()
    assert (a.realized_pnl, a.balance, a.margin, a.currency) == (pytest.approx(50.0), pytest.approx(10_050.0),
                                                                   0.0, "GBP")


def test_the_rate_is_the_one_of_the_closing_tick() -> None:
    b = PaperBroker(currency="GBP")
    b.on_tick(GBPJPY, 1, 199.99, 200.01)
    assert b.submit(Order(USDJPY, BUY, 1.0)).ok
    b.on_tick(USDJPY, 2, 149.99, 150.00)
    b.on_tick(GBPJPY, 2, 249.99, 250.01)  # the pound strengthens: a JPY is worth less
    assert b.fx_rate("JPY") == pytest.approx(1 / 250)
    assert b.account().margin == pytest.approx(150.0 * 10_000 * 0.0333 / 250)
    assert b.submit(Order(USDJPY, SELL, 1.0)).ok
    (f,) = b.on_tick(USDJPY, 3, 151.00, 151.01)
    assert f.pnl == pytest.approx(10_000 / 250)  # £40


def test_without_a_quote_of_the_pair_the_catalog_level_is_used() -> None:
    b = PaperBroker(currency="GBP")
    ref = CATALOG[GBPJPY].price
    assert b.fx_rate("JPY") == pytest.approx(1 / ref)
    pnl = round_trip(b, USDJPY, (149.99, 150.00), (151.00, 151.01))
    assert pnl == pytest.approx(10_000 * b.fx_rate("JPY")) and pnl == pytest.approx(10_000 / ref)  # ~£49.12


def test_eurusd_in_a_gbp_account_converts_usd_at_gbpusd() -> None:
    b = PaperBroker(currency="GBP")
    b.on_tick(GBPUSD, 1, 1.2499, 1.2501)  # one USD is 1/1.25 = 0.8 GBP
    assert b.fx_rate("USD") == pytest.approx(0.8)
    pnl = round_trip(b, EURUSD, (1.0998, 1.1000), (1.1100, 1.1102))  # +0.0100 x 10,000 = 100 USD
    assert pnl == pytest.approx(0.0100 * 10_000 * b.fx_rate("USD")) and pnl == pytest.approx(80.0)
    short = round_trip(b, EURUSD, (1.1000, 1.1002), (1.0950, 1.0952), size=2.0, direction=SELL)
    assert short == pytest.approx((1.1000 - 1.0952) * 2 * 10_000 * 0.8)


def test_a_gbp_instrument_is_not_converted() -> None:
    b = PaperBroker(currency="GBP")
    b.on_tick(GBPUSD, 1, 1.2499, 1.2501)  # a USD rate is known but irrelevant for GBP instruments
    assert b.fx_rate("GBP") == 1.0
    assert (b.value_per_point(FTSE), b.value_per_point(GOLD)) == (1.0, 10.0)  # £1 per point; £1 per 0.1 of gold
    assert round_trip(b, FTSE, (9699.0, 9700.0), (9710.0, 9711.0), size=2.0) == pytest.approx(10.0 * 2)
    assert round_trip(b, GOLD, (4149.7, 4150.0), (4151.0, 4151.3)) == pytest.approx(1.0 * 10)
    b.on_tick(FTSE, 4, 9700.0, 9701.0)
    assert b.submit(Order(FTSE, BUY, 1.0)).ok
    b.on_tick(FTSE, 5, 9700.0, 9701.0)
    assert b.account().margin == pytest.approx(9701.0 * 1.0 * 5.0 / 100)  # 1 x level x £1 x 5%


def test_usd_account_values_usd_instruments_as_is_and_jpy_at_usdjpy() -> None:
    b = PaperBroker(currency="USD")
    assert b.value_per_point(EURUSD) == 10_000.0
    assert round_trip(b, EURUSD, (1.0998, 1.1000), (1.1100, 1.1102)) == pytest.approx(100.0)
    # USDJPY converts JPY to USD at its own quote: the closing tick's mid
    pnl = round_trip(b, USDJPY, (149.99, 150.00), (151.00, 151.02))
    assert b.fx_rate("JPY") == pytest.approx(1 / 151.01)
    assert pnl == pytest.approx(10_000 / 151.01)


def test_two_legs_through_usd_when_there_is_no_direct_pair() -> None:
    assert fx_route("NZD", "GBP") == ((NZDUSD, False), (GBPUSD, True))
    b = PaperBroker(currency="GBP")
    b.on_tick(NZDUSD, 1, 0.5999, 0.6001)
    b.on_tick(GBPUSD, 1, 1.1999, 1.2001)
    assert b.fx_rate("NZD") == pytest.approx(0.6 / 1.2)  # NZD -> 0.6 USD -> 0.5 GBP
    pnl = round_trip(b, AUDNZD, (1.1498, 1.1500), (1.1600, 1.1602))  # +0.0100 x 10,000 = 100 NZD
    assert pnl == pytest.approx(50.0)


def test_explicit_values_are_used_as_before_and_margin_factor_composes() -> None:
    b = PaperBroker(value_per_point={USDJPY: 1.0})
    assert round_trip(b, USDJPY, (149.99, 150.00), (151.00, 151.01)) == pytest.approx(1.00)  # no conversion
    m = PaperBroker(margin_factor=10.0, currency="GBP")
    m.on_tick(GBPUSD, 1, 1.2499, 1.2501)
    r = m.rules(EURUSD)
    assert r.margin_factor == 10.0 and r.value_per_point == pytest.approx(10_000 * 0.8)


def test_margin_in_the_account_currency_decides_insufficient_funds() -> None:
    # USDJPY 1 lot at 150 needs 49,950 JPY = £249.75 at GBPJPY 200
    for balance, ok in ((240.0, False), (260.0, True)):
        b = PaperBroker(balance=balance, currency="GBP")
        b.on_tick(GBPJPY, 1, 199.99, 200.01)
        b.on_tick(USDJPY, 1, 149.99, 150.00)
        r = b.submit(Order(USDJPY, BUY, 1.0))
        assert r.ok is ok and (ok or r.reason == "INSUFFICIENT_FUNDS")


def test_bad_account_currencies_are_named() -> None:
    with pytest.raises(ValueError, match=r"currency must be a 3-letter.*'gbp'"):
        PaperBroker(currency="gbp")
    b = PaperBroker(currency="XYZ")
    with pytest.raises(ValueError, match=r"cannot value CS\.D\.EURUSD\.MINI\.IP \(in USD\).*XYZ.*value_per_point"):
        b.rules(EURUSD)
    assert PaperBroker(currency="XYZ", value_per_point={EURUSD: 3.0}).rules(EURUSD).value_per_point == 3.0
    assert PaperBroker(currency="XYZ").rules("TEST.UNKNOWN").value_per_point == 1.0  # not in the catalog
