"""Unit tests of the TLCP pieces that need no network: value encoding, request parsing, session
history, IG item validation and the typed parsers of the streaming client."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from igkit.errors import DataError
from igkit.ig.stream import (
    PositionUpdate,
    TradeConfirm,
    WorkingOrderUpdate,
    candle_item,
    feed_status,
    parse_account,
    parse_candle,
    parse_market,
    parse_price,
    parse_trade,
)
from igkit.sim.lightstreamer.backend import (
    REQERR_BAD_ADAPTER,
    REQERR_BAD_ITEM,
    REQERR_BAD_MODE,
    REQERR_BAD_SCHEMA,
    ItemSource,
    Refusal,
)
from igkit.sim.lightstreamer.ig_items import IGStreamBackend, classify
from igkit.sim.lightstreamer.protocol import (
    decode_update,
    encode_message,
    encode_update,
    encode_value,
    is_data_line,
    parse_frame,
    parse_params,
)
from igkit.sim.lightstreamer.session import Session, Table
from igkit.ticks import FeedStatus

values_st = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["#", "$", "^", "^3", "%", "|", "a|b", "1.5"]))


# -- values ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "token"),
    [(None, "#"), ("", "$"), ("#", "%23"), ("$", "%24"), ("^2", "%5E2"), ("a|b", "a%7Cb"), ("5%", "5%25"),
     ("x\r\ny", "x%0D%0Ay"), ("#x", "#x"), ("1.23", "1.23"), ("é", "é")],
)  # fmt: skip
def test_encode_value_escapes_only_what_the_client_would_misread(value: str | None, token: str) -> None:
    assert encode_value(value) == token


@given(st.lists(values_st, min_size=1, max_size=8), st.data())
def test_update_round_trips_against_its_previous_row(prev: list[str | None], data: st.DataObject) -> None:
    new = data.draw(st.lists(st.one_of(st.sampled_from(prev), values_st), min_size=len(prev), max_size=len(prev)))
    full = encode_update(None, prev)
    assert decode_update(None, full, len(prev)) == prev  # a first update needs no previous row
    assert all(tok and not tok.startswith("^") for tok in full.split("|"))  # no "unchanged" token at all
    delta = encode_update(prev, new)
    assert decode_update(prev, delta, len(new)) == new


def test_runs_of_unchanged_fields_are_compressed() -> None:
    prev = ["1", "2", "3", "4", "5"]
    assert encode_update(prev, ["1", "2", "3", "4", "6"]) == "^4|6"
    assert encode_update(prev, ["9", "2", "3", "4", "5"]) == "9|^4"
    assert encode_update(prev, ["1", "9", "3", "4", "5"]) == "|9|^3"
    assert encode_update(prev, ["1", "2", "9", "4", "5"]) == "||9||"


def test_decode_refuses_unchanged_without_previous_and_wrong_counts() -> None:
    with pytest.raises(ValueError, match="no previous"):
        decode_update(None, "|1", 2)
    with pytest.raises(ValueError, match="expected 3"):
        decode_update(None, "1|2", 3)


def test_messages_escape_commas() -> None:
    assert encode_message("a, b|c") == "a%2C b%7Cc"


# -- requests ---------------------------------------------------------------------------------------------------
def test_parse_frame_splits_control_requests_and_decodes_values() -> None:
    frame = (
        "control\r\nLS_reqId=1&LS_op=add&LS_subId=1&LS_group=CHART%3AX%3ATICK&LS_schema=BID%20OFR\r\n"
        "LS_reqId=2&LS_op=delete&LS_subId=7\r\n"
    )
    (req,) = parse_frame(frame)
    assert req.verb == "control" and len(req.params) == 2
    assert req.params[0]["LS_group"] == "CHART:X:TICK" and req.params[0]["LS_schema"] == "BID OFR"
    assert req.params[1] == {"LS_reqId": "2", "LS_op": "delete", "LS_subId": "7"}
    assert parse_params("LS_password=CST-a%7CXST-b&LS_user=A+B")["LS_password"] == "CST-a|XST-b"
    assert parse_params("LS_user=A+B")["LS_user"] == "A+B"  # the client sends %20 for spaces, never '+'
    assert parse_frame("wsok")[0].verb == "wsok" and parse_frame("") == []


@pytest.mark.parametrize(
    ("line", "data"),
    [("U,1,1,a", True), ("SUBOK,1,1,3", True), ("EOS,1,1", True), ("UNSUB,1", True), ("OV,1,1,3", True),
     ("PROBE", False), ("REQOK,3", False), ("REQERR,1,21,x", False), ("CONOK,S1,50000,1000,*", False),
     ("LOOP,0", False), ("PROG,5", False)],
)  # fmt: skip
def test_data_notifications_are_counted_like_the_client(line: str, data: bool) -> None:
    assert is_data_line(line) is data


# -- session history -------------------------------------------------------------------------------------------
def test_session_history_replays_after_n_and_knows_its_limits() -> None:
    s = Session("S1", "u", "p", 1000, history=3)
    for line in ["SUBOK,1,1,1", "PROBE", "U,1,1,a", "U,1,1,b", "U,1,1,c"]:
        s.record(line)
    assert s.prog == 4  # PROBE does not count
    assert s.after(4) == [] and s.after(2) == ["U,1,1,b", "U,1,1,c"] and s.after(1) == ["U,1,1,a", "U,1,1,b", "U,1,1,c"]
    assert s.after(0) is None  # SUBOK fell out of the bounded history
    assert s.after(5) is None  # the client cannot be ahead of the server


def test_tables_track_items_and_first_update_is_full() -> None:
    s = Session("S1", None, "p", 1000, history=10)
    t = Table(1, ("A", "B"), ("F1", "F2"), "MERGE", None, True)
    s.add_table(t)
    s.add_table(Table(2, ("A",), ("F1",), "DISTINCT", None, False))
    assert s.item_count() == 3 and s.items() == {"A", "B"}
    assert s.update_line(t, 0, ["1", "2"]) == "U,1,1,1|2"
    assert s.update_line(t, 0, ["1", "3"]) == "U,1,1,|3"
    assert s.update_line(t, 1, ["1", "2"]) == "U,1,2,1|2"  # per item: B has no previous row yet
    assert s.remove_table(1) is t and s.items() == {"A"} and s.remove_table(1) is None


# -- IG items ---------------------------------------------------------------------------------------------------
def test_classify_ig_items() -> None:
    assert classify("CHART:CS.D.EURUSD.MINI.IP:TICK").kind == "TICK"  # type: ignore[union-attr]
    k = classify("CHART:CS.D.EURUSD.MINI.IP:5MINUTE")
    assert k is not None and (k.kind, k.scale) == ("CANDLE", "5MINUTE")
    k = classify("PRICE:ABC:CS.D.EURUSD.MINI.IP")
    assert k is not None and (k.kind, k.account, k.epic) == ("PRICE", "ABC", "CS.D.EURUSD.MINI.IP")
    for bad in ("CHART:X:2MINUTE", "PRICE:ABC", "L1:CS.D.X", "MARKET:", "TRADE:A:B"):
        assert classify(bad) is None, bad


def test_ig_backend_accepts_what_ig_accepts() -> None:
    b = IGStreamBackend({"E1"}, {"ACC"}, lambda u, p: p == "CST-1|XST-2", snapshot={"MARKET:E1": [{"BID": "1"}]}.get)
    assert b.authenticate(None, "CST-1|XST-2") and not b.authenticate("ACC", "CST-1|XST-3")
    ok = b.resolve("CHART:E1:TICK", ["BID", "OFR", "UTM"], "DISTINCT", None)
    assert ok == ItemSource(snapshot=None)
    assert b.resolve("MARKET:E1", ["BID", "MARKET_STATE"], "MERGE", "DEFAULT") == ItemSource([{"BID": "1"}])
    assert isinstance(b.resolve("PRICE:ACC:E1", ["BIDPRICE1", "ASKPRICE3"], "MERGE", "Pricing"), ItemSource)

    def code(*args: object) -> int:
        got = b.resolve(*args)  # type: ignore[arg-type]
        assert isinstance(got, Refusal), args
        assert got.message
        return got.code

    assert code("CHART:E2:TICK", ["BID"], "DISTINCT", None) == REQERR_BAD_ITEM
    assert code("ACCOUNT:OTHER", ["PNL"], "MERGE", None) == REQERR_BAD_ITEM
    assert code("CHART:E1:TICK", ["BID"], "MERGE", None) == REQERR_BAD_MODE
    assert code("CHART:E1:TICK", ["BID", "NOPE"], "DISTINCT", None) == REQERR_BAD_SCHEMA
    assert code("PRICE:ACC:E1", ["BIDPRICE1"], "MERGE", None) == REQERR_BAD_ADAPTER
    assert code("TRADE:ACC", ["CONFIRMS"], "DISTINCT", "Pricing") == REQERR_BAD_ADAPTER


# -- client-side parsers -----------------------------------------------------------------------------------------
def test_parse_trade_fields_into_typed_events() -> None:
    c = parse_trade("CONFIRMS", json.dumps({"dealId": "D1", "dealStatus": "REJECTED", "reason": "MARKET_CLOSED",
                                            "direction": "SELL", "level": "1.5", "size": 2}))  # fmt: skip
    assert isinstance(c, TradeConfirm) and not c.accepted and c.reason == "MARKET_CLOSED"
    assert c.direction == "SELL" and c.level == 1.5 and c.size == 2.0 and c.affected_deals == ()
    assert isinstance(parse_trade("OPU", '{"status": "DELETED", "dealId": "D1"}'), PositionUpdate)
    assert isinstance(parse_trade("WOU", '{"status": "OPEN", "orderType": "STOP"}'), WorkingOrderUpdate)
    assert parse_trade("OPU", None) is None and parse_trade("WOU", "") is None
    with pytest.raises(DataError, match="TRADE:ACC CONFIRMS: not valid JSON"):
        parse_trade("CONFIRMS", "{oops", "ACC")
    with pytest.raises(DataError, match="direction"):
        parse_trade("OPU", '{"direction": "UP"}')
    with pytest.raises(DataError, match="level is not a number"):
        parse_trade("OPU", '{"level": "high"}')
    with pytest.raises(DataError, match="JSON object"):
        parse_trade("OPU", "[1]")


def test_parse_merge_records() -> None:
    p = parse_price("E1", {"TIMESTAMP": "1700000000000", "BIDPRICE1": "1.1", "ASKPRICE1": None, "DLG_FLAG": "CALL "})
    assert (p.ts_ns, p.bid, p.ask, p.dealing) == (1_700_000_000_000_000_000, 1.1, None, "CALL")
    m = parse_market("E1", {"BID": "1", "OFFER": "2", "MARKET_STATE": "TRADEABLE", "UPDATE_TIME": "08:00:01"})
    assert (m.bid, m.offer, m.market_state, m.update_time, m.high) == (1.0, 2.0, "TRADEABLE", "08:00:01", None)
    c = parse_candle("E1", "SECOND", {"UTM": "1000", "CONS_END": "0", "OFR_HIGH": "3"})
    assert c.ts_ns == 1_000_000_000 and not c.complete and c.ask == (None, 3.0, None, None)
    a = parse_account("ACC", {"PNL": "1", "MARGIN": "", "NOT_A_FIELD": "9"})
    assert a.pnl == 1.0 and a.margin is None and a.values == {"PNL": 1.0, "MARGIN": None}
    with pytest.raises(DataError, match="PRICE:E1: field BIDPRICE1 is not a number"):
        parse_price("E1", {"BIDPRICE1": "n/a"})
    with pytest.raises(DataError, match="UTM is not epoch milliseconds"):
        parse_candle("E1", "HOUR", {"UTM": "yesterday"})
    with pytest.raises(DataError, match="scale"):
        candle_item("E1", "DAY")


def test_feed_status_maps_library_statuses() -> None:
    assert feed_status("CONNECTED:WS-STREAMING") is FeedStatus.CONNECTED
    assert feed_status("CONNECTED:HTTP-POLLING") is FeedStatus.CONNECTED
    assert feed_status("STALLED") is FeedStatus.STALLED
    assert feed_status("DISCONNECTED:TRYING-RECOVERY") is FeedStatus.RECONNECTING
    assert feed_status("DISCONNECTED:WILL-RETRY") is FeedStatus.RECONNECTING
    assert feed_status("CONNECTING") is FeedStatus.CONNECTING
    assert feed_status("DISCONNECTED") is FeedStatus.DISCONNECTED
