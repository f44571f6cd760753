"""PaperBroker: next-tick fills, netting, working orders, attached stops/limits, accounting, rejections,
thread safety. Expected numbers are computed by hand in each test from the documented rules."""

from __future__ import annotations

import random
import threading

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from igkit.broker import Broker, InstrumentRules, PaperBroker
from igkit.broker._paper_book import Book, OpenPosition
from igkit.errors import DataError
from igkit.types import Direction, Fill, Order, OrderResult, OrderStatus, OrderType, Position

BUY, SELL = Direction.BUY, Direction.SELL
X = "TEST.X"  # a made-up epic with round-number rules so the arithmetic is easy to follow
X_RULES = InstrumentRules(X, min_deal_size=0.5, size_step=0.1, min_stop_distance=1.0, margin_factor=10.0,
                          value_per_point=2.0)
EURUSD = "CS.D.EURUSD.MINI.IP"


def make(balance: float = 10_000.0, **kw: object) -> PaperBroker:
    return PaperBroker(balance=balance, instruments_rules={X: X_RULES}, **kw)  # type: ignore[arg-type]


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def __call__(self, ev: tuple[str, object]) -> None:
        self.events.append(ev)

    def of(self, kind: str) -> list[object]:
        return [v for k, v in self.events if k == kind]


def test_implements_the_protocol() -> None:
    assert isinstance(PaperBroker(), Broker)


def test_market_order_fills_at_next_tick_ask_or_bid() -> None:
    b = make()
    b.on_tick(X, 1, 100.0, 100.5)
    r = b.submit(Order(X, BUY, 1.0))
    assert r.status is OrderStatus.ACCEPTED and r.fills == () and b.positions() == []
    fills = b.on_tick(X, 2, 101.0, 101.4)
    assert [(f.direction, f.price, f.time_ns, f.opening) for f in fills] == [(BUY, 101.4, 2, True)]
    (pos,) = b.positions()
    assert (pos.deal_id, pos.level, pos.size, pos.direction) == (r.deal_id, 101.4, 1.0, BUY)
    b.submit(Order(X, SELL, 1.0))
    (f,) = b.on_tick(X, 3, 102.0, 102.3)
    assert (f.price, f.opening, f.deal_id) == (102.0, False, pos.deal_id)
    assert f.pnl == pytest.approx((102.0 - 101.4) * 1.0 * 2.0)
    assert b.positions() == [] and b.net_position(X) == 0.0


def test_order_before_any_tick_waits_for_the_first_one() -> None:
    b = make()
    b.submit(Order(X, SELL, 2.0))
    assert b.on_tick("OTHER.EPIC", 1, 5.0, 5.1) == []  # another epic's tick does not fill it
    assert len(b.pending_orders()) == 1
    (f,) = b.on_tick(X, 2, 99.0, 99.2)
    assert (f.direction, f.price, f.size) == (SELL, 99.0, 2.0)
    assert b.net_position(X) == -2.0 and b.pending_orders() == []


def test_netting_partial_close_then_reversal() -> None:
    b = make()
    b.on_tick(X, 1, 100.0, 100.0)
    b.submit(Order(X, BUY, 2.0))
    b.on_tick(X, 2, 100.0, 101.0)  # long 2 @ 101
    b.submit(Order(X, SELL, 0.5))
    (f,) = b.on_tick(X, 3, 103.0, 104.0)  # closes 0.5 at the bid 103
    assert (f.opening, f.size, f.price) == (False, 0.5, 103.0)
    assert f.pnl == pytest.approx((103 - 101) * 0.5 * 2.0)  # 2.0
    assert b.net_position(X) == pytest.approx(1.5)
    r = b.submit(Order(X, SELL, 4.0))
    fills = b.on_tick(X, 4, 99.0, 100.0)  # reversal: close 1.5 @ 99, open short 2.5 @ 99
    assert [(x.opening, x.size, x.price) for x in fills] == [(False, 1.5, 99.0), (True, 2.5, 99.0)]
    assert fills[0].pnl == pytest.approx((99 - 101) * 1.5 * 2.0)  # -6.0
    (pos,) = b.positions()
    assert (pos.direction, pos.size, pos.deal_id) == (SELL, 2.5, r.deal_id)
    assert b.account().realized_pnl == pytest.approx(2.0 - 6.0)
    assert b.account().balance == pytest.approx(10_000 - 4.0)


