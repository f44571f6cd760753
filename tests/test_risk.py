"""Risk manager rules, sizing and the kill switch. Numbers in the assertions are worked out by hand."""

from __future__ import annotations

import math
import random
import threading

import numpy as np
import pandas as pd
import pytest

from igkit.backtest import backtest
from igkit.broker import InstrumentRules, PaperBroker
from igkit.config import Config, RiskConfig
from igkit.errors import DataError, RiskRejected
from igkit.risk import (
    DEFAULT_RULES,
    ATRSizing,
    FixedFractional,
    KillSwitch,
    RiskLimits,
    RiskManager,
    Rule,
    atr,
    atr_size,
    fixed_fractional,
)
from igkit.types import Direction, Order, OrderStatus, OrderType, Tick

BUY, SELL = Direction.BUY, Direction.SELL
X, Y = "TEST.X", "TEST.Y"
RULES = {e: InstrumentRules(e, min_deal_size=0.5, size_step=0.1, min_stop_distance=1.0, margin_factor=10.0)
         for e in (X, Y)}
EURUSD = "CS.D.EURUSD.MINI.IP"
T0 = int(pd.Timestamp("2026-11-23T10:00Z").value)  # a Monday
SEC = 10**9


class Clock:
    def __init__(self, t: int = T0) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t


def setup(**limits: float | int | str | None) -> tuple[PaperBroker, RiskManager, Clock]:
    clock = Clock()
    broker = PaperBroker(balance=10_000.0, instruments_rules=RULES, clock=clock)
    risk = RiskManager(RiskLimits(**limits), broker=broker, clock=clock)  # type: ignore[arg-type]
    for e in (X, Y):
        broker.on_tick(e, T0, 100.0, 100.0)
    return broker, risk, clock


def hold(broker: PaperBroker, epic: str, direction: Direction, size: float) -> None:
    broker.submit(Order(epic, direction, size))
    broker.on_tick(epic, T0, 100.0, 100.0)


def test_limits_from_config_and_validation() -> None:
    cfg = RiskConfig(max_order_size=3.0, max_daily_loss=250.0)
    lim = RiskLimits.from_config(cfg)
    assert (lim.max_order_size, lim.max_daily_loss, lim.max_position) == (3.0, 250.0, cfg.max_position)
    assert RiskLimits.from_config(Config(risk=cfg)) == lim
    assert RiskManager.from_config(Config(risk=cfg)).limits == lim
    with pytest.raises(ValueError, match="max_position"):
        RiskLimits(max_position=-1.0)
    with pytest.raises(ValueError, match="risk_per_trade"):
        RiskLimits(risk_per_trade=1.5)
    with pytest.raises(ValueError, match="exposure_measure"):
        RiskLimits(exposure_measure="money")  # type: ignore[arg-type]


def test_no_limits_lets_orders_through() -> None:
    _broker, risk, _ = setup()
    v = risk.check(Order(X, BUY, 100.0))
    assert v.ok and bool(v) and v.rule is None


@pytest.mark.parametrize(
    ("limits", "held", "order", "rule", "numbers"),
    [
        ({"max_order_size": 2.0}, [], Order(X, BUY, 2.5), "MAX_ORDER_SIZE", ["2.5", "2"]),
        ({"max_position": 3.0}, [(X, BUY, 2.0)], Order(X, BUY, 1.5), "MAX_POSITION", ["+3.5", "+2", "3"]),
        ({"max_exposure": 4.0}, [(X, BUY, 2.0), (Y, SELL, 1.5)], Order(X, BUY, 0.6), "MAX_EXPOSURE",
         ["4.1", "3.5", "4"]),
        ({"max_exposure": 500.0, "exposure_measure": "notional"}, [(X, BUY, 2.0), (Y, SELL, 2.0)],
         Order(Y, SELL, 1.5), "MAX_EXPOSURE", ["550", "400", "500"]),
        ({"max_open_positions": 2}, [(X, BUY, 1.0), (Y, BUY, 1.0)], Order(X, BUY, 1.0), "MAX_OPEN_POSITIONS",
         ["2"]),
        ({}, [], Order(X, BUY, 0.4), "MINIMUM_ORDER_SIZE_ERROR", ["0.4", "0.5"]),
        ({}, [], Order(X, BUY, 0.55), "SIZE_INCREMENT", ["0.55", "0.1"]),
        ({}, [], Order(X, BUY, 1.0, stop_distance=0.5), "ATTACHED_ORDER_LEVEL_ERROR", ["0.5", "1"]),
        ({}, [], Order(X, BUY, 1.0, limit_distance=0.9), "ATTACHED_ORDER_LEVEL_ERROR", ["limit", "0.9"]),
    ],
)
def test_each_rule_names_itself_and_its_numbers(limits: dict, held: list, order: Order, rule: str,
                                                numbers: list[str]) -> None:
    broker, risk, _ = setup(**limits)
    for epic, d, size in held:
        hold(broker, epic, d, size)
    v = risk.check(order)
    assert not v.ok and v.rule == rule
    for n in numbers:
        assert n in v.message, (n, v.message)
    with pytest.raises(RiskRejected, match=rule):
        v.raise_for_refusal()
    st = risk.state()
    assert st["last_refusal"]["rule"] == rule and st["last_refusal"]["epic"] == order.epic
    r = risk.submit(order)  # the convenience path returns a REJECTED result naming the rule, nothing sent
    assert (r.status, r.reason) == (OrderStatus.REJECTED, rule)
    assert broker.pending_orders() == []


