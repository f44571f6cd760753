"""IGBroker end to end: the real IGClient against the real IGSimulator on 127.0.0.1 (nothing mocked).

Covers market orders and fills, netting parity with the PaperBroker, stops/limits/working orders that
trigger on the simulator's side and are discovered by polling, rejections, lost answers (no duplicate
deal), flatten from another thread, reconciliation after changes behind the broker's back, the account,
and confirms from TRADE events.

TRADE events: IGSimulator does not itself publish its dealing events over Lightstreamer, so the last
test mounts the Lightstreamer simulator on the IG simulator's app and relays the simulator's own
CONFIRMS/OPU/WOU records to ``TRADE:<accountId>``; the broker subscribes through the real
``StreamingClient`` (lightstreamer-client-lib). Two lighter tests hand the same records, parsed by the real
``igkit.ig.stream.parse_trade``, straight to ``IGBroker.on_trade_event``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from _ig_sim import EPIC, logged_in_client, make_client, run_sim, sim_calls

from igkit.broker import Broker, IGBroker, PaperBroker
from igkit.ig import IGClient
from igkit.ig.stream import StreamingClient, parse_trade
from igkit.sim import IGSimulator, SimEvent
from igkit.sim.lightstreamer import LSServer, install_lightstreamer
from igkit.sim.lightstreamer.ig_items import IGStreamBackend
from igkit.types import AccountState, Direction, Fill, Order, OrderResult, OrderStatus, OrderType, Position

pytestmark = pytest.mark.timeout(60)

BUY, SELL = Direction.BUY, Direction.SELL
PIP = 0.0001  # EURUSD's point on the simulator (onePipMeans, scaling factor 1)


@pytest.fixture
def sim() -> Iterator[IGSimulator]:
    yield from run_sim()


@pytest.fixture
def client(sim: IGSimulator) -> Iterator[IGClient]:
    yield from logged_in_client(sim)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self._lock = threading.Lock()

    def __call__(self, ev: tuple[str, object]) -> None:
        with self._lock:
            self.events.append(ev)

    def of(self, kind: str) -> list[object]:
        with self._lock:
            return [v for k, v in self.events if k == kind]

    def fills(self) -> list[Fill]:
        return [f for f in self.of("fill") if isinstance(f, Fill)]


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def broker(client: IGClient, rec: Recorder) -> Iterator[IGBroker]:
    b = IGBroker(client, poll_interval=0.05, account_interval=60.0)
    b.add_listener(rec)
    b.start()
    yield b
    b.stop()


def fix_price(sim: IGSimulator, bid: float, ask: float | None = None) -> tuple[float, float]:
    """Pin the simulator's quote (so IG's fills and the paper broker's are at known prices)."""
    sim.set_price(EPIC, bid, ask if ask is not None else round(bid + 0.6 * PIP, 5))
    return sim.quote(EPIC)


def poll_until(broker: IGBroker, sim: IGSimulator, done: Callable[[], bool], seconds: float = 10.0) -> list[Fill]:
    """Feed the broker the simulator's quote until ``done()`` (polling is rate-bounded by poll_interval)."""
    fills: list[Fill] = []
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "the broker never discovered the change"
        bid, ask = sim.quote(EPIC)
        fills += broker.on_tick(EPIC, time.time_ns(), bid, ask)
        time.sleep(0.02)
    return fills


def sim_book(sim: IGSimulator) -> list[tuple[str, str, float]]:
    return sorted((p.deal_id, p.direction, p.size) for p in sim.positions())


def broker_book(b: IGBroker) -> list[tuple[str, str, float]]:
    return sorted((p.deal_id, p.direction.value, p.size) for p in b.positions())


# -- basics --------------------------------------------------------------------------------------------------
def test_implements_the_protocol(broker: IGBroker) -> None:
    assert isinstance(broker, Broker)
    assert broker.positions() == [] and broker.working_orders() == [] and broker.net_position(EPIC) == 0.0


