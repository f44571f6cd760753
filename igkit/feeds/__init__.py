"""Feeds: sources that push ticks into a :class:`~igkit.ticks.TickHub`, each on its own thread."""

from __future__ import annotations

from igkit.feeds.base import Feed, ThreadFeed
from igkit.feeds.demo import DemoFeed
from igkit.feeds.replay import ReplayFeed

__all__ = ["DemoFeed", "Feed", "ReplayFeed", "ThreadFeed"]
