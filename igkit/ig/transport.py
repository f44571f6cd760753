"""HTTP transport for IG's REST API: one ``requests.Session``, per-request headers, retries, errors.

Hand-written core (thin over ``requests``) because IG's rules are specific:

* the ``Version`` header, the API key and the auth headers are built for every request and never stored
  in the shared session's headers, so one client can be used from several threads;
* idempotent requests (GET, PUT, DELETE) are retried on network errors and 5xx with bounded exponential
  backoff and jitter; non-idempotent ones (deals) are never blindly repeated: a failure after the request
  may have reached IG raises :class:`AmbiguousRequestError` (the dealing layer looks the deal up, and
  never resends it), one that provably never left (connection refused, connect timeout)
  :class:`RequestNotSentError`;
* ``error.security.client-token-invalid`` / ``oauth-token-invalid`` make the session renew itself once;
  an idempotent request is then repeated, a deal raises :class:`SessionRenewedError` (it was not executed);
* every IG ``errorCode`` becomes a typed exception (:class:`AuthError`, :class:`RateLimitError`,
  :class:`IGRequestError`) carrying the code, HTTP status and ``METHOD /path``; non-JSON bodies too;
* a request log (method, path, status, latency, remaining allowance) with no headers, bodies or query
  strings, so no secret can reach it; HTTPS is required for any non-loopback host.
"""

from __future__ import annotations

import collections
import ipaddress
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from igkit.errors import AuthError, ConfigError, IGError, IGRequestError, RateLimitError
from igkit.ig.limits import Budget, RateLimits

__all__ = [
    "AmbiguousRequestError",
    "AuthProvider",
    "RequestNotSentError",
    "RequestRecord",
    "Response",
    "SessionRenewedError",
    "Transport",
    "check_base_url",
    "map_error",
]

log = logging.getLogger(__name__)

TOKEN_INVALID = frozenset({"error.security.client-token-invalid", "error.security.oauth-token-invalid"})
_AUTH_PREFIXES = ("error.security.", "authentication.failure", "error.public-api.failure.missing.credentials")
_AUTH_CODES = frozenset(
    {
        "endpoint.unavailable.for.api-key",
        "error.public-api.failure.kyc.required",
        "error.public-api.failure.pending.agreements.required",
        "error.public-api.failure.preferred.account.disabled",
        "error.public-api.failure.preferred.account.not.set",
    }
)
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_SNIPPET = 200


class AmbiguousRequestError(IGRequestError):
    """A non-idempotent request failed in a way that leaves unknown whether IG executed it."""


class RequestNotSentError(IGRequestError):
    """A non-idempotent request never reached IG (connection refused, connect timeout): safe to send again."""


class SessionRenewedError(AuthError):
    """IG refused a non-idempotent request for an invalid token; the session was renewed, nothing ran."""