def test_market_buy_then_sell_positions_fills_and_own_reference(sim: IGSimulator, client: IGClient,
                                                                broker: IGBroker, rec: Recorder) -> None:
    _, ask = fix_price(sim, 1.15)
    buy = Order(EPIC, BUY, 3.0)
    r = broker.submit(buy)
    assert r.status is OrderStatus.FILLED and r.reason == "SUCCESS"
    [f] = r.fills
    assert (f.direction, f.size, f.price, f.opening, f.reason) == (BUY, 3.0, ask, True, "market")
    assert f.deal_reference == buy.deal_reference
    [sp] = sim.positions()
    assert sp.deal_reference == buy.deal_reference and sp.deal_id == r.deal_id == f.deal_id  # our own reference
    assert broker_book(broker) == sim_book(sim) and broker.net_position(EPIC) == 3.0
    assert rec.fills() == [f]
    assert [p.size for p in rec.of("position") if isinstance(p, Position)] == [3.0]
    assert any(isinstance(a, AccountState) for a in rec.of("account"))

    bid2, _ = fix_price(sim, 1.151)
    sell = broker.submit(Order(EPIC, SELL, 1.0))
    [g] = sell.fills
    assert (g.opening, g.size, g.price, g.deal_id, g.reason) == (False, 1.0, bid2, sp.deal_id, "market")
    assert g.pnl > 0 and g.pnl == client.confirm(sell.order.deal_reference).profit  # IG's own profit figure
    assert broker.net_position(EPIC) == 2.0 and broker_book(broker) == sim_book(sim)
    broker.submit(Order(EPIC, SELL, 2.0))
    assert broker.positions() == [] and sim.positions() == []
    assert [p.size for p in rec.of("position") if isinstance(p, Position)][-1] == 0.0  # closed


def test_reversal_nets_like_the_paper_broker(sim: IGSimulator, broker: IGBroker) -> None:
    paper = PaperBroker(balance=1_000_000.0)
    seq = [
        Order(EPIC, BUY, 1.0),
        Order(EPIC, SELL, 3.0),  # reversal: close 1 long, open 2 short (one forceOpen=false request)
        Order(EPIC, BUY, 1.0),  # partial close of the short
        Order(EPIC, BUY, 2.0, stop_distance=40 * PIP, limit_distance=60 * PIP),  # explicit close + open with stops
        Order(EPIC, SELL, 1.0),
        Order(EPIC, BUY, 1.0),
    ]
    ig_fills = paper_fills = 0
    for i, order in enumerate(seq):
        bid, ask = fix_price(sim, round(1.15 + i * 0.0003, 5))
        r = broker.submit(order)
        assert r.status is OrderStatus.FILLED, r
        ig_fills += len(r.fills)
        assert paper.submit(order).ok
        got = paper.on_tick(EPIC, time.time_ns(), bid, ask)
        paper_fills += len(got)
        assert [(f.direction, f.size, f.price, f.opening) for f in r.fills] == \
            [(f.direction, f.size, f.price, f.opening) for f in got]
        assert broker.net_position(EPIC) == pytest.approx(paper.net_position(EPIC))
        mine = sorted((p.direction, p.size, p.level, p.stop_level, p.limit_level) for p in broker.positions())
        theirs = sorted((p.direction, p.size, p.level, p.stop_level, p.limit_level) for p in paper.positions())
        assert [m[:3] for m in mine] == [t[:3] for t in theirs]
        for m, t in zip(mine, theirs, strict=True):
            for a, b in ((m[3], t[3]), (m[4], t[4])):
                assert (a is None) == (b is None) and (a is None or a == pytest.approx(b, abs=1e-9))
        assert broker_book(broker) == sim_book(sim)
    assert ig_fills == paper_fills == 8
    posts = [r for r in sim.request_log if r.method == "POST" and r.path == "/positions/otc"]
    closes = [r for r in sim.request_log if r.method == "DELETE" and r.path == "/positions/otc"]
    assert len(posts) == 6 and len(closes) == 1  # the order with stops closed explicitly first


