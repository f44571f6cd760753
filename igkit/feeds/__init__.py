"""Feeds: sources that push ticks into a :class:`~igkit.ticks.TickHub`, each on its own thread."""

from __future__ import annotations

from igkit.feeds.base import Feed, ThreadFeed
from igkit.feeds.demo import DemoFeed
from igkit.feeds.polling import PollingFeed
from igkit.feeds.repair import Repair, bars_from_seconds, repair_candles
from igkit.feeds.replay import ReplayFeed
from igkit.feeds.streaming import StreamingFeed

__all__ = [
    "DemoFeed",
    "Feed",
    "PollingFeed",
    "Repair",
    "ReplayFeed",
    "StreamingFeed",
    "ThreadFeed",
    "bars_from_seconds",
    "repair_candles",
]
