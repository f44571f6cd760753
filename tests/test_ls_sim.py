"""The IG simulator with Lightstreamer mounted by ``lightstreamer_app_hook``: log in over REST (plain
requests), stream with igkit's StreamingClient on the real client library, deal over REST and see the
confirm, the position and the balance arrive typed on the stream."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
from _waiting import wait as wait_until
from sim_support import Raw

from igkit.errors import AuthError
from igkit.ig.stream import AccountUpdate, PositionUpdate, PriceUpdate, StreamingClient, TradeConfirm
from igkit.sim import IGSimulator
from igkit.sim.lightstreamer.ig_hook import event_values, lightstreamer_app_hook
from igkit.ticks import TickHub

pytestmark = pytest.mark.timeout(60)

EURUSD = "CS.D.EURUSD.MINI.IP"


@pytest.fixture
def sim() -> Iterator[IGSimulator]:
    with IGSimulator(always_open=True, seed=5, app_hooks=[lightstreamer_app_hook(keepalive_ms=1000)]) as s:
        s.set_price(EURUSD, 1.10000, 1.10010)
        yield s


wait = partial(wait_until, timeout=8.0)


def test_deal_over_rest_streams_confirm_position_balance_and_prices(sim: IGSimulator) -> None:
    raw = Raw(sim)
    login = raw.login(2).json()
    assert login["lightstreamerEndpoint"] == sim.lightstreamer_url
    account = login["currentAccountId"]
    password = f"CST-{raw.auth['CST']}|XST-{raw.auth['X-SECURITY-TOKEN']}"
    client = StreamingClient(login["lightstreamerEndpoint"], account, password, stalled_timeout_ms=500,
                             reconnect_timeout_ms=500)  # fmt: skip
    got: list[Any] = []
    lock = threading.Lock()

    def keep(x: Any) -> None:
        with lock:
            got.append(x)

    hub = TickHub(capacity=1000)
    try:
        client.connect(timeout=10)
        subs = [client.subscribe_trades(keep), client.subscribe_account(keep), client.subscribe_prices([EURUSD], keep),
                client.subscribe_ticks([EURUSD], hub)]  # fmt: skip
        assert all(s.wait_subscribed(10) for s in subs), [s.errors for s in subs]
        assert wait(lambda: any(isinstance(x, PriceUpdate) for x in got))
        first = next(x for x in got if isinstance(x, PriceUpdate))
        assert (first.bid, first.ask) == (1.1, 1.1001)  # the forced price, as the snapshot
        assert wait(lambda: hub.buffer(EURUSD).total >= 1)
        assert hub.buffer(EURUSD).last()[1:] == (1.1, 1.1001)  # type: ignore[index]
        sim.set_price(EURUSD, 1.10020, 1.10030)
        assert wait(lambda: hub.buffer(EURUSD).last()[1:] == (1.1002, 1.1003))  # type: ignore[index]
        confirm = raw.deal(direction="BUY", size=1)
        assert confirm["dealStatus"] == "ACCEPTED"
        assert wait(
            lambda: any(isinstance(x, TradeConfirm) for x in got) and any(isinstance(x, PositionUpdate) for x in got)
        )
        tc = next(x for x in got if isinstance(x, TradeConfirm))
        assert tc.deal_id == confirm["dealId"] and tc.accepted and tc.level == 1.1003 and tc.direction == "BUY"
        pu = next(x for x in got if isinstance(x, PositionUpdate))
        assert pu.status == "OPEN" and pu.deal_id == confirm["dealId"] and pu.epic == EURUSD
        assert wait(lambda: any(isinstance(x, AccountUpdate) and (x.margin or 0) > 0 for x in got))
        acc = [x for x in got if isinstance(x, AccountUpdate)][-1]
        rest = sim.balance(account)
        # the margin of a USD position in a GBP account moves with the (unforced) GBP/USD rate between
        # the streamed update and this REST read: equal up to that drift
        assert acc.funds == rest["balance"] and acc.margin == pytest.approx(rest["deposit"], rel=2e-3)
    finally:
        client.close()


def test_stream_login_needs_live_rest_tokens(sim: IGSimulator) -> None:
    raw = Raw(sim)
    login = raw.login(2).json()
    bad = StreamingClient(sim.lightstreamer_url, login["currentAccountId"], "CST-nope|XST-nope")
    with pytest.raises(AuthError):
        bad.connect(timeout=10)
    password = f"CST-{raw.auth['CST']}|XST-{raw.auth['X-SECURITY-TOKEN']}"
    sim.expire_tokens()
    expired = StreamingClient(sim.lightstreamer_url, login["currentAccountId"], password)
    with pytest.raises(AuthError):
        expired.connect(timeout=10)


def test_event_values_map_simulator_events() -> None:
    item, values = event_values("CONFIRM", "A1", {"dealId": "D1", "level": 1.5}) or ("", {})
    assert item == "TRADE:A1" and values == {"CONFIRMS": '{"dealId": "D1", "level": 1.5}'}
    item, values = event_values("ACCOUNT", "A1", {"balance": 1000, "deposit": 50, "profitLoss": -10,
                                                  "available": 940}) or ("", {})  # fmt: skip
    assert item == "ACCOUNT:A1"
    assert (values["FUNDS"], values["PNL"], values["EQUITY"], values["MARGIN"]) == (
        "1000.00",
        "-10.00",
        "990.00",
        "50.00",
    )
    assert values["EQUITY_USED"] == "5.05"
    assert event_values("SOMETHING", "A1", {}) is None