def test_amend_and_close_position(sim: IGSimulator, client: IGClient, broker: IGBroker) -> None:
    bid, _ = fix_price(sim, 1.15)
    r = broker.submit(Order(EPIC, BUY, 2.0))
    deal = r.deal_id or ""
    stop = round(bid - 30 * PIP, 5)
    a = broker.amend_position(deal, stop_level=stop)
    assert a.status is OrderStatus.ACCEPTED
    limit = round(bid + 40 * PIP, 5)
    assert broker.amend_position(deal, limit_level=limit).ok  # the stop is sent along, not dropped
    ig_pos = client.position(deal).position
    assert (ig_pos.stop_level, ig_pos.limit_level) == (stop, limit)
    [pos] = broker.positions()
    assert (pos.stop_level, pos.limit_level) == (stop, limit)
    wrong = broker.amend_position(deal, stop_level=round(bid + 10 * PIP, 5))  # above the bid for a long
    assert (wrong.status, wrong.reason) == (OrderStatus.REJECTED, "ATTACHED_ORDER_LEVEL_ERROR")
    assert broker.positions()[0].stop_level == stop
    assert broker.amend_position("NOPE123", stop_level=1.0).reason == "POSITION_NOT_FOUND"

    part = broker.close_position(deal, 1.0)
    [f] = part.fills
    assert (f.reason, f.size, f.opening, f.price) == ("close", 1.0, False, bid)
    assert [p.size for p in sim.positions()] == [1.0] and broker.net_position(EPIC) == 1.0
    assert broker.close_position(deal).status is OrderStatus.FILLED
    assert sim.positions() == [] and broker.positions() == []


def test_rules_from_ig_market_details(client: IGClient, broker: IGBroker) -> None:
    m = client.market(EPIC)
    r = broker.rules(EPIC)
    assert m.dealing_rules.min_deal_size is not None and m.dealing_rules.min_normal_stop_or_limit_distance
    assert r.min_deal_size == m.dealing_rules.min_deal_size.value
    assert r.min_stop_distance == pytest.approx((m.dealing_rules.min_normal_stop_or_limit_distance.value or 0) * PIP)
    assert r.value_per_point == float(m.instrument.contract_size or 0) and r.pip == PIP
    assert IGBroker(client, value_per_point=2.5).rules(EPIC).value_per_point == 2.5


def test_from_config_logs_in_and_deals(sim: IGSimulator) -> None:
    from igkit.config import Config
    from igkit.errors import ConfigError

    ig = {"environment": "sim", "endpoints": {"sim": sim.rest_url}, "api_key": sim.api_key,
          "username": sim.username, "password": sim.password}
    cfg = Config.model_validate({"ig": ig})
    b = IGBroker.from_config(cfg, poll_interval=None)
    try:
        assert b.client.logged_in and b.poll_interval is None
        b.start()
        assert b.submit(Order(EPIC, BUY, 1.0)).status is OrderStatus.FILLED and len(sim.positions()) == 1
    finally:
        b.client.close()
    no_password = Config.model_validate({"ig": {**ig, "password": None}})
    with pytest.raises(ConfigError, match=r"ig\.password"):
        IGBroker.from_config(no_password)


# -- IG-side triggers --------------------------------------------------------------------------------------
def test_stop_and_limit_trigger_on_ig_and_are_found_by_polling(sim: IGSimulator, broker: IGBroker,
                                                               rec: Recorder) -> None:
    bid, ask = fix_price(sim, 1.15)
    r = broker.submit(Order(EPIC, BUY, 1.0, stop_distance=20 * PIP, limit_distance=30 * PIP))
    [pos] = broker.positions()
    assert pos.stop_level == pytest.approx(ask - 20 * PIP) and pos.limit_level == pytest.approx(ask + 30 * PIP)
    assert broker.on_tick(EPIC, time.time_ns(), bid, ask) == []  # nothing happened yet
    through = round(pos.stop_level - 5 * PIP, 5)  # type: ignore[operator]
    fix_price(sim, through)
    assert sim.positions() == []  # the simulator closed it
    fills = poll_until(broker, sim, lambda: broker.positions() == [])
    [f] = fills
    assert (f.reason, f.opening, f.deal_id, f.size, f.price) == ("stop", False, r.deal_id, 1.0, through)
    assert f.pnl == pytest.approx((through - ask) * 10_000, rel=1e-6)
    assert f in rec.fills()

    bid, ask = fix_price(sim, 1.15)
    broker.submit(Order(EPIC, SELL, 1.0, stop_distance=20 * PIP, limit_distance=30 * PIP))
    [short] = broker.positions()
    assert short.limit_level is not None
    fix_price(sim, round(short.limit_level - 5 * PIP, 5))
    [g] = poll_until(broker, sim, lambda: broker.positions() == [])
    assert (g.reason, g.opening, g.direction) == ("limit", False, BUY)
    assert g.price == sim.quote(EPIC)[1]  # a short closes at the ask