def test_reducing_orders_pass_every_limit_but_the_size_step() -> None:
    broker, risk, _ = setup(max_order_size=0.5, max_position=0.5, max_exposure=0.5, max_open_positions=1,
                            max_orders_per_minute=1)
    hold(broker, X, BUY, 3.0)  # over every limit already
    risk.record(broker.submit(Order(Y, BUY, 0.5)))  # uses the one order of this minute
    (pos,) = [p for p in broker.positions() if p.epic == X]
    assert risk.check(Order(X, SELL, 2.0)).ok  # against the net: reduces
    assert risk.check(Order(X, SELL, 0.2)).ok  # below the minimum size but reducing
    assert risk.check(Order(X, SELL, 3.0, close_deal_id=pos.deal_id)).ok
    assert risk.check(Order(X, SELL, 0.25)).rule == "SIZE_INCREMENT"
    assert risk.check(Order(X, SELL, 4.0)).rule == "MAX_ORDER_SIZE"  # a reversal opens: not reducing


def test_orders_per_minute_sliding_window() -> None:
    _broker, risk, clock = setup(max_orders_per_minute=3)
    for k in range(3):
        clock.t = T0 + k * 10 * SEC  # at 0 s, 10 s, 20 s
        assert risk.submit(Order(X, BUY, 1.0)).ok
    clock.t = T0 + 59 * SEC
    v = risk.check(Order(X, BUY, 1.0))
    assert v.rule == "MAX_ORDERS_PER_MINUTE" and "3 orders" in v.message
    assert risk.orders_last_minute() == 3
    clock.t = T0 + 60 * SEC + 1  # the order at 0 s has left the window
    assert risk.check(Order(X, BUY, 1.0)).ok and risk.orders_last_minute() == 2
    r = risk.submit(Order(X, BUY, 1.0))
    assert r.ok
    clock.t = T0 + 61 * SEC
    assert risk.check(Order(X, BUY, 1.0)).rule == "MAX_ORDERS_PER_MINUTE"
    assert risk.state()["usage"]["orders_last_minute"] == 3
    # the risk manager's own refusals do not count as sent orders; a broker's rejection does
    refused = Order(X, BUY, 1.0)
    risk.record(risk.check(refused).to_result(refused))
    assert risk.orders_last_minute() == 3
    clock.t = T0 + 100 * SEC
    risk.record(risk.broker.submit(Order(X, BUY, 0.1)))  # type: ignore[union-attr]  # MINIMUM_ORDER_SIZE_ERROR
    assert risk.orders_last_minute() == 2


def test_daily_loss_halts_and_flatten_still_passes() -> None:
    broker, risk, _clock = setup(max_daily_loss=50.0)
    assert not risk.update()  # the day's first equity: 10,000
    hold(broker, X, BUY, 10.0)  # long 10 @ 100
    broker.on_tick(X, T0 + 1, 95.5, 95.6)  # upl (95.5 - 100) x 10 = -45: still above -50
    assert risk.check(Order(Y, BUY, 1.0)).ok
    broker.on_tick(X, T0 + 2, 95.0, 95.1)  # -50: breached
    v = risk.check(Order(Y, BUY, 1.0))
    assert v.rule == "MAX_DAILY_LOSS" and "-50.00" in v.message and "50" in v.message
    assert risk.halted and "MAX_DAILY_LOSS" in (risk.halt_reason or "")
    v2 = risk.check(Order(Y, BUY, 1.0))
    assert v2.rule == "HALTED" and "MAX_DAILY_LOSS" in v2.message
    flat = Order(X, SELL, 10.0, reason="flatten")
    assert risk.check(flat).ok  # reduces: a halt never blocks a flatten
    assert risk.submit(flat).ok
    broker.on_tick(X, T0 + 3, 95.0, 95.1)
    assert broker.positions() == []
    assert risk.check(Order(Y, BUY, 1.0)).rule == "HALTED"  # flat, but halted until reset
    risk.reset_halt()
    assert not risk.halted and risk.check(Order(Y, BUY, 1.0)).ok
    st = risk.state()
    assert st["halted"] is False and st["counts"]["refused"] >= 3


