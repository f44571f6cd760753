"""Unit tests of the engine's parts: target → orders, the audit log, the candle history frame, the state,
fills → trades and the metrics."""

from __future__ import annotations

import json
import threading

import numpy as np
import pandas as pd
import pytest
from pydantic import SecretStr

from igkit.candles import Candle, CandleBuilder, candles_to_frame
from igkit.config import register_secret
from igkit.engine import (
    AuditLog,
    EngineState,
    EngineStatus,
    LatencyRing,
    RateMeter,
    fills_to_trades,
    orders_for_target,
    read_audit,
)
from igkit.engine._instrument import History
from igkit.errors import DataError
from igkit.types import Direction, Fill, Order, Position

EPIC = "CS.D.EURUSD.MINI.IP"


# -- target → orders ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("target", "net", "expected"),
    [
        (1, 0.0, [("BUY", 2.0, "signal")]),
        (-1, 0.0, [("SELL", 2.0, "signal")]),
        (0, 2.0, [("SELL", 2.0, "close")]),
        (0, -2.0, [("BUY", 2.0, "close")]),
        (1, 2.0, []),
        (0, 0.0, []),
        (-1, 2.0, [("SELL", 4.0, "reverse")]),
        (1, -2.0, [("BUY", 4.0, "reverse")]),
        (1, 1.0, [("BUY", 1.0, "signal")]),  # add up to the target
        (1, 3.0, [("SELL", 1.0, "close")]),  # reduce down to it
    ],
)
def test_orders_for_target_net(target: int, net: float, expected: list[tuple[str, float, str]]) -> None:
    got = orders_for_target(EPIC, target, 2.0, net)
    assert [(o.direction.value, o.size, o.reason) for o in got] == expected
    assert all(o.epic == EPIC for o in got)
    moved = sum(o.size * o.direction.sign for o in got)
    assert net + moved == pytest.approx(target * 2.0)


def test_orders_for_target_split_reversal() -> None:
    got = orders_for_target(EPIC, -1, 1.5, 1.5, reversal="split")
    assert [(o.direction, o.size, o.reason) for o in got] == [(Direction.SELL, 1.5, "reverse"),
                                                                (Direction.SELL, 1.5, "signal")]
    assert len({o.deal_reference for o in got}) == 2


@pytest.mark.parametrize(("target", "size", "net"), [(2, 1.0, 0.0), (1, 0.0, 0.0), (1, -1.0, 0.0),
                                                     (1, 1.0, float("nan"))])
def test_orders_for_target_bad_input(target: int, size: float, net: float) -> None:
    with pytest.raises(ValueError, match=EPIC):
        orders_for_target(EPIC, target, size, net)


# -- audit -------------------------------------------------------------------------------------------
def test_audit_lines_are_json_objects_with_ts_and_kind(tmp_path) -> None:
    path = tmp_path / "sub" / "audit.jsonl"
    order = Order(EPIC, Direction.BUY, 1.0)
    with AuditLog(path) as audit:
        audit.write("order", order=order, size=np.float64(1.5), when=pd.Timestamp("2026-01-05", tz="UTC"))
        audit.write("status", status=EngineStatus.RUNNING, ratio=float("nan"))
        # flushed at once: readable while the log is still open
        assert [r["kind"] for r in read_audit(path)] == ["order", "status"]
    recs = read_audit(path)
    assert recs[0]["order"]["epic"] == EPIC and recs[0]["order"]["direction"] == "BUY"
    assert recs[0]["size"] == 1.5 and recs[0]["when"].startswith("2026-01-05T00:00:00")
    assert recs[1]["status"] == "RUNNING" and recs[1]["ratio"] is None
    assert pd.Timestamp(recs[0]["ts"]).tzinfo is not None
    for line in path.read_text().splitlines():
        assert isinstance(json.loads(line), dict)


def test_audit_never_writes_secrets(tmp_path) -> None:
    register_secret("hunter2-very-secret")
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as audit:
        audit.write("error", message="login failed with hunter2-very-secret", password="pw-in-clear",
                    detail={"api_key": "K-123456", "cst": "CST-abcdef", "ok": 1}, key=SecretStr("s3cr3t-value"))
    text = path.read_text()
    for secret in ("hunter2-very-secret", "pw-in-clear", "K-123456", "CST-abcdef", "s3cr3t-value"):
        assert secret not in text
    rec = read_audit(path)[0]
    assert rec["detail"]["ok"] == 1


def test_audit_rejects_unknown_kind_and_reads_bad_files_clearly(tmp_path) -> None:
    audit = AuditLog(None)
    with pytest.raises(ValueError, match="unknown record kind"):
        audit.write("gossip")
    assert audit.write("kill", reason="x")["reason"] == "x"  # no file: nothing kept, no error
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"ts": "2026", "kind": "fill"}\nnot json\n')
    with pytest.raises(DataError, match=r"bad.jsonl, line 2"):
        read_audit(bad)
    with pytest.raises(DataError, match="does not exist"):
        read_audit(tmp_path / "missing.jsonl")