def test_trailing_stop_follows_on_ig_and_its_close_is_found(sim: IGSimulator, broker: IGBroker) -> None:
    _, ask = fix_price(sim, 1.15)
    broker.submit(Order(EPIC, BUY, 1.0, stop_distance=20 * PIP, trailing_stop=True))
    [pos] = broker.positions()
    assert pos.trailing_distance == pytest.approx(20 * PIP) and pos.stop_level == pytest.approx(ask - 20 * PIP)
    fix_price(sim, 1.16)  # IG moves the stop up behind the price
    poll_until(broker, sim, lambda: (broker.positions()[0].stop_level or 0) > pos.stop_level)  # type: ignore[operator]
    assert broker.positions()[0].stop_level == pytest.approx(1.16 - 20 * PIP)
    fix_price(sim, 1.155)
    [f] = poll_until(broker, sim, lambda: broker.positions() == [])
    assert (f.reason, f.price, f.opening) == ("trailing_stop", 1.155, False)


def test_working_orders_create_cancel_and_fill(sim: IGSimulator, broker: IGBroker, rec: Recorder) -> None:
    bid, ask = fix_price(sim, 1.15)
    limit = Order(EPIC, BUY, 1.0, OrderType.LIMIT, level=round(bid - 50 * PIP, 5))
    r = broker.submit(limit)
    assert r.status is OrderStatus.WORKING and r.deal_id
    [wo] = broker.working_orders()
    [swo] = sim.working_orders()
    assert wo.deal_id == swo.deal_id == r.deal_id and swo.deal_reference == limit.deal_reference
    c = broker.cancel_order(r.deal_id)
    assert c.status is OrderStatus.CANCELLED and broker.working_orders() == [] and sim.working_orders() == []
    assert broker.cancel_order(r.deal_id).reason == "ORDER_NOT_FOUND"

    stop = Order(EPIC, BUY, 1.0, OrderType.STOP, level=round(ask + 20 * PIP, 5), stop_distance=30 * PIP)
    s = broker.submit(stop)
    assert s.status is OrderStatus.WORKING
    fix_price(sim, round(ask + 25 * PIP, 5))
    [f] = poll_until(broker, sim, lambda: broker.working_orders() == [])
    assert (f.reason, f.opening, f.direction, f.size, f.deal_reference) == ("working_order", True, BUY, 1.0,
                                                                            stop.deal_reference)
    [pos] = broker.positions()
    assert pos.deal_id == f.deal_id and pos.stop_level == pytest.approx(stop.level - 30 * PIP)  # type: ignore[operator]
    done = [o for o in rec.of("order") if isinstance(o, OrderResult) and o.status is OrderStatus.FILLED]
    assert [o.order for o in done] == [stop]

    # one order IG deletes on its own (expiry) becomes a CANCELLED event
    gtd = Order(EPIC, SELL, 1.0, OrderType.LIMIT, level=round(ask + 100 * PIP, 5),
                good_till_ns=time.time_ns() + 1_500_000_000)
    assert broker.submit(gtd).status is OrderStatus.WORKING
    poll_until(broker, sim, lambda: broker.working_orders() == [], seconds=15)
    gone = [o for o in rec.of("order") if isinstance(o, OrderResult) and o.order is gtd]
    assert [(o.status, o.reason) for o in gone] == [(OrderStatus.CANCELLED, "EXPIRED")]


# -- failures ----------------------------------------------------------------------------------------------
def test_rejected_deal_is_a_result_and_the_broker_keeps_working(sim: IGSimulator, broker: IGBroker) -> None:
    huge = Order(EPIC, BUY, 1_000_000.0)
    r = broker.submit(huge)
    assert r.status is OrderStatus.REJECTED and r.reason == "INSUFFICIENT_FUNDS" and r.fills == ()
    assert sim.positions() == [] and broker.positions() == []
    small = broker.submit(Order(EPIC, BUY, 0.5))
    assert (small.status, small.reason) == (OrderStatus.REJECTED, "MINIMUM_ORDER_SIZE_ERROR")
    ok = broker.submit(Order(EPIC, BUY, 1.0))
    assert ok.status is OrderStatus.FILLED and len(sim.positions()) == 1
    n_posts = len(sim_calls(sim, "POST", "/positions/otc"))
    again = broker.submit(ok.order)  # the same order (same reference) twice: refused, nothing sent
    assert again.reason == "DUPLICATE_ORDER_ERROR" and len(sim_calls(sim, "POST", "/positions/otc")) == n_posts
    bad = broker.submit(Order(EPIC, BUY, 1.0, OrderType.LIMIT, level=None))
    assert bad.status is OrderStatus.REJECTED
    assert broker.close_position("NOPE123").reason == "POSITION_NOT_FOUND"


