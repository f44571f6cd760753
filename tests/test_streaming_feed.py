"""StreamingFeed end to end: the real lightstreamer-client-lib against IGSimulator's TLCP server on 127.0.0.1.

Every update counted against the server's own delivery log; each transport fault (abort, close, end,
stall) survived within 5 s with the candles (engine-style: builder + repairs) equal to those of the
market's full tick stream; malformed lines; bad and expired credentials."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from _stream_feed import (
    HUGE,
    LiveCandles,
    assert_candles_match,
    assert_whole_candles,
    collect_repairs,
    compare_with_truth,
    epics_of,
    make_feed,
    stream_client,
    stream_sim,
    wait,
)

from igkit.errors import AuthError, StreamError
from igkit.ig import IGClient
from igkit.ig.models import StreamingCredentials
from igkit.ig.stream import tick_item
from igkit.sim import IGSimulator
from igkit.sim.lightstreamer.ig_hook import LS_STREAMER_KEY
from igkit.ticks import FeedStatus, TickHub

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def sim() -> Iterator[IGSimulator]:
    yield from stream_sim(3)


@pytest.fixture
def client(sim: IGSimulator) -> Iterator[IGClient]:
    yield from stream_client(sim)


def test_forty_instruments_every_update_arrives(sim: IGSimulator, client: IGClient) -> None:
    epics = epics_of(sim, 40)
    hub = TickHub(100_000)
    feed = make_feed(client, hub, epics, repair=False)
    seen: list[tuple[str, str]] = []
    hub.on_status(lambda name, st, detail: seen.append((st.value, detail)))
    feed.start()
    try:
        assert feed.wait_connected(15), feed.error
        assert len(feed.clients) == 1  # 40 items fit one connection
        assert sim.stream.subscribed_items() == {tick_item(e) for e in epics}
        assert hub.statuses()["ig-stream"][:2] == (FeedStatus.CONNECTED, "CONNECTED:WS-STREAMING")
        assert wait(lambda: all(hub.buffer(e).total > 0 for e in epics), 10)
        time.sleep(1.5)
        sim.app[LS_STREAMER_KEY].stop()  # the market stops publishing; whatever was sent must arrive
        sent = {e: len(sim.stream.updates(tick_item(e))) for e in epics}
        assert wait(lambda: all(hub.buffer(e).total == sent[e] for e in epics), 15), [
            (e, hub.buffer(e).total, sent[e]) for e in epics if hub.buffer(e).total != sent[e]
        ]
        assert sum(sent.values()) > 40 * 20  # ~20 ticks/s each: a real load, not a trickle
        assert all(sum(hub.buffer(e).rejected.values()) == 0 for e in epics)
    finally:
        feed.stop()
    assert hub.status("ig-stream") is FeedStatus.DISCONNECTED
    assert ("CONNECTING", "") in seen and ("CONNECTED", "CONNECTED:WS-STREAMING") in seen


def test_subscription_limit_second_connection_or_clear_error(sim: IGSimulator, client: IGClient) -> None:
    epics = epics_of(sim, 41)
    with pytest.raises(StreamError, match="max_connections=1"):
        make_feed(client, TickHub(1000), epics, max_connections=1)
    hub = TickHub(10_000)
    feed = make_feed(client, hub, epics, repair=False)
    feed.start()
    try:
        assert feed.wait_connected(15), feed.error
        assert [len(c.subscriptions[0].items) for c in feed.clients] == [40, 1]
        assert len(sim.stream.session_ids()) == 2
        assert wait(lambda: all(hub.buffer(e).total > 0 for e in epics), 10)
    finally:
        feed.stop()


@pytest.mark.parametrize("how", ["abort", "close", "end", "stall"])
def test_drop_reconnects_and_candles_are_whole(sim: IGSimulator, client: IGClient, how: str) -> None:
    epics = epics_of(sim, 3)
    hub = TickHub(100_000)
    feed = make_feed(client, hub, epics)
    live = LiveCandles(hub, epics, feed.freq)  # type: ignore[arg-type]
    ups: list[float] = []
    hub.on_status(lambda name, st, detail: ups.append(time.monotonic()) if st is FeedStatus.CONNECTED else None)
    feed.start()
    try:
        assert feed.wait_connected(15), feed.error
        assert wait(lambda: all(hub.buffer(e).total > 20 for e in epics), 10)
        time.sleep(1.2)  # whole live bars before the drop
        sessions = set(sim.stream.session_ids())
        n_ups = len(ups)
        t_drop = time.monotonic()
        assert sim.drop_streams(how) == 1
        assert wait(lambda: len(ups) > n_ups and feed.status is FeedStatus.CONNECTED, 5), hub.statuses()
        assert ups[-1] - t_drop < 5.0
        if how == "end":  # a new session, everything subscribed again
            assert set(sim.stream.session_ids()) != sessions
        assert wait(lambda: sim.stream.subscribed_items() == {tick_item(e) for e in epics}, 5)
        counts = {e: hub.buffer(e).total for e in epics}
        assert wait(lambda: all(hub.buffer(e).total > counts[e] + 10 for e in epics), 5)  # ticks flow again
        collect_repairs(feed, live)
    finally:
        feed.stop()
    ours = assert_whole_candles(sim, live, epics)
    assert {r.epic for r in live.repairs} == set(epics)  # every disconnect is backfilled
    assert all(ours[e]["backfilled"].any() for e in epics)
    assert hub.counters()["ig-stream"]["repairs"] >= len(epics)


def test_lost_ticks_after_a_new_session_are_backfilled(sim: IGSimulator, client: IGClient) -> None:
    """END with the recovery refused: the ticks published meanwhile never reach the client; repairs restore
    the candles (without them the comparison fails: checked here)."""
    epics = epics_of(sim, 2)
    hub = TickHub(100_000)
    feed = make_feed(client, hub, epics)
    live = LiveCandles(hub, epics, feed.freq)  # type: ignore[arg-type]
    feed.start()
    try:
        assert feed.wait_connected(15), feed.error
        assert wait(lambda: all(hub.buffer(e).total > 20 for e in epics), 10)
        time.sleep(1.2)
        sim.stream.allow_recovery = False
        sim.drop_streams("stall", seconds=None)  # silent until the client gives up on the session
        assert wait(lambda: feed.status is not FeedStatus.CONNECTED, 5)
        assert wait(lambda: feed.status is FeedStatus.CONNECTED, 8)
        assert wait(lambda: not feed.gaps.open_gaps and not feed.gaps.pending and feed.repairs() != [], 10)
        live.repairs.extend(feed.take_repairs())
        time.sleep(1.2)
    finally:
        feed.stop()
    live.drain()
    lost = 0
    for e in epics:
        ours, want = compare_with_truth(sim, live, e)
        assert_candles_match(ours, want, e)
        unrepaired = LiveCandles.__new__(LiveCandles)
        unrepaired.__dict__.update(live.__dict__, repairs=[])
        raw, _ = compare_with_truth(sim, unrepaired, e)
        lost += int(want["ticks"].sum()) - int(raw["ticks"].sum())
    assert lost > 0  # ticks really were lost on the wire, and the repairs brought them back


def test_malformed_lines(sim: IGSimulator, client: IGClient) -> None:
    epics = epics_of(sim, 2)
    hub = TickHub(100_000)
    feed = make_feed(client, hub, epics)
    live = LiveCandles(hub, epics, feed.freq)  # type: ignore[arg-type]
    feed.start()
    try:
        assert feed.wait_connected(15), feed.error
        assert sim.stream_malformed("unknown") == 1  # a line with no TLCP meaning: ignored by the library
        n = hub.buffer(epics[0]).total
        assert wait(lambda: hub.buffer(epics[0]).total > n + 20, 5)
        assert feed.status is FeedStatus.CONNECTED and sim.stream.stats["malformed"] == 1
        assert "stream_errors" not in hub.counters().get("ig-stream", {})
        # documented behaviour: an unparsable U line is fatal to the library (server error 61, it stays
        # disconnected); the feed counts it and reconnects after its backoff, and backfills the gap
        assert sim.stream_malformed("update") == 1
        assert wait(lambda: hub.counters().get("ig-stream", {}).get("stream_errors", 0) == 1, 5)
        assert feed.clients[0].server_error is not None and feed.clients[0].server_error[0] == 61
        assert wait(lambda: feed.status is FeedStatus.CONNECTED and feed.clients[0].connected, 5)
        n = hub.buffer(epics[0]).total
        assert wait(lambda: hub.buffer(epics[0]).total > n + 10, 5)
        assert wait(lambda: feed.repairs() != [], 10)
        collect_repairs(feed, live)
    finally:
        feed.stop()
    assert_whole_candles(sim, live, epics)  # the feed went on, and nothing is missing from the candles


class _BadStreamPassword(IGClient):
    """A real client whose streaming password is always wrong (stands in for an account the streaming
    server refuses; nothing else is faked)."""

    def streaming_credentials(self) -> StreamingCredentials:
        good = super().streaming_credentials()
        return StreamingCredentials(endpoint=good.endpoint, account_id=good.account_id, password="CST-x|XST-y")


def test_bad_credentials_auth_error_without_retry_storm(sim: IGSimulator) -> None:
    client = _BadStreamPassword(sim.rest_url, sim.api_key, historical_points_per_week=HUGE)
    client.login(sim.username, sim.password)
    hub = TickHub(1000)
    feed = make_feed(client, hub, epics_of(sim, 1))
    feed.start()
    try:
        assert not feed.wait_connected(10)
        assert isinstance(feed.error, AuthError)
        assert "refused the credentials" in str(feed.error) and "CST-x" not in str(feed.error)
        st, detail, _ = hub.statuses()["ig-stream"]
        assert st is FeedStatus.DISCONNECTED and detail.startswith("error:")
        time.sleep(2.0)  # nothing retries behind our back
        refused = sim.stream.stats["creates_refused"]
        assert refused == 2  # the first password, then the one after a REST re-login: then it stops
        assert sim.stream.stats["creates"] == 2  # every create_session attempt was one of those
        assert hub.counters()["ig-stream"]["relogins"] == 1
    finally:
        feed.stop()
        client.close()


def test_expired_credentials_relogin_and_reconnect(sim: IGSimulator, client: IGClient) -> None:
    """The streaming password expires and the session ends: a REST re-login, a new stream session within
    5 s, and after backfill the candles equal those of the server's full tick log (as for every fault)."""
    epics = epics_of(sim, 2)
    hub = TickHub(100_000)
    feed = make_feed(client, hub, epics)
    live = LiveCandles(hub, epics, feed.freq)  # type: ignore[arg-type]
    feed.start()
    try:
        assert feed.wait_connected(15), feed.error
        assert wait(lambda: all(hub.buffer(e).total > 20 for e in epics), 10)
        time.sleep(1.2)  # whole live bars before the fault
        logins = client.session.logins
        assert sim.expire_stream_credentials() == 1
        t_drop = time.monotonic()
        sim.drop_streams("end")  # the client opens a new session with the expired password: refused
        assert wait(lambda: hub.counters().get("ig-stream", {}).get("relogins", 0) == 1, 5), feed.stats()
        assert wait(lambda: feed.status is FeedStatus.CONNECTED, 5), hub.statuses()
        assert time.monotonic() - t_drop < 5.0
        assert client.session.logins == logins + 1
        assert sim.stream.stats["creates_refused"] == 1 and feed.error is None
        n = hub.buffer(epics[0]).total
        assert wait(lambda: hub.buffer(epics[0]).total > n + 10, 5)
        assert hub.counters()["ig-stream"]["reconnects"] == 1
        collect_repairs(feed, live)
    finally:
        feed.stop()
    assert_whole_candles(sim, live, epics)


