"""A temporary stand-in for ``igkit.feeds.streaming.StreamingFeed`` (used only while that module is absent):
ticks from ``CHART:<epic>:TICK`` into the hub and TRADE events to the broker, over one StreamingClient."""

from __future__ import annotations

import logging
from typing import Any

from igkit.ig.stream import StreamingClient
from igkit.ticks import FeedStatus, TickHub

log = logging.getLogger(__name__)


class StreamingFeed:
    name = "ig-stream"

    def __init__(self, client: Any, hub: TickHub, epics: list[str], **options: Any) -> None:
        self.client, self.hub, self.epics, self.options = client, hub, list(epics), options
        self.stream: StreamingClient | None = None
        self.broker: Any = None

    def attach_broker(self, broker: Any) -> None:
        self.broker = broker
        broker.use_trade_events()

    def start(self) -> None:
        if self.stream is not None:
            return
        self.hub.set_status(self.name, FeedStatus.CONNECTING)
        s = StreamingClient.from_credentials(self.client.streaming_credentials(), **self.options)
        s.connect(timeout=10)
        s.subscribe_ticks(self.epics, self.hub)
        if self.broker is not None:
            s.subscribe_trades(self.broker.on_trade_event)
        self.stream = s
        self.hub.set_status(self.name, FeedStatus.CONNECTED)

    def stop(self, timeout: float = 5.0) -> None:
        s, self.stream = self.stream, None
        if s is not None:
            s.close()
        self.hub.set_status(self.name, FeedStatus.DISCONNECTED, "stopped")

    @property
    def status(self) -> FeedStatus:
        return self.hub.status(self.name)

    @property
    def running(self) -> bool:
        return self.stream is not None
