"""IG's price items served from the seeded :class:`~igkit.market.SyntheticMarket`, live.

:class:`MarketStreamer` owns an :class:`~igkit.sim.lightstreamer.ig_items.IGStreamBackend` (give it to
:func:`~igkit.sim.lightstreamer.install_lightstreamer`), then, once bound to the server, a daemon thread
publishes every synthetic tick of each subscribed epic as it falls due: ``CHART:<epic>:TICK`` (one
update per tick), ``PRICE:<account>:<epic>`` and ``MARKET:<epic>`` (the latest quote), and
``CHART:<epic>:<scale>`` candles (the forming candle; ``CONS_END=1`` when one closes). ACCOUNT and
TRADE items are accepted but left to the owner (the IG simulator publishes its dealing events).

Time: ``clock()`` gives the market time in ns (default: wall clock; the simulator passes its own clock,
tests a fixed, open market hour that advances in real time). ``ticks``/``quote``/``is_open`` replace
the market's own (the IG simulator passes its price source, which honours forced prices).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from igkit.ig.stream import _items as it
from igkit.market import SyntheticMarket
from igkit.sim.lightstreamer.backend import Values
from igkit.sim.lightstreamer.ig_items import IGStreamBackend, classify

if TYPE_CHECKING:
    from igkit.sim.lightstreamer.server import LSServer

__all__ = ["SCALE_NS", "MarketStreamer"]

log = logging.getLogger(__name__)

SCALE_NS = {"SECOND": 1_000_000_000, "1MINUTE": 60_000_000_000, "5MINUTE": 300_000_000_000, "HOUR": 3_600_000_000_000}


class MarketStreamer:
    """Publishes a synthetic market's ticks, quotes and candles to the items clients subscribe to."""

    def __init__(
        self,
        market: SyntheticMarket,
        account_ids: str | Collection[str],
        check_password: Callable[[str | None, str], bool],
        *,
        clock: Callable[[], int] = time.time_ns,
        interval_s: float = 0.05,
        ticks: Callable[[str, int, int], tuple[Any, Any, Any]] | None = None,
        quote: Callable[[str, int], tuple[float, float]] | None = None,
        is_open: Callable[[str, int], bool] | None = None,
        max_catchup_s: float = 60.0,
    ) -> None:
        self.market = market
        self._ticks = ticks or market.ticks
        self._quote = quote or self._market_quote
        self._is_open = is_open or market.is_open
        self.max_catchup_ns = int(max_catchup_s * 1e9)
        self.account_ids = frozenset([account_ids] if isinstance(account_ids, str) else account_ids)
        self.clock = clock
        self.interval_s = interval_s
        self.backend = IGStreamBackend(
            market.instruments, self.account_ids, check_password, snapshot=self._snapshot,
            on_item_started=self._started, on_item_stopped=self._stopped,
        )  # fmt: skip
        self._server: LSServer | None = None
        self._items: set[str] = set()
        self._last: dict[str, int] = {}  # epic → market time (ns) published up to (exclusive)
        self._candles: dict[tuple[str, str], dict[str, float | int]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.published = 0

    def _market_quote(self, epic: str, t: int) -> tuple[float, float]:
        q = self.market.quote(epic, t)
        return q.bid, q.ask

    def __repr__(self) -> str:
        return f"<MarketStreamer items={len(self._items)} published={self.published}>"

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self, server: LSServer) -> None:
        """Start publishing into ``server`` (idempotent)."""
        self._server = server
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="ls-market-streamer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop publishing. On return every update published so far has been processed by the server
        (its ``U`` lines generated and logged), unless called on the server's own loop (shutdown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        server = self._server
        if server is not None:
            server.drain(timeout)

    def _started(self, item: str) -> None:
        with self._lock:
            self._items.add(item)
            k = classify(item)
            if k is not None and k.epic is not None and k.epic not in self._last:
                self._last[k.epic] = self.clock()

    def _stopped(self, item: str) -> None:
        with self._lock:
            self._items.discard(item)
            k = classify(item)
            if k is not None and k.epic is not None:
                still = any((c := classify(i)) is not None and c.epic == k.epic for i in self._items)
                if not still:  # resubscribing later starts from then, not from a backlog
                    self._last.pop(k.epic, None)
                    for scale in SCALE_NS:
                        self._candles.pop((k.epic, scale), None)

    # -- values ----------------------------------------------------------------------------------------------
    def _fmt(self, epic: str, price: float) -> str:
        return f"{price:.{self.market.spec(epic).decimals}f}"

    def _snapshot(self, item: str) -> list[Values] | None:
        k = classify(item)
        if k is None or k.epic is None or k.kind == "TICK":
            return None
        now = self.clock()
        qb, qa = self._quote(k.epic, now)
        bid, ask = self._fmt(k.epic, qb), self._fmt(k.epic, qa)
        if k.kind == "PRICE":
            return [{"TIMESTAMP": str(now // 1_000_000), "BIDPRICE1": bid, "ASKPRICE1": ask, "DLG_FLAG": "DEAL"}]
        if k.kind == "MARKET":
            state = "TRADEABLE" if self._is_open(k.epic, now) else "CLOSED"
            return [{"BID": bid, "OFFER": ask, "MARKET_STATE": state, "UPDATE_TIME": it.market_update_time(now)}]
        return None  # candles: the first tick opens one

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.step()
            except Exception:
                log.exception("MarketStreamer: publishing failed; going on")

    def step(self) -> int:
        """Publish everything due up to ``clock()``; returns the number of ticks published."""
        server = self._server
        if server is None:
            return 0
        now = self.clock()
        with self._lock:
            items = set(self._items)
            # a clock jump (set forward, or a stalled thread) publishes at most the last max_catchup_s
            spans = {e: (max(t, now - self.max_catchup_ns), now) for e, t in self._last.items() if t < now}
            for e in spans:
                self._last[e] = now
        total = 0
        for epic, (start, end) in spans.items():
            tick_item = it.tick_item(epic)
            price_items = [it.price_item(a, epic) for a in self.account_ids if it.price_item(a, epic) in items]
            market_item = it.market_item(epic)
            scales = [s for s in SCALE_NS if it.candle_item(epic, s) in items]
            wanted = tick_item in items or price_items or market_item in items or scales
            if not wanted:
                continue
            ts, bid, ask = self._ticks(epic, start, end)
            if not len(ts):
                continue
            total += len(ts)
            if tick_item in items:
                for t, b, a in zip(ts.tolist(), bid.tolist(), ask.tolist(), strict=True):
                    server.publish(
                        tick_item, {"BID": self._fmt(epic, b), "OFR": self._fmt(epic, a), "UTM": str(t // 1_000_000)}
                    )
            last_b, last_a, last_t = self._fmt(epic, float(bid[-1])), self._fmt(epic, float(ask[-1])), int(ts[-1])
            for price_item in price_items:
                server.publish(
                    price_item, {"TIMESTAMP": str(last_t // 1_000_000), "BIDPRICE1": last_b, "ASKPRICE1": last_a}
                )
            if market_item in items:
                server.publish(
                    market_item,
                    {
                        "BID": last_b,
                        "OFFER": last_a,
                        "UPDATE_TIME": it.market_update_time(last_t),
                    },
                )
            for scale in scales:
                self._candle(server, epic, scale, ts.tolist(), bid.tolist(), ask.tolist())
        self.published += total
        return total

    def _candle(
        self, server: LSServer, epic: str, scale: str, ts: list[int], bid: list[float], ask: list[float]
    ) -> None:
        item, step = it.candle_item(epic, scale), SCALE_NS[scale]
        key = (epic, scale)
        c = self._candles.get(key)
        for t, b, a in zip(ts, bid, ask, strict=True):
            start = t - t % step
            if c is None or start != c["start"]:
                if c is not None:
                    server.publish(item, self._candle_values(epic, c, complete=True))
                c = {"start": start, "bo": b, "bh": b, "bl": b, "bc": b, "ao": a, "ah": a, "al": a, "ac": a, "n": 0}
            c["bh"], c["bl"], c["bc"] = max(c["bh"], b), min(c["bl"], b), b
            c["ah"], c["al"], c["ac"] = max(c["ah"], a), min(c["al"], a), a
            c["n"] += 1
        if c is not None:
            self._candles[key] = c
            server.publish(item, self._candle_values(epic, c, complete=False))

    def _candle_values(self, epic: str, c: dict[str, float | int], *, complete: bool) -> dict[str, str | None]:
        f = self._fmt
        return {
            "BID_OPEN": f(epic, c["bo"]), "BID_HIGH": f(epic, c["bh"]), "BID_LOW": f(epic, c["bl"]),
            "BID_CLOSE": f(epic, c["bc"]), "OFR_OPEN": f(epic, c["ao"]), "OFR_HIGH": f(epic, c["ah"]),
            "OFR_LOW": f(epic, c["al"]), "OFR_CLOSE": f(epic, c["ac"]), "UTM": str(int(c["start"]) // 1_000_000),
            "CONS_END": "1" if complete else "0", "CONS_TICK_COUNT": str(int(c["n"])),
        }  # fmt: skip