def test_daily_loss_baseline_is_the_utc_day() -> None:
    broker, risk, clock = setup(max_daily_loss=100.0)
    hold(broker, X, BUY, 10.0)
    clock.t = T0
    risk.update()
    broker.on_tick(X, T0 + 1, 92.0, 92.0)  # -80 today
    assert not risk.update()
    clock.t = T0 + 86_400 * SEC  # next UTC day: the baseline restarts at equity 9,920
    assert not risk.update()
    broker.on_tick(X, clock.t, 82.0, 82.0)  # -100 since the new day's start
    assert risk.update() and risk.halted


def test_daily_loss_without_a_broker_uses_fills() -> None:
    from igkit.types import Fill

    clock = Clock()
    risk = RiskManager(RiskLimits(max_daily_loss=30.0), clock=clock)
    risk.on_fill(Fill("r", "D1", X, SELL, 1.0, 90.0, T0, pnl=-20.0, opening=False))
    risk.on_fill(Fill("r", "D2", X, BUY, 1.0, 90.0, T0))  # opening fills carry no P&L
    assert risk.check(Order(X, BUY, 1.0)).ok
    risk.on_fill(Fill("r", "D1", X, SELL, 1.0, 90.0, T0, pnl=-10.0, opening=False))
    assert risk.check(Order(X, BUY, 1.0)).rule == "MAX_DAILY_LOSS"
    with pytest.raises(ValueError, match="no broker"):
        risk.submit(Order(X, BUY, 1.0))


def test_market_closed_only_when_hours_are_respected() -> None:
    saturday = int(pd.Timestamp("2026-11-21T12:00Z").value)
    broker = PaperBroker()
    assert RiskManager(RiskLimits(), broker=broker).check(Order(EURUSD, BUY, 1.0), now_ns=saturday).ok
    # the Demo broker's synthetic market trades at weekends: the rule asks it, so nothing is refused
    assert RiskManager(RiskLimits(), broker=broker, respect_hours=True).check(Order(EURUSD, BUY, 1.0),
                                                                              now_ns=saturday).ok
    # a paper broker that respects hours, or no broker at all (the catalog's hours): refused
    for strict in (RiskManager(RiskLimits(), broker=PaperBroker(respect_hours=True), respect_hours=True),
                   RiskManager(RiskLimits(), respect_hours=True)):
        v = strict.check(Order(EURUSD, BUY, 1.0), now_ns=saturday)
        assert v.rule == "MARKET_CLOSED" and EURUSD in v.message and "Sat 2026-11-21 12:00:00 UTC" in v.message
        assert strict.check(Order(EURUSD, BUY, 1.0), now_ns=T0).ok


def test_quote_argument_feeds_the_notional_exposure() -> None:
    broker, risk, _ = setup(max_exposure=250.0, exposure_measure="notional")
    hold(broker, X, BUY, 1.0)  # 1 x 100
    assert risk.check(Order(Y, BUY, 1.0), quote=(149.0, 151.0)).ok  # 100 + 150 = 250
    assert risk.check(Order(Y, BUY, 1.0), quote=Tick(T0, 151.0, 151.2)).rule == "MAX_EXPOSURE"


def test_custom_rule() -> None:
    no_shorts = Rule("NO_SHORTS", lambda c: "shorts are off" if c.order.direction is SELL else None)
    broker, _, _ = setup()
    risk = RiskManager(RiskLimits(), broker=broker, rules=[*DEFAULT_RULES, no_shorts])
    assert risk.check(Order(X, SELL, 1.0)).rule == "NO_SHORTS"
    assert risk.check(Order(X, BUY, 1.0)).ok


