"""Connection status of a feed, as the hub records and reports it."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["FeedStatus"]


class FeedStatus(StrEnum):
    """Where a feed's connection stands; values equal names.

    ``CONNECTING`` → ``CONNECTED`` → (``STALLED`` → ``CONNECTED`` | ``RECONNECTING`` → ``CONNECTED``)*
    → ``DISCONNECTED``. A feed the hub never heard of reports ``DISCONNECTED``.
    """

    CONNECTING = "CONNECTING"
    CONNECTED = "CONNECTED"
    STALLED = "STALLED"
    RECONNECTING = "RECONNECTING"
    DISCONNECTED = "DISCONNECTED"