def test_close_deal_id_targets_one_position() -> None:
    b = make()
    b.on_tick(X, 1, 100.0, 100.0)
    first = b.submit(Order(X, BUY, 1.0))
    b.on_tick(X, 2, 100.0, 100.0)
    second = b.submit(Order(X, BUY, 1.0))
    b.on_tick(X, 3, 102.0, 102.0)
    assert {p.deal_id for p in b.positions()} == {first.deal_id, second.deal_id}
    b.submit(Order(X, SELL, 1.0, close_deal_id=second.deal_id))
    (f,) = b.on_tick(X, 4, 101.0, 101.0)
    assert f.deal_id == second.deal_id and f.pnl == pytest.approx((101 - 102) * 2.0)
    assert [p.deal_id for p in b.positions()] == [first.deal_id]
    # a close in the position's own direction, of another epic, or larger than it, is refused
    assert b.submit(Order(X, BUY, 1.0, close_deal_id=first.deal_id)).reason == "POSITION_NOT_AVAILABLE_TO_CLOSE"
    assert b.submit(Order(X, SELL, 3.0, close_deal_id=first.deal_id)).reason == "POSITION_NOT_AVAILABLE_TO_CLOSE"
    assert b.submit(Order(X, SELL, 1.0, close_deal_id="nope")).reason == "POSITION_NOT_FOUND"


def test_close_position_partial_and_whole() -> None:
    b = make()
    b.on_tick(X, 1, 100.0, 100.0)
    r = b.submit(Order(X, SELL, 3.0))
    b.on_tick(X, 2, 100.0, 100.0)  # short 3 @ 100
    assert b.close_position(r.deal_id, 1.0).status is OrderStatus.ACCEPTED
    (f,) = b.on_tick(X, 3, 97.0, 98.0)  # a short closes at the ask
    assert (f.size, f.price, f.direction) == (1.0, 98.0, BUY)
    assert f.pnl == pytest.approx((98 - 100) * -1 * 1.0 * 2.0)  # +4
    (pos,) = b.positions()
    assert pos.size == pytest.approx(2.0)
    assert b.close_position(r.deal_id, 0.55).reason == "SIZE_INCREMENT"
    assert b.close_position(r.deal_id, 0.4).reason == "MINIMUM_ORDER_SIZE_ERROR"
    b.close_position(r.deal_id)
    (f,) = b.on_tick(X, 4, 99.0, 99.5)
    assert f.size == pytest.approx(2.0) and b.positions() == []
    assert b.close_position(r.deal_id).reason == "POSITION_NOT_FOUND"


@pytest.mark.parametrize(
    ("direction", "kind", "level", "path", "fill_price"),
    [
        # buy limit: fills when ask <= level, at the ask (the level or better)
        (BUY, OrderType.LIMIT, 99.0, [(99.5, 100.0), (98.0, 98.5)], 98.5),
        # buy stop: ask >= level; a gap through fills at the (worse) crossing ask
        (BUY, OrderType.STOP, 101.0, [(100.2, 100.7), (102.0, 102.5)], 102.5),
        # sell limit: bid >= level, at the bid
        (SELL, OrderType.LIMIT, 101.0, [(100.5, 101.0), (101.5, 102.0)], 101.5),
        # sell stop: bid <= level; gap through fills at the worse bid
        (SELL, OrderType.STOP, 99.0, [(99.2, 99.7), (97.0, 97.5)], 97.0),
    ],
)
def test_working_orders_fill_when_crossed(direction: Direction, kind: OrderType, level: float,
                                          path: list[tuple[float, float]], fill_price: float) -> None:
    b = make()
    rec = Recorder()
    b.add_listener(rec)
    b.on_tick(X, 1, 100.0, 100.5)
    r = b.submit(Order(X, direction, 1.0, order_type=kind, level=level, stop_distance=5.0))
    assert r.status is OrderStatus.WORKING and len(b.working_orders()) == 1
    b.on_tick(X, 2, *path[0])  # not crossed yet
    assert b.positions() == []
    (f,) = b.on_tick(X, 3, *path[1])
    assert (f.price, f.reason, f.direction, f.deal_id) == (fill_price, "working_order", direction, r.deal_id)
    (pos,) = b.positions()
    assert pos.stop_level == pytest.approx(fill_price - direction.sign * 5.0)
    assert b.working_orders() == []
    filled = [o for o in rec.of("order") if isinstance(o, OrderResult) and o.status is OrderStatus.FILLED]
    assert len(filled) == 1 and filled[0].level == fill_price