# -- sizing ------------------------------------------------------------------------------------------------
def test_fixed_fractional_by_hand() -> None:
    # 1% of 10,000 = 100 at risk; a 20-pip stop on EURUSD costs 0.0020 per unit: 50,000 units
    assert fixed_fractional(10_000, 0.01, 0.0020) == pytest.approx(50_000)
    # with 10,000 units per contract (value_per_point) it is 5 contracts
    assert fixed_fractional(10_000, 0.01, 0.0020, 10_000) == pytest.approx(5.0)
    # 100 / 30 = 3.33 -> rounded DOWN to the 0.5 step = 3.0; below a min size of 5 -> 0
    assert fixed_fractional(10_000, 0.01, 30.0, step=0.5) == 3.0
    assert fixed_fractional(10_000, 0.01, 30.0, step=0.5, min_size=5.0) == 0.0
    # 30 / 0.1 is 299.99999999999994 in floating point: still 300 whole units, not 299
    assert fixed_fractional(1_000, 0.03, 0.1, step=1.0) == 300.0
    assert fixed_fractional(-5.0, 0.01, 1.0) == 0.0
    for bad in ({"stop_distance": 0.0}, {"risk_fraction": 2.0}, {"risk_fraction": -0.1},
                {"value_per_point": 0.0}):
        kw = {"equity": 1_000.0, "risk_fraction": 0.01, "stop_distance": 1.0, **bad}
        with pytest.raises(ValueError, match=next(iter(bad))):
            fixed_fractional(**kw)  # type: ignore[arg-type]


def bars(rows: list[tuple[float, float, float]]) -> pd.DataFrame:
    h, lo, c = (np.array(x, dtype=float) for x in zip(*rows, strict=True))
    idx = pd.date_range("2026-01-05", periods=len(rows), freq="1min", tz="UTC")
    frame = pd.DataFrame({"mid_open": c, "mid_high": h, "mid_low": lo, "mid_close": c}, index=idx)
    for side, off in (("bid", -0.05), ("ask", 0.05)):
        for part in ("open", "high", "low", "close"):
            frame[f"{side}_{part}"] = frame[f"mid_{part}"] + off
    return frame


ROWS = [(11, 9, 10), (12, 10, 11), (11, 8, 9), (13, 9, 12), (12, 11, 11.5), (20, 5, 6)]
# true ranges from bar 1: max(2, 1, 1) = 2; max(3, 0, 3) = 3; max(4, 4, 0) = 4; max(1, 0, 1) = 1; 15


def test_atr_by_hand_and_without_look_ahead() -> None:
    c = bars(ROWS)
    a = atr(c, 3)
    assert a.isna().tolist() == [True, True, True, False, False, False]
    assert a.iloc[3] == pytest.approx((2 + 3 + 4) / 3)
    assert a.iloc[4] == pytest.approx((3 + 4 + 1) / 3)
    # size at bar 4: stop = 2 x ATR(3) = 16/3; 1% of 1,000 = 10 -> 10 / (16/3) = 1.875 -> 1.8 at step 0.1
    assert atr_size(c, 4, equity=1_000, risk_fraction=0.01, n=3, k=2.0, step=0.1) == 1.8
    assert atr_size(c, 2, equity=1_000, risk_fraction=0.01, n=3) == 0.0  # not enough history
    # only bars <= i are read: changing bar 5 changes nothing at bar 4
    c2 = c.copy()
    c2.iloc[5] = 1e6
    assert atr_size(c2, 4, equity=1_000, risk_fraction=0.01, n=3, k=2.0, step=0.1) == 1.8
    assert atr(c2, 3).iloc[4] == a.iloc[4]
    with pytest.raises(DataError, match="mid_high"):
        atr(pd.DataFrame({"x": [1.0]}), 3)
    with pytest.raises(ValueError, match="outside"):
        atr_size(c, 6, equity=1_000, risk_fraction=0.01)


def test_hooks_match_the_backtester_signature() -> None:
    c = bars(ROWS)
    hook = ATRSizing(equity=1_000, risk_fraction=0.01, n=3, k=2.0, step=0.1)
    # entry at bar 5's open: sized on bars up to 4 only (bar 5's huge range is not known yet)
    assert hook(c, 5, 1, None) == 1.8
    assert hook(c, 3, 1, None) == 0.0
    assert ATRSizing(equity=1_000, risk_fraction=0.01, use_stop=True)(c, 5, 1, 4.0) == 2.5
    ff = FixedFractional(equity=1_000, risk_fraction=0.02, step=0.1)
    assert ff(c, 5, -1, 3.0) == pytest.approx(6.6)  # 20 / 3 = 6.67 -> 6.6
    with pytest.raises(DataError, match="stop"):
        ff(c, 5, 1, None)
    assert FixedFractional(equity=1_000, risk_fraction=0.02, default_stop=4.0)(c, 5, 1, None) == 5.0


