"""The igkit exception tree.

Every error igkit raises on purpose derives from :class:`IgkitError`, so one ``except`` catches them all::

    IgkitError
    ├── ConfigError          bad or missing configuration (names the file and the key path)
    ├── DataError            bad market data or a bad frame handed to igkit (names what and where)
    ├── IGError              anything the IG API refused or failed to answer
    │   ├── AuthError        invalid details, bad or expired tokens, bad API key
    │   ├── RateLimitError   IG's 403 ``exceeded-*`` allowance codes, or a local allowance refusal
    │   ├── IGRequestError   any other IG ``errorCode`` (carries the code, HTTP status and endpoint)
    │   └── DealRejected     a deal IG accepted for processing but REJECTED in its confirm
    ├── StreamError          the Lightstreamer connection or a subscription failed
    └── RiskRejected         a pre-trade risk check refused an order (names the rule)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthError",
    "ConfigError",
    "DataError",
    "DealRejected",
    "IGError",
    "IGRequestError",
    "IgkitError",
    "RateLimitError",
    "RiskRejected",
    "StreamError",
]


class IgkitError(Exception):
    """Base class of every error igkit raises on purpose."""


class ConfigError(IgkitError):
    """Configuration is malformed, mistyped, unknown or missing.

    The message always names the source (file or environment variable) and the key path.
    """

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None) -> None:
        self.source = source
        self.key = key
        prefix = ": ".join(p for p in (source, key) if p)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class DataError(IgkitError, ValueError):
    """Market data or a frame handed to igkit is not what it must be."""


class IGError(IgkitError):
    """The IG API refused a request or could not be reached.

    Attributes:
        error_code: IG's ``errorCode`` (e.g. ``error.security.invalid-details``), if any.
        status: the HTTP status, if a response arrived.
        endpoint: ``METHOD /path`` of the request.
    """

    def __init__(
        self,
        message: str,
        *,
        error_code: str | None = None,
        status: int | None = None,
        endpoint: str | None = None,
    ) -> None:
        self.error_code = error_code
        self.status = status
        self.endpoint = endpoint
        parts = [message]
        if error_code:
            parts.append(f"errorCode={error_code}")
        if status is not None:
            parts.append(f"HTTP {status}")
        if endpoint:
            parts.append(f"at {endpoint}")
        super().__init__(" | ".join(parts))


class AuthError(IGError):
    """Login failed or a token was refused (invalid details, bad API key, expired token)."""


class RateLimitError(IGError):
    """An IG allowance is exhausted (403 ``error.public-api.exceeded-*``) or would be."""


class IGRequestError(IGError):
    """Any other IG error code."""


class DealRejected(IGError):
    """IG processed a deal and rejected it; ``reason`` is IG's reason (e.g. INSUFFICIENT_FUNDS)."""

    def __init__(self, reason: str, *, deal_reference: str | None = None, confirm: Any = None) -> None:
        self.reason = reason
        self.deal_reference = deal_reference
        self.confirm = confirm
        super().__init__(f"deal {deal_reference or '?'} rejected: {reason}", error_code=reason)


class StreamError(IgkitError):
    """The streaming connection or a subscription failed."""


class RiskRejected(IgkitError):
    """A pre-trade risk rule refused an order; ``rule`` names it."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(f"{rule}: {message}")
