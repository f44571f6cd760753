"""``StreamingFeed``: IG's live prices over Lightstreamer into a :class:`~igkit.ticks.TickHub`, kept whole.

It gets streaming credentials from a logged-in :class:`~igkit.ig.IGClient`, opens one
:class:`~igkit.ig.stream.StreamingClient` per 40 items (IG's limit per connection; ``max_connections``
caps that with a clear :class:`~igkit.errors.StreamError`), and subscribes every epic's prices into the
hub (the library's listener thread is the buffers' single writer), from ``source``:

* ``"tick"`` (default): ``CHART:<epic>:TICK``, every tick (DISTINCT; ts = UTM);
* ``"price"``: ``PRICE:<accountId>:<epic>`` (MERGE, adapter ``Pricing``; ts = TIMESTAMP), IG's current
  price item: the latest quote at IG's update rate, so fast ticks are merged away;
* ``"market"``: the legacy ``MARKET:<epic>`` (MERGE; ts = UPDATE_TIME, UK local ``HH:MM:SS`` dated by this
  machine's clock, one-second precision), for old clients and recordings (IG retired it in 2026).

A supervisor thread (the feed's own) then:

* mirrors the clients' statuses into the hub (``hub.set_status(name, FeedStatus…, detail=<client status>)``),
  so the engine state and the panel show ``CONNECTED:WS-STREAMING``, ``STALLED``, ``DISCONNECTED:WILL-RETRY``…;
* lets the library recover dropped sockets itself (it resubscribes after a new session);
* on refused credentials (expired tokens) logs in again over REST (``client.relogin()``) and reconnects
  with the new password (``set_password``), with a bounded backoff; if fresh credentials are refused too
  the feed stops with :class:`~igkit.errors.AuthError` in :attr:`error` (status DISCONNECTED): no storm;
* after any fatal stream error (e.g. server error 61 on an unparsable update) reconnects with a bounded
  backoff;
* repairs gaps: a disconnect or stall, a resubscription after a lost session (the client's ``on_gap``),
  server-reported lost updates, or no tick for ``stale_after`` seconds while connected to an open market
  → the missed span is fetched from REST ``/prices`` at SECOND resolution once complete and turned into
  bars of ``freq`` (:mod:`igkit.feeds.repair`), handed over on a thread-safe queue
  (:meth:`take_repairs`) to whoever owns candles (the engine merges them into its history).

Cost: a backfill asks IG for one SECOND bar per second of every repaired bar (whole bars of ``freq``), which
counts against IG's weekly historical allowance (10,000 points by default): a 1-minute frequency costs
≥ 60 points per epic and gap. ``backfill_max_s`` caps one gap's span; a request the client's allowance
cannot cover is refused before it is sent, retried with the backoff and then given up (logged, counted).

Optional: IG-built candles (``ig_candles="SECOND"|"1MINUTE"|…``) kept for a quality comparison with ours
(:meth:`ig_candles_frame`, :meth:`compare`), and the account's TRADE and ACCOUNT streams handed to an
:class:`~igkit.broker.IGBroker` (:meth:`attach_broker`): deal events, and the balance, equity, margin and P&L
its :meth:`~igkit.broker.IGBroker.account` then answers without polling REST; the broker is reconciled
after every reconnect.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import pandas as pd

from igkit.candles import CANDLE_COLUMNS, freq_to_ns
from igkit.errors import AuthError, IgkitError, StreamError
from igkit.feeds._streaming_gaps import GapTracker
from igkit.feeds.base import ThreadFeed
from igkit.feeds.repair import Repair
from igkit.ig.stream import CANDLE_SCALES, CandleUpdate, StreamingClient, StreamSubscription, feed_status
from igkit.ig.stream._client import QUOTE_SOURCES
from igkit.ticks import FeedStatus, TickHub

__all__ = ["StreamingFeed"]

log = logging.getLogger(__name__)

#: where a feed takes its prices from (see the module docstring)
SOURCES = ("tick", *QUOTE_SOURCES)
_RANK = {FeedStatus.DISCONNECTED: 0, FeedStatus.RECONNECTING: 1, FeedStatus.CONNECTING: 2, FeedStatus.STALLED: 3,
         FeedStatus.CONNECTED: 4}  # fmt: skip


class StreamingFeed(ThreadFeed):
    """Stream ``epics`` from IG (or the simulator) into ``hub``; see the module docstring.

    Args:
        client: a logged-in :class:`~igkit.ig.IGClient` (credentials, re-login, REST backfill).
        hub: where ticks go. epics: the instruments.
        source: ``"tick"`` (CHART TICK), ``"price"`` (PRICE) or ``"market"`` (legacy MARKET); see above.
        name: the feed's name in the hub.
        freq: the bar frequency repairs are built at (the engine's candle frequency).
        repair: backfill gaps (False: detect and count them only).
        stale_after: seconds without a tick of an epic, while connected, that count as a gap (if the
            market is open: ``market_open(epic)``, by default a REST market snapshot, TRADEABLE).
        ig_candles: an IG candle scale to subscribe for comparison (``SECOND``, ``1MINUTE``, ...).
        max_subscriptions: items per connection (IG: 40). max_connections: None = as many as needed.
        client_options: passed to every :class:`StreamingClient` (timers, ``forced_transport``...).
        backoff: (first, cap) seconds of the re-login / reconnect / backfill backoff.
        settle: seconds after a repaired span ends before it is fetched.
        backfill_max_s: the longest span one gap is backfilled over (its most recent part).
        max_repairs: repairs kept until taken (the oldest are dropped beyond).
    """

    def __init__(
        self,
        client: Any,
        hub: TickHub,
        epics: str | Iterable[str],
        *,
        source: Literal["tick", "price", "market"] = "tick",
        name: str = "ig-stream",
        freq: str | pd.Timedelta = "1min",
        repair: bool = True,
        stale_after: float | None = 30.0,
        market_open: Callable[[str], bool] | None = None,
        ig_candles: str | None = None,
        max_subscriptions: int = 40,
        max_connections: int | None = None,
        client_options: Mapping[str, Any] | None = None,
        backoff: tuple[float, float] = (1.0, 30.0),
        settle: float = 1.0,
        backfill_max_s: float = 900.0,
        max_repairs: int = 10_000,
    ) -> None:
        super().__init__(hub, name)
        self.epics = [epics] if isinstance(epics, str) else list(dict.fromkeys(epics))
        if not self.epics:
            raise StreamError(f"StreamingFeed {name!r}: no epics given")
        if source not in SOURCES:
            raise StreamError(f"StreamingFeed {name!r}: source={source!r}, expected one of {SOURCES}")
        if ig_candles is not None and ig_candles not in CANDLE_SCALES:
            raise StreamError(f"StreamingFeed {name!r}: ig_candles={ig_candles!r}, expected one of {CANDLE_SCALES}")
        self.client = client
        self.source = source
        self.freq = freq
        self.freq_ns = freq_to_ns(freq)
        self.repair = repair
        self.stale_after = stale_after
        self.market_open = market_open
        self.ig_candles = ig_candles
        self.max_subscriptions = max_subscriptions
        self.max_connections = max_connections
        self.client_options = dict(client_options or {})
        self.backoff = backoff
        self.clients: list[StreamingClient] = []
        self.tick_subs: list[StreamSubscription] = []
        self.broker: Any = None
        self._trade_sub: StreamSubscription | None = None
        self._account_sub: StreamSubscription | None = None
        self._events: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._repairs: deque[Repair] = deque(maxlen=max_repairs)
        self._repairs_lock = threading.Lock()
        self._candles: dict[str, deque[CandleUpdate]] = {e: deque(maxlen=5000) for e in self.epics}
        self._connected_evt = threading.Event()
        self._client_status: list[str] = []
        self._reconnects: list[int] = []
        self._auth_failures = 0
        self._fatal_retries = 0
        self.gaps = GapTracker(
            self.freq_ns,
            self._fetch_seconds,
            settle=settle,
            backoff=backoff,
            emit=self._emit,
            max_span_s=backfill_max_s,
        )
        self._plan = self._make_plan()

    # -- public ------------------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return (
            f"<StreamingFeed {self.name!r} epics={len(self.epics)} connections={len(self._plan)} status={self.status}>"
        )

    def _make_plan(self) -> list[list[str]]:
        per_epic = 1 + (1 if self.ig_candles else 0)
        room0 = self.max_subscriptions - self._broker_items()
        if per_epic > self.max_subscriptions:
            raise StreamError(f"StreamingFeed {self.name!r}: max_subscriptions={self.max_subscriptions} is too small")
        plan: list[list[str]] = [[]]
        used = 0
        room = room0
        for e in self.epics:
            if used + per_epic > room:
                plan.append([])
                used, room = 0, self.max_subscriptions
            plan[-1].append(e)
            used += per_epic
        if self.max_connections is not None and len(plan) > self.max_connections:
            raise StreamError(
                f"StreamingFeed {self.name!r}: {len(self.epics)} epics need {len(plan)} connections of "
                f"{self.max_subscriptions} subscriptions each (ticks{' + candles' if self.ig_candles else ''}"
                f"{' + broker' if self.broker is not None else ''}), more than max_connections={self.max_connections}"
            )
        return plan

    def _broker_items(self) -> int:
        """Items the broker takes on the first connection: TRADE, and ACCOUNT if it takes account updates."""
        if self.broker is None:
            return 0
        return 1 + (1 if callable(getattr(self.broker, "on_account_update", None)) else 0)

    def _subscribe_broker(self, c: StreamingClient) -> None:
        b = self.broker
        self._trade_sub = c.subscribe_trades(b.on_trade_event)
        if callable(getattr(b, "on_account_update", None)):
            account = getattr(b, "account_id", None) or None
            self._account_sub = c.subscribe_account(b.on_account_update, account_id=account)

    def attach_broker(self, broker: Any) -> None:
        """Hand the account's TRADE stream to ``broker`` (``on_trade_event``) and, if it has
        ``on_account_update``, its ``ACCOUNT:<accountId>`` stream (the broker's ``account_id``, else the
        session's): the snapshot, then every change of balance, margin or P&L. The broker is reconciled
        after reconnects. Both items count against the first connection's 40.

        Call before :meth:`start` (or while running: subscribed at once on the first connection)."""
        self.broker = broker
        use = getattr(broker, "use_trade_events", None)
        if callable(use):
            use()
        if self.clients and self._trade_sub is None:
            self._subscribe_broker(self.clients[0])
        else:
            self._plan = self._make_plan()

    def start(self) -> None:
        """Connect and subscribe on the feed's thread (idempotent). Too many epics for ``max_connections``
        raise :class:`StreamError` here; connection problems show in :attr:`status` and :attr:`error`."""
        self._plan = self._make_plan()
        self._connected_evt.clear()
        super().start()

    def wait_connected(self, timeout: float = 15.0) -> bool:
        """Block until every connection is up and every item subscribed (True), the feed failed, or
        ``timeout`` seconds passed (False)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self._connected_evt.wait(0.05):
                subs = list(self.tick_subs)
                if all(s.wait_subscribed(max(0.0, end - time.monotonic())) for s in subs):
                    return True
            if self.error is not None or (self._thread is not None and not self._thread.is_alive()):
                return False
        return False

    def take_repairs(self) -> list[Repair]:
        """Every repair made since the last call (oldest first); thread-safe."""
        with self._repairs_lock:
            out = list(self._repairs)
            self._repairs.clear()
        return out

    def repairs(self) -> list[Repair]:
        """The repairs waiting to be taken (not removed)."""
        with self._repairs_lock:
            return list(self._repairs)

    def stats(self) -> dict[str, Any]:
        """Connections, statuses, gap and repair counters, the clients' and subscriptions' counters."""
        return {
            "connections": len(self.clients),
            "statuses": list(self._client_status),
            "gaps": dict(self.gaps.stats),
            "pending_backfills": len(self.gaps.pending),
            "open_gaps": dict(self.gaps.open_gaps),
            "clients": [dict(c.stats) for c in self.clients],
            "ticks": [dict(s.stats) for s in self.tick_subs],
            "auth_failures": self._auth_failures,
        }

    def ig_candles_frame(self, epic: str) -> pd.DataFrame:
        """IG-built complete candles of ``epic`` (``ig_candles`` scale) in the candle schema."""
        rows = [c for c in list(self._candles.get(epic, ())) if c.complete and c.ts_ns is not None]
        data: dict[int, list[float]] = {}
        for c in rows:
            b, a = c.bid, c.ask
            if c.ts_ns is None or None in b or None in a:
                continue
            bo, bh, bl, bc = (float(x) for x in b)  # type: ignore[arg-type]
            ao, ah, al, ac = (float(x) for x in a)  # type: ignore[arg-type]
            data[int(c.ts_ns)] = [bo, bh, bl, bc, ao, ah, al, ac, (bo + ao) / 2, (bh + ah) / 2, (bl + al) / 2,
                                  (bc + ac) / 2, float(c.tick_count or 0)]  # fmt: skip
        ts = sorted(data)
        index = pd.DatetimeIndex(pd.to_datetime(ts, unit="ns", utc=True), name="time")
        frame = pd.DataFrame([data[t] for t in ts], index=index, columns=list(CANDLE_COLUMNS), dtype="float64")
        frame["ticks"] = frame["ticks"].astype("int64")
        return frame

    def compare(self, epic: str, ours: pd.DataFrame) -> dict[str, Any]:
        """:func:`igkit.quality.compare_candles` of ``ours`` against IG's candles of ``epic``."""
        from igkit.quality import compare_candles

        return compare_candles(ours, self.ig_candles_frame(epic), columns=[c for c in CANDLE_COLUMNS if c[:3] != "mid"])

    # -- thread ------------------------------------------------------------------------------------------
    def _run(self) -> str | None:
        try:
            self._connect_all()
            while not self._stopping.is_set():
                try:
                    ev = self._events.get(timeout=0.1)
                except queue.Empty:
                    ev = None
                while ev is not None:
                    self._handle(ev)
                    try:
                        ev = self._events.get_nowait()
                    except queue.Empty:
                        ev = None
                self._check_stale()
                if self.repair:
                    self._backfill()
            return "stopped"
        finally:
            for c in self.clients:
                try:
                    c.close()
                except Exception:
                    log.exception("feed %s: closing a stream connection failed", self.name)

    def _options(self) -> dict[str, Any]:
        return {"max_subscriptions": self.max_subscriptions, **self.client_options}

    def _connect_all(self) -> None:
        creds = self.client.streaming_credentials()
        q = self._events = queue.SimpleQueue()  # a restart never sees the old connections' events
        self.clients, self.tick_subs, self._trade_sub, self._account_sub = [], [], None, None
        self._client_status = ["DISCONNECTED"] * len(self._plan)
        self._reconnects = [0] * len(self._plan)
        self._last_seen: dict[str, tuple[int, float]] = {}
        for i, epics in enumerate(self._plan):
            c = StreamingClient.from_credentials(
                creds,
                on_status=lambda s, i=i: q.put(("status", i, s)),
                on_error=lambda e, i=i: q.put(("error", i, e)),
                **self._options(),
            )
            self.clients.append(c)
            if self.source == "tick":
                self.tick_subs.append(c.subscribe_ticks(epics, self.hub, on_gap=self._on_gap))
            else:
                self.tick_subs.append(c.subscribe_quotes(epics, self.hub, source=self.source, on_gap=self._on_gap))
            if self.ig_candles:
                for e in epics:
                    c.subscribe_candles(e, self.ig_candles, self._candles[e].append)
        if self.broker is not None:
            self._subscribe_broker(self.clients[0])
        for c in self.clients:  # statuses and refusals arrive as events (handled by the loop in _run)
            c.connect(wait=False)

    def _on_gap(self, epic: str, last_ts_ns: int | None) -> None:  # library thread
        self._events.put(("gap", epic, last_ts_ns))  # (a stale gap of a replaced connection is harmless)

    # -- events (supervisor thread) ----------------------------------------------------------------------
    def _handle(self, ev: tuple[Any, ...]) -> None:
        kind = ev[0]
        if kind == "status":
            self._on_status(ev[1], ev[2])
        elif kind == "error":
            self._on_error(ev[1], ev[2])
        elif kind == "gap":
            epic, last = ev[1], ev[2]
            now = time.time_ns()
            self.hub.count(self.name, "gaps")
            self.gaps.add(epic, last or now, now, "lost")  # resubscribed after a lost session, or OV

    def _on_status(self, i: int, status: str) -> None:
        old = self._client_status[i] if i < len(self._client_status) else "DISCONNECTED"
        self._client_status[i] = status
        epics = self._plan[i]
        was_up = old.startswith("CONNECTED:")
        if status.startswith("CONNECTED:"):
            self._auth_failures = self._fatal_retries = 0
            now = time.time_ns()
            if not was_up:
                for e in epics:
                    self.gaps.close(e, now)
                n = self.clients[i].stats["reconnects"]
                if n > self._reconnects[i]:  # a reconnect, not the first connect
                    self._reconnects[i] = n
                    self.hub.count(self.name, "reconnects")
                    if self.broker is not None:
                        self._reconcile_broker()
        elif status == "STALLED" or (status.startswith("DISCONNECTED") and was_up):
            for e in epics:
                last = self.hub.buffer(e).last()
                self.gaps.open(e, last[0] if last is not None else time.time_ns(), status.lower())
        self._publish_status()

    def _publish_status(self) -> None:
        worst = min(range(len(self._client_status)), key=lambda k: _RANK[feed_status(self._client_status[k])])
        s = self._client_status[worst]
        st = feed_status(s)
        self.hub.set_status(self.name, st, s)
        if all(x.startswith("CONNECTED:") for x in self._client_status):
            self._connected_evt.set()

    def _reconcile_broker(self) -> None:
        try:
            self.broker.reconcile()
            self.hub.count(self.name, "broker_reconciles")
        except Exception:
            log.exception("feed %s: broker reconciliation after a reconnect failed", self.name)

    def _on_error(self, i: int, err: IgkitError) -> None:
        if isinstance(err, AuthError):
            self._relogin(err)
            return
        self._fatal_retries += 1
        self.hub.count(self.name, "stream_errors")
        base, cap = self.backoff
        wait = min(cap, base * 2 ** (self._fatal_retries - 1))
        log.warning("feed %s: %s; reconnecting in %.1f s", self.name, err, wait)
        if self._stopping.wait(wait):
            return
        self.clients[i].connect(wait=False)

    def _relogin(self, err: AuthError) -> None:
        """Streaming credentials refused: log in again over REST and reconnect with the new password (once
        per refusal; a refusal of fresh credentials is final)."""
        self._auth_failures += 1
        self.hub.count(self.name, "auth_errors")
        if self._auth_failures > 1:
            self.error = err
            self.hub.set_status(self.name, FeedStatus.DISCONNECTED, f"error: {err}")
            raise err
        base, _cap = self.backoff
        if self._stopping.wait(base):
            return
        log.info("feed %s: streaming credentials refused; logging in again over REST", self.name)
        try:
            self.client.relogin()
            creds = self.client.streaming_credentials()
        except IgkitError as exc:
            self.error = exc
            raise
        self.hub.count(self.name, "relogins")
        for c in self.clients:
            c.set_password(creds.password)
            if not c.connected:
                c.connect(wait=False)

    # -- gaps --------------------------------------------------------------------------------------------
    def _check_stale(self) -> None:
        if not self.stale_after:
            return
        now = time.monotonic()
        stale: list[str] = []
        for i, epics in enumerate(self._plan):
            up = self._client_status[i].startswith("CONNECTED:")
            for e in epics:
                total = self.hub.buffer(e).total
                seen = self._last_seen.get(e)
                if seen is None or seen[0] != total:
                    self._last_seen[e] = (total, now)
                    if e in self.gaps.open_gaps and self.gaps.open_gaps[e][1] == "stale":
                        self.gaps.close(e, time.time_ns())
                    continue
                if up and now - seen[1] > self.stale_after and e not in self.gaps.open_gaps:
                    stale.append(e)
        if stale:
            for e in stale:
                self._last_seen[e] = (self.hub.buffer(e).total, now)  # check again after stale_after
                if self._is_open(e):
                    last = self.hub.buffer(e).last()
                    self.hub.count(self.name, "stale")
                    self.gaps.open(e, last[0] if last is not None else time.time_ns(), "stale")

    def _is_open(self, epic: str) -> bool:
        if self.market_open is not None:
            return bool(self.market_open(epic))
        try:
            details = self.client.markets([epic])
        except IgkitError as exc:
            log.debug("feed %s: market status of %s unknown (%s)", self.name, epic, exc)
            return False
        return bool(details) and getattr(details[0].snapshot, "market_status", None) == "TRADEABLE"

    def _fetch_seconds(self, epic: str, lo: int, hi: int) -> pd.DataFrame:
        frame: pd.DataFrame = self.client.prices(
            epic, "SECOND", start=pd.Timestamp(lo, tz="UTC"), end=pd.Timestamp(hi, tz="UTC")
        )
        return frame

    def _emit(self, rep: Repair) -> None:
        with self._repairs_lock:
            self._repairs.append(rep)
        self.hub.count(self.name, "repairs")
        self.hub.count(self.name, "backfilled_bars", len(rep.frame))

    def _backfill(self) -> None:
        due = self.gaps.next_due()
        if due is None or due > time.time():
            return
        self.gaps.run_due()
