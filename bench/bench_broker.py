"""Speed of the paper broker, the risk check and the kill switch.

* ``PaperBroker.on_tick`` with an empty book, against the floor of any thread-safe tick handler: a method
  that takes a lock and stores the quote in a dict (measured in the same run);
* ``on_tick`` with 20 open positions carrying stops, limits and trailing stops on the ticked epic;
* ``RiskManager.check`` with every built-in rule on a book of 20 positions, against ``PaperBroker.submit``
  of the same order (the call it guards);
* ``KillSwitch.fire`` on 50 positions + 50 working orders (target: flat well within 2 s).
"""

from __future__ import annotations

import threading
import time

from igkit.broker import InstrumentRules, PaperBroker
from igkit.risk import KillSwitch, RiskLimits, RiskManager
from igkit.types import Direction, Order, OrderType

X = "BENCH.X"
RULES = {X: InstrumentRules(X, min_deal_size=0.1, size_step=0.1, min_stop_distance=0.5)}


class _Floor:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.quotes: dict[str, tuple[int, float, float]] = {}

    def on_tick(self, epic: str, ts_ns: int, bid: float, ask: float) -> list:
        with self._lock:
            self.quotes[epic] = (ts_ns, bid, ask)
        return []


def _ticks_per_s(handler, n: int) -> float:  # type: ignore[no-untyped-def]
    prices = [(100.0 + (i % 50) * 0.01, 100.2 + (i % 50) * 0.01) for i in range(n)]
    t0 = time.perf_counter()
    for i, (b, a) in enumerate(prices):
        handler(X, i, b, a)
    return n / (time.perf_counter() - t0)


def run(quick: bool = False) -> list[dict]:
    n = 2_000 if quick else 200_000
    rows: list[dict] = []

    floor = _ticks_per_s(_Floor().on_tick, n)
    empty = _ticks_per_s(PaperBroker(instruments_rules=RULES).on_tick, n)
    rows.append({
        "name": "PaperBroker.on_tick, empty book",
        "value": empty / 1e3, "unit": "k ticks/s",
        "baseline": "lock + dict store per tick (floor)",
        "ratio": empty / floor,
        "target": "far above the feed rate (~40 instruments x 4 ticks/s)",
        "ok": empty > 20_000,
    })
    # 20 longs (a long and a short of one epic cannot both stay open under netting)
    loaded = PaperBroker(balance=1e9, instruments_rules=RULES)
    loaded.on_tick(X, 0, 100.0, 100.2)
    for k in range(20):
        loaded.submit(Order(X, Direction.BUY, 1.0, stop_distance=50.0, limit_distance=50.0,
                            trailing_stop=k % 2 == 0))
        loaded.on_tick(X, 0, 100.0, 100.2)
    busy = _ticks_per_s(loaded.on_tick, n // 4)
    rows.append({
        "name": "PaperBroker.on_tick, 20 positions with stops/limits/trailing stops",
        "value": busy / 1e3, "unit": "k ticks/s",
        "baseline": "PaperBroker.on_tick, empty book",
        "ratio": busy / empty,
        "target": "far above the feed rate",
        "ok": busy > 5_000 and len(loaded.positions()) == 20,
    })

    broker = loaded
    limits = RiskLimits(max_order_size=100, max_position=1e6, max_exposure=1e9, max_open_positions=10**6,
                        max_orders_per_minute=10**9, max_daily_loss=1e12)
    risk = RiskManager(limits, broker=broker)
    m = 500 if quick else 20_000
    orders = [Order(X, Direction.BUY, 1.0) for _ in range(m)]
    t0 = time.perf_counter()
    for o in orders:
        risk.check(o)
    check_s = (time.perf_counter() - t0) / m
    sink = PaperBroker(balance=1e12, instruments_rules=RULES)
    sink.on_tick(X, 0, 100.0, 100.2)
    t0 = time.perf_counter()
    for o in orders:
        sink.submit(o)
    submit_s = (time.perf_counter() - t0) / m
    rows.append({
        "name": "RiskManager.check, all rules, 20 positions",
        "value": check_s * 1e6, "unit": "µs/order",
        "baseline": "PaperBroker.submit of the same order",
        "ratio": check_s / submit_s,
        "target": "negligible next to a REST round trip (~50-200 ms)",
        "ok": check_s < 1e-3,
    })

    big = PaperBroker(balance=1e9, instruments_rules=RULES)
    big.on_tick(X, 0, 100.0, 100.2)
    for _ in range(5 if quick else 50):
        big.submit(Order(X, Direction.BUY, 1.0, stop_distance=50.0))
        big.on_tick(X, 0, 100.0, 100.2)
    for k in range(5 if quick else 50):
        big.submit(Order(X, Direction.BUY, 1.0, order_type=OrderType.LIMIT, level=50.0 - k * 0.1))
    ks = KillSwitch(big, RiskManager(RiskLimits(), broker=big))
    t0 = time.perf_counter()
    rep = ks.fire("bench")
    fire_s = time.perf_counter() - t0
    rows.append({
        "name": f"KillSwitch.fire, {len(rep.closed)} positions + {len(rep.cancelled)} working orders",
        "value": fire_s * 1e3, "unit": "ms",
        "baseline": None, "ratio": None,
        "target": "flat within 2 s",
        "ok": rep.flat and fire_s < 2.0,
    })
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