def test_dropped_answer_after_execution_one_position_reported_once(sim: IGSimulator, broker: IGBroker,
                                                                    rec: Recorder) -> None:
    fix_price(sim, 1.15)
    sim.faults.drop_next(1, path="/positions/otc", method="POST", after=True)
    order = Order(EPIC, BUY, 1.0)
    r = broker.submit(order)
    assert r.status is OrderStatus.FILLED and len(r.fills) == 1
    assert sim_calls(sim, "POST", "/positions/otc") == [0]  # sent once, answer lost, never resent
    assert [p.deal_reference for p in sim.positions()] == [order.deal_reference]
    assert broker_book(broker) == sim_book(sim)
    assert len(rec.fills()) == 1
    assert broker.reconcile()["ok"] is True


def test_unknown_outcome_is_settled_by_reconciliation(sim: IGSimulator, rec: Recorder) -> None:
    c = make_client(sim, max_retries=0)
    c.login(sim.username, sim.password)
    b = IGBroker(c, poll_interval=None)
    b.add_listener(rec)
    b.start()
    fix_price(sim, 1.15)
    sim.faults.drop_next(1, path="/positions/otc", method="POST", after=True)
    sim.faults.fail_next(1, path="/confirms", status=503)  # the client cannot find out: it raises
    order = Order(EPIC, SELL, 1.0)
    r = b.submit(order)
    assert r.status is OrderStatus.FILLED and r.fills[0].deal_reference == order.deal_reference
    assert sim_calls(sim, "POST", "/positions/otc") == [0] and len(sim.positions()) == 1
    assert broker_book(b) == sim_book(sim) and len(rec.fills()) == 1
    c.close()


def test_ig_unreadable_is_reported_not_raised(sim: IGSimulator, client: IGClient, broker: IGBroker) -> None:
    fix_price(sim, 1.15)
    broker.submit(Order(EPIC, BUY, 1.0))
    sim.faults.fail_next(20, path="/positions", method="GET", status=503)
    report = broker.reconcile()
    assert report["ok"] is False and "503" in str(report["error"]) and report["fills"] == []
    assert len(broker.positions()) == 1  # the book is kept as it was
    assert broker.on_tick(EPIC, time.time_ns(), *sim.quote(EPIC)) == []  # a failing poll never raises
    sim.faults.clear()
    client.open_position(epic=EPIC, direction="BUY", size=1, force_open=True)
    assert broker.reconcile()["unknown_positions"] and broker_book(broker) == sim_book(sim)
    with pytest.raises(ValueError, match="poll_interval"):
        IGBroker(client, poll_interval=0)


def test_flatten_from_another_thread_while_submitting(sim: IGSimulator, broker: IGBroker) -> None:
    fix_price(sim, 1.15)
    for _ in range(2):
        broker.submit(Order(EPIC, BUY, 1.0))
    sim.faults.delay_next(1, 0.5, path="/positions/otc", method="POST")  # the trader's deal stays in flight
    results: list[OrderResult] = []
    trader = threading.Thread(target=lambda: results.append(broker.submit(Order(EPIC, BUY, 1.0))))
    trader.start()
    deadline = time.monotonic() + 10
    while not broker.dealing:
        assert time.monotonic() < deadline, "the trader's order never went out"
        time.sleep(0.002)
    flat = broker.flatten(reason="kill")  # from this thread, while the other one's deal is in flight
    trader.join(30)
    [opened] = results
    assert opened.status is OrderStatus.FILLED
    assert sim.positions() == [] and broker.positions() == [] and broker.net_position(EPIC) == 0.0
    assert len(flat) == 3 and all(r.status is OrderStatus.FILLED and r.fills[0].reason == "kill" for r in flat)
    assert opened.deal_id in {r.deal_id for r in flat}  # flatten waited for the deal in flight and closed it