def test_no_ticks_from_an_open_market_is_a_gap_backfilled(sim: IGSimulator, client: IGClient) -> None:
    """The server goes quiet for one epic (a frozen quote: nothing published) while its REST history goes on:
    after ``stale_after`` the feed asks REST whether the market is open (it is), opens a gap, and once
    ticks come back the span is backfilled."""
    epic, other = epics_of(sim, 2)
    hub = TickHub(100_000)
    feed = make_feed(client, hub, [epic, other], stale_after=1.0)
    feed.start()
    try:
        assert feed.wait_connected(15), feed.error
        assert wait(lambda: hub.buffer(epic).total > 10, 5)
        bid, ask = sim.quote(epic)
        sim.set_price(epic, bid, ask)  # frozen: the stream publishes one tick, then nothing
        assert wait(lambda: epic in feed.gaps.open_gaps, 6), feed.stats()
        assert feed.gaps.open_gaps[epic][1] == "stale" and other not in feed.gaps.open_gaps
        markets = [r for r in sim.request_log if r.path == "/markets" or r.path.startswith("/markets/")]
        assert markets  # the open/closed question went to REST
        sim.clear_price(epic)
        assert wait(lambda: epic not in feed.gaps.open_gaps and not feed.gaps.pending, 8), feed.stats()
        reps = [r for r in feed.take_repairs() if r.epic == epic]
        assert [r.reason for r in reps] == ["stale"] and len(reps[0].frame) >= 1
        assert hub.counters()["ig-stream"]["stale"] == 1
    finally:
        feed.stop()