def test_backtest_uses_the_sizing_hook() -> None:
    rng = np.random.default_rng(3)
    n = 200
    mid = 100 + np.cumsum(rng.normal(0, 0.3, n))
    rows = [(m + abs(rng.normal(0, 0.2)), m - abs(rng.normal(0, 0.2)), m) for m in mid]
    c = bars(rows)
    signals = pd.Series(np.where(np.arange(n) % 40 < 20, 1, -1).astype(np.int8), index=c.index)
    signals.iloc[:30] = 0
    hook = ATRSizing(equity=10_000, risk_fraction=0.01, n=14, k=2.0, step=0.1)
    res = backtest(c, signals, sizing=hook)
    assert len(res.trades) > 3
    for _, t in res.trades.iterrows():
        i = int(t["entry_bar"])
        expected = atr_size(c, i - 1, equity=10_000, risk_fraction=0.01, n=14, k=2.0, step=0.1)
        assert t["size"] == pytest.approx(expected)
    ff = backtest(c, signals, sizing=FixedFractional(equity=10_000, risk_fraction=0.01, step=0.1), stop=2.0)
    assert set(np.round(ff.trades["size"], 6)) == {50.0}  # 100 / 2


# -- kill switch -------------------------------------------------------------------------------------------
def test_kill_switch_under_a_ticking_thread() -> None:
    broker = PaperBroker(balance=1e7, instruments_rules=RULES)
    risk = RiskManager(RiskLimits(), broker=broker)
    ks = KillSwitch(broker, risk)
    assert ks.armed and not ks.fired and ks.report is None
    for e in (X, Y):
        broker.on_tick(e, 1, 100.0, 100.2)
    started, stop = threading.Event(), threading.Event()
    refused_after: list[str] = []

    def engine() -> None:
        rng = random.Random(5)
        px = {X: 100.0, Y: 100.0}
        i = 1
        while not stop.is_set():
            i += 1
            e = rng.choice((X, Y))
            px[e] += rng.uniform(-0.3, 0.3)
            broker.on_tick(e, i, round(px[e], 1), round(px[e] + 0.2, 1))
            kind = rng.random()
            if kind < 0.3:
                o = Order(e, rng.choice((BUY, SELL)), rng.choice((0.5, 1.0)), stop_distance=3.0)
            elif kind < 0.4:
                o = Order(e, BUY, 1.0, order_type=OrderType.LIMIT, level=round(px[e] - 2, 1))
            else:
                continue
            r = risk.submit(o)
            if ks.fired and not r.ok:
                refused_after.append(r.reason)
            if i > 300:
                started.set()

    t = threading.Thread(target=engine)
    t.start()
    assert started.wait(20)
    assert broker.positions() or broker.working_orders()
    rep = ks.fire("test")
    assert ks.fired and not ks.armed and risk.halted and rep.already_fired is False
    assert rep.flat and rep.positions_left == 0 and rep.working_left == 0
    assert rep.closed and all(r.status is OrderStatus.FILLED for r in rep.closed)
    assert all(f.reason == "kill" for r in rep.closed for f in r.fills)
    threading.Event().wait(0.2)  # let the engine keep ticking and trying to trade after the kill
    stop.set()
    t.join(10)
    assert broker.positions() == [] and broker.working_orders() == [] and broker.pending_orders() == []
    assert refused_after and set(refused_after) == {"HALTED"}
    again = ks.fire("again")
    assert again.already_fired and again.cancelled == () and again.closed == () and again.flat
    assert ks.report is rep
    ks.reset()
    assert ks.armed and not risk.halted


def test_kill_switch_reset_keeps_a_daily_loss_halt() -> None:
    broker, risk, _ = setup()
    ks = KillSwitch(broker, risk)
    ks.fire("x")
    risk.halt("MAX_DAILY_LOSS: test")  # a later, independent halt
    ks.reset()
    assert risk.halted and risk.halt_reason == "MAX_DAILY_LOSS: test"


def test_kill_switch_with_a_broker_without_immediate_flatten() -> None:
    class Minimal(PaperBroker):
        def flatten(self, epic: str | None = None, *, reason: str = "flatten") -> list:  # type: ignore[override]
            return super().flatten(epic, reason=reason, immediate=True)

    broker = Minimal(instruments_rules=RULES)
    broker.on_tick(X, 1, 100.0, 100.0)
    broker.submit(Order(X, BUY, 1.0))
    broker.on_tick(X, 2, 100.0, 100.0)
    rep = KillSwitch(broker).fire("no risk manager")
    assert rep.flat and len(rep.closed) == 1 and math.isclose(rep.closed[0].fills[0].price, 100.0)
