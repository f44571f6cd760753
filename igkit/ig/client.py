"""``IGClient``: the one object user code holds to talk to IG's REST API.

A thin facade: it wires a :class:`~igkit.ig.transport.Transport` (HTTP, retries, errors, request log),
an :class:`~igkit.ig.session.IGSession` (tokens), the rate limiters and the history cache, and exposes
the typed endpoints of :mod:`igkit.ig.api` and :mod:`igkit.ig.dealing`. Safe to share between threads.

    with IGClient(url, api_key) as ig:
        ig.login(user, password)
        df = ig.prices("CS.D.EURUSD.MINI.IP", "1min", start="2024-01-02", end="2024-01-03")
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from pydantic import SecretStr

from igkit.errors import ConfigError, IGError
from igkit.ig.api import MarketsAPI
from igkit.ig.cache import HistoryCache
from igkit.ig.dealing import DealingAPI
from igkit.ig.limits import HistoricalAllowance, RateLimits
from igkit.ig.models import (
    LoginResponse,
    LoginResponseV3,
    SessionDetails,
    StreamingCredentials,
    SwitchAccountResult,
)
from igkit.ig.session import IGSession
from igkit.ig.transport import RequestRecord, Transport

__all__ = ["IGClient"]


class IGClient(MarketsAPI, DealingAPI):
    """Typed, rate-limited, retrying client of IG's REST trading API.

    Args:
        base_url: REST gateway, e.g. ``https://demo-api.ig.com/gateway/deal`` (HTTPS unless loopback).
        api_key: the ``X-IG-API-KEY`` (never logged or shown).
        account_id: account to switch to after login when it is not the default one.
        timeout: HTTP timeout in seconds.
        limits: a :class:`RateLimits`, or ``config.limits`` (per-minute budgets and weekly history points),
            or None for IG's documented defaults.
        cache_dir: directory of the Parquet history cache (None: no cache).
        max_retries: retries of idempotent requests on network errors and 5xx, and resends of deals that
            provably never reached IG (connection refused, connect timeout, or refused for a stale token).
        backoff: first retry delay in seconds (doubles each time, with jitter, capped at 4 s).
        historical_points_per_week: weekly history allowance assumed until IG reports it.
        refresh_margin: refresh a v3 access token this many seconds before it expires.
        confirm_timeout: how long to wait for a deal confirm to appear, and how long a deal whose answer
            was lost is looked for at IG before :class:`AmbiguousRequestError` (it is never resent).
        settle: the first wait between those lookups (doubling, at most 1 s).
        clock, sleep: injectable for tests (token expiry, backoff).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | SecretStr,
        *,
        account_id: str | None = None,
        timeout: float = 10.0,
        limits: RateLimits | Any = None,
        cache_dir: str | None = None,
        max_retries: int = 3,
        backoff: float = 0.25,
        historical_points_per_week: int | None = None,
        refresh_margin: float = 5.0,
        confirm_timeout: float = 5.0,
        settle: float = 0.5,
        log_size: int = 1000,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        if isinstance(limits, RateLimits):
            rate_limits = limits
        elif limits is None:
            rate_limits = RateLimits()
        else:
            rate_limits = RateLimits.from_config(limits)
        if historical_points_per_week is None:
            historical_points_per_week = int(getattr(limits, "historical_points_per_week", 10_000))
        self.limits = rate_limits
        self.allowance = HistoricalAllowance(historical_points_per_week)
        self._t = Transport(
            base_url, key, timeout=timeout, max_retries=max_retries, backoff=backoff,
            limits=rate_limits, log_size=log_size, sleep=sleep,
        )  # fmt: skip
        self._session = IGSession(self._t, refresh_margin=refresh_margin, clock=clock)
        self.cache = HistoryCache(cache_dir) if cache_dir else None
        self.account_id = account_id
        self.confirm_timeout = float(confirm_timeout)
        self.settle = float(settle)
        self._currencies: dict[str, str] = {}
        self._currency_lock = threading.Lock()
        self._sleep = sleep

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> IGClient:
        """Build from an :class:`igkit.config.Config` (``config.ig`` and ``config.limits``)."""
        ig = config.ig
        base_url = ig.base_url
        if not base_url:
            if ig.environment == "sim":
                raise ConfigError(
                    "no simulator URL configured: start it with `igkit sim` (or igkit.sim.IGSimulator) and "
                    "pass its URL (ig.endpoints.sim, e.g. IGKIT_IG__ENDPOINTS__SIM=http://127.0.0.1:PORT) "
                    "or pass base_url= to IGClient",
                    key="ig.endpoints.sim",
                )
            raise ConfigError(f"no REST URL configured for environment {ig.environment!r}",
                              key=f"ig.endpoints.{ig.environment}")  # fmt: skip
        if ig.api_key is None or not ig.api_key.get_secret_value():
            raise ConfigError("the IG API key is not set", key="ig.api_key")
        kwargs: dict[str, Any] = {
            "account_id": ig.account_id,
            "timeout": ig.timeout,
            "limits": config.limits,
            "cache_dir": ig.cache_dir,
        }
        kwargs.update(overrides)
        return cls(base_url, ig.api_key, **kwargs)

    def __repr__(self) -> str:
        return f"IGClient({self._t.base_url!r}, {self._session!r})"

    # -- session -------------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self._t.base_url

    @property
    def session(self) -> IGSession:
        return self._session

    @property
    def transport(self) -> Transport:
        return self._t

    @property
    def request_log(self) -> collections.deque[RequestRecord]:
        """The last requests (method, path, status, latency ms, remaining allowance); no secrets."""
        return self._t.request_log

    @property
    def logged_in(self) -> bool:
        return self._session.logged_in

    def login(self, username: str, password: str | SecretStr, version: int = 2) -> LoginResponse | LoginResponseV3:
        """``POST /session`` (v2: CST/X-SECURITY-TOKEN; v3: OAuth tokens refreshed before expiry).

        If ``account_id`` was given and is not the session's account, switches to it.
        """
        info = self._session.login(username, password, version)
        if self.account_id and self._session.account_id != self.account_id:
            self._session.switch_account(self.account_id)
        return info

    def relogin(self) -> LoginResponse | LoginResponseV3:
        """``POST /session`` again with the credentials of the last :meth:`login` (fresh tokens: the
        streaming feed calls it when Lightstreamer refuses expired ones); back on ``account_id`` if set."""
        info = self._session.relogin()
        if self.account_id and self._session.account_id != self.account_id:
            self._session.switch_account(self.account_id)
        return info

    def logout(self) -> None:
        """``DELETE /session``; safe to call twice."""
        self._session.logout()

    def switch_account(self, account_id: str, *, default: bool | None = None) -> SwitchAccountResult:
        """``PUT /session``: make ``account_id`` the active account (new X-SECURITY-TOKEN kept)."""
        result = self._session.switch_account(account_id, default=default)
        self.account_id = account_id
        return result

    def session_details(self) -> SessionDetails:
        """``GET /session`` (v1)."""
        return self._session.details()

    def streaming_credentials(self) -> StreamingCredentials:
        """Lightstreamer endpoint, account id and ``CST-…|XST-…`` password (fetched for v3 sessions)."""
        return self._session.streaming_credentials()

    def close(self) -> None:
        """Log out (errors are swallowed) and close the HTTP connection pool."""
        try:
            self._session.logout()
        except IGError:
            pass
        finally:
            self._t.close()

    def __enter__(self) -> IGClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