def test_working_order_wrong_side_expiry_and_cancel() -> None:
    b = make()
    b.on_tick(X, 1_000, 100.0, 100.5)
    # a buy limit above the ask would fill at once: IG refuses it
    assert b.submit(Order(X, BUY, 1.0, order_type=OrderType.LIMIT, level=101.0)).reason == "WRONG_SIDE_OF_MARKET"
    assert b.submit(Order(X, SELL, 1.0, order_type=OrderType.STOP, level=100.5)).reason == "WRONG_SIDE_OF_MARKET"
    assert b.submit(Order(X, BUY, 1.0, order_type=OrderType.STOP)).reason == "GENERAL_ERROR"  # no level
    past = Order(X, BUY, 1.0, order_type=OrderType.LIMIT, level=90.0, good_till_ns=500)
    assert b.submit(past).reason == "GOOD_TILL_DATE_IN_THE_PAST"
    rec = Recorder()
    b.add_listener(rec)
    exp = b.submit(Order(X, BUY, 1.0, order_type=OrderType.LIMIT, level=90.0, good_till_ns=2_000))
    keep = b.submit(Order(X, BUY, 1.0, order_type=OrderType.LIMIT, level=91.0))
    b.on_tick(X, 2_000, 95.0, 95.5)
    assert [w.deal_id for w in b.working_orders()] == [keep.deal_id]
    (expired,) = rec.of("order")
    assert isinstance(expired, OrderResult) and expired.deal_id == exp.deal_id and expired.reason == "EXPIRED"
    assert b.cancel_order(keep.deal_id).status is OrderStatus.CANCELLED
    assert b.cancel_order(keep.deal_id).reason == "ORDER_NOT_FOUND"
    b.on_tick(X, 3_000, 80.0, 80.5)
    assert b.positions() == []


def test_stop_and_limit_trigger_on_the_closing_side() -> None:
    b = make()
    b.on_tick(X, 1, 100.0, 100.5)
    b.submit(Order(X, BUY, 1.0, stop_distance=2.0, limit_distance=3.0))
    b.on_tick(X, 2, 100.0, 100.5)  # long @ 100.5: stop 98.5, limit 103.5
    (pos,) = b.positions()
    assert (pos.stop_level, pos.limit_level) == (98.5, 103.5)
    assert b.on_tick(X, 3, 98.6, 98.4) == []  # the ask is irrelevant to a long (crossed quote on purpose)
    (f,) = b.on_tick(X, 4, 98.0, 98.5)  # bid 98.0 <= 98.5: stopped at the bid, worse than the level
    assert (f.reason, f.price) == ("stop", 98.0) and f.pnl == pytest.approx((98.0 - 100.5) * 2.0)
    # a short's limit triggers on the ask
    b.submit(Order(X, SELL, 1.0, limit_distance=2.0))
    b.on_tick(X, 5, 100.0, 100.5)  # short @ 100: limit 98
    assert b.on_tick(X, 6, 97.5, 98.1) == []
    (f,) = b.on_tick(X, 7, 97.4, 97.9)
    assert (f.reason, f.price) == ("limit", 97.9)


