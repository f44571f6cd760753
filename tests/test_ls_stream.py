"""End-to-end: the REAL lightstreamer-client-lib (through igkit's StreamingClient) against the TLCP
simulator on 127.0.0.1. Nothing is mocked: real WebSockets, real HTTP recovery, the library's own
timers (shortened as shared/reference/lightstreamer.md shows).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from _waiting import wait as wait_until
from aiohttp import web

from igkit.errors import AuthError, StreamError
from igkit.ig.stream import (
    PositionUpdate,
    StreamingClient,
    TradeConfirm,
    WorkingOrderUpdate,
    account_item,
    candle_item,
    price_item,
    tick_item,
    trade_item,
)
from igkit.sim.lightstreamer import LSServer, install_lightstreamer
from igkit.sim.lightstreamer.backend import REQERR_BAD_ADAPTER, REQERR_BAD_ITEM, REQERR_LIMIT
from igkit.sim.lightstreamer.ig_items import IGStreamBackend
from igkit.sim.lightstreamer.runner import AppThread
from igkit.ticks import TickHub

pytestmark = pytest.mark.timeout(60)

ACCOUNT = "ABC123"
PASSWORD = "CST-cst-one|XST-xst-one"
PASSWORD2 = "CST-cst-two|XST-xst-two"
EPICS = [f"CS.D.TEST{i:02d}.MINI.IP" for i in range(45)]
SNAPSHOTS: dict[str, list[dict[str, str | None]]] = {}
_utm = itertools.count(1_700_000_000_000)


def tick_values(item: str, i: int) -> dict[str, str | None]:
    """A plausible tick: bid/ask moving with i, strictly increasing UTM (ms)."""
    bid = 1.1 + (i % 97) * 1e-5
    return {"BID": f"{bid:.5f}", "OFR": f"{bid + 0.0001:.5f}", "UTM": str(next(_utm))}


class Env:
    def __init__(self, server: LSServer, url: str, backend: IGStreamBackend, passwords: set[str]) -> None:
        self.server = server
        self.url = url
        self.backend = backend
        self.passwords = passwords


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    passwords = {PASSWORD}
    backend = IGStreamBackend(
        set(EPICS), {ACCOUNT}, lambda user, pw: pw in passwords, snapshot=SNAPSHOTS.get, make_update=tick_values
    )
    app = web.Application()
    server = install_lightstreamer(app, backend, keepalive_ms=1000)
    with AppThread(app) as thread:
        yield Env(server, thread.url, backend, passwords)


@pytest.fixture
def make_client(env: Env) -> Iterator[Callable[..., StreamingClient]]:
    clients: list[StreamingClient] = []

    def make(password: str = PASSWORD, **options: Any) -> StreamingClient:
        opts: dict[str, Any] = {"stalled_timeout_ms": 500, "reconnect_timeout_ms": 500, "keepalive_ms": 1000}
        opts.update(options)
        client = StreamingClient(env.url, ACCOUNT, password, **opts)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
    # WebSocket clients destroy their session; HTTP ones just go away (the session would expire later)
    env.server.wait_until(lambda: not env.server.session_ids(), timeout=0.5)
    env.server.close_sessions()


wait = partial(wait_until, timeout=8.0)


def sent_ticks(server: LSServer, epic: str, session_id: str | None) -> list[tuple[int, float, float]]:
    """The ticks the server sent for ``epic`` to one session (full values from its delivery log)."""
    out = []
    for u in server.updates(tick_item(epic), session_id=session_id):
        v = u.values
        out.append((int(v["UTM"] or 0) * 1_000_000, float(v["BID"] or "nan"), float(v["OFR"] or "nan")))
    return out


def received(hub: TickHub, epic: str) -> list[tuple[int, float, float]]:
    ts, bid, ask = hub.buffer(epic).arrays()
    return list(zip(ts.tolist(), bid.tolist(), ask.tolist(), strict=True))


# -- delivery ------------------------------------------------------------------------------------------------
def test_forty_tick_items_receive_every_update_the_server_sent(env: Env, make_client: Callable[..., StreamingClient]):
    client = make_client()
    client.connect()
    assert client.status == "CONNECTED:WS-STREAMING"
    hub = TickHub(capacity=10_000)
    epics = EPICS[:40]
    sub = client.subscribe_ticks(epics, hub)
    assert sub.wait_subscribed(10), sub.errors
    for epic in epics:
        env.server.burst(tick_item(epic), 25)
    sid = client.session_id
    assert wait(lambda: sum(hub.buffer(e).total for e in epics) >= 40 * 25)
    for epic in epics:
        sent = sent_ticks(env.server, epic, sid)
        assert len(sent) == 25
        assert received(hub, epic) == sent, epic
    assert sub.stats["bad_updates"] == 0
    # a 41st item is refused on the client side, before anything is sent
    with pytest.raises(StreamError, match="exceed 40 subscriptions"):
        client.subscribe_ticks([EPICS[40]], hub)
    assert client.item_count == 40


def test_server_refuses_the_41st_item_with_reqerr(env: Env, make_client: Callable[..., StreamingClient]):
    client = make_client(max_subscriptions=41)  # let the 41st reach the server: IG's limit answers
    client.connect()
    sub = client.subscribe_ticks(EPICS[:41], TickHub(capacity=100))
    sub.wait_subscribed(10)
    assert len(sub.active_items) == 40
    assert list(sub.error_codes.values()) == [REQERR_LIMIT]
    with pytest.raises(StreamError, match="limit"):
        sub.raise_errors()


def test_distinct_snapshot_then_end_of_snapshot(env: Env, make_client: Callable[..., StreamingClient]):
    epic = EPICS[41]
    SNAPSHOTS[tick_item(epic)] = [
        {"BID": "1.20000", "OFR": "1.20010", "UTM": "1600000000000"},
        {"BID": "1.20002", "UTM": "1600000000500"},  # OFR unchanged: carried forward
    ]
    try:
        client = make_client()
        client.connect()
        hub = TickHub(capacity=100)
        sub = client.subscribe_ticks([epic], hub, snapshot=True)
        assert sub.wait_subscribed(10)
        assert wait(lambda: sub.stats["end_of_snapshot"] == 1)
        assert received(hub, epic) == [
            (1_600_000_000_000_000_000, 1.2, 1.2001),
            (1_600_000_000_500_000_000, 1.20002, 1.2001),
        ]
        env.server.publish(tick_item(epic), {"BID": "1.20004", "UTM": "1600000001000"})
        assert wait(lambda: hub.buffer(epic).total == 3)
        assert received(hub, epic)[-1] == (1_600_000_001_000_000_000, 1.20004, 1.2001)
    finally:
        SNAPSHOTS.clear()


def test_unchanged_fields_are_sent_empty_and_carried_forward(env: Env, make_client: Callable[..., StreamingClient]):
    epic = EPICS[42]
    client = make_client()
    client.connect()
    hub = TickHub(capacity=100)
    sub = client.subscribe_ticks([epic], hub)
    assert sub.wait_subscribed(10)
    item = tick_item(epic)
    env.server.publish(item, {"BID": "1.5", "OFR": "1.6", "UTM": "1700000000001"})
    env.server.publish(item, {"BID": "1.55", "UTM": "1700000000002"})
    env.server.publish(item, {"OFR": "1.65", "UTM": "1700000000003"})
    assert wait(lambda: hub.buffer(epic).total == 3)
    assert [(b, a) for _, b, a in received(hub, epic)] == [(1.5, 1.6), (1.55, 1.6), (1.55, 1.65)]
    # the wire really carried "unchanged" tokens (the client, not the server, filled them in)
    u_lines = [ln for ln in env.server.lines(client.session_id or "") if ln.startswith("U,")]
    assert u_lines[1].endswith(",1.55||1700000000002") and u_lines[2].endswith(",|1.65|1700000000003")


def test_unknown_item_and_wrong_adapter_are_refused(env: Env, make_client: Callable[..., StreamingClient]):
    client = make_client()
    client.connect()
    sub = client.subscribe_ticks(["CS.D.NOPE.MINI.IP", EPICS[0]], TickHub(capacity=100))
    assert not sub.wait_subscribed(10)
    assert sub.error_codes == {tick_item("CS.D.NOPE.MINI.IP"): REQERR_BAD_ITEM}
    assert sub.active_items == {tick_item(EPICS[0])}  # one bad epic does not take the others down
    with pytest.raises(StreamError, match=r"CS\.D\.NOPE\.MINI\.IP"):
        sub.raise_errors()
    # PRICE items need the Pricing adapter: a raw subscription without it is refused (REQERR 17)
    from lightstreamer.client import Subscription, SubscriptionListener

    codes: list[int] = []

    class L(SubscriptionListener):
        def onSubscriptionError(self, code: int, message: str) -> None:
            codes.append(code)

    raw = Subscription("MERGE", [price_item(ACCOUNT, EPICS[0])], ["BIDPRICE1"])
    raw.addListener(L())
    client.ls.subscribe(raw)
    assert wait(lambda: codes == [REQERR_BAD_ADAPTER])


# -- faults ----------------------------------------------------------------------------------------------------
def _ticks_setup(env: Env, make_client: Callable[..., StreamingClient], epics: list[str], **kw: Any):
    gaps: list[tuple[str, int | None]] = []
    client = make_client(**kw)
    client.connect()
    hub = TickHub(capacity=10_000)
    sub = client.subscribe_ticks(epics, hub, on_gap=lambda epic, last_ns: gaps.append((epic, last_ns)))
    assert sub.wait_subscribed(10)
    return client, hub, sub, gaps


def _burst_all(env: Env, epics: list[str], n: int) -> None:
    for epic in epics:
        env.server.burst(tick_item(epic), n)


@pytest.mark.parametrize("how", ["abort", "close", "stall"])
def test_drop_recovers_the_session_and_loses_nothing(env: Env, make_client: Callable[..., StreamingClient], how: str):
    epics = EPICS[:3]
    client, hub, sub, gaps = _ticks_setup(env, make_client, epics)
    sid = client.session_id
    _burst_all(env, epics, 10)
    assert wait(lambda: all(hub.buffer(e).total == 10 for e in epics))
    recoveries = env.server.stats["recoveries"]
    assert env.server.drop(how, session_id=sid) == 1
    _burst_all(env, epics, 10)  # generated while the transport is broken: kept for recovery
    # the library notices (keepalive 1 s + stalled 0.5 s + reconnect 0.5 s) and recovers over HTTP
    assert wait(lambda: env.server.stats["recoveries"] > recoveries, timeout=8)
    assert wait(lambda: client.status == "CONNECTED:WS-STREAMING", timeout=5)
    assert "DISCONNECTED:TRYING-RECOVERY" in [s for _, s in client.statuses]
    _burst_all(env, epics, 10)
    assert wait(lambda: all(hub.buffer(e).total == 30 for e in epics))
    for epic in epics:
        assert received(hub, epic) == sent_ticks(env.server, epic, sid)
    assert client.session_id == sid and sub.stats["resubscribed"] == 0 and gaps == []
    assert client.stats["reconnects"] == 1


def test_short_stall_delays_but_loses_nothing(env: Env, make_client: Callable[..., StreamingClient]):
    epic = EPICS[13]
    client, hub, _, _ = _ticks_setup(env, make_client, [epic])
    recoveries = env.server.stats["recoveries"]
    env.server.drop("stall", seconds=0.5)  # silence < keepalive 1 s + stalled 0.5 s: no reconnect
    _burst_all(env, [epic], 5)
    assert hub.buffer(epic).total == 0  # held back while stalled
    assert wait(lambda: hub.buffer(epic).total == 5)
    assert client.stats["reconnects"] == 0 and env.server.stats["recoveries"] == recoveries and client.connected


@pytest.mark.parametrize("path", ["end", "conerr20"])
def test_lost_session_resubscribes_and_reports_the_gap(
    env: Env, make_client: Callable[..., StreamingClient], path: str
):
    epics = EPICS[3:5]
    client, hub, sub, gaps = _ticks_setup(env, make_client, epics)
    old_sid = client.session_id
    creates = env.server.stats["creates"]
    try:
        if path == "end":
            env.server.drop("end", code=41, session_id=old_sid)
        else:
            env.server.allow_recovery = False  # the recovery POST gets CONERR,20: a new session follows
            env.server.drop("abort", session_id=old_sid)
        assert wait(lambda: env.server.stats["creates"] > creates, timeout=8)
        assert wait(lambda: sub.stats["resubscribed"] == len(epics) and client.connected, timeout=5)
    finally:
        env.server.allow_recovery = True
    assert sorted(e for e, _ in gaps) == sorted(epics)
    assert all(last_ns is None for _, last_ns in gaps)  # nothing had arrived before the loss
    new_sid = client.session_id
    assert new_sid != old_sid
    _burst_all(env, epics, 5)
    assert wait(lambda: all(hub.buffer(e).total == 5 for e in epics))
    for epic in epics:
        assert received(hub, epic) == sent_ticks(env.server, epic, new_sid)


def test_server_overflow_is_counted_and_reported_as_a_gap(env: Env, make_client: Callable[..., StreamingClient]):
    epic = EPICS[12]
    client, hub, sub, gaps = _ticks_setup(env, make_client, [epic])
    env.server.publish(tick_item(epic), {"BID": "1.1", "OFR": "1.2", "UTM": "1700000000777"})
    assert wait(lambda: hub.buffer(epic).total == 1)
    assert env.server.overflow(tick_item(epic), 7) == 1
    assert wait(lambda: sub.stats["lost"] == 7)
    assert gaps == [(epic, 1_700_000_000_777_000_000)]  # backfill from the last tick received
    _burst_all(env, [epic], 3)  # the feed goes on
    assert wait(lambda: hub.buffer(epic).total == 4)
    assert client.connected and sub.stats["resubscribed"] == 0


def test_end_with_a_final_code_stops_the_client_with_a_stream_error(
    env: Env, make_client: Callable[..., StreamingClient]
):
    errors: list[Exception] = []
    client, _, _, _ = _ticks_setup(env, make_client, [EPICS[14]], on_error=errors.append)
    creates = env.server.stats["creates"]
    env.server.drop("end", code=32, session_id=client.session_id)  # 32: closed by the administrator
    assert wait(lambda: client.status == "DISCONNECTED" and len(errors) == 1)  # both come on the library's thread
    assert client.server_error is not None and client.server_error[0] == 32
    assert len(errors) == 1 and isinstance(errors[0], StreamError) and not isinstance(errors[0], AuthError)
    time.sleep(0.5)
    assert env.server.stats["creates"] == creates  # final: no new session


def test_unknown_line_is_ignored_and_the_feed_goes_on(env: Env, make_client: Callable[..., StreamingClient]):
    epic = EPICS[5]
    client, hub, _, _ = _ticks_setup(env, make_client, [epic])
    malformed = env.server.stats["malformed"]
    assert env.server.send_malformed("unknown") == 1
    _burst_all(env, [epic], 5)
    assert wait(lambda: hub.buffer(epic).total == 5)
    assert env.server.stats["malformed"] == malformed + 1
    assert client.connected and client.stats["reconnects"] == 0 and client.error is None


def test_unparsable_update_is_fatal_for_the_library(env: Env, make_client: Callable[..., StreamingClient]):
    """Pinned behaviour of lightstreamer-client-lib 2.2: a U line it cannot parse ends the connection
    for good with server error 61; igkit reports it once as a StreamError."""
    errors: list[Exception] = []
    client, _, _, _ = _ticks_setup(env, make_client, [EPICS[6]], on_error=errors.append)
    env.server.send_malformed("update")
    assert wait(lambda: client.status == "DISCONNECTED" and len(errors) == 1)
    assert client.server_error is not None and client.server_error[0] == 61
    assert len(errors) == 1 and isinstance(errors[0], StreamError) and not isinstance(errors[0], AuthError)


# -- credentials -------------------------------------------------------------------------------------------------
def test_bad_credentials_raise_auth_error_once_without_retry_storm(
    env: Env, make_client: Callable[..., StreamingClient]
):
    errors: list[Exception] = []
    creates = env.server.stats["creates"]
    client = make_client(password="CST-wrong|XST-wrong", on_error=errors.append)
    with pytest.raises(AuthError, match=ACCOUNT) as info:
        client.connect(timeout=5)
    assert "wrong" not in str(info.value)  # the password never appears in the error
    time.sleep(1.5)  # long enough for any automatic retry to show up
    assert env.server.stats["creates"] == creates + 1
    assert client.status == "DISCONNECTED" and len(errors) == 1
    with pytest.raises(AuthError):  # asking again with the same password does not touch the server
        client.connect(timeout=5)
    assert env.server.stats["creates"] == creates + 1
    client.set_password(PASSWORD)
    client.connect(timeout=5)
    assert client.connected


def test_expired_credentials_end_in_auth_error_then_new_password_resumes(
    env: Env, make_client: Callable[..., StreamingClient]
):
    epic = EPICS[7]
    errors: list[Exception] = []
    client, hub, sub, _ = _ticks_setup(env, make_client, [epic], on_error=errors.append)
    env.server.expire_credentials()
    env.passwords.add(PASSWORD2)
    try:
        env.server.drop("abort", session_id=client.session_id)
        # the error is set, then on_error is called (on the library's thread): wait for both
        assert wait(lambda: client.error is not None and len(errors) == 1, timeout=10)
        assert isinstance(client.error, AuthError) and client.status == "DISCONNECTED"
        client.set_password(PASSWORD2)
        client.connect(timeout=5)
        assert sub.wait_subscribed(5)
        _burst_all(env, [epic], 3)
        assert wait(lambda: hub.buffer(epic).total == 3)
    finally:
        env.server._expired.clear()
        env.passwords.discard(PASSWORD2)


# -- typed items -----------------------------------------------------------------------------------------------
def test_trade_account_price_and_candle_items_arrive_typed(env: Env, make_client: Callable[..., StreamingClient]):
    client = make_client()
    client.connect()
    got: list[Any] = []
    lock = threading.Lock()

    def keep(x: Any) -> None:
        with lock:
            got.append(x)

    epic = EPICS[8]
    env.server.publish(price_item(ACCOUNT, epic), {"TIMESTAMP": "1700000000123", "BIDPRICE1": "1.1",
                                                   "ASKPRICE1": "1.2", "DLG_FLAG": "DEAL   "})  # fmt: skip
    env.server.publish(account_item(ACCOUNT), {"PNL": "-12.5", "FUNDS": "1000", "EQUITY": "987.5"})
    subs = [
        client.subscribe_trades(keep),
        client.subscribe_prices([epic], keep),
        client.subscribe_account(keep),
        client.subscribe_candles(epic, "1MINUTE", keep),
    ]
    assert all(s.wait_subscribed(10) for s in subs)
    assert wait(lambda: len(got) == 2)  # the two MERGE snapshots
    confirm = {"dealReference": "REF1", "dealId": "DI1", "dealStatus": "ACCEPTED", "status": "OPEN",
               "reason": "SUCCESS", "epic": epic, "direction": "BUY", "level": 1.2, "size": 1.5, "stopLevel": None,
               "limitLevel": 1.3, "expiry": "-", "guaranteedStop": False,
               "affectedDeals": [{"dealId": "DI1", "status": "OPENED"}]}  # fmt: skip
    opu = {"dealReference": "REF1", "dealId": "DI1", "direction": "BUY", "epic": epic, "status": "OPEN",
           "dealStatus": "ACCEPTED", "level": 1.2, "size": 1.5, "timestamp": "2026-11-24T07:00:00.000",
           "channel": "PublicRestOTC", "currency": "USD"}  # fmt: skip
    wou = {"dealReference": "REF2", "dealId": "DI2", "direction": "SELL", "epic": epic, "status": "DELETED",
           "dealStatus": "ACCEPTED", "level": 1.4, "size": 2, "orderType": "LIMIT",
           "timeInForce": "GOOD_TILL_CANCELLED", "goodTillDate": None, "currency": "USD"}  # fmt: skip
    env.server.publish(trade_item(ACCOUNT), {"CONFIRMS": json.dumps(confirm)})
    env.server.publish(trade_item(ACCOUNT), {"OPU": json.dumps(opu)})
    env.server.publish(trade_item(ACCOUNT), {"WOU": json.dumps(wou)})
    env.server.publish(price_item(ACCOUNT, epic), {"BIDPRICE1": "1.15"})
    env.server.publish(candle_item(epic, "1MINUTE"), {"BID_OPEN": "1.1", "BID_CLOSE": "1.15", "UTM": "1700000040000",
                                                      "CONS_END": "1", "CONS_TICK_COUNT": "17"})  # fmt: skip
    assert wait(lambda: len(got) == 7)
    by_type: dict[str, list[Any]] = {}
    for x in got:
        by_type.setdefault(type(x).__name__, []).append(x)
    (tc,) = by_type["TradeConfirm"]
    assert isinstance(tc, TradeConfirm) and tc.accepted and tc.deal_id == "DI1" and tc.size == 1.5
    assert tc.direction == "BUY" and tc.stop_level is None and tc.affected_deals == (("DI1", "OPENED"),)
    (pu,) = by_type["PositionUpdate"]
    assert isinstance(pu, PositionUpdate) and pu.status == "OPEN" and pu.level == 1.2 and pu.currency == "USD"
    (wu,) = by_type["WorkingOrderUpdate"]
    assert isinstance(wu, WorkingOrderUpdate) and wu.status == "DELETED" and wu.order_type == "LIMIT"
    snap, live = by_type["PriceUpdate"]
    assert (snap.bid, snap.ask, snap.ts_ns, snap.dealing) == (1.1, 1.2, 1_700_000_000_123_000_000, "DEAL")
    assert (live.bid, live.ask) == (1.15, 1.2)  # MERGE: the ask carried forward
    (acc,) = by_type["AccountUpdate"]
    assert (acc.pnl, acc.funds, acc.equity, acc.margin) == (-12.5, 1000.0, 987.5, None)
    (candle,) = by_type["CandleUpdate"]
    assert candle.complete and candle.tick_count == 17 and candle.bid[0] == 1.1 and candle.bid[3] == 1.15
    assert candle.ts_ns == 1_700_000_040_000_000_000


def test_context_manager_connects_and_closes(env: Env) -> None:
    with StreamingClient(env.url, ACCOUNT, PASSWORD) as client:
        assert client.connected
        sid = client.session_id
        assert sid in env.server.session_ids()
    assert env.server.wait_until(lambda: sid not in env.server.session_ids(), timeout=5)  # destroyed on exit


def test_builders_validate_their_input(env: Env, make_client: Callable[..., StreamingClient]):
    client = make_client()
    with pytest.raises(StreamError, match="no epics"):
        client.subscribe_ticks([], TickHub())
    with pytest.raises(StreamError, match="invalid epic"):
        client.subscribe_prices(["CS.D.EUR:USD"], print)
    with pytest.raises(Exception, match="scale"):
        client.subscribe_candles(EPICS[0], "2MINUTE", print)
    with pytest.raises(StreamError, match="http"):
        StreamingClient("ws://127.0.0.1:1", ACCOUNT, PASSWORD)


# -- other transports --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("transport", ["HTTP-STREAMING", "HTTP-POLLING", "WS-POLLING"])
def test_fallback_transports_deliver_everything_and_survive_an_abort(
    env: Env, make_client: Callable[..., StreamingClient], transport: str
):
    """The library falls back to these when WebSocket streaming fails; the simulator serves them too
    (HTTP streaming is cut with LOOP every ~3 kB here, so rebinds happen many times)."""
    epics = EPICS[9:11]
    client = make_client(forced_transport=transport)
    client.ls.connectionOptions.setContentLength(3000)
    client.connect()
    assert wait(lambda: client.status == f"CONNECTED:{transport}"), client.statuses
    assert client.stats["reconnects"] == 0  # CONNECTED:STREAM-SENSING → CONNECTED:<transport> is no reconnect
    hub = TickHub(capacity=1000)
    sub = client.subscribe_ticks(epics, hub)
    assert sub.wait_subscribed(10)
    sid = client.session_id
    _burst_all(env, epics, 60)
    assert wait(lambda: all(hub.buffer(e).total == 60 for e in epics))
    env.server.drop("abort", session_id=sid)
    _burst_all(env, epics, 60)
    assert wait(lambda: all(hub.buffer(e).total == 120 for e in epics), timeout=10)
    for epic in epics:
        assert received(hub, epic) == sent_ticks(env.server, epic, sid)
    assert client.session_id == sid and sub.stats["resubscribed"] == 0
