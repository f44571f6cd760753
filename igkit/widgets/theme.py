"""The panel's look in one place: mode badge colours, status colours, connection lights and the CSS
class names (stable DOM hooks for browser tests and user styling).

Every element of :class:`~igkit.widgets.ControlPanel` that a test or a stylesheet may need carries one of
the classes in :data:`CLASSES` (``widget.add_class(...)``); the names never change between versions.
"""

from __future__ import annotations

import html
from types import MappingProxyType

__all__ = [
    "CLASSES",
    "CONNECTION_COLORS",
    "MODE_COLORS",
    "MODE_LABELS",
    "STATUS_COLORS",
    "badge_html",
    "esc",
    "light_html",
]

# mode value (igkit.types.Mode) → label shown on the badge, and its colour
MODE_LABELS = MappingProxyType({"demo": "DEMO", "sim": "SIM", "ig-demo": "IG-DEMO", "ig-live": "LIVE"})
MODE_COLORS = MappingProxyType({"demo": "#757575", "sim": "#1e88e5", "ig-demo": "#ffb300", "ig-live": "#e53935"})
STATUS_COLORS = MappingProxyType({
    "IDLE": "#757575", "STARTING": "#1e88e5", "RUNNING": "#43a047", "HALTED": "#e53935",
    "STOPPING": "#fb8c00", "STOPPED": "#757575", "ERROR": "#b71c1c",
})
CONNECTION_COLORS = MappingProxyType({
    "CONNECTED": "#43a047", "CONNECTING": "#fdd835", "STALLED": "#fb8c00", "RECONNECTING": "#fb8c00",
    "DISCONNECTED": "#9e9e9e",
})

# element → its stable CSS class (documented list; tests look elements up by these)
CLASSES = MappingProxyType({
    "panel": "igkit-panel",
    "header": "igkit-header",
    "mode_badge": "igkit-mode-badge",
    "status": "igkit-status",
    "connection": "igkit-connection",
    "account": "igkit-account",
    "balance": "igkit-balance",
    "pnl": "igkit-pnl",
    "tick_age": "igkit-tick-age",
    "error": "igkit-error",
    "mode": "igkit-mode",
    "instruments": "igkit-instruments",
    "timeframe": "igkit-timeframe",
    "strategy": "igkit-strategy",
    "params": "igkit-params",
    "start": "igkit-start",
    "stop": "igkit-stop",
    "kill": "igkit-kill",
    "resume": "igkit-resume",
    "confirm": "igkit-confirm",
    "confirm_yes": "igkit-confirm-yes",
    "confirm_no": "igkit-confirm-no",
    "chart": "igkit-chart",
    "chart_instrument": "igkit-chart-instrument",
    "candle_count": "igkit-candle-count",
    "tabs": "igkit-tabs",
    "positions": "igkit-positions",
    "close_position": "igkit-close-position",
    "orders": "igkit-orders",
    "cancel_order": "igkit-cancel-order",
    "signals": "igkit-signals",
    "fills": "igkit-fills",
    "quality": "igkit-quality",
    "log": "igkit-log",
    "risk": "igkit-risk",
    "progress": "igkit-progress",
})


def esc(value: object) -> str:
    """``value`` as text safe inside HTML."""
    return html.escape(str(value), quote=True)


def badge_html(text: str, color: str, *, dom_id: str = "") -> str:
    """A rounded coloured badge with white bold text."""
    ident = f' id="{esc(dom_id)}"' if dom_id else ""
    return (f'<span{ident} style="background:{color};color:white;font-weight:bold;padding:2px 8px;'
            f'border-radius:4px;font-family:monospace">{esc(text)}</span>')


def light_html(status: str) -> str:
    """A coloured dot followed by the connection status."""
    color = CONNECTION_COLORS.get(status, "#9e9e9e")
    return (f'<span style="color:{color};font-size:1.2em">&#9679;</span> '
            f'<span data-connection="{esc(status)}">{esc(status)}</span>')