def test_server_reported_overflow_is_backfilled(sim: IGSimulator, client: IGClient) -> None:
    epic, other = epics_of(sim, 2)
    hub = TickHub(100_000)
    feed = make_feed(client, hub, [epic, other])
    feed.start()
    try:
        assert feed.wait_connected(15), feed.error
        assert wait(lambda: hub.buffer(epic).total > 10, 5)
        assert sim.stream.overflow(tick_item(epic), 7) == 1  # "OV": the server dropped 7 updates of epic
        assert wait(lambda: feed.repairs() != [] and not feed.gaps.pending, 8), feed.stats()
        [rep] = feed.take_repairs()
        assert rep.epic == epic and rep.reason == "lost" and len(rep.frame) >= 1
        assert feed.tick_subs[0].stats["lost"] == 7 and feed.status is FeedStatus.CONNECTED
    finally:
        feed.stop()


def test_feed_arguments_are_checked(sim: IGSimulator, client: IGClient) -> None:
    with pytest.raises(StreamError, match="no epics"):
        make_feed(client, TickHub(10), [])
    with pytest.raises(StreamError, match="ig_candles"):
        make_feed(client, TickHub(10), ["CS.D.EURUSD.MINI.IP"], ig_candles="3MINUTE")


def test_ig_candles_compared_with_ours(sim: IGSimulator, client: IGClient) -> None:
    epic = epics_of(sim, 1)[0]
    hub = TickHub(100_000)
    feed = make_feed(client, hub, [epic], freq="1s", ig_candles="SECOND")
    live = LiveCandles(hub, [epic], "1s")
    feed.start()
    try:
        assert feed.wait_connected(15), feed.error
        assert wait(lambda: len(feed.ig_candles_frame(epic)) >= 4, 10)
    finally:
        feed.stop()
    live.drain()
    rep: dict[str, Any] = feed.compare(epic, live.frame(epic))
    assert rep["common"] >= 3
    assert all(v == 0 for v in rep["max_abs_diff"].values()), rep


def test_status_from_the_feed_thread_start_stop_restart(sim: IGSimulator, client: IGClient) -> None:
    """Status reaches the hub from the feed's own thread, never the library's (listeners may be slow)."""
    hub = TickHub(1000)
    threads: set[str] = set()
    hub.on_status(lambda *a: threads.add(threading.current_thread().name))
    epic = epics_of(sim, 1)[0]
    feed = make_feed(client, hub, [epic])
    feed.start()
    try:
        assert feed.wait_connected(15)
        feed.start()  # idempotent
        assert len(feed.clients) == 1 and len(sim.stream.session_ids()) == 1
    finally:
        feed.stop()
    assert threads and all(t.startswith("igkit-feed-") or t == threading.current_thread().name for t in threads)
    assert wait(lambda: sim.stream.session_ids() == [], 5)  # stop closed the connection
    feed.start()  # and a stopped feed starts again
    try:
        assert feed.wait_connected(15)
        n = hub.buffer(epic).total
        assert wait(lambda: hub.buffer(epic).total > n + 5, 5)
    finally:
        feed.stop()