def test_flatten_races_a_busy_trader_and_leaves_the_books_equal(sim: IGSimulator, broker: IGBroker) -> None:
    fix_price(sim, 1.15)
    stop = threading.Event()
    results: list[OrderResult] = []

    def trade() -> None:
        while not stop.is_set():
            results.append(broker.submit(Order(EPIC, BUY, 1.0)))

    trader = threading.Thread(target=trade)
    trader.start()
    deadline = time.monotonic() + 10
    while len(sim.positions()) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    killer = threading.Thread(target=lambda: results.extend(broker.flatten(reason="kill")))
    killer.start()
    killer.join(30)
    stop.set()
    trader.join(30)
    assert not any(r.status is OrderStatus.REJECTED for r in results)
    assert broker_book(broker) == sim_book(sim)  # whatever interleaving happened, the book is IG's
    kills = [r for r in results if r.order.reason == "kill"]
    assert kills and all(r.fills[0].reason == "kill" for r in kills)
    broker.flatten()
    assert sim.positions() == [] and broker.positions() == []


def test_reconcile_adopts_changes_behind_the_brokers_back(sim: IGSimulator, client: IGClient,
                                                          broker: IGBroker, rec: Recorder) -> None:
    fix_price(sim, 1.15)
    mine = broker.submit(Order(EPIC, BUY, 2.0))
    other = client.open_position(epic=EPIC, direction="SELL", size=1, force_open=True)  # not through the broker
    fix_price(sim, 1.1512)
    part = client.close_position(deal_id=mine.deal_id or "", size=1.0)
    report = broker.reconcile()
    assert report["ok"] is False and report["error"] is None
    assert report["unknown_positions"] == [other.deal_id]
    assert report["changed_positions"] == [mine.deal_id] and report["missing_positions"] == []
    assert broker_book(broker) == sim_book(sim)
    fills = report["fills"]
    assert isinstance(fills, list)
    assert sorted((f.reason, f.opening, f.size) for f in fills) == [("close", False, 1.0), ("external", True, 1.0)]
    [closing] = [f for f in fills if not f.opening]
    assert closing.price == part.level == 1.1512  # the close level, read from IG's activity
    client.close_position(deal_id=other.deal_id or "")
    second = broker.reconcile()
    assert second["missing_positions"] == [other.deal_id] and broker_book(broker) == sim_book(sim)
    assert broker.reconcile()["ok"] is True  # nothing left to fix
    assert broker.net_position(EPIC) == 1.0


def test_account_state_from_accounts_at_a_bounded_rate(sim: IGSimulator, broker: IGBroker) -> None:
    fix_price(sim, 1.15)
    broker.submit(Order(EPIC, BUY, 1.0))
    a = broker.account(refresh=True)
    want = sim.balance()
    assert (a.balance, a.margin, a.upl, a.available) == (want["balance"], want["deposit"], want["profitLoss"],
                                                         want["available"])
    assert a.equity == pytest.approx(a.balance + a.upl) and a.currency == "GBP" and a.margin > 0
    before = len(sim_calls(sim, "GET", "/accounts"))
    for _ in range(5):
        broker.account()
    assert len(sim_calls(sim, "GET", "/accounts")) == before  # account_interval=60 s: served from the cache


# -- TRADE events --------------------------------------------------------------------------------------------
def bridge(sim: IGSimulator, broker: IGBroker, *, confirms: bool = True) -> Callable[[], None]:
    """Hand the simulator's CONFIRM/OPU/WOU records to the broker the way the TRADE stream would."""
    names = {"CONFIRM": "CONFIRMS", "OPU": "OPU", "WOU": "WOU"}

    def on_event(ev: object) -> None:
        name = names.get(getattr(ev, "kind", ""))
        if name is None or (name == "CONFIRMS" and not confirms):
            return
        parsed = parse_trade(name, json.dumps(getattr(ev, "data", {})), sim.account_id)
        if parsed is not None:
            broker.on_trade_event(parsed)

    return sim.subscribe(on_event)


def test_confirms_from_trade_events_and_stop_found_through_them(sim: IGSimulator, client: IGClient,
                                                                 rec: Recorder) -> None:
    b = IGBroker(client, poll_interval=None, stream_timeout=5.0)
    b.add_listener(rec)
    b.use_trade_events()
    b.start()
    unsubscribe = bridge(sim, b)
    try:
        fix_price(sim, 1.15)
        order = Order(EPIC, BUY, 1.0, stop_distance=20 * PIP)
        r = b.submit(order)
        assert r.status is OrderStatus.FILLED and len(r.fills) == 1
        assert sim_calls(sim, "GET", f"/confirms/{order.deal_reference}") == []  # the stream's confirm was used
        rejected = b.submit(Order(EPIC, BUY, 1_000_000.0))
        assert rejected.reason == "INSUFFICIENT_FUNDS"
        [pos] = b.positions()
        fix_price(sim, round((pos.stop_level or 0) - 2 * PIP, 5))
        [f] = poll_until(b, sim, lambda: b.positions() == [])  # no polling: the OPU flagged it
        assert f.reason == "stop" and not f.opening
    finally:
        unsubscribe()
        b.stop()