def test_stop_wins_when_stop_and_limit_trigger_on_one_tick() -> None:
    # Levels that both trigger on one tick cannot be placed through the broker's validation, so the book's
    # precedence rule is exercised directly on a position with crossed levels.
    book = Book(rules=lambda epic: X_RULES, balance=1_000.0)
    pos = OpenPosition("D1", X, BUY, 1.0, 100.0, 0, stop_level=99.0, limit_level=98.0)
    book.positions["D1"] = pos
    (f,) = book.tick(X, 1, 98.5, 99.0)
    assert f.reason == "stop" and book.positions == {}


def test_trailing_stop_follows_the_best_price() -> None:
    b = make()
    b.on_tick(X, 1, 100.0, 100.0)
    b.submit(Order(X, BUY, 1.0, stop_distance=2.0, trailing_stop=True))
    b.on_tick(X, 2, 100.0, 100.0)  # long @ 100, stop 98
    b.on_tick(X, 3, 103.0, 103.2)  # best bid 103 -> stop 101
    assert b.positions()[0].stop_level == pytest.approx(101.0)
    b.on_tick(X, 4, 102.0, 102.2)  # lower bid: the stop stays
    assert b.positions()[0].stop_level == pytest.approx(101.0)
    (f,) = b.on_tick(X, 5, 100.9, 101.1)
    assert (f.reason, f.price) == ("trailing_stop", 100.9)
    assert b.submit(Order(X, SELL, 1.0, trailing_stop=True)).reason == "ATTACHED_ORDER_TRAILING_STOP_ERROR"


def test_amend_validates_levels() -> None:
    b = make()
    b.on_tick(X, 1, 100.0, 100.5)
    r = b.submit(Order(X, BUY, 1.0))
    b.on_tick(X, 2, 100.0, 100.5)
    # a long's stop must be below the bid by >= 1.0 (the instrument's minimum), its limit above
    for kw in ({"stop_level": 100.5}, {"stop_level": 99.5}, {"limit_level": 99.0}, {"limit_level": 100.5}):
        assert b.amend_position(r.deal_id, **kw).reason == "ATTACHED_ORDER_LEVEL_ERROR", kw
    assert b.positions()[0].stop_level is None
    assert b.amend_position(r.deal_id, stop_level=99.0, limit_level=105.0).status is OrderStatus.ACCEPTED
    assert (b.positions()[0].stop_level, b.positions()[0].limit_level) == (99.0, 105.0)
    assert b.amend_position("nope", stop_level=1.0).reason == "POSITION_NOT_FOUND"
    (f,) = b.on_tick(X, 3, 105.0, 105.5)
    assert f.reason == "limit"


def test_attached_distance_below_the_minimum_is_refused() -> None:
    b = make()
    assert b.submit(Order(X, BUY, 1.0, stop_distance=0.5)).reason == "ATTACHED_ORDER_LEVEL_ERROR"
    assert b.submit(Order(X, BUY, 1.0, limit_distance=0.9)).reason == "ATTACHED_ORDER_LEVEL_ERROR"
    # EURUSD from the catalog: min stop 2 pips = 0.0002 in price units
    e = PaperBroker()
    assert e.submit(Order(EURUSD, BUY, 1.0, stop_distance=0.00015)).reason == "ATTACHED_ORDER_LEVEL_ERROR"
    assert e.submit(Order(EURUSD, BUY, 1.0, stop_distance=0.0002)).ok


def test_accounting_upl_margin_equity_available() -> None:
    b = make(balance=1_000.0)
    b.on_tick(X, 1, 100.0, 100.0)
    b.submit(Order(X, BUY, 3.0))
    b.on_tick(X, 2, 99.5, 100.5)  # long 3 @ 100.5
    a = b.account()
    upl = (99.5 - 100.5) * 3 * 2.0  # marked at the bid: -6
    margin = 3 * 100.5 * 2.0 * 10.0 / 100  # size x opening level x value_per_point x margin%: 60.3
    assert (a.balance, a.upl, a.margin) == (1_000.0, pytest.approx(upl), pytest.approx(margin))
    assert a.equity == pytest.approx(1_000 + upl) and a.available == pytest.approx(1_000 + upl - margin)
    b.submit(Order(X, SELL, 1.0))
    b.on_tick(X, 3, 104.0, 105.0)  # close 1 @ 104: +7
    a = b.account()
    assert a.realized_pnl == pytest.approx((104 - 100.5) * 1 * 2.0)
    assert a.balance == pytest.approx(1_007.0)
    assert a.upl == pytest.approx((104 - 100.5) * 2 * 2.0)
    assert a.margin == pytest.approx(2 * 100.5 * 2.0 * 0.1)
    assert a.currency == "GBP"