@dataclass(frozen=True, slots=True)
class Response:
    """A successful IG response: status, headers and the parsed JSON body (None when empty)."""

    status: int
    headers: Mapping[str, str]
    data: Any
    endpoint: str


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One line of the request log (never headers, bodies or query strings)."""

    time: datetime
    method: str
    path: str
    status: int | None
    latency_ms: float
    remaining_allowance: int | None = None
    error_code: str | None = None
    attempt: int = 1


class AuthProvider(Protocol):
    """What the transport needs from a session (see :class:`igkit.ig.session.IGSession`)."""

    def auth_headers(self) -> dict[str, str]: ...

    def before_request(self) -> None: ...

    def renew(self, error_code: str, used: Mapping[str, str]) -> bool: ...


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str) -> str:
    """The base URL without a trailing slash; ConfigError unless HTTPS (plain HTTP only on loopback)."""
    if not isinstance(base_url, str) or not base_url:
        raise ConfigError(f"IG base URL must be a non-empty string, got {base_url!r}", key="ig.base_url")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"IG base URL must be an http(s) URL, got {base_url!r}", key="ig.base_url")
    if parts.scheme != "https" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"IG base URL {base_url!r} must use HTTPS (plain HTTP is only allowed on loopback)",
            key="ig.base_url",
        )
    return base_url.rstrip("/")


def _redact(text: str) -> str:
    try:
        from igkit.config import redact
    except ImportError:  # config not importable: nothing registered to scrub
        return text
    return redact(text)


def map_error(
    error_code: str | None, status: int | None, endpoint: str, detail: str | None = None
) -> IGError:
    """The typed exception for an IG error response."""
    code = error_code or ""
    if code.startswith("error.public-api.exceeded"):
        cls: type[IGError] = RateLimitError
        what = "IG allowance exceeded"
    elif code.startswith(_AUTH_PREFIXES) or code in _AUTH_CODES or (status == 401 and not code):
        cls = AuthError
        what = "IG refused the credentials or token"
    else:
        cls = IGRequestError
        what = "IG refused the request"
    if detail:
        what = f"{what}: {detail}"
    return cls(what, error_code=error_code, status=status, endpoint=endpoint)


class Transport:
    """Sends requests to one IG REST gateway; thread-safe (see the module docstring)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        max_retries: int = 3,
        backoff: float = 0.25,
        backoff_max: float = 4.0,
        limits: RateLimits | None = None,
        log_size: int = 1000,
        http: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = check_base_url(base_url)
        if not api_key:
            raise ConfigError("IG API key is missing", key="ig.api_key")
        self._api_key = api_key
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.backoff_max = float(backoff_max)
        self.limits = limits if limits is not None else RateLimits()
        self.request_log: collections.deque[RequestRecord] = collections.deque(maxlen=log_size)
        self.auth: AuthProvider | None = None
        self._sleep = sleep
        self._rng = random.Random()
        self._rng_lock = threading.Lock()
        if http is None:
            http = requests.Session()
            adapter = HTTPAdapter(max_retries=0, pool_maxsize=16)  # urllib3 must never resend on its own
            http.mount("http://", adapter)
            http.mount("https://", adapter)
        self._http = http
        try:
            from igkit.config import register_secret

            register_secret(api_key)
        except ImportError:  # pragma: no cover - config always ships with igkit
            pass

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r}, timeout={self.timeout:g}, max_retries={self.max_retries})"

    def close(self) -> None:
        self._http.close()

    # -- helpers ---------------------------------------------------------------------------------------
    def _headers(self, version: int, authenticated: bool, delete_override: bool) -> dict[str, str]:
        headers = {
            "X-IG-API-KEY": self._api_key,
            "Version": str(version),
            "Accept": "application/json; charset=UTF-8",
            "Content-Type": "application/json; charset=UTF-8",
        }
        if authenticated and self.auth is not None:
            headers.update(self.auth.auth_headers())
        if delete_override:
            headers["_method"] = "DELETE"
        return headers

    def backoff_delay(self, attempt: int) -> float:
        """Full-jitter exponential backoff for retry number ``attempt`` (1-based)."""
        cap = min(self.backoff_max, self.backoff * (2 ** (attempt - 1)))
        with self._rng_lock:
            return cap * (0.5 + 0.5 * self._rng.random())

    def _record(
        self,
        method: str,
        path: str,
        status: int | None,
        t0: float,
        attempt: int,
        data: Any = None,
        error_code: str | None = None,
    ) -> None:
        remaining = None
        if isinstance(data, dict):
            allowance = data.get("allowance")
            meta = data.get("metadata")
            if isinstance(meta, dict) and isinstance(meta.get("allowance"), dict):
                allowance = meta["allowance"]
            if isinstance(allowance, dict):
                remaining = allowance.get("remainingAllowance")
        rec = RequestRecord(
            datetime.now(UTC),
            method,
            path,
            status,
            round((time.perf_counter() - t0) * 1000.0, 3),
            remaining,
            error_code,
            attempt,
        )
        self.request_log.append(rec)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s -> %s in %.1f ms%s%s",
                method,
                path,
                status if status is not None else "no response",
                rec.latency_ms,
                f" (allowance left {remaining})" if remaining is not None else "",
                f" [{error_code}]" if error_code else "",
            )

    @staticmethod
    def _parse(resp: requests.Response) -> tuple[Any, str | None]:
        """(JSON body or None, a short redacted text snippet when the body is not JSON)."""
        content = resp.content
        if not content or not content.strip():
            return None, None
        try:
            return json.loads(content), None
        except ValueError:
            text = content[:_SNIPPET].decode("utf-8", "replace").strip()
            return None, f"non-JSON body ({resp.headers.get('Content-Type', '?')}): {_redact(text)!r}"

    # -- the one entry point -------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        version: int = 1,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        budget: Budget = Budget.NON_TRADING,
        idempotent: bool | None = None,
        authenticated: bool = True,
        delete_override: bool = False,
    ) -> Response:
        """Send one logical request (with retries) and return the parsed response or raise.

        ``path`` starts with ``/`` and is relative to the base URL. ``delete_override`` sends a POST with
        ``_method: DELETE`` (IG's way to DELETE with a body).
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in _IDEMPOTENT and not delete_override
        shown = "DELETE" if delete_override else method
        endpoint = f"{shown} {path}"
        url = self.base_url + path
        body = None if json_body is None else json.dumps(json_body, separators=(",", ":"))
        attempt = 0
        renewed = False
        while True:
            attempt += 1
            if authenticated and self.auth is not None:
                self.auth.before_request()
            self.limits.acquire(budget)
            headers = self._headers(version, authenticated, delete_override)
            t0 = time.perf_counter()
            try:
                resp = self._http.request(
                    method, url, params=params, data=body, headers=headers, timeout=self.timeout
                )
            except requests.RequestException as exc:
                kind = type(exc).__name__
                self._record(shown, path, None, t0, attempt, error_code=kind)
                if idempotent and attempt <= self.max_retries:
                    delay = self.backoff_delay(attempt)
                    log.info("%s failed (%s); retry %d in %.2f s", endpoint, kind, attempt, delay)
                    self._sleep(delay)
                    continue
                if not idempotent:
                    if _never_sent(exc):
                        raise RequestNotSentError(
                            f"network error ({kind}): the request did not reach IG", endpoint=endpoint
                        ) from None
                    raise AmbiguousRequestError(
                        f"network error ({kind}): IG may or may not have executed the request",
                        endpoint=endpoint,
                    ) from None
                raise IGRequestError(
                    f"network error ({kind}) after {attempt} attempts", endpoint=endpoint
                ) from None
            status = resp.status_code
            data, snippet = self._parse(resp)
            code = data.get("errorCode") if isinstance(data, dict) and status >= 400 else None
            self._record(shown, path, status, t0, attempt, data, code)
            if status < 400:
                if snippet is not None:  # a proxy's HTML page is not IG's answer
                    cls = IGRequestError if idempotent else AmbiguousRequestError
                    raise cls(f"IG answered HTTP {status} with a {snippet}", status=status, endpoint=endpoint)
                return Response(status, resp.headers, data, endpoint)
            if (
                code in TOKEN_INVALID
                and authenticated
                and self.auth is not None
                and not renewed
            ):
                renewed = True
                if self.auth.renew(code, headers):
                    if idempotent:
                        continue
                    raise SessionRenewedError(
                        "session renewed after an invalid token; the request was not executed",
                        error_code=code,
                        status=status,
                        endpoint=endpoint,
                    )
            if status >= 500:
                if idempotent and attempt <= self.max_retries:
                    delay = self.backoff_delay(attempt)
                    log.info("%s -> HTTP %d; retry %d in %.2f s", endpoint, status, attempt, delay)
                    self._sleep(delay)
                    continue
                if not idempotent:
                    raise AmbiguousRequestError(
                        f"server error: IG may or may not have executed the request{_detail(snippet)}",
                        error_code=code,
                        status=status,
                        endpoint=endpoint,
                    )
            raise map_error(code, status, endpoint, snippet)


def _never_sent(exc: requests.RequestException) -> bool:
    """Whether a failed request provably never reached the server: the connection was refused or could
    not be made in time. A reset or timeout after connecting leaves it unknown."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        reason = getattr(exc.args[0], "reason", None)
        return isinstance(reason, urllib3.exceptions.NewConnectionError)
    return False


def _detail(snippet: str | None) -> str:
    return f" ({snippet})" if snippet else ""
