"""Dealing end to end against IGSimulator on 127.0.0.1: confirms, amendments, working orders, rejects,
client-side rules (nothing sent), and above all NO DUPLICATE DEAL after lost answers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from _ig_sim import EPIC, logged_in_client, make_client, run_sim, sim_calls

from igkit.errors import AuthError, DealRejected, IGRequestError
from igkit.ig import AmbiguousRequestError, Confirm, DealValidationError, IGClient
from igkit.sim import IGSimulator
from igkit.types import Direction


@pytest.fixture
def sim() -> Iterator[IGSimulator]:
    yield from run_sim()


@pytest.fixture
def client(sim: IGSimulator) -> Iterator[IGClient]:
    yield from logged_in_client(sim)


def refs_of_positions(sim: IGSimulator) -> list[str]:
    return [p.deal_reference for p in sim.positions()]


def test_open_amend_close_with_confirms(sim: IGSimulator, client: IGClient) -> None:
    bid, ask = sim.quote(EPIC)
    conf = client.open_position(epic=EPIC, direction=Direction.BUY, size=2, stop_distance=50, limit_distance=80)
    assert isinstance(conf, Confirm) and conf.accepted and conf.deal_status == "ACCEPTED"
    assert conf.status == "OPEN" and conf.direction is Direction.BUY and conf.size == 2
    assert conf.deal_reference is not None and conf.deal_reference.startswith("IGK-")
    assert [(d.deal_id, d.status) for d in conf.affected_deals] == [(conf.deal_id, "OPENED")]
    assert conf.date is not None and conf.date.tzinfo is not None
    assert conf.level is not None and abs(conf.level - ask) < 0.01
    [sim_pos] = sim.positions()
    assert sim_pos.deal_id == conf.deal_id and sim_pos.deal_reference == conf.deal_reference
    body_post = [r for r in sim.request_log if r.method == "POST" and r.path == "/positions/otc"]
    assert [r.version for r in body_post] == [2]

    [pos] = client.positions()
    assert pos.deal_id == conf.deal_id and pos.size == 2 and pos.position.stop_level is not None
    stop, limit = round(bid - 0.0100, 5), round(bid + 0.0120, 5)
    amended = client.amend_position(conf.deal_id or "", stop_level=stop, limit_level=limit)
    assert amended.accepted and amended.status == "AMENDED"
    p = client.position(conf.deal_id or "")
    assert (p.position.stop_level, p.position.limit_level) == (stop, limit)

    partial = client.close_position(deal_id=conf.deal_id or "", size=0.5)
    assert partial.accepted and partial.direction is Direction.SELL
    assert client.position(conf.deal_id or "").size == pytest.approx(1.5)
    closed = client.close_position(deal_id=conf.deal_id or "")
    assert closed.accepted and closed.status == "CLOSED"
    assert sim.positions() == [] and client.positions() == []
    closes = [r for r in sim.request_log if r.method == "DELETE" and r.path == "/positions/otc"]
    assert [r.version for r in closes] == [1, 1]  # POST + _method: DELETE, arrived as DELETE


def test_rejected_deal_raises_or_returns(sim: IGSimulator, client: IGClient) -> None:
    rules = client.market(EPIC).dealing_rules
    assert rules.min_deal_size is not None and rules.min_deal_size.value is not None
    too_small = rules.min_deal_size.value / 2
    with pytest.raises(DealRejected) as ei:
        client.open_position(epic=EPIC, direction="SELL", size=too_small)
    assert ei.value.reason == "MINIMUM_ORDER_SIZE_ERROR"
    assert isinstance(ei.value.confirm, Confirm) and ei.value.confirm.deal_status == "REJECTED"
    conf = client.open_position(epic=EPIC, direction="SELL", size=too_small, raise_on_reject=False)
    assert conf.deal_status == "REJECTED" and conf.reason == "MINIMUM_ORDER_SIZE_ERROR"
    assert sim.positions() == []


def test_confirm_lookup_and_unknown_reference(sim: IGSimulator, client: IGClient) -> None:
    conf = client.open_position(epic=EPIC, direction="BUY", size=1, deal_reference="my-own_ref-1")
    assert conf.deal_reference == "my-own_ref-1"
    again = client.confirm("my-own_ref-1")
    assert again.deal_id == conf.deal_id
    with pytest.raises(IGRequestError) as ei:
        client.confirm("never-sent-ref")
    assert ei.value.error_code == "error.confirms.deal-not-found" and ei.value.status == 404
    nowait = client.open_position(epic=EPIC, direction="BUY", size=1, wait_confirm=False)
    assert nowait.deal_status is None and nowait.deal_reference
    assert client.confirm(nowait.deal_reference).accepted


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"stop_level": 1.0, "stop_distance": 10}, "stopLevel"),
        ({"stop_distance": 10, "force_open": False}, "forceOpen"),
        ({"order_type": "LIMIT"}, "level"),
        ({"order_type": "MARKET", "level": 1.1}, "level"),
        ({"trailing_stop": True, "stop_distance": 10}, "trailingStopIncrement"),
        ({"guaranteed_stop": True}, "guaranteedStop"),
        ({"expiry": "Dec-24"}, "expiry"),
        ({"deal_reference": "bad ref!"}, "dealReference"),
        ({"size": 1.0000000000001}, "size"),
    ],
)
def test_rule_breach_sends_nothing(sim: IGSimulator, client: IGClient, kwargs: dict, field: str) -> None:
    sim.clear_request_log()
    args = {"epic": EPIC, "direction": "BUY", "size": 1, **kwargs}
    with pytest.raises(DealValidationError) as ei:
        client.open_position(**args)
    assert ei.value.field == field and field in str(ei.value)
    assert sim.request_log == []  # not even the currency lookup


def test_working_order_rule_breach_sends_nothing(sim: IGSimulator, client: IGClient) -> None:
    sim.clear_request_log()
    with pytest.raises(DealValidationError, match="goodTillDate"):
        client.create_working_order(epic=EPIC, direction="BUY", size=1, level=1.0, type="LIMIT",
                                    time_in_force="GOOD_TILL_DATE")  # fmt: skip
    with pytest.raises(DealValidationError, match="stopLevel"):
        client.amend_position("DIAAAA1", guaranteed_stop=True)
    with pytest.raises(DealValidationError, match="size"):
        client.close_position(deal_id="DIAAAA1", size=-1)
    assert sim.request_log == []


def test_working_orders_create_amend_trigger_delete(sim: IGSimulator, client: IGClient) -> None:
    bid, ask = sim.quote(EPIC)
    far = round(bid * 0.9, 5)
    wo = client.create_working_order(epic=EPIC, direction="BUY", size=1, level=far, type="LIMIT")
    assert wo.accepted and wo.deal_id
    [order] = client.working_orders()
    assert order.deal_id == wo.deal_id and order.working_order_data.order_level == far
    assert order.working_order_data.order_type == "LIMIT"
    farther = round(bid * 0.85, 5)
    am = client.amend_working_order(wo.deal_id or "", level=farther, limit_distance=40)
    assert am.accepted
    assert client.working_orders()[0].working_order_data.order_level == farther
    deleted = client.delete_working_order(wo.deal_id or "")
    assert deleted.accepted
    assert client.working_orders() == [] and sim.working_orders() == []

    # a STOP to buy above the market, triggered by forcing the price through it
    trigger = round(ask * 1.01, 5)
    stop_order = client.create_working_order(epic=EPIC, direction="BUY", size=1, level=trigger, type="STOP")
    assert client.positions() == []
    sim.set_price(EPIC, trigger * 1.001)
    assert client.working_orders() == []
    [pos] = client.positions()
    assert pos.direction is Direction.BUY and pos.size == 1
    assert stop_order.deal_id


# -- no duplicate deal, ever ---------------------------------------------------------------------------------
def test_dropped_connection_after_execution_no_duplicate(sim: IGSimulator, client: IGClient) -> None:
    sim.faults.drop_next(1, path="/positions/otc", method="POST", after=True)
    conf = client.open_position(epic=EPIC, direction="BUY", size=1)
    assert conf.accepted and conf.deal_id
    assert len(sim.positions()) == 1 and refs_of_positions(sim) == [conf.deal_reference]
    assert sim_calls(sim, "POST", "/positions/otc") == [0]  # sent once, answer lost, never resent
    assert sim_calls(sim, "GET", f"/confirms/{conf.deal_reference}")[0] == 200


def test_dropped_before_execution_is_looked_up_and_never_resent(sim: IGSimulator, client: IGClient) -> None:
    """The connection drops after the deal was sent: IG may have it. It is looked up until confirm_timeout;
    IG never got it, so the outcome stays unknown: AmbiguousRequestError, and nothing is sent again."""
    sim.faults.drop_next(1, path="/positions/otc", method="POST", after=False)
    t0 = time.monotonic()
    with pytest.raises(AmbiguousRequestError):
        client.open_position(epic=EPIC, direction="SELL", size=1)
    assert time.monotonic() - t0 >= client.confirm_timeout  # looked for it all that time
    assert sim_calls(sim, "POST", "/positions/otc") == [0]
    assert sim.positions() == []
    looks = [r for r in sim.request_log if r.path.startswith("/confirms/")]
    assert len(looks) >= 3 and {r.status for r in looks} == {404}


def test_5xx_on_deal_is_looked_up_not_repeated(sim: IGSimulator, client: IGClient) -> None:
    sim.faults.fail_next(1, path="/positions/otc", method="POST", status=500)
    with pytest.raises(AmbiguousRequestError) as ei:
        client.open_position(epic=EPIC, direction="BUY", size=1)
    assert ei.value.status == 500
    assert sim_calls(sim, "POST", "/positions/otc") == [500]
    assert sim.positions() == []


def test_deal_executed_after_the_answer_timed_out_is_found_not_repeated(sim: IGSimulator) -> None:
    """IG executes the deal after the client stopped waiting (read timeout), and after the first lookups:
    the lookups go on until it shows up. Exactly one deal, for an open and for a partial close (a close
    carries no reference of ours: a resend would close twice)."""
    c = make_client(sim, timeout=0.3, settle=0.05)
    c.login(sim.username, sim.password)
    try:
        sim.faults.delay_next(1, 1.0, path="/positions/otc", method="POST")
        conf = c.open_position(epic=EPIC, direction="BUY", size=3)
        assert conf.accepted  # IG's own confirm, found by its reference
        assert sim_calls(sim, "POST", "/positions/otc") == [200] and len(sim.positions()) == 1
        sim.faults.delay_next(1, 1.0, path="/positions/otc", method="DELETE")
        closed = c.close_position(deal_id=conf.deal_id or "", size=1)
        assert closed.accepted and closed.recovered
        assert sim_calls(sim, "DELETE", "/positions/otc") == [200]
        (pos,) = sim.positions()
        assert pos.size == pytest.approx(2.0)
    finally:
        c.close()


def test_deal_that_never_reached_ig_is_sent_again() -> None:
    """The simulator is gone (connection refused): the deal provably never left, so it is sent again
    (max_retries times), then RequestNotSentError; no lookup, no ambiguity."""
    from igkit.ig.transport import RequestNotSentError

    with IGSimulator(seed=0, always_open=True) as gone:
        c = make_client(gone, max_retries=2)
        c.login(gone.username, gone.password)
    with pytest.raises(RequestNotSentError, match="did not reach IG"):
        c.open_position(epic=EPIC, direction="BUY", size=1, currency_code="USD")
    assert [(r.path, r.status) for r in c.request_log][-3:] == [("/positions/otc", None)] * 3


def test_lookup_failure_never_resends(sim: IGSimulator) -> None:
    c = make_client(sim, max_retries=0)
    c.login(sim.username, sim.password)
    sim.faults.drop_next(1, path="/positions/otc", method="POST", after=True)
    sim.faults.fail_next(1, path="/confirms", status=503)
    with pytest.raises(IGRequestError) as ei:
        c.open_position(epic=EPIC, direction="BUY", size=1)
    assert ei.value.status == 503  # could not find out: refuse to guess
    assert sim_calls(sim, "POST", "/positions/otc") == [0]
    assert len(sim.positions()) == 1
    c.close()


def test_persistent_loss_gives_up_without_duplicates(sim: IGSimulator) -> None:
    c = make_client(sim, max_retries=1)
    c.login(sim.username, sim.password)
    sim.faults.drop_next(2, path="/positions/otc", method="POST", after=False)
    with pytest.raises(AmbiguousRequestError):
        c.open_position(epic=EPIC, direction="BUY", size=1)
    assert sim_calls(sim, "POST", "/positions/otc") == [0]  # one attempt: an unknown outcome is not resent
    assert sim.positions() == []
    c.close()


def test_close_with_dropped_answer_is_not_repeated(sim: IGSimulator, client: IGClient) -> None:
    conf = client.open_position(epic=EPIC, direction="BUY", size=2)
    sim.faults.drop_next(1, path="/positions/otc", method="DELETE", after=True)
    closed = client.close_position(deal_id=conf.deal_id or "", size=1)
    assert closed.recovered and closed.status == "PARTIALLY_CLOSED" and closed.accepted
    assert sim_calls(sim, "DELETE", "/positions/otc") == [0]
    [p] = sim.positions()
    assert p.size == pytest.approx(1.0)  # closed once, not twice


def test_working_order_dropped_answer_no_duplicate(sim: IGSimulator, client: IGClient) -> None:
    bid, _ = sim.quote(EPIC)
    sim.faults.drop_next(1, path="/workingorders/otc", method="POST", after=True)
    wo = client.create_working_order(epic=EPIC, direction="BUY", size=1, level=round(bid * 0.9, 5), type="LIMIT")
    assert wo.accepted and wo.deal_id
    assert len(sim.working_orders()) == 1
    assert sim_calls(sim, "POST", "/workingorders/otc") == [0]


def test_amend_and_delete_after_lost_answers(sim: IGSimulator, client: IGClient) -> None:
    bid, _ = sim.quote(EPIC)
    conf = client.open_position(epic=EPIC, direction="BUY", size=1)
    deal = conf.deal_id or ""
    path = f"/positions/otc/{deal}"
    # a 5xx before execution: IG shows the old levels, so the amend is sent again
    sim.faults.fail_next(1, path=path, method="PUT", status=500)
    stop = round(bid * 0.99, 5)
    am = client.amend_position(deal, stop_level=stop)
    assert am.accepted and not am.recovered
    assert sim_calls(sim, "PUT", path) == [500, 200]
    # executed but the answer dropped: IG shows the new levels, nothing is resent
    sim.faults.drop_next(1, path=path, method="PUT", after=True)
    stop2 = round(bid * 0.98, 5)
    am2 = client.amend_position(deal, stop_level=stop2)
    assert am2.recovered and am2.status == "AMENDED"
    assert sim_calls(sim, "PUT", path) == [500, 200, 0]
    assert client.position(deal).position.stop_level == stop2

    wo = client.create_working_order(epic=EPIC, direction="BUY", size=1, level=round(bid * 0.9, 5), type="LIMIT")
    wpath = f"/workingorders/otc/{wo.deal_id}"
    sim.faults.drop_next(1, path=wpath, method="PUT", after=True)
    wam = client.amend_working_order(wo.deal_id or "", level=round(bid * 0.8, 5))
    assert wam.recovered and sim_calls(sim, "PUT", wpath) == [0]
    sim.faults.drop_next(1, path=wpath, method="DELETE", after=True)
    gone = client.delete_working_order(wo.deal_id or "")
    assert gone.recovered and gone.status == "DELETED"
    assert sim_calls(sim, "DELETE", wpath) == [0] and sim.working_orders() == []


def test_invalid_token_on_deal_relogs_then_sends_again(sim: IGSimulator, client: IGClient) -> None:
    """IG refused the deal for a stale token (so it did not execute it): the session is renewed and the
    deal sent again at once, with no lookup needed."""
    sim.faults.invalid_token_next(1, path="/positions/otc", method="POST")
    conf = client.open_position(epic=EPIC, direction="BUY", size=1)
    assert conf.accepted
    assert sim_calls(sim, "POST", "/positions/otc") == [401, 200]
    assert sim_calls(sim, "POST", "/session") == [200, 200]  # login, then the renewal
    assert sim_calls(sim, "GET", f"/confirms/{conf.deal_reference}") == [200]  # the confirm, after the resend
    assert len(sim.positions()) == 1


def test_trading_from_four_threads(sim: IGSimulator, client: IGClient) -> None:
    confirms: list[Confirm] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            for _ in range(3):
                c = client.open_position(epic=EPIC, direction="BUY", size=1)
                with lock:
                    confirms.append(c)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len({c.deal_id for c in confirms}) == 12
    assert len(sim.positions()) == 12
    assert sorted(refs_of_positions(sim)) == sorted(c.deal_reference for c in confirms)


def test_logged_out_client_cannot_deal(sim: IGSimulator) -> None:
    c = make_client(sim)
    with pytest.raises(AuthError):
        c.open_position(epic=EPIC, direction="BUY", size=1, currency_code="USD")
    assert sim.positions() == []
