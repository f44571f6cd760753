"""Brokers: one protocol, a paper broker for Demo and an IG broker for IG's gateways and the simulator."""

from __future__ import annotations

from igkit.broker.base import Broker, BrokerEvent, BrokerListener

__all__ = ["Broker", "BrokerEvent", "BrokerListener"]
from igkit.broker.ig import IGBroker
from igkit.broker.paper import PaperBroker
from igkit.broker.rules import DEFAULT_SIZE_STEP, InstrumentRules, rules_for

__all__ += ["DEFAULT_SIZE_STEP", "InstrumentRules", "PaperBroker", "rules_for"]
__all__ += ["IGBroker"]