def test_explicit_value_per_point_is_account_currency_without_conversion() -> None:
    """An explicit value is used as is (the catalog's default, converted, is in tests/test_paper_fx.py)."""
    b = PaperBroker(value_per_point={EURUSD: 1.0, "CS.D.GBPUSD.MINI.IP": 10_000.0})
    for epic in (EURUSD, "CS.D.GBPUSD.MINI.IP"):
        b.on_tick(epic, 1, 1.1000, 1.1002)
        b.submit(Order(epic, BUY, 1.0))
        b.on_tick(epic, 2, 1.1000, 1.1002)
        b.submit(Order(epic, SELL, 1.0))
    (eur,) = b.on_tick(EURUSD, 3, 1.1012, 1.1014)
    (gbp,) = b.on_tick("CS.D.GBPUSD.MINI.IP", 3, 1.1012, 1.1014)
    assert eur.pnl == pytest.approx(0.0010)  # price units x size, as the backtest books it
    assert gbp.pnl == pytest.approx(0.0010 * 10_000)
    assert b.rules(EURUSD).margin_factor == 3.33  # from the catalog


def test_insufficient_funds_at_submit_and_at_fill() -> None:
    b = make(balance=100.0)  # margin of 1 @ 100 = 100 x 2 x 10% = 20
    b.on_tick(X, 1, 100.0, 100.0)
    assert b.submit(Order(X, BUY, 5.1)).reason == "INSUFFICIENT_FUNDS"  # 102 > 100
    assert b.submit(Order(X, BUY, 5.0)).status is OrderStatus.ACCEPTED  # 100 <= 100
    b.on_tick(X, 2, 100.0, 100.0)
    assert b.account().available == pytest.approx(0.0)
    # a close never needs margin; a reversal needs it only for the part that opens
    assert b.submit(Order(X, SELL, 5.0)).ok
    b.on_tick(X, 3, 100.0, 100.0)
    assert b.positions() == []
    # checked again at the fill: the price moved up before the next tick
    b2 = make(balance=100.0)
    rec = Recorder()
    b2.add_listener(rec)
    b2.on_tick(X, 1, 100.0, 100.0)
    assert b2.submit(Order(X, BUY, 5.0)).ok
    assert b2.on_tick(X, 2, 110.0, 110.0) == []
    (res,) = rec.of("order")
    assert isinstance(res, OrderResult) and res.reason == "INSUFFICIENT_FUNDS" and b2.positions() == []


def test_size_rules_min_size_and_increment() -> None:
    b = make()
    assert b.submit(Order(X, BUY, 0.4)).reason == "MINIMUM_ORDER_SIZE_ERROR"
    assert b.submit(Order(X, BUY, 0.55)).reason == "SIZE_INCREMENT"
    assert b.submit(Order(X, BUY, 0.5)).ok
    assert PaperBroker().submit(Order(EURUSD, BUY, 0.5)).reason == "MINIMUM_ORDER_SIZE_ERROR"


def test_duplicate_reference_is_refused() -> None:
    b = make()
    o = Order(X, BUY, 1.0)
    assert b.submit(o).ok
    assert b.submit(o).reason == "DUPLICATE_ORDER_ERROR"


def test_market_hours_only_when_respected() -> None:
    saturday = int(pd.Timestamp("2026-11-21T12:00Z").value)
    clock = lambda: saturday  # noqa: E731
    assert PaperBroker(clock=clock).submit(Order(EURUSD, BUY, 1.0)).ok
    r = PaperBroker(clock=clock, respect_hours=True).submit(Order(EURUSD, BUY, 1.0))
    assert r.reason == "MARKET_CLOSED"
    monday = int(pd.Timestamp("2026-11-23T12:00Z").value)
    assert PaperBroker(clock=lambda: monday, respect_hours=True).submit(Order(EURUSD, BUY, 1.0)).ok


