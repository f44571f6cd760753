"""Brokers: one protocol, a paper broker for Demo and an IG broker for IG's gateways and the simulator."""

from __future__ import annotations

from igkit.broker.base import Broker, BrokerEvent, BrokerListener

__all__ = ["Broker", "BrokerEvent", "BrokerListener"]
