"""What the Lightstreamer simulator asks of whoever owns the data: the ``StreamBackend`` protocol.

The TLCP server (:mod:`igkit.sim.lightstreamer.server`) knows nothing about IG or prices: it asks a
backend to check credentials and to accept or refuse each item, and the backend pushes values with
``LSServer.publish(item, {field: value})``. IG's simulator and the tests each provide one.

Optional hooks, looked up with ``getattr`` (define them only when useful):

* ``item_started(item: str) -> None``: the first session subscribed to ``item``.
* ``item_stopped(item: str) -> None``: the last subscription to ``item`` went away.
* ``make_update(item: str, i: int) -> dict[str, str | None]``: values for ``LSServer.burst``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = [
    "REQERR_BAD_ADAPTER",
    "REQERR_BAD_ITEM",
    "REQERR_BAD_MODE",
    "REQERR_BAD_SCHEMA",
    "REQERR_LIMIT",
    "ItemSource",
    "Refusal",
    "StreamBackend",
    "Values",
]

Values = Mapping[str, "str | None"]

# TLCP REQERR codes used by the simulator (the client passes them to onSubscriptionError).
REQERR_BAD_ADAPTER = 17  # bad Data Adapter name
REQERR_BAD_ITEM = 21  # bad Group name (unknown item)
REQERR_LIMIT = 22  # Group refused by the Metadata Adapter: IG's 40-subscription limit
REQERR_BAD_SCHEMA = 23  # bad Schema name (unknown field)
REQERR_BAD_MODE = 24  # Schema refused by the Metadata Adapter: mode not allowed for the item


@dataclass(frozen=True)
class ItemSource:
    """An accepted item.

    ``snapshot``: for MERGE, a one-element list with the current values (None: the server's last
    published values for the item, if any); for DISTINCT, the recent events to replay before ``EOS``
    (None or empty: ``EOS`` straight away). Fields missing from a snapshot dict are null.
    """

    snapshot: Sequence[Values] | None = None


@dataclass(frozen=True)
class Refusal:
    """A refused item: the REQERR code and message the client receives."""

    code: int
    message: str


@runtime_checkable
class StreamBackend(Protocol):
    """The data side of the TLCP server."""

    def authenticate(self, user: str | None, password: str) -> bool:
        """True when these credentials may open a session (IG: password ``CST-<cst>|XST-<xst>``)."""
        ...

    def resolve(self, item: str, fields: list[str], mode: str, adapter: str | None) -> ItemSource | Refusal:
        """Accept ``item`` for this schema/mode/data adapter, or refuse it with a REQERR code."""
        ...