def test_events_reach_listeners() -> None:
    b = make()
    rec = Recorder()
    b.add_listener(rec)
    b.on_tick(X, 1, 100.0, 100.0)
    r = b.submit(Order(X, BUY, 1.0))
    b.on_tick(X, 2, 100.0, 100.0)
    assert [k for k, _ in rec.events] == ["fill", "position", "order", "account"]
    b.close_position(r.deal_id)
    b.on_tick(X, 3, 101.0, 101.0)
    closed = [p for p in rec.of("position") if isinstance(p, Position) and p.size == 0.0]
    assert [p.deal_id for p in closed] == [r.deal_id]
    assert rec.events[-1][0] == "account"
    b.add_listener(lambda ev: 1 / 0)  # a failing listener does not break dealing
    b.submit(Order(X, BUY, 1.0))
    assert len(b.on_tick(X, 4, 100.0, 100.0)) == 1


def test_flatten_next_tick_or_immediate() -> None:
    b = make()
    b.on_tick(X, 1, 100.0, 100.0)
    b.on_tick(EURUSD, 1, 1.1, 1.1001)
    b.submit(Order(X, BUY, 1.0))
    b.submit(Order(EURUSD, SELL, 1.0))
    b.on_tick(X, 2, 100.0, 100.0)
    b.on_tick(EURUSD, 2, 1.1, 1.1001)
    pending_open = b.submit(Order(X, BUY, 2.0))  # would re-open after the flatten: flatten cancels it
    results = b.flatten(X)
    assert [r.status for r in results] == [OrderStatus.ACCEPTED]
    assert b.flatten(X) and len(b.pending_orders()) == 1  # a second call replaces, never doubles, the close
    assert pending_open.deal_id not in {o.close_deal_id for o in b.pending_orders()}
    fills = b.on_tick(X, 3, 99.0, 99.5)
    assert [(f.opening, f.reason) for f in fills] == [(False, "flatten")]
    assert b.net_position(X) == 0.0 and b.net_position(EURUSD) == -1.0
    (r,) = b.flatten(immediate=True, reason="kill")  # EURUSD: at the last ask at once, no tick needed
    assert r.status is OrderStatus.FILLED and r.fills[0].price == 1.1001 and r.fills[0].reason == "kill"
    assert b.positions() == [] and b.pending_orders() == []
    assert b.on_tick(EURUSD, 3, 1.2, 1.2) == []  # nothing left to fill


def test_reconcile_is_empty() -> None:
    rep = make().reconcile()
    assert rep["ok"] is True
    assert all(rep[k] == [] for k in ("missing_positions", "unknown_positions", "changed_positions",
                                      "missing_orders", "unknown_orders"))


def test_bad_constructor_and_rules() -> None:
    with pytest.raises(ValueError, match="balance"):
        PaperBroker(balance=-1.0)
    with pytest.raises(ValueError, match=r"TEST\.Y: value_per_point"):
        InstrumentRules("TEST.Y", value_per_point=0.0)
    with pytest.raises(ValueError, match="size_step"):
        InstrumentRules("TEST.Y", size_step=0.0)