def test_missing_streamed_confirm_falls_back_to_rest(sim: IGSimulator, client: IGClient) -> None:
    b = IGBroker(client, poll_interval=None, stream_timeout=0.2)
    b.use_trade_events()
    b.start()
    unsubscribe = bridge(sim, b, confirms=False)  # positions stream, confirms never arrive
    try:
        fix_price(sim, 1.15)
        order = Order(EPIC, SELL, 1.0)
        r = b.submit(order)
        assert r.status is OrderStatus.FILLED
        assert sim_calls(sim, "GET", f"/confirms/{order.deal_reference}") == [200]
        assert broker_book(b) == sim_book(sim)
        fresh = IGBroker(client, poll_interval=None)
        assert not fresh.streaming
        update = parse_trade("WOU", json.dumps({"dealId": "X1", "status": "DELETED"}), sim.account_id)
        fresh.on_trade_event(update)  # a feed calling on_trade_event becomes the confirm source
        assert fresh.streaming
    finally:
        unsubscribe()
        b.stop()


def test_attached_lightstreamer_trade_stream_gives_confirms_and_triggers(rec: Recorder) -> None:
    servers: list[LSServer] = []

    def mount(app: object, sim: IGSimulator) -> None:
        backend = IGStreamBackend(lambda epic: True, lambda acc: True, sim.check_stream_credentials)
        servers.append(install_lightstreamer(app, backend, keepalive_ms=1000))  # type: ignore[arg-type]

    names = {"CONFIRM": "CONFIRMS", "OPU": "OPU", "WOU": "WOU"}
    with IGSimulator(seed=0, always_open=True, app_hooks=[mount]) as sim:
        [ls] = servers

        def relay(ev: SimEvent) -> None:
            if ev.kind in names:
                ls.publish(f"TRADE:{ev.account_id}", {names[ev.kind]: json.dumps(ev.data)})

        unsubscribe = sim.subscribe(relay)
        client = make_client(sim)
        client.login(sim.username, sim.password)
        stream = StreamingClient.from_credentials(client.streaming_credentials(), stalled_timeout_ms=500,
                                                  reconnect_timeout_ms=500, keepalive_ms=1000)
        stream.connect(timeout=10)
        b = IGBroker(client, confirm_source=stream, poll_interval=None, stream_timeout=5.0)
        b.add_listener(rec)
        try:
            b.start()
            assert b.streaming
            trade = f"TRADE:{sim.account_id}"
            assert ls.wait_until(lambda: trade in ls.subscribed_items(), timeout=10)
            fix_price(sim, 1.15)
            order = Order(EPIC, SELL, 1.0, limit_distance=20 * PIP)
            r = b.submit(order)
            assert r.status is OrderStatus.FILLED
            assert sim_calls(sim, "GET", f"/confirms/{order.deal_reference}") == []  # confirmed by the stream
            [pos] = b.positions()
            fix_price(sim, round((pos.limit_level or 0) - 2 * PIP, 5))
            [f] = poll_until(b, sim, lambda: b.positions() == [])
            assert (f.reason, f.opening) == ("limit", False)
            opened = b.submit(Order(EPIC, BUY, 2.0))
            closed = b.close_position(opened.deal_id or "", 1.0)  # IG names a close's reference itself
            assert closed.status is OrderStatus.FILLED and closed.fills[0].size == 1.0
            assert b.flatten()[0].status is OrderStatus.FILLED and sim.positions() == []
            assert [r.path for r in sim.request_log if r.path.startswith("/confirms")] == []  # all streamed
        finally:
            b.stop()
            unsubscribe()
            stream.close()
            client.close()