def test_audit_is_thread_safe(tmp_path) -> None:
    path = tmp_path / "a.jsonl"
    audit = AuditLog(path)

    def writer(k: int) -> None:
        for i in range(200):
            audit.write("signal", writer=k, i=i, pad="x" * 200)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    audit.close()
    recs = read_audit(path)
    assert len(recs) == 800
    for k in range(4):
        assert [r["i"] for r in recs if r["writer"] == k] == list(range(200))


# -- history frame -------------------------------------------------------------------------------------
def _candles(n: int, seed: int = 1) -> list[Candle]:
    rng = np.random.default_rng(seed)
    ts = (np.sort(rng.choice(10_000, n * 20, replace=False)) * 1_000_000_000 + 1_700_000_000_000_000_000)
    bid = 1.1 + np.cumsum(rng.normal(0, 1e-4, ts.shape[0]))
    ticks = pd.DataFrame({"bid": bid, "ask": bid + 1e-4}, index=pd.DatetimeIndex(ts.view("M8[ns]")).tz_localize("UTC"))
    b = CandleBuilder("1min")
    out = b.update_many(ts, ticks["bid"].to_numpy(), ticks["ask"].to_numpy())
    return out[:n]


def test_history_frame_equals_candles_to_frame_and_stays_bounded() -> None:
    candles = _candles(30)
    h = History(10)
    for i, c in enumerate(candles):
        h.append(c)
        want = candles_to_frame(candles[max(0, i - 9) : i + 1])
        pd.testing.assert_frame_equal(h.frame(), want)
    assert len(h) == 10 and h.total == 30
    kept = h.frame()
    h.append(candles[0]._replace(ts_ns=candles[-1].ts_ns + 60_000_000_000))
    assert kept.index[-1] == candles[-1].time  # an old frame is a copy: later appends do not touch it


def test_history_extend_frame_checks_schema() -> None:
    candles = _candles(12)
    frame = candles_to_frame(candles)
    h = History(5)
    assert h.extend_frame(frame) == 5
    pd.testing.assert_frame_equal(h.frame(), frame.iloc[-5:])
    with pytest.raises(DataError, match="lack columns"):
        History(5).extend_frame(frame.drop(columns=["mid_close"]))
    with pytest.raises(DataError, match="naive"):
        History(5).extend_frame(frame.tz_localize(None))


# -- state -------------------------------------------------------------------------------------------------
def test_state_apply_is_one_update_seen_consistently() -> None:
    state = EngineState()
    seen: list[tuple[int, float, float, float]] = []

    def on_balance(change: dict) -> None:  # runs after ALL traits of the update are set
        seen.append((state.version, state.balance, state.unrealized_pnl, state.equity))

    state.observe(on_balance, "balance")
    v = state.apply({"balance": 100.0, "unrealized_pnl": 5.0, "equity": 105.0, "status": EngineStatus.RUNNING})
    assert v == 1 and seen == [(1, 100.0, 5.0, 105.0)]
    with pytest.raises(AttributeError, match="nonsense"):
        state.apply({"nonsense": 1})
    pos = Position("D1", EPIC, Direction.SELL, 2.0, 1.1, 0)
    state.apply({"positions": (pos,)})
    assert state.net_positions == {EPIC: -2.0}
    snap = state.snapshot()
    assert snap["version"] == 2 and snap["status"] is EngineStatus.RUNNING


# -- trades ------------------------------------------------------------------------------------------------
def test_fills_to_trades_pairs_by_deal_and_keeps_open_positions() -> None:
    m = 60_000_000_000
    fills = [
        Fill("r1", "D1", EPIC, Direction.BUY, 1.0, 1.1000, 5 * m + 7),
        Fill("r2", "D1", EPIC, Direction.SELL, 1.0, 1.1010, 9 * m + 3, pnl=0.001, opening=False),
        Fill("r2", "D2", EPIC, Direction.SELL, 1.0, 1.1010, 9 * m + 3),
    ]
    t = fills_to_trades(fills, freq="1min")
    assert list(t["exit_reason"]) == ["signal", "open"]
    assert t["entry_time"][0] == pd.Timestamp(5 * m, unit="ns", tz="UTC")
    assert t["exit_time"][0] == pd.Timestamp(9 * m, unit="ns", tz="UTC")
    assert list(t["direction"]) == [1, -1]
    assert pd.isna(t["exit_time"][1]) and np.isnan(t["pnl"][1])
    assert fills_to_trades([]).empty


# -- metrics -----------------------------------------------------------------------------------------------
def test_latency_ring_and_rate_meter() -> None:
    ring = LatencyRing(4)
    assert ring.percentile(50) is None
    for v in (10, 20, 30, 40, 1000):  # the oldest (10) falls out
        ring.add(v)
    assert sorted(ring.values().tolist()) == [20, 30, 40, 1000] and ring.count == 5
    assert ring.percentile(50) == pytest.approx(35.0)
    meter = RateMeter(window=10.0)
    meter.add(0, now=100.0)
    meter.add(50, now=101.0)
    meter.add(50, now=102.0)
    assert meter.rate(now=102.0) == pytest.approx(50.0)
    assert meter.total == 100

