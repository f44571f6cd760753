"""The IG broker: dealing on IG (or the local IG simulator) behind the same :class:`~igkit.broker.Broker`
protocol as the paper broker, so the live engine never knows which one it talks to.

Hand-written because it is igkit's core dealing logic over the typed :class:`~igkit.ig.IGClient`; the
client already guarantees that a deal request is never blindly resent (its reference is looked up after
any ambiguous failure), and this broker adds the book, the events and reconciliation.

Conventions (mirroring :class:`~igkit.broker.PaperBroker`):

* **Deal references.** An order is sent with its OWN ``Order.deal_reference`` and never with another one;
  a reference seen before is refused locally with ``DUPLICATE_ORDER_ERROR``.
* **Netting.** A market order nets against the epic's opposite positions first, oldest first, and opens
  the rest (a reversal = close + open = two fills), exactly like the paper broker. Without attached
  stops/limits this is ONE request with ``forceOpen=false`` (IG nets it atomically; the confirm's
  ``affectedDeals`` say what was closed and opened). IG refuses stops/limits with ``forceOpen=false``,
  so an order WITH a stop or limit that meets opposite positions is sent as explicit closes of those
  positions (oldest first) followed by one ``forceOpen=true`` open of the remainder. Either way the
  positions left equal the paper broker's.
* **Distances.** ``Order.stop_distance``/``limit_distance`` are price units (as everywhere in igkit) and
  are converted to IG points with the epic's point value (``onePipMeans`` × ``scalingFactor`` from
  ``GET /markets/{epic}``; the catalog's pip if that fails).
* **Results and events.** A market order is executed by IG at once: :meth:`IGBroker.submit` returns
  ``FILLED`` with its fills (or ``REJECTED`` with IG's reason, e.g. ``INSUFFICIENT_FUNDS``; never an
  exception). Listeners get ``("fill", Fill)``, ``("position", Position)`` (``size == 0.0`` marks a
  closed position), ``("order", OrderResult)`` for what happens later (a working order filled, cancelled
  or expired on IG's side; ``cancel_all``) and ``("account", AccountState)`` after fills.
* **Confirms.** With a TRADE stream attached (:meth:`attach_trade_stream`, or a feed calling
  :meth:`on_trade_event`), a deal's confirm is taken from the stream; if it does not arrive within
  ``stream_timeout`` seconds, ``GET /confirms/{ref}`` is asked instead. Without a stream the client
  waits on REST confirms.
* **IG-side triggers.** Stops, limits and working orders trigger on IG's servers. ``on_tick`` marks
  positions to market and reconciles at a bounded rate: every ``poll_interval`` seconds without a
  stream, or soon after the stream reported a change the book does not explain. Closes found that way
  become fills (reason ``stop``/``trailing_stop``/``limit`` from the close level, read from IG's
  activity history; ``close`` otherwise), a position that appears where a working order was becomes a
  ``working_order`` fill, and a position opened behind the broker's back is adopted (fill reason
  ``external``).
* **P&L.** A closing fill carries IG's ``profit`` when its confirm gives one for a single close;
  otherwise (several closes in one deal, closes found by reconciliation) it is estimated as Δprice ×
  size × ``value_per_point`` (default: the contract size, in the instrument's currency, no FX). The
  account (:meth:`account`) is IG's own figure: streamed from ``ACCOUNT:<id>`` when a
  :class:`~igkit.feeds.StreamingFeed` is attached (:meth:`on_account_update`), else ``GET /accounts``.
* **Reconciliation** (:meth:`reconcile`): at start, after a stream reconnect (the feed calls it), and
  after any ambiguous order outcome. It fixes the book to match IG and reports the differences.
* **Rate limits.** IG allows ~30 non-trading requests a minute per account: the defaults (poll every
  10 s, account every 10 s) stay well inside; attach the TRADE stream for prompt discovery.

Modules: this facade (lifecycle, ticks, the public dealing calls), :mod:`~igkit.broker._ig_deal` (requests
and their outcomes), :mod:`~igkit.broker._ig_sync` (book, TRADE events, reconciliation, account, events),
:mod:`~igkit.broker._ig_book` (records and differences), :mod:`~igkit.broker._ig_confirms` (confirms).

Thread safety: a dealing lock serialises every request that changes IG's state (submit, closes,
flatten, cancel_all, reconcile), so :meth:`flatten` from another thread waits for an order in flight
and then closes everything; a separate state lock guards the book for readers. Listeners are called
after the locks are released.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from igkit.broker._ig_book import EPS, Book
from igkit.broker._ig_confirms import ConfirmBox, Outcome
from igkit.broker._ig_deal import Dealing, placeholder, reject
from igkit.broker._ig_sync import MarketFacts
from igkit.broker.base import BrokerListener
from igkit.errors import ConfigError
from igkit.ig.client import IGClient
from igkit.ig.models import Confirm
from igkit.types import AccountState, Fill, Order, OrderResult, OrderStatus, OrderType

__all__ = ["IGBroker"]

log = logging.getLogger(__name__)


class IGBroker(Dealing):
    """Deals on IG through a logged-in :class:`~igkit.ig.IGClient` (see the module docstring).

    Args:
        client: a logged-in client (``start`` does not log in).
        account_id: the account whose balance :meth:`account` reports (default: the session's).
        currency: the deal currency (default: each instrument's own, as the client picks it).
        expiry: IG's expiry for every deal (``"-"`` for CFDs, ``"DFB"`` for spread bets); default: each
            market's own, as ``GET /markets/{epic}`` states it (see :meth:`deal_expiry`).
        value_per_point: account currency per unit of size per 1.0 of price, one number or per epic, for
            the P&L of fills whose confirm carries no profit (default: the instrument's contract size).
        confirm_source: a :class:`~igkit.ig.stream.StreamingClient` to take TRADE confirms from (attached
            at :meth:`start`).
        poll_interval: seconds between reconciliations from ``on_tick`` without a TRADE stream (None: never).
        account_interval: the least seconds between two ``GET /accounts`` (with the ACCOUNT stream: read
            again only after this long without a streamed update).
        stream_timeout: how long to wait for a streamed confirm before asking ``GET /confirms``.
        trailing_increment: IG's trailing-stop step in points for orders with ``trailing_stop=True``.
    """

    name = "ig"

    def __init__(
        self,
        client: IGClient,
        *,
        account_id: str | None = None,
        currency: str | None = None,
        expiry: str | None = None,
        value_per_point: float | Mapping[str, float] | None = None,
        confirm_source: Any = None,
        poll_interval: float | None = 10.0,
        account_interval: float = 10.0,
        stream_timeout: float = 2.0,
        trailing_increment: float = 1.0,
        sync_interval: float = 0.25,
    ) -> None:
        if poll_interval is not None and not poll_interval > 0:
            raise ValueError(f"IGBroker: poll_interval must be > 0 or None, got {poll_interval!r}")
        self.client = client
        self.account_id = account_id
        self.currency = currency
        self.expiry = expiry
        self.poll_interval = poll_interval
        self.account_interval = float(account_interval)
        self.stream_timeout = float(stream_timeout)
        self.trailing_increment = float(trailing_increment)
        self.sync_interval = float(sync_interval)
        self._vpp = value_per_point
        self._confirm_source = confirm_source
        self._deal_lock = threading.RLock()  # every request that changes IG's state, and reconcile
        self._lock = threading.RLock()  # the book, events, caches
        self._book = Book()
        self._listeners: list[BrokerListener] = []
        self._events: list[tuple[str, object]] = []
        self._refs: set[str] = set()  # every reference ever sent: never twice
        self._recent_refs: deque[str] = deque(maxlen=200)  # own deals: their stream updates are expected
        self._busy: set[str] = set()  # deal ids being closed / amended / deleted by this broker
        self._info_cache: dict[str, MarketFacts] = {}
        self._account_type: str | None = None
        self._status_cache: dict[str, tuple[float, bool]] = {}
        self.status_ttl = 30.0  # seconds a market status read from IG is trusted (market_open)
        self._box = ConfirmBox()
        self._stream: Any = None
        self._stream_sub: Any = None
        self._dirty = False
        self._last_sync = 0.0  # monotonic time of the last reconciliation attempt
        self._synced_ns: int | None = None  # wall time (ns) of the last good read of IG's book
        self._started = False
        self._realized = 0.0
        self._acct: AccountState | None = None
        self._acct_ts = -1e18
        self._acct_lock = threading.Lock()
        self.last_report: dict[str, object] | None = None

    @classmethod
    def from_config(cls, config: Any, client: IGClient | None = None, **overrides: Any) -> IGBroker:
        """An IG broker for an :class:`igkit.config.Config`: over ``client`` if given (logged in), else over
        a new :meth:`IGClient.from_config` client logged in with ``config.ig``'s credentials (the one place
        an IGBroker logs in). ``overrides`` (constructor keywords) win. Call :meth:`start` next."""
        ig = config.ig
        if client is None:
            if not ig.username or ig.password is None:
                raise ConfigError("the IG broker needs ig.username and ig.password to log in", key="ig.username")
            client = IGClient.from_config(config)
            client.login(ig.username, ig.password, version=ig.api_version)
        kwargs: dict[str, Any] = {"account_id": ig.account_id}
        kwargs.update(overrides)
        return cls(client, **kwargs)

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Attach the confirm source (if any) and reconcile with IG (idempotent; does not log in)."""
        if self._started:
            return
        if self._confirm_source is not None and self._stream is None:
            self.attach_trade_stream(self._confirm_source)
        report = self.reconcile()
        self._started = True
        log.info("IG broker started: %d positions, %d working orders%s", len(self._book.positions),
                 len(self._book.working), "" if report.get("ok") else f" ({report})")

    def stop(self) -> None:
        """Detach from the TRADE stream; positions and orders stay as they are on IG (idempotent)."""
        stream, sub = self._stream, self._stream_sub
        self._stream = self._stream_sub = None
        if stream is not None and sub is not None:
            try:
                stream.unsubscribe(sub)
            except Exception:  # a closed stream must not break stop()
                log.exception("IG broker: unsubscribing the TRADE stream failed")
        self._started = False

    def add_listener(self, listener: BrokerListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: BrokerListener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def check_markets(self, epics: list[str]) -> dict[str, str]:
        """Problems that would make IG refuse every deal on some of ``epics``, one sentence per epic: IG does
        not know the market, or the market's kind does not match the account's (a spread bet, expiry
        ``DFB``, on a CFD account, or a CFD on a spread-bet account). Reads each market once (cached for
        dealing) and the account type (``GET /accounts``). An empty dict: nothing known to be wrong."""
        if self._account_type is None:
            self.account(refresh=True)
        kind = (self._account_type or "").upper()
        acct = self.account_id or self.client.session.account_id or "the account"
        problems: dict[str, str] = {}
        for epic in epics:
            facts = self._info(epic)
            if not facts.found:
                problems[epic] = f"{epic}: IG does not know this market (GET /markets/{epic}: 404); its signals " \
                                 "cannot be dealt"
                continue
            expiry = self.deal_expiry(epic)
            if expiry == "DFB" and kind == "CFD":
                problems[epic] = (f"{epic} is a spread-bet market (expiry DFB) and {acct} is a CFD account: IG "
                                  "rejects its deals (REJECT_SPREADBET_ORDER_ON_CFD_ACCOUNT); trade the market's "
                                  "CFD epic, or log in to a spread-bet account")
            elif expiry != "DFB" and kind == "SPREADBET":
                problems[epic] = (f"{epic} is a CFD market (expiry {expiry}) and {acct} is a spread-bet account: "
                                  "IG rejects its deals (REJECT_CFD_ORDER_ON_SPREADBET_ACCOUNT); trade the "
                                  "market's spread-bet (DFB) epic, or log in to a CFD account")
        return problems

    @property
    def dealing(self) -> bool:
        """Whether a request that changes IG's state (or a reconciliation) is in flight on another thread."""
        if self._deal_lock.acquire(blocking=False):
            self._deal_lock.release()
            return False
        return True

    @property
    def streaming(self) -> bool:
        """Whether confirms come from a TRADE stream."""
        return self._stream is not None

    def attach_trade_stream(self, streaming_client: Any) -> None:
        """Take confirms (and news of IG-side changes) from ``streaming_client.subscribe_trades``."""
        self._stream_sub = streaming_client.subscribe_trades(self.on_trade_event)
        self._stream = streaming_client

    def use_trade_events(self) -> None:
        """Declare that a feed calls :meth:`on_trade_event` itself (confirms are then awaited from it)."""
        self._stream = self._stream or True

    # -- market data -----------------------------------------------------------------------------------------
    def on_tick(self, epic: str, ts_ns: int, bid: float, ask: float) -> list[Fill]:
        """Mark ``epic`` to market; reconcile if due (fills IG made on its own come back from here)."""
        with self._lock:
            self._book.quotes[epic] = (ts_ns, bid, ask)
        now = time.monotonic()
        since = now - self._last_sync
        due = (self._dirty and since >= self.sync_interval) or (
            self._stream is None and self.poll_interval is not None and since >= self.poll_interval)
        fills: list[Fill] = []
        if due and self._deal_lock.acquire(blocking=False):  # busy dealing: next tick
            try:
                fills = list(self._reconcile_locked()["fills"])  # type: ignore[call-overload]
            except Exception:
                log.exception("IG broker: reconciliation from on_tick failed")
            finally:
                self._deal_lock.release()
        self._flush()
        return fills

    def quote(self, epic: str) -> tuple[int, float, float] | None:
        """The last ``(ts_ns, bid, ask)`` fed for ``epic``, or None."""
        with self._lock:
            return self._book.quotes.get(epic)

    # -- dealing ---------------------------------------------------------------------------------------------
    def submit(self, order: Order) -> OrderResult:
        """Send ``order`` with its own deal reference; FILLED/WORKING, or REJECTED with IG's reason."""
        if order.deal_reference in self._refs:
            return reject(order, "DUPLICATE_ORDER_ERROR")
        with self._deal_lock:
            if order.deal_reference in self._refs:
                return reject(order, "DUPLICATE_ORDER_ERROR")
            self._refs.add(order.deal_reference)
            try:
                result = self._submit(order)
            except Exception as exc:  # never kill the engine: report it as a rejection
                log.exception("IG broker: %s %s %g failed", order.direction, order.epic, order.size)
                result = reject(order, f"ERROR: {type(exc).__name__}: {exc}")
        if result.status is OrderStatus.REJECTED:
            log.info("IG: %s %s %g %s rejected: %s", order.direction, order.epic, order.size, order.order_type,
                     result.reason)
        self._flush()
        return result

    def _submit(self, order: Order) -> OrderResult:
        if order.order_type is not OrderType.MARKET:
            return self._place_working(order)
        if self._dirty:
            self._reconcile_locked()
        with self._lock:
            pos = self._book.positions.get(order.close_deal_id) if order.close_deal_id is not None else None
            opposite = self._book.opposite(order.epic, order.direction)
        if order.close_deal_id is not None:
            if pos is None:
                return reject(order, "POSITION_NOT_FOUND")
            if pos.direction is order.direction or pos.epic != order.epic or order.size > pos.size + EPS:
                return reject(order, "POSITION_NOT_AVAILABLE_TO_CLOSE")
            reason = order.reason if order.reason in ("flatten", "kill") else "close"
            return self._close(order, pos, order.size, reason)
        attached = order.stop_distance is not None or order.limit_distance is not None
        if not (attached and opposite):
            return self._open(order, order.size, force_open=attached)
        fills: list[Fill] = []  # explicit closes, then a forceOpen=true open with the stops
        left = order.size
        for pos in opposite:
            q = round(min(left, pos.size), 10)
            r = self._close(order, pos, q, "market")
            fills += r.fills
            if r.status is OrderStatus.REJECTED:
                return OrderResult(order, OrderStatus.REJECTED, r.reason, fills=tuple(fills))
            left = round(left - q, 10)
            if left <= EPS:
                break
        last = None
        if left > EPS:
            last = self._open(order, left, force_open=True)
            fills += last.fills
            if last.status is OrderStatus.REJECTED:
                return OrderResult(order, OrderStatus.REJECTED, last.reason, fills=tuple(fills))
        deal_id = last.deal_id if last is not None else (fills[-1].deal_id if fills else None)
        return OrderResult(order, OrderStatus.FILLED, "SUCCESS", deal_id, fills[-1].price if fills else None,
                           tuple(fills))

    # -- positions and orders ------------------------------------------------------------------------------
    def close_position(self, deal_id: str, size: float | None = None, *, reason: str = "manual") -> OrderResult:
        """Close (part of) a position now at IG's market price."""
        with self._deal_lock:
            with self._lock:
                pos = self._book.positions.get(deal_id)
            if pos is None:
                result = reject(placeholder(deal_id, reason), "POSITION_NOT_FOUND")
            else:
                order = Order(pos.epic, pos.direction.opposite(), pos.size if size is None else size,
                              close_deal_id=deal_id, reason=reason)
                self._refs.add(order.deal_reference)
                try:
                    result = self._submit(order)
                except Exception as exc:  # never kill the engine
                    log.exception("IG broker: close of %s failed", deal_id)
                    result = reject(order, f"ERROR: {type(exc).__name__}: {exc}")
        self._flush()
        return result

    def amend_position(
        self, deal_id: str, *, stop_level: float | None = None, limit_level: float | None = None
    ) -> OrderResult:
        """Set a position's stop and/or limit level (None keeps a level as it is: IG's PUT replaces both,
        so the current ones are sent along)."""
        with self._deal_lock:
            with self._lock:
                pos = self._book.positions.get(deal_id)
                if pos is not None:
                    self._busy.add(deal_id)
            if pos is None:
                return reject(placeholder(deal_id, "amend"), "POSITION_NOT_FOUND")
            order = Order(pos.epic, pos.direction, pos.size, reason="amend")
            stop = pos.stop_level if stop_level is None else stop_level
            limit = pos.limit_level if limit_level is None else limit_level

            def call(wait: bool) -> Confirm:
                return self.client.amend_position(deal_id, stop_level=stop, limit_level=limit, wait_confirm=wait,
                                                  raise_on_reject=False)

            def apply(out: Outcome) -> OrderResult:
                current = self._book.positions.get(deal_id)
                if current is not None:
                    now = replace(current, stop_level=stop, limit_level=limit)
                    self._book.positions[deal_id] = now
                    self._events.append(("position", now))
                return OrderResult(order, OrderStatus.ACCEPTED, "SUCCESS", deal_id)

            try:
                result = self._deal(order, call, apply)
            except Exception as exc:  # never kill the engine
                log.exception("IG broker: amend of %s failed", deal_id)
                result = reject(order, f"ERROR: {type(exc).__name__}: {exc}")
            finally:
                with self._lock:
                    self._busy.discard(deal_id)
        self._flush()
        return result

    def cancel_order(self, deal_id: str) -> OrderResult:
        """Delete a working order on IG."""
        with self._deal_lock:
            result = self._cancel(deal_id)
        self._flush()
        return result

    def _cancel(self, deal_id: str) -> OrderResult:
        with self._lock:
            found = self._book.working.get(deal_id)
            if found is not None:
                self._busy.add(deal_id)
        if found is None:
            return reject(placeholder(deal_id, "cancel"), "ORDER_NOT_FOUND")
        wo, order = found

        def call(wait: bool) -> Confirm:
            return self.client.delete_working_order(deal_id, wait_confirm=wait, raise_on_reject=False)

        def apply(out: Outcome) -> OrderResult:
            self._book.working.pop(deal_id, None)
            return OrderResult(order, OrderStatus.CANCELLED, "SUCCESS", deal_id, wo.level)

        try:
            result = self._deal(order, call, apply)
        except Exception as exc:  # never kill the engine
            log.exception("IG broker: delete of working order %s failed", deal_id)
            result = reject(order, f"ERROR: {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._busy.discard(deal_id)
        if result.status is OrderStatus.REJECTED and result.reason == "POSITION_NOT_FOUND":
            result = replace(result, reason="ORDER_NOT_FOUND")
        return result

    def cancel_all(self) -> list[OrderResult]:
        """Delete every working order (IG's, after a reconciliation). Safe from any thread."""
        with self._deal_lock:
            self._reconcile_locked()
            with self._lock:
                ids = list(self._book.working)
            results = [self._cancel(d) for d in ids]
            with self._lock:
                self._events += [("order", r) for r in results]
        self._flush()
        return results

    def flatten(
        self, epic: str | None = None, *, reason: str = "flatten", immediate: bool = True
    ) -> list[OrderResult]:
        """Close every position (of ``epic``, or all) at IG's market price. Safe from any thread: waits for
        an order in flight, reconciles (so positions IG holds but the book missed are closed too), then
        closes. ``immediate`` is accepted for the protocol's sake: IG's market closes always are."""
        results: list[OrderResult] = []
        with self._deal_lock:
            self._reconcile_locked()
            with self._lock:
                targets = [p for p in self._book.positions.values() if epic is None or p.epic == epic]
            for pos in targets:
                order = Order(pos.epic, pos.direction.opposite(), pos.size, close_deal_id=pos.deal_id, reason=reason)
                self._refs.add(order.deal_reference)
                try:
                    results.append(self._close(order, pos, pos.size, reason))
                except Exception as exc:  # keep closing the others
                    log.exception("IG broker: flatten could not close %s", pos.deal_id)
                    results.append(reject(order, f"ERROR: {type(exc).__name__}: {exc}"))
        self._flush()
        return results

    def __repr__(self) -> str:
        with self._lock:
            return (f"IGBroker({self.client.base_url!r}, positions={len(self._book.positions)}, "
                    f"working={len(self._book.working)}, stream={'yes' if self._stream is not None else 'no'})")

