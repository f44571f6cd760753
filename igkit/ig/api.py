"""Typed read endpoints of IG's REST API: markets, prices, accounts, history, application limits.

Each method sends one logical request through the :class:`~igkit.ig.transport.Transport` (with the API
version IG documents for it) and returns typed models or the fixed price DataFrame; raw JSON stops here.
Dealing endpoints live in :mod:`igkit.ig.dealing`; :class:`~igkit.ig.client.IGClient` combines both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pandas as pd

from igkit.errors import IGRequestError
from igkit.ig._model_base import parse_model
from igkit.ig.cache import HistoryCache
from igkit.ig.enums import Resolution, TransactionType
from igkit.ig.limits import HistoricalAllowance, RateLimits
from igkit.ig.models import (
    Account,
    AccountPreferences,
    Activity,
    ApplicationInfo,
    MarketDetails,
    MarketSearchResult,
    PriceResponse,
    Transaction,
)
from igkit.ig.prices import ig_time, prices_frame, to_utc
from igkit.ig.transport import Transport
from igkit.progress import ProgressBar

__all__ = ["MarketsAPI", "activities_frame"]

log = logging.getLogger(__name__)
MAX_EPICS = 50
TimeLike = datetime | pd.Timestamp | str


def _path_part(value: str, name: str) -> str:
    if not isinstance(value, str) or not value or "/" in value or "?" in value or "#" in value:
        raise ValueError(f"{name}: expected a non-empty identifier without '/', '?' or '#', got {value!r}")
    return value


class MarketsAPI:
    """Read-only endpoints (mixed into :class:`~igkit.ig.client.IGClient`)."""

    _t: Transport
    limits: RateLimits
    allowance: HistoricalAllowance
    cache: HistoryCache | None

    # -- markets -------------------------------------------------------------------------------------------
    def search_markets(self, term: str) -> list[MarketSearchResult]:
        """``GET /markets?searchTerm=`` (v1): markets whose name or epic matches ``term``."""
        if not isinstance(term, str) or not term.strip():
            raise ValueError(f"search term must be a non-empty string, got {term!r}")
        data = self._t.request("GET", "/markets", version=1, params={"searchTerm": term}).data or {}
        return [parse_model(MarketSearchResult, m, "GET /markets") for m in data.get("markets") or []]

    def market(self, epic: str) -> MarketDetails:
        """``GET /markets/{epic}`` (v3): instrument, dealing rules and snapshot."""
        data = self._t.request("GET", f"/markets/{_path_part(epic, 'epic')}", version=3).data
        return parse_model(MarketDetails, data, f"GET /markets/{epic}")

    def markets(self, epics: Sequence[str]) -> list[MarketDetails]:
        """``GET /markets?epics=`` (v2), in chunks of 50 epics (IG's maximum per call)."""
        if isinstance(epics, str):
            epics = [epics]
        epics = [_path_part(e, "epics") for e in epics]
        out: list[MarketDetails] = []
        for i in range(0, len(epics), MAX_EPICS):
            chunk = epics[i : i + MAX_EPICS]
            params = {"epics": ",".join(chunk), "filter": "ALL"}
            data = self._t.request("GET", "/markets", version=2, params=params).data or {}
            out.extend(parse_model(MarketDetails, m, "GET /markets") for m in data.get("marketDetails") or [])
        return out

    # -- prices ----------------------------------------------------------------------------------------------
    def prices(
        self,
        epic: str,
        resolution: Resolution | str = Resolution.MINUTE,
        *,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        max_points: int | None = None,
        page_size: int = 100,
        progress: Callable[[str, int], ProgressBar] | None = None,
    ) -> pd.DataFrame:
        """``GET /prices/{epic}`` (v3), all pages, as the fixed schema of :mod:`igkit.ig.prices`.

        ``start``/``end`` bound the bars (UTC; naive means UTC; ``end`` defaults to now); without them
        ``max_points`` asks for the latest bars. A closed range (both ends given, in the past) is served
        from the Parquet cache when fetched before. A request estimated to exceed the weekly
        historical-data allowance left raises :class:`RateLimitError` before anything is sent.

        ``progress``: a ``(desc, total) -> bar`` factory (e.g. :func:`igkit.progress.make_progress`'s kind,
        ``ControlPanel.progress``) called once the first page tells the number of pages
        (``metadata.pageData.totalPages``); the bar then advances by one per page fetched. A cache hit
        fetches nothing and makes no bar.
        """
        epic = _path_part(epic, "epic")
        res = Resolution.parse(resolution)
        if page_size < 0:
            raise ValueError(f"page_size must be >= 0, got {page_size}")
        if progress is not None and not callable(progress):
            raise ValueError(f"progress must be None or a (desc, total) -> bar factory, got {progress!r}")
        if max_points is not None and (isinstance(max_points, bool) or max_points <= 0):
            raise ValueError(f"max_points must be a positive int, got {max_points!r}")
        if start is None and end is not None:
            raise ValueError("end given without start: give start (and optionally end) or max_points")
        now = pd.Timestamp.now(tz="UTC")
        s = to_utc(start, name="start") if start is not None else None
        e = to_utc(end, name="end") if end is not None else (now if s is not None else None)
        if s is not None and e is not None and e < s:
            raise ValueError(f"end {e} is before start {s}")
        cacheable = self.cache is not None and s is not None and end is not None and e is not None and e <= now
        if cacheable:
            assert self.cache is not None and s is not None and e is not None
            hit = self.cache.get(epic, res.value, s, e)
            if hit is not None:
                log.debug("history cache hit for %s %s %s..%s", epic, res.value, s, e)
                return hit if max_points is None else hit.iloc[:max_points]
        if s is not None and e is not None:
            estimate = _expected_points(epic, s, e, res.seconds)
            if max_points is not None:
                estimate = min(estimate, max_points)
        else:
            estimate = max_points if max_points is not None else 10
        self.allowance.check(estimate, what=f"prices({epic!r}, {res.value})")
        params: dict[str, Any] = {"resolution": res.value, "pageSize": page_size}
        if s is not None and e is not None:
            params["from"], params["to"] = ig_time(s), ig_time(e)
        if max_points is not None:
            params["max"] = max_points
        pages: list[PriceResponse] = []
        page = 1
        bar: ProgressBar | None = None
        try:
            while True:
                params["pageNumber"] = page
                data = self._t.request("GET", f"/prices/{epic}", version=3, params=params).data or {}
                resp = parse_model(PriceResponse, data, f"GET /prices/{epic}")
                pages.append(resp)
                a = resp.allowance
                if a is not None:
                    self.allowance.update(a.remaining_allowance, a.total_allowance, a.allowance_expiry)
                if progress is not None:
                    if bar is None:
                        bar = progress(f"{epic} {res.value}", 1 if page_size == 0 else max(1, resp.total_pages))
                    bar.update(1)
                if page_size == 0 or page >= resp.total_pages or not resp.prices:
                    break
                page += 1
        finally:
            if bar is not None:
                bar.close()
        frame = prices_frame(pages)
        if max_points is not None and len(frame) > max_points:
            frame = frame.iloc[-max_points:] if s is None else frame.iloc[:max_points]
        if cacheable:
            assert self.cache is not None and s is not None and e is not None
            self.cache.put(epic, res.value, s, e, frame)
        return frame

    # -- accounts --------------------------------------------------------------------------------------------
    def accounts(self) -> list[Account]:
        """``GET /accounts`` (v1)."""
        data = self._t.request("GET", "/accounts", version=1).data or {}
        return [parse_model(Account, a, "GET /accounts") for a in data.get("accounts") or []]

    def account_preferences(self) -> AccountPreferences:
        """``GET /accounts/preferences`` (v1)."""
        return parse_model(
            AccountPreferences, self._t.request("GET", "/accounts/preferences").data, "GET /accounts/preferences"
        )

    def set_account_preferences(self, *, trailing_stops_enabled: bool) -> None:
        """``PUT /accounts/preferences`` (v1)."""
        if not isinstance(trailing_stops_enabled, bool):
            raise ValueError(f"trailing_stops_enabled must be a bool, got {trailing_stops_enabled!r}")
        self._t.request("PUT", "/accounts/preferences", json_body={"trailingStopsEnabled": trailing_stops_enabled})

    def application(self) -> ApplicationInfo:
        """``GET /operations/application`` (v1): this API key's limits; updates the local budgets."""
        data = self._t.request("GET", "/operations/application", version=1).data
        entries = data if isinstance(data, list) else [data]
        if not entries or not isinstance(entries[0], dict):
            raise IGRequestError("no application in the answer", endpoint="GET /operations/application")
        apps = [parse_model(ApplicationInfo, x, "GET /operations/application") for x in entries]
        key = self._t._api_key
        app = next((a for a in apps if a.api_key is not None and a.api_key.get_secret_value() == key), apps[0])
        self.limits.update(
            app_non_trading=app.allowance_application_overall,
            account_non_trading=app.allowance_account_overall,
            account_trading=app.allowance_account_trading,
        )
        if app.allowance_account_historical_data:
            self.allowance.set_total(app.allowance_account_historical_data)
        return app

    # -- history -----------------------------------------------------------------------------------------------
    def activity(
        self,
        *,
        start: TimeLike,
        end: TimeLike | None = None,
        detailed: bool = False,
        deal_id: str | None = None,
        filter: str | None = None,
        page_size: int = 50,
    ) -> list[Activity]:
        """``GET /history/activity`` (v3), following ``metadata.paging.next`` to the last page."""
        if not 10 <= page_size <= 500:
            raise ValueError(f"page_size must be in 10..500 (IG's range), got {page_size}")
        params: dict[str, Any] = {"from": ig_time(to_utc(start, name="start")), "pageSize": page_size}
        if end is not None:
            params["to"] = ig_time(to_utc(end, name="end"))
        if detailed:
            params["detailed"] = "true"
        if deal_id is not None:
            params["dealId"] = deal_id
        if filter is not None:
            params["filter"] = filter
        out: list[Activity] = []
        seen: set[str] = set()
        while True:
            data = self._t.request("GET", "/history/activity", version=3, params=params).data or {}
            batch = data.get("activities") or []
            out.extend(parse_model(Activity, a, "GET /history/activity") for a in batch)
            nxt = ((data.get("metadata") or {}).get("paging") or {}).get("next")
            if not nxt or not batch or nxt in seen:
                break
            seen.add(nxt)
            params = {k: v for k, v in parse_qsl(urlsplit(nxt).query) if k.lower() != "version"}
        return out

    def transactions(
        self,
        *,
        type: TransactionType | str = TransactionType.ALL,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        page_size: int = 50,
    ) -> list[Transaction]:
        """``GET /history/transactions`` (v2), all pages."""
        kind = TransactionType(type.value if isinstance(type, TransactionType) else str(type).upper())
        params: dict[str, Any] = {"type": kind.value, "pageSize": page_size}
        if start is not None:
            params["from"] = ig_time(to_utc(start, name="start"))
        if end is not None:
            params["to"] = ig_time(to_utc(end, name="end"))
        out: list[Transaction] = []
        page = 1
        while True:
            params["pageNumber"] = page
            data = self._t.request("GET", "/history/transactions", version=2, params=params).data or {}
            batch = data.get("transactions") or []
            out.extend(parse_model(Transaction, t, "GET /history/transactions") for t in batch)
            page_data = (data.get("metadata") or {}).get("pageData") or {}
            if not batch or page >= int(page_data.get("totalPages") or 1):
                break
            page += 1
        return out


def activities_frame(activities: Sequence[Activity]) -> pd.DataFrame:
    """Activities as a DataFrame indexed by UTC ``date`` (details flattened into columns)."""
    rows = []
    for a in activities:
        row = a.model_dump(exclude={"details"})
        if a.details is not None:
            d = a.details.model_dump(exclude={"actions"})
            row.update({k: v for k, v in d.items() if k not in row})
            row["actions"] = [(x.action_type, x.affected_deal_id) for x in a.details.actions]
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="date"))
    frame["date"] = pd.to_datetime(frame["date"], utc=True)
    return frame.set_index("date")


def _expected_points(epic: str, start: pd.Timestamp, end: pd.Timestamp, seconds: int) -> int:
    """Bars IG can return for ``[start, end]``: every bar opening while the market trades, when igkit
    knows its opening hours (the catalog's epics; a week of FX minutes is ~7,200 points, not 10,081),
    else every bar of the range. Weekly and monthly bars count whole."""
    from igkit.market import CATALOG, open_mask

    step = int(seconds) * 1_000_000_000
    s, e = int(start.value), int(end.value)
    every = (e - s) // step + 1
    if epic not in CATALOG or seconds >= 7 * 86_400 or every > 5_000_000:
        return every
    opens = np.arange(s, e + 1, step, dtype=np.int64)
    # a bar counts when the market is open at any of its minutes: its open, or its last minute
    last = opens + max(step - 60_000_000_000, 0)
    return int(np.count_nonzero(open_mask(epic, opens) | open_mask(epic, last)))
