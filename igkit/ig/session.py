"""IG session state: v2/v3 login, token refresh and renewal, logout, account switch, streaming credentials.

Hand-written because the token dance is IG-specific:

* v2 (and v1): ``POST /session`` returns ``CST`` and ``X-SECURITY-TOKEN`` *headers*; both go on every call.
* v3: ``POST /session`` returns an OAuth ``access_token`` (``expires_in`` is a *string*, e.g. "60") and a
  ``refresh_token``; calls carry ``Authorization: Bearer …`` and ``IG-ACCOUNT-ID``. The access token is
  refreshed shortly *before* it expires (``POST /session/refresh-token``); if the refresh fails the
  session falls back to a fresh login.
* An ``…token-invalid`` answer (expired or revoked) makes the transport call :meth:`IGSession.renew`
  once: refresh (v3) or log in again (v2). Concurrent threads renew only once.
* ``PUT /session`` (switch account) returns a new ``X-SECURITY-TOKEN`` that replaces the old one.
* Streaming needs ``CST-…|XST-…``; a v3 session fetches them with ``GET /session?fetchSessionTokens=true``.

The password is kept (private, never shown) only to be able to log in again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from pydantic import SecretStr

from igkit.errors import AuthError, IGError
from igkit.ig._model_base import parse_model
from igkit.ig.limits import Budget
from igkit.ig.models import (
    LoginResponse,
    LoginResponseV3,
    OAuthToken,
    SessionDetails,
    StreamingCredentials,
    SwitchAccountResult,
)
from igkit.ig.transport import Transport

__all__ = ["IGSession"]

log = logging.getLogger(__name__)


def _register(*secrets: str | None) -> None:
    try:
        from igkit.config import register_secret
    except ImportError:  # pragma: no cover
        return
    for s in secrets:
        register_secret(s)


class IGSession:
    """Holds the tokens of one logged-in IG session and keeps them valid (thread-safe)."""

    def __init__(
        self,
        transport: Transport,
        *,
        refresh_margin: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._t = transport
        self._clock = clock
        self.refresh_margin = float(refresh_margin)
        self._lock = threading.RLock()
        self.version: int | None = None
        self.account_id: str | None = None
        self.lightstreamer_endpoint: str | None = None
        self._username: str | None = None
        self._password: SecretStr | None = None
        self._cst: str | None = None
        self._xst: str | None = None
        self._access: str | None = None
        self._refresh: str | None = None
        self._token_type = "Bearer"
        self._expires_at: float | None = None
        self._stream_tokens: tuple[str, str] = ("", "")
        self.logins = 0
        self.refreshes = 0
        transport.auth = self

    def __repr__(self) -> str:
        state = f"v{self.version}, account={self.account_id!r}" if self.logged_in else "logged out"
        return f"IGSession({state})"

    @property
    def logged_in(self) -> bool:
        return self._cst is not None or self._access is not None

    @property
    def expires_in(self) -> float | None:
        """Seconds until the v3 access token expires (None for v2)."""
        return None if self._expires_at is None else self._expires_at - self._clock()

    # -- AuthProvider ----------------------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        with self._lock:
            if self._access is not None:
                h = {"Authorization": f"{self._token_type} {self._access}"}
                if self.account_id:
                    h["IG-ACCOUNT-ID"] = self.account_id
                return h
            if self._cst is not None and self._xst is not None:
                return {"CST": self._cst, "X-SECURITY-TOKEN": self._xst}
            return {}

    def before_request(self) -> None:
        """Refresh a v3 access token that is about to expire."""
        if self._expires_at is None:
            return
        if self._clock() < self._expires_at - self.refresh_margin:
            return
        with self._lock:
            if self._expires_at is not None and self._clock() >= self._expires_at - self.refresh_margin:
                self._refresh_or_login()

    def renew(self, error_code: str, used: Mapping[str, str]) -> bool:
        """Called by the transport on an invalid-token answer; True if the session has new tokens."""
        with self._lock:
            if self._username is None:
                return False
            current = self.auth_headers()
            if any(current.get(k) != used.get(k) for k in current):
                return True  # another thread already renewed
            log.info("IG session token refused (%s); renewing the session", error_code)
            try:
                if self._access is not None:
                    self._refresh_or_login()
                else:
                    self._login()
            except IGError as exc:
                log.warning("IG session renewal failed: %s", exc)
                return False
            return True

    # -- login / refresh ---------------------------------------------------------------------------------
    def login(
        self, username: str, password: str | SecretStr, version: int = 2
    ) -> LoginResponse | LoginResponseV3:
        """Log in with ``POST /session`` (version 1, 2 or 3)."""
        if version not in (1, 2, 3):
            raise ValueError(f"login version must be 1, 2 or 3, got {version!r}")
        if not username:
            raise ValueError("username is empty")
        secret = password if isinstance(password, SecretStr) else SecretStr(password)
        if not secret.get_secret_value():
            raise ValueError("password is empty")
        _register(secret.get_secret_value())
        with self._lock:
            self._username, self._password, self.version = username, secret, version
            return self._login()

    def relogin(self) -> LoginResponse | LoginResponseV3:
        """Log in again with the stored credentials (new tokens, e.g. after IG refused the streaming ones)."""
        with self._lock:
            if self._username is None or self._password is None or self.version is None:
                raise AuthError("relogin: not logged in before (call login() first)")
            return self._login()

    def _login(self) -> LoginResponse | LoginResponseV3:
        assert self._username is not None and self._password is not None and self.version is not None
        body = {"identifier": self._username, "password": self._password.get_secret_value()}
        resp = self._t.request(
            "POST", "/session", version=self.version, json_body=body, authenticated=False, idempotent=True
        )
        self.logins += 1
        if self.version == 3:
            v3 = parse_model(LoginResponseV3, resp.data, resp.endpoint)
            self._cst = self._xst = None
            self._set_token(v3.oauth_token)
            self.account_id = v3.account_id
            self.lightstreamer_endpoint = v3.lightstreamer_endpoint
            return v3
        info = parse_model(LoginResponse, resp.data, resp.endpoint)
        cst, xst = resp.headers.get("CST"), resp.headers.get("X-SECURITY-TOKEN")
        if not cst or not xst:
            raise AuthError("login answered without CST / X-SECURITY-TOKEN headers", endpoint=resp.endpoint)
        _register(cst, xst)
        self._cst, self._xst = cst, xst
        self._access = self._refresh = None
        self._expires_at = None
        self.account_id = info.current_account_id
        self.lightstreamer_endpoint = info.lightstreamer_endpoint
        return info

    def _set_token(self, token: OAuthToken) -> None:
        access, refresh = token.access_token.get_secret_value(), token.refresh_token.get_secret_value()
        _register(access, refresh)
        self._access, self._refresh = access, refresh
        self._token_type = token.token_type or "Bearer"
        self._expires_at = self._clock() + max(int(token.expires_in), 1)

    def _refresh_or_login(self) -> None:
        if self._refresh is not None:
            try:
                resp = self._t.request(
                    "POST",
                    "/session/refresh-token",
                    version=1,
                    json_body={"refresh_token": self._refresh},
                    authenticated=False,
                    idempotent=True,
                )
                self._set_token(parse_model(OAuthToken, resp.data, resp.endpoint))
                self.refreshes += 1
                log.debug("IG access token refreshed")
                return
            except IGError as exc:
                log.info("IG token refresh failed (%s); logging in again", exc.error_code or exc)
        self._login()

    # -- other session calls --------------------------------------------------------------------------
    def logout(self) -> None:
        """``DELETE /session`` and forget the tokens (idempotent; safe when logged out)."""
        with self._lock:
            if not self.logged_in:
                return
            try:
                self._t.request("DELETE", "/session", version=1, budget=Budget.NONE, idempotent=False)
            finally:
                self._cst = self._xst = self._access = self._refresh = None
                self._expires_at = None
                self._username = self._password = None

    def switch_account(self, account_id: str, *, default: bool | None = None) -> SwitchAccountResult:
        """``PUT /session``: make ``account_id`` active; the new X-SECURITY-TOKEN replaces the old one."""
        if not account_id:
            raise ValueError("account_id is empty")
        body: dict[str, object] = {"accountId": account_id}
        if default is not None:
            body["defaultAccount"] = default
        with self._lock:
            resp = self._t.request("PUT", "/session", version=1, json_body=body)
            xst = resp.headers.get("X-SECURITY-TOKEN")
            cst = resp.headers.get("CST")
            if xst:
                _register(xst)
                self._xst = xst
            if cst:
                _register(cst)
                self._cst = cst
            self.account_id = account_id
        return parse_model(SwitchAccountResult, resp.data or {}, resp.endpoint)

    def details(self, *, fetch_tokens: bool = False) -> SessionDetails:
        """``GET /session`` (with ``fetchSessionTokens=true`` the CST/XST headers are kept)."""
        params = {"fetchSessionTokens": "true"} if fetch_tokens else None
        resp = self._t.request("GET", "/session", version=1, params=params)
        if fetch_tokens:
            cst, xst = resp.headers.get("CST"), resp.headers.get("X-SECURITY-TOKEN")
            if not cst or not xst:
                raise AuthError(
                    "GET /session?fetchSessionTokens=true answered without CST / X-SECURITY-TOKEN",
                    endpoint=resp.endpoint,
                )
            _register(cst, xst)
            with self._lock:
                self._stream_tokens = (cst, xst)
        return parse_model(SessionDetails, resp.data, resp.endpoint)

    def streaming_credentials(self) -> StreamingCredentials:
        """Lightstreamer endpoint, user (account id) and password ``CST-…|XST-…``."""
        if not self.logged_in:
            raise AuthError("not logged in: call login() before asking for streaming credentials")
        if self._access is not None or self._cst is None:
            d = self.details(fetch_tokens=True)
            cst, xst = self._stream_tokens
            endpoint: str | None = d.lightstreamer_endpoint or self.lightstreamer_endpoint
            account: str | None = self.account_id or d.account_id
        else:
            cst, xst = self._cst, self._xst or ""
            endpoint, account = self.lightstreamer_endpoint, self.account_id
        if not endpoint or not account:
            raise AuthError("IG did not give a Lightstreamer endpoint and account id for streaming")
        return StreamingCredentials(endpoint=endpoint, account_id=account, password=f"CST-{cst}|XST-{xst}")
