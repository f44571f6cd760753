"""Fault injection for tests: fail, drop, delay, allowance and token faults on the next matching requests.

Each ``*_next(n, path=...)`` call queues a rule that applies to the next ``n`` requests whose path (the
part after ``/gateway/deal``) equals ``path`` or lies under it (``path=None`` matches every request), and
optionally whose (effective) ``method`` matches. Rules are consumed in the order they were added.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Fault", "Faults"]


@dataclass(slots=True)
class Fault:
    """One queued fault. ``kind``: fail, drop, delay, allowance, token."""

    kind: str
    remaining: int
    path: str | None = None
    method: str | None = None
    status: int = 500
    code: str = "system.error"
    seconds: float = 0.0
    after: bool = False

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        if self.path is None:
            return True
        want = self.path.rstrip("/")
        return path == want or path.startswith(want + "/")


class Faults:
    """The simulator's fault queue (``sim.faults``); thread-safe."""

    def __init__(self, expire_tokens: Callable[[], None] | None = None) -> None:
        self._rules: list[Fault] = []
        self._lock = threading.Lock()
        self._expire = expire_tokens

    def _add(self, fault: Fault) -> None:
        if fault.remaining < 1:
            raise ValueError(f"fault count must be >= 1, got {fault.remaining}")
        with self._lock:
            self._rules.append(fault)

    def fail_next(self, n: int = 1, *, path: str | None = None, status: int = 500,
                  code: str = "system.error", method: str | None = None) -> None:
        """Answer the next ``n`` matching requests with ``status`` and ``{"errorCode": code}``, unexecuted."""
        self._add(Fault("fail", n, path, method, status=status, code=code))

    def drop_next(self, n: int = 1, *, path: str | None = None, after: bool = False,
                  method: str | None = None) -> None:
        """Close the connection without a response. ``after=True``: the request WAS executed first."""
        self._add(Fault("drop", n, path, method, after=after))

    def delay_next(self, n: int, seconds: float, *, path: str | None = None, method: str | None = None) -> None:
        """Hold the next ``n`` matching requests for ``seconds`` before executing them."""
        self._add(Fault("delay", n, path, method, seconds=float(seconds)))

    def allowance_next(self, n: int = 1, *, code: str = "error.public-api.exceeded-api-key-allowance",
                       path: str | None = None, method: str | None = None) -> None:
        """Refuse the next ``n`` matching requests with 403 ``code`` (an ``exceeded-*`` allowance code)."""
        self._add(Fault("allowance", n, path, method, status=403, code=code))

    def invalid_token_next(self, n: int = 1, *, path: str | None = None, method: str | None = None) -> None:
        """Answer the next ``n`` authenticated requests with 401 as if their token had gone bad
        (``client-token-invalid`` for CST sessions, ``oauth-token-invalid`` for bearer tokens)."""
        self._add(Fault("token", n, path, method, status=401))

    def expire_tokens(self) -> None:
        """Expire every CST session and access token now (refresh tokens stay valid)."""
        if self._expire is not None:
            self._expire()

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._rules)

    def take(self, method: str, path: str, *, authenticated: bool) -> list[Fault]:
        """Consume one count of each rule kind that matches this request (first matching rule per kind)."""
        out: list[Fault] = []
        seen: set[str] = set()
        with self._lock:
            for rule in self._rules:
                if rule.kind in seen or not rule.matches(method, path):
                    continue
                if rule.kind == "token" and not authenticated:
                    continue
                seen.add(rule.kind)
                rule.remaining -= 1
                out.append(rule)
            self._rules = [r for r in self._rules if r.remaining > 0]
        return out