def test_concurrent_ticks_and_flattens_stay_consistent() -> None:
    """One thread ticks at full speed and trades; another flattens and cancels repeatedly."""
    b = make(balance=1e9)
    fills: list[Fill] = []
    lock = threading.Lock()

    def listen(ev: tuple[str, object]) -> None:
        if ev[0] == "fill":
            with lock:
                fills.append(ev[1])  # type: ignore[arg-type]

    b.add_listener(listen)
    stop = threading.Event()
    errors: list[BaseException] = []

    def ticker() -> None:
        rng = random.Random(7)
        px = 100.0
        try:
            for i in range(1, 6_000):
                px = max(50.0, px + rng.uniform(-0.5, 0.5))
                b.on_tick(X, i, round(px, 1), round(px + 0.2, 1))
                k = rng.random()
                if k < 0.2:
                    b.submit(Order(X, rng.choice((BUY, SELL)), rng.choice((0.5, 1.0, 2.0)),
                                   stop_distance=rng.choice((None, 2.0)), trailing_stop=False))
                elif k < 0.25:
                    lvl = round(px + rng.uniform(-3, 3), 1)
                    d = rng.choice((BUY, SELL))
                    kind = rng.choice((OrderType.LIMIT, OrderType.STOP))
                    b.submit(Order(X, d, 1.0, order_type=kind, level=lvl))
                elif k < 0.27 and (held := b.positions()):
                    b.close_position(rng.choice(held).deal_id, 0.5)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            stop.set()

    def killer() -> None:
        rng = random.Random(11)
        try:
            while not stop.is_set():
                if rng.random() < 0.5:
                    b.flatten(immediate=rng.random() < 0.5)
                else:
                    b.cancel_all()
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=ticker), threading.Thread(target=killer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    b.cancel_all()
    b.flatten(immediate=True)
    assert b.positions() == [] and b.working_orders() == [] and b.pending_orders() == []
    # every deal: opened once, closed in pieces whose sizes add up exactly to what was opened
    opened: dict[str, float] = {}
    closed: dict[str, float] = {}
    for f in fills:
        book = opened if f.opening else closed
        book[f.deal_id] = book.get(f.deal_id, 0.0) + f.size
    assert len(opened) > 50 and set(closed) == set(opened)
    for deal_id, size in opened.items():
        assert closed[deal_id] == pytest.approx(size), (deal_id, [f for f in fills if f.deal_id == deal_id])
    a = b.account()
    assert a.balance == pytest.approx(1e9 + sum(f.pnl for f in fills if not f.opening))
    assert a.upl == 0.0 and a.margin == 0.0


def test_parity_with_the_backtest_at_the_same_size() -> None:
    """Ticks at each bar's open (bid_open/ask_open), a target decided at a bar's close sent as one order:
    the paper broker's trades and P&L equal the backtest's (value_per_point 1.0)."""
    from igkit.backtest import backtest

    rng = random.Random(1)
    n = 120
    idx = pd.date_range("2026-11-23T08:00Z", periods=n, freq="1min")
    mid = [100.0]
    for _ in range(n - 1):
        mid.append(round(mid[-1] + rng.uniform(-0.5, 0.5), 2))
    half = [round(rng.uniform(0.05, 0.2), 2) for _ in range(n)]
    candles = pd.DataFrame(index=idx)
    for part, shift in (("open", 0.0), ("high", 0.4), ("low", -0.4), ("close", 0.1)):
        m = pd.Series(mid, index=idx) + shift
        candles[f"bid_{part}"] = m - half
        candles[f"ask_{part}"] = m + half
        candles[f"mid_{part}"] = m
    candles["ticks"] = 1
    target = [0] * 5 + [rng.choice((-1, 0, 1)) if k % 7 == 0 else 0 for k in range(n - 5)]
    for k in range(6, n):  # hold each target until the next change point
        if (k - 5) % 7:
            target[k] = target[k - 1]
    size = 2.0
    res = backtest(candles, pd.Series(target, index=idx, dtype="int8"), size=size)

    b = PaperBroker(balance=10_000.0, instruments_rules={X: InstrumentRules(X, value_per_point=1.0)})
    for i in range(n):
        ts = int(idx[i].value)
        b.on_tick(X, ts, float(candles["bid_open"].iloc[i]), float(candles["ask_open"].iloc[i]))
        if i < n - 1:
            want = target[i] * size - b.net_position(X)
            if abs(want) > 1e-9:
                b.submit(Order(X, BUY if want > 0 else SELL, abs(want)))
    b.on_tick(X, int(idx[-1].value) + 1, float(candles["bid_close"].iloc[-1]), float(candles["ask_close"].iloc[-1]))
    b.flatten(immediate=True)
    assert len(res.trades) > 5
    assert b.account().realized_pnl == pytest.approx(float(res.trades["pnl"].sum()), abs=1e-9)
    assert b.account().balance == pytest.approx(float(res.equity.iloc[-1]), abs=1e-9)


action = st.one_of(
    st.tuples(st.just("tick"), st.floats(-2.0, 2.0), st.sampled_from((0.1, 0.5))),
    st.tuples(st.just("market"), st.sampled_from((BUY, SELL)), st.sampled_from((0.5, 1.0, 2.5)),
              st.sampled_from((None, 1.5, 3.0)), st.booleans()),
    st.tuples(st.just("working"), st.sampled_from((BUY, SELL)), st.sampled_from(tuple(OrderType)[1:]),
              st.floats(-3.0, 3.0)),
    st.tuples(st.just("close"), st.integers(0, 5), st.sampled_from((None, 0.5))),
    st.tuples(st.just("flatten"), st.booleans()),
    st.tuples(st.just("cancel_all")),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(action, min_size=1, max_size=60))
def test_book_invariants_hold_for_any_sequence(actions: list[tuple]) -> None:
    """Cash = start + realised P&L of closing fills; each position = its opening fill − its closes; net =
    the sum of positions; margin and P&L follow the documented formulas."""
    b = make(balance=1e6)
    fills: list[Fill] = []
    b.add_listener(lambda ev: fills.append(ev[1]) if ev[0] == "fill" else None)  # type: ignore[arg-type, func-returns-value]
    mid, ts = 100.0, 0
    b.on_tick(X, ts, mid - 0.1, mid + 0.1)
    for a in actions:
        if a[0] == "tick":
            ts += 1
            mid = max(10.0, round(mid + a[1], 1))
            b.on_tick(X, ts, mid - a[2], mid + a[2])
        elif a[0] == "market":
            b.submit(Order(X, a[1], a[2], stop_distance=a[3], trailing_stop=a[4] and a[3] is not None))
        elif a[0] == "working":
            b.submit(Order(X, a[1], 1.0, order_type=a[2], level=round(mid + a[3], 1)))
        elif a[0] == "close" and (held := b.positions()):
            b.close_position(held[a[1] % len(held)].deal_id, a[2])
        elif a[0] == "flatten":
            b.flatten(immediate=a[1])
        elif a[0] == "cancel_all":
            b.cancel_all()
    acct = b.account()
    assert acct.balance == pytest.approx(1e6 + sum(f.pnl for f in fills if not f.opening))
    remaining: dict[str, float] = {}
    for f in fills:
        remaining[f.deal_id] = remaining.get(f.deal_id, 0.0) + (f.size if f.opening else -f.size)
    positions = b.positions()
    for p in positions:
        assert p.size > 0 and remaining[p.deal_id] == pytest.approx(p.size)
    assert all(abs(v) < 1e-9 for k, v in remaining.items() if k not in {p.deal_id for p in positions})
    assert b.net_position(X) == pytest.approx(sum(p.signed_size for p in positions))
    assert len({p.direction for p in positions}) <= 1  # netting: never long and short at once
    _, bid, ask = b.quote(X)  # type: ignore[misc]
    assert acct.upl == pytest.approx(sum(p.upl(bid, ask, 2.0) for p in positions))
    assert acct.margin == pytest.approx(sum(p.size * p.level * 2.0 * 0.10 for p in positions))
    b.cancel_all()
    b.flatten(immediate=True)
    assert b.positions() == [] and b.working_orders() == [] and b.pending_orders() == []


def test_bad_quote_is_refused_and_changes_nothing() -> None:
    b = make()
    b.submit(Order(X, BUY, 1.0))
    for bid, ask in ((float("nan"), 100.0), (100.0, 0.0), (-1.0, 1.0)):
        with pytest.raises(DataError, match=r"TEST\.X"):
            b.on_tick(X, 1, bid, ask)
    assert b.quote(X) is None and len(b.pending_orders()) == 1


def test_from_config() -> None:
    from igkit.config import Config

    b = PaperBroker.from_config(Config(instruments=[EURUSD]), balance=500.0)
    assert b.account().balance == 500.0 and b.rules(EURUSD).min_deal_size == 1.0
