"""Sessions and tokens of the simulated IG gateway: v2 CST/X-SECURITY-TOKEN, v3 OAuth, refresh, switch.

Hand-written because token life cycles are exactly what the client is tested against: lifetimes are
short and configurable, refresh tokens rotate (each one works once), switching account issues a new
X-SECURITY-TOKEN (the old one stops working), and tests can expire everything at once.

Errors follow IG: 401 ``error.security.invalid-details`` for a bad login,
``error.security.client-token-missing``/``-invalid`` for CST sessions,
``error.security.oauth-token-invalid`` for bearer tokens,
``error.security.account-token-missing``/``-invalid`` for a missing/foreign ``IG-ACCOUNT-ID`` or a stale
X-SECURITY-TOKEN.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from igkit.sim._util import ApiError
from igkit.sim.clock import SimClock

__all__ = ["AuthStore", "Session"]

_SEC = 1_000_000_000
_MAX_SESSION_NS = 72 * 3600 * _SEC
_STREAM_PASSWORD = re.compile(r"CST-([^|]+)\|XST-(.+)")


@dataclass(slots=True)
class Session:
    """One login. ``kind`` is "cst" (v1/v2) or "oauth" (v3); ``account_id`` is the active account."""

    session_id: str
    kind: str
    account_id: str
    created_ns: int
    expires_ns: int  # CST sessions: sliding expiry
    cst: str | None = None
    xst: str | None = None
    alive: bool = True
    access_tokens: dict[str, int] = field(default_factory=dict)  # token -> expiry ns


class AuthStore:
    """Credentials, API keys and live sessions; thread-safe."""

    def __init__(self, clock: SimClock, *, username: str, password: str, api_keys: set[str],
                 account_ids: list[str], default_account: str, token_ttl: float = 6 * 3600,
                 access_token_ttl: float = 60, refresh_token_ttl: float = 600) -> None:
        self.clock = clock
        self.username = username
        self._password = password
        self.api_keys = set(api_keys)
        self.account_ids = list(account_ids)
        self.default_account = default_account
        self.token_ttl_ns = int(token_ttl * _SEC)
        self.access_ttl_ns = int(access_token_ttl * _SEC)
        self.refresh_ttl_ns = int(refresh_token_ttl * _SEC)
        self._lock = threading.Lock()
        self._by_cst: dict[str, Session] = {}
        self._by_access: dict[str, Session] = {}
        self._refresh: dict[str, tuple[Session, int]] = {}

    # --- keys and logins ---------------------------------------------------------------------------------
    def check_api_key(self, headers: Mapping[str, str]) -> str:
        key = headers.get("X-IG-API-KEY")
        if not key:
            raise ApiError(400, "error.security.api-key-missing")
        if key not in self.api_keys:
            raise ApiError(403, "error.security.api-key-invalid")
        return key

    def check_credentials(self, identifier: str, password: str) -> None:
        if identifier != self.username or not secrets.compare_digest(password, self._password):
            raise ApiError(401, "error.security.invalid-details")

    def _new_session(self, kind: str) -> Session:
        now = self.clock.now_ns()
        return Session(secrets.token_hex(8), kind, self.default_account, now, now + self.token_ttl_ns)

    def _issue_cst(self, session: Session) -> None:
        session.cst = secrets.token_hex(20)
        session.xst = secrets.token_hex(20)
        self._by_cst[session.cst] = session

    def login_cst(self, identifier: str, password: str) -> Session:
        """v1/v2 login: a session with fresh CST and X-SECURITY-TOKEN."""
        self.check_credentials(identifier, password)
        with self._lock:
            session = self._new_session("cst")
            self._issue_cst(session)
            return session

    def login_oauth(self, identifier: str, password: str) -> tuple[Session, dict[str, str]]:
        """v3 login: a session and its ``oauthToken``."""
        self.check_credentials(identifier, password)
        with self._lock:
            session = self._new_session("oauth")
            return session, self._issue_oauth(session)

    def _issue_oauth(self, session: Session) -> dict[str, str]:
        now = self.clock.now_ns()
        access = secrets.token_hex(18)
        refresh = secrets.token_hex(18)
        session.access_tokens[access] = now + self.access_ttl_ns
        self._by_access[access] = session
        self._refresh[refresh] = (session, now + self.refresh_ttl_ns)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "scope": "profile",
            "token_type": "Bearer",
            "expires_in": str(int(self.access_ttl_ns // _SEC)),
        }

    def refresh(self, refresh_token: str) -> dict[str, str]:
        """Rotate: the refresh token is spent, a new access and refresh token come back."""
        with self._lock:
            got = self._refresh.pop(refresh_token, None)
            if got is None or got[1] <= self.clock.now_ns() or not got[0].alive:
                raise ApiError(401, "error.security.oauth-token-invalid")
            return self._issue_oauth(got[0])

    # --- per-request authentication ----------------------------------------------------------------------
    def authenticate(self, headers: Mapping[str, str]) -> tuple[Session, str]:
        """The session and active account a request is authorised for, or a 401."""
        now = self.clock.now_ns()
        bearer = headers.get("Authorization", "")
        with self._lock:
            if bearer:
                token = bearer[7:].strip() if bearer.lower().startswith("bearer ") else ""
                session = self._by_access.get(token)
                if session is None or not session.alive or session.access_tokens.get(token, 0) <= now:
                    raise ApiError(401, "error.security.oauth-token-invalid")
                account = headers.get("IG-ACCOUNT-ID")
                if not account:
                    raise ApiError(401, "error.security.account-token-missing")
                if account not in self.account_ids:
                    raise ApiError(401, "error.security.account-token-invalid")
                return session, account
            cst = headers.get("CST")
            xst = headers.get("X-SECURITY-TOKEN")
            if not cst:
                raise ApiError(401, "error.security.client-token-missing")
            session = self._by_cst.get(cst)
            if session is None or not session.alive or session.expires_ns <= now:
                raise ApiError(401, "error.security.client-token-invalid")
            if not xst:
                raise ApiError(401, "error.security.account-token-missing")
            if xst != session.xst:
                raise ApiError(401, "error.security.account-token-invalid")
            session.expires_ns = min(now + self.token_ttl_ns, session.created_ns + _MAX_SESSION_NS)
            return session, session.account_id

    def check_stream_credentials(self, user: str | None, password: str) -> bool:
        """Lightstreamer login as IG does it: ``user`` is the accountId, ``password`` is
        ``CST-<cst>|XST-<xst>`` of a live, unexpired session whose active account is ``user``."""
        m = _STREAM_PASSWORD.fullmatch(password or "")
        if m is None:
            return False
        now = self.clock.now_ns()
        with self._lock:
            session = self._by_cst.get(m.group(1))
            return (session is not None and session.alive and session.expires_ns > now
                    and session.xst == m.group(2) and (user is None or user == session.account_id))

    def session_tokens(self, session: Session) -> tuple[str, str]:
        """CST and X-SECURITY-TOKEN of a session (issued for a v3 session on first request)."""
        with self._lock:
            if session.cst is None or session.xst is None:
                self._issue_cst(session)
            assert session.cst is not None and session.xst is not None
            return session.cst, session.xst

    def switch(self, session: Session, account_id: str) -> str:
        """Make ``account_id`` active; returns the new X-SECURITY-TOKEN (the old one stops working)."""
        if account_id not in self.account_ids:
            raise ApiError(400, "error.switch.invalid-accountId")
        with self._lock:
            if account_id == session.account_id:
                raise ApiError(412, "error.switch.accountId-must-be-different")
            session.account_id = account_id
            session.xst = secrets.token_hex(20)
            return session.xst

    def logout(self, session: Session) -> None:
        with self._lock:
            session.alive = False
            if session.cst:
                self._by_cst.pop(session.cst, None)
            for token in session.access_tokens:
                self._by_access.pop(token, None)

    def expire_tokens(self, *, refresh: bool = False) -> None:
        """Expire every CST session and access token now (refresh tokens too if ``refresh``)."""
        with self._lock:
            for s in self._by_cst.values():
                s.expires_ns = 0
            for s in self._by_access.values():
                for t in s.access_tokens:
                    s.access_tokens[t] = 0
            if refresh:
                self._refresh.clear()