def test_live_engine_trades_on_the_simulator_through_the_ig_broker(sim: IGSimulator, client: IGClient,
                                                                    tmp_path: object) -> None:
    """The same engine, strategy and risk manager as in Demo, only the broker differs."""
    from igkit.engine import LiveEngine
    from igkit.feeds import DemoFeed
    from igkit.risk.limits import RiskLimits
    from igkit.risk.manager import RiskManager
    from igkit.strategy import SmaCross
    from igkit.ticks import TickHub

    hub = TickHub()
    feed = DemoFeed(hub, [EPIC], seed=3, tick_rate=4.0, speed=None, start="2026-11-17 08:00", duration=3600)
    broker = IGBroker(client, poll_interval=0.5)
    risk = RiskManager(RiskLimits(size=1.0, max_order_size=10, max_position=5), broker=broker)
    engine = LiveEngine(None, feed=feed, strategy=SmaCross(fast=2, slow=5), broker=broker, risk=risk, hub=hub,
                        freq="1min", size=1.0, mode="sim", audit_path=str(tmp_path) + "/audit.jsonl")
    engine.start()
    assert feed.join(60)
    deadline = time.monotonic() + 30
    while engine.ticks < feed.pushed:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert len(engine.fills) >= 4  # it traded on IG's side
    assert broker_book(broker) == sim_book(sim)
    assert broker.net_position(EPIC) == sum(p.size * (1 if p.direction == "BUY" else -1) for p in sim.positions())
    assert all(r.status is not OrderStatus.REJECTED for r in engine.orders)
    engine.stop(flatten=True)
    assert sim.positions() == [] and broker.positions() == []


FTSE = "IX.D.FTSE.DAILY.IP"  # a spread bet (expiry DFB) in the simulator's catalog, as on IG


def test_each_market_is_dealt_with_its_own_expiry_on_a_spread_bet_account(sim: IGSimulator,
                                                                         client: IGClient) -> None:
    """The expiry sent is the market's own (GET /markets/{epic}): DFB for a spread bet, '-' for a CFD;
    one fixed expiry for every deal made either the spread bets or the CFDs fail."""
    client.switch_account("Z2SPB")  # the simulator's spread-bet account
    broker = IGBroker(client, account_id="Z2SPB", poll_interval=None, account_interval=60.0)
    broker.start()
    try:
        assert (broker.deal_expiry(FTSE), broker.deal_expiry(EPIC)) == ("DFB", "-")
        r = broker.submit(Order(FTSE, BUY, 1.0))
        assert (r.status, r.reason) == (OrderStatus.FILLED, "SUCCESS")
        assert [(p.epic, p.expiry) for p in sim.positions()] == [(FTSE, "DFB")]
        wrong = broker.submit(Order(EPIC, BUY, 1.0))  # a CFD market: IG's own refusal, stated
        assert (wrong.status, wrong.reason) == (OrderStatus.REJECTED, "REJECT_CFD_ORDER_ON_SPREADBET_ACCOUNT")
        problems = broker.check_markets([FTSE, EPIC])
        assert set(problems) == {EPIC} and "is a CFD market (expiry -)" in problems[EPIC]
        assert "spread-bet account" in problems[EPIC]
    finally:
        broker.stop()
    forced = IGBroker(client, account_id="Z2SPB", expiry="-", poll_interval=None)  # an explicit expiry wins
    assert forced.deal_expiry(FTSE) == "-"


def test_check_markets_names_markets_the_account_cannot_deal(broker: IGBroker) -> None:
    problems = broker.check_markets([EPIC, FTSE, "CS.D.NOPE.MINI.IP"])
    assert set(problems) == {FTSE, "CS.D.NOPE.MINI.IP"}
    assert "spread-bet market (expiry DFB)" in problems[FTSE] and "CFD account" in problems[FTSE]
    assert "REJECT_SPREADBET_ORDER_ON_CFD_ACCOUNT" in problems[FTSE]
    assert "does not know this market" in problems["CS.D.NOPE.MINI.IP"]
    r = broker.submit(Order(FTSE, BUY, 1.0))  # what the warning foretold
    assert (r.status, r.reason) == (OrderStatus.REJECTED, "REJECT_SPREADBET_ORDER_ON_CFD_ACCOUNT")


def test_market_status_comes_with_the_market_details_already_read(sim: IGSimulator, broker: IGBroker) -> None:
    """GET /markets/{epic} is read once for the dealing rules; it also gives the status market_open() needs."""
    broker.rules(EPIC)
    reads = sim_calls(sim, "GET", f"/markets/{EPIC}")
    assert broker.market_open(EPIC) is True  # the simulator's market is always open here
    assert sim_calls(sim, "GET", f"/markets/{EPIC}") == reads
