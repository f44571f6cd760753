"""StreamingFeed's other price sources and the broker's streamed account, end to end: the real
lightstreamer-client-lib against IGSimulator's TLCP server on 127.0.0.1.

* ``source="price"`` (``PRICE:<accountId>:<epic>``, adapter Pricing) and ``source="market"`` (legacy
  ``MARKET:<epic>``) put quotes into the hub: every update the server sent arrives, bid < ask, time never
  goes back and is the market's (TIMESTAMP; UPDATE_TIME in UK local time).
* ``StreamingClient.subscribe_market`` over the wire: snapshot and updates typed, equal to what was sent.
* ``attach_broker`` also streams ``ACCOUNT:<accountId>`` into the IG broker: a deal placed over REST
  changes ``broker.account()`` through the stream, with no ``GET /accounts`` after the first read; prices
  moving the open position's P&L reach it the same way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from _stream_feed import (
    FAST,
    epics_of,
    make_feed,
    stream_client,
    stream_sim,
    wait,
)

from igkit.broker import IGBroker
from igkit.errors import DataError, StreamError
from igkit.ig import IGClient
from igkit.ig.stream import MarketUpdate, StreamingClient, account_item, market_item, price_item
from igkit.ig.stream._items import market_time_ns, market_update_time
from igkit.sim import IGSimulator
from igkit.sim.lightstreamer.ig_hook import LS_STREAMER_KEY, event_values
from igkit.ticks import TickHub

pytestmark = pytest.mark.timeout(60)

EURUSD = "CS.D.EURUSD.MINI.IP"


@pytest.fixture
def sim() -> Iterator[IGSimulator]:
    yield from stream_sim(11)


@pytest.fixture
def client(sim: IGSimulator) -> Iterator[IGClient]:
    yield from stream_client(sim)


def item_of(source: str, account: str, epic: str) -> str:
    return price_item(account, epic) if source == "price" else market_item(epic)


@pytest.mark.parametrize("source", ["price", "market"])
def test_quote_sources_fill_the_hub(sim: IGSimulator, client: IGClient, source: Any) -> None:
    epics = epics_of(sim, 3)
    account = client.streaming_credentials().account_id
    hub = TickHub(100_000)
    feed = make_feed(client, hub, epics, source=source, repair=False)
    feed.start()
    try:
        assert feed.wait_connected(15), feed.error
        items = {item_of(source, account, e) for e in epics}
        assert sim.stream.subscribed_items() == items  # the chosen item, not CHART TICK
        assert wait(lambda: all(hub.buffer(e).total >= 30 for e in epics), 10)
        sim.app[LS_STREAMER_KEY].stop()  # the market stops publishing: whatever was sent must arrive
        sent = {e: len(sim.stream.updates(item_of(source, account, e))) for e in epics}
        assert wait(lambda: all(hub.buffer(e).total == sent[e] for e in epics), 10), (
            [(e, hub.buffer(e).total, sent[e]) for e in epics],
            feed.tick_subs[0].stats,
        )
        now = sim.clock.now_ns()
    finally:
        feed.stop()
    stats = feed.tick_subs[0].stats
    assert stats["incomplete"] == stats["refused"] == stats["no_time"] == 0, stats
    for e in epics:
        ts, bid, ask = hub.buffer(e).arrays()
        assert (bid < ask).all() and (bid > 0).all(), e
        assert (np.diff(ts) >= 0).all() and ts[-1] > ts[0], e
        # the market's own time, not the time of receipt: the last tick is the last one sent
        last = sim.stream.updates(item_of(source, account, e))[-1].values
        if source == "price":
            assert ts[-1] == int(last["TIMESTAMP"] or 0) * 1_000_000
            assert len(np.unique(ts)) > len(ts) // 2  # ms stamps: mostly distinct
        else:
            assert ts[-1] == market_time_ns(last["UPDATE_TIME"] or "", now)
            assert (ts % 1_000_000_000 == 0).all() and len(np.unique(ts)) >= 2  # whole seconds
        assert abs(ts[-1] - now) < 3_000_000_000, (e, ts[-1], now)
        assert (bid[-1], ask[-1]) == (float(last[_BID[source]] or 0), float(last[_ASK[source]] or 0))


_BID = {"price": "BIDPRICE1", "market": "BID"}
_ASK = {"price": "ASKPRICE1", "market": "OFFER"}


def test_quote_source_survives_a_drop_and_resubscribes(sim: IGSimulator, client: IGClient) -> None:
    epics = epics_of(sim, 2)
    hub = TickHub(100_000)
    feed = make_feed(client, hub, epics, source="price")
    feed.start()
    try:
        assert feed.wait_connected(15), feed.error
        assert wait(lambda: all(hub.buffer(e).total > 10 for e in epics), 10)
        sessions = set(sim.stream.session_ids())
        assert sim.drop_streams("end") == 1  # a new session: the client subscribes everything again
        assert wait(lambda: set(sim.stream.session_ids()) - sessions != set(), 8)
        assert wait(lambda: feed.tick_subs[0].stats["resubscribed"] == len(epics), 8), feed.tick_subs[0].stats
        counts = {e: hub.buffer(e).total for e in epics}
        assert wait(lambda: all(hub.buffer(e).total > counts[e] + 5 for e in epics), 5)
        assert hub.counters()["ig-stream"]["gaps"] >= len(epics)  # the lost span is reported for repair
    finally:
        feed.stop()
    for e in epics:
        ts, _, _ = hub.buffer(e).arrays()
        assert (np.diff(ts) >= 0).all(), e


def test_source_is_checked(sim: IGSimulator, client: IGClient) -> None:
    with pytest.raises(StreamError, match="source='ticks'"):
        make_feed(client, TickHub(10), epics_of(sim, 1), source="ticks")
    sc = StreamingClient(sim.lightstreamer_url, "ACC", "CST-a|XST-b")
    with pytest.raises(StreamError, match="source must be one of"):
        sc.subscribe_quotes([EURUSD], TickHub(10), source="chart")
    with pytest.raises(StreamError, match="invalid account id"):
        sc.subscribe_account(print, account_id="A:B")


def test_market_update_time_is_uk_local_time() -> None:
    summer = 1_783_000_000 * 1_000_000_000  # 2026-07-02 ~13:46 UTC: BST, London is UTC+1
    assert market_update_time(summer) == "14:46:40"
    assert market_time_ns("14:46:40", summer + 5_000_000_000) == summer
    winter = 1_795_000_000 * 1_000_000_000  # 2026-11-18 ~11:06 UTC: GMT
    assert market_time_ns(market_update_time(winter), winter) == winter
    # just after midnight in London, a stamp of 23:59:59 is yesterday's
    assert market_time_ns("23:59:59", winter - winter % 86_400_000_000_000 + 86_400_000_000_000 + 2_000_000_000) == (
        winter - winter % 86_400_000_000_000 + 86_399_000_000_000
    )
    with pytest.raises(DataError, match="UPDATE_TIME must be HH:MM:SS"):
        market_time_ns("25:00:00", winter, item="MARKET:X")


def test_subscribe_market_over_the_wire(sim: IGSimulator, client: IGClient) -> None:
    creds = client.streaming_credentials()
    epics = epics_of(sim, 2)
    got: list[MarketUpdate] = []
    lock = threading.Lock()

    def keep(u: MarketUpdate) -> None:
        with lock:
            got.append(u)

    sc = StreamingClient.from_credentials(creds, **FAST)
    try:
        sc.connect(timeout=10)
        sub = sc.subscribe_market(epics, keep)
        assert sub.wait_subscribed(10), sub.errors
        assert wait(lambda: all(sum(1 for u in got if u.epic == e) >= 10 for e in epics), 10)
        sim.app[LS_STREAMER_KEY].stop()
        sent = {e: sim.stream.updates(market_item(e)) for e in epics}
        assert wait(lambda: len(got) == sum(len(v) for v in sent.values()), 10), (len(got), sent)
    finally:
        sc.close()
    now = sim.clock.now_ns()
    for e in epics:
        mine = [u for u in got if u.epic == e]
        first = mine[0]
        assert first.market_state == "TRADEABLE"  # the snapshot carries the state; updates carry it forward
        assert all(u.market_state == "TRADEABLE" for u in mine)
        for u, s in zip(mine, sent[e], strict=True):  # typed values equal what the server sent, in order
            assert (u.bid, u.offer) == (float(s.values["BID"] or 0), float(s.values["OFFER"] or 0))
            assert u.update_time == s.values["UPDATE_TIME"]
            assert u.bid is not None and u.offer is not None and u.bid < u.offer
        assert abs(market_time_ns(mine[-1].update_time or "", now) - now) < 3_000_000_000
    assert sent[epics[0]][0].snapshot and not sent[epics[0]][-1].snapshot


def test_account_stream_updates_the_broker_without_rest(sim: IGSimulator, client: IGClient) -> None:
    """A deal over REST → the simulator publishes ACCOUNT → the feed hands it to the broker: its account()
    shows the new margin with no GET /accounts after the first read; then P&L moves with prices."""
    account = client.streaming_credentials().account_id
    hub = TickHub(10_000)
    broker = IGBroker(client, poll_interval=None, account_interval=60.0)
    feed = make_feed(client, hub, [EURUSD], repair=False)
    feed.attach_broker(broker)
    start = broker.account()  # the first state comes from REST (currency, account type)
    assert start.margin == 0.0 and start.currency
    feed.start()
    try:
        assert feed.wait_connected(15), feed.error
        assert sim.stream.subscribed_items() >= {account_item(account), f"TRADE:{account}"}
        assert wait(lambda: len(sim.stream.updates(account_item(account), snapshot=True)) == 1, 5)
        n_log = len(sim.request_log)
        confirm = client.open_position(epic=EURUSD, direction="BUY", size=1)
        assert confirm.deal_status == "ACCEPTED"
        assert wait(lambda: broker.account().margin > 0, 5), broker.account()
        acct = broker.account()
        rest = sim.balance(account)
        assert acct.margin == pytest.approx(rest["deposit"], rel=2e-3)  # (GBP/USD drifts in between)
        assert acct.balance == rest["balance"] and acct.currency == start.currency
        assert acct.equity == pytest.approx(acct.balance + acct.upl, abs=0.011)
        # prices move the open position's P&L: the simulator streams it, the broker follows
        published = len(sim.stream.updates(account_item(account)))
        assert wait(lambda: len(sim.stream.updates(account_item(account))) > published + 1, 8)
        time.sleep(0.3)
        last = sim.stream.updates(account_item(account))[-1].values
        assert wait(lambda: broker.account().upl == float(last["PNL"] or 0), 3), (broker.account(), last)
        later = [r for r in sim.request_log[n_log:] if r.path.startswith("/accounts")]
        assert later == []  # every account state since the deal came from the stream
    finally:
        feed.stop()


def test_simulator_account_values_have_every_ig_field() -> None:
    item, values = event_values(
        "ACCOUNT", "A1",
        {"balance": 1000, "deposit": 50, "profitLoss": -10, "available": 940, "profitLossLR": -4, "depositLR": 20},
    ) or ("", {})  # fmt: skip
    from igkit.ig.stream import ACCOUNT_FIELDS

    assert item == "ACCOUNT:A1" and set(values) == set(ACCOUNT_FIELDS)
    assert (values["PNL_LR"], values["PNL_NLR"], values["MARGIN_LR"], values["MARGIN_NLR"]) == (
        "-4.00", "-6.00", "20.00", "30.00",
    )  # fmt: skip
