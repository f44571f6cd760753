"""Feeds: sources that push ticks into a :class:`~igkit.ticks.TickHub`, each on its own thread."""

from __future__ import annotations

from igkit.feeds.base import Feed, ThreadFeed

__all__ = ["Feed", "ThreadFeed"]
