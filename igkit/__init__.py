"""igkit: research on history, then trade the same strategy live on IG, from Jupyter.

Modes: Demo (offline synthetic market + paper broker, the default), and IG with environment ``demo`` or
``live`` (IG's gateways) or ``sim`` (igkit's IG-compatible simulator on loopback).
"""

from __future__ import annotations

from igkit.config import Config, load_config
from igkit.errors import (
    AuthError,
    ConfigError,
    DataError,
    DealRejected,
    IGError,
    IgkitError,
    IGRequestError,
    RateLimitError,
    RiskRejected,
    StreamError,
)
from igkit.types import Direction, Mode, Tick

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "Config",
    "ConfigError",
    "DataError",
    "DealRejected",
    "Direction",
    "IGError",
    "IGRequestError",
    "IgkitError",
    "Mode",
    "RateLimitError",
    "RiskRejected",
    "StreamError",
    "Tick",
    "__version__",
    "load_config",
]
