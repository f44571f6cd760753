"""The panel's tabs and header with a real Demo engine, no browser: a working order placed through the Demo
engine's PaperBroker shows in the working-orders tab and its Cancel button (``igkit-cancel-order``) deletes
it; the data quality, log and risk tabs show the running engine's numbers; the mode badge has each mode's
colour. Every widget is guarded: a write from any thread but the refresher's fails the test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from test_widgets_panel import EURUSD, as_user, configure, fast_factory, wait_for

from igkit.config import load_config
from igkit.types import Direction, Order, OrderStatus, OrderType
from igkit.widgets import CLASSES, ControlPanel
from igkit.widgets.theme import MODE_COLORS, MODE_LABELS


@pytest.fixture
def panel() -> Iterator[ControlPanel]:
    p = ControlPanel(load_config(), engine_factory=fast_factory())
    configure(p, (EURUSD,))
    p.guard()
    yield p
    p.close()
    assert p.refresher.writes_off_thread == 0, list(p.refresher.off_thread_examples)


def order_row(p: ControlPanel, deal_id: str) -> Any:
    """The working-orders row naming ``deal_id`` (None while there is none)."""
    for row in p.widgets.orders.children:
        kids = getattr(row, "children", ())
        if len(kids) == 2 and deal_id in kids[1].value:
            return row
    return None


def test_cancel_button_deletes_the_working_order(panel: ControlPanel) -> None:
    panel.start()
    eng = panel.engine
    quote = wait_for(lambda: eng.broker.quote(EURUSD), what="a Demo quote at the paper broker")
    level = round(quote[1] * 0.9, 4)  # a buy limit 10% under the market: it rests, it never fills
    r = eng.broker.submit(Order(EURUSD, Direction.BUY, 1.0, OrderType.LIMIT, level=level, reason="manual"))
    assert r.status is OrderStatus.WORKING, r
    row = wait_for(lambda: order_row(panel, r.deal_id), what="the working order in the orders tab")
    button, text = row.children
    assert CLASSES["cancel_order"] == "igkit-cancel-order" and "igkit-cancel-order" in button._dom_classes
    assert button.description == "Cancel"
    assert f"{EURUSD} LIMIT BUY 1 @ {level:g}" in text.value

    button.click()  # ControlPanel.cancel_order → PaperBroker.cancel_order
    assert r.deal_id not in {x.deal_id for x in eng.broker.working_orders()}
    wait_for(lambda: order_row(panel, r.deal_id) is None, what="the order gone from the orders tab")
    assert eng.running and not any(f.deal_id == r.deal_id for f in eng.fills)
    assert not any("cancel" in m for _, m in panel.messages), list(panel.messages)  # no refusal shown


def test_quality_log_and_risk_tabs_show_the_running_engine(panel: ControlPanel) -> None:
    w = panel.widgets
    panel.start()
    eng = panel.engine
    wait_for(lambda: eng.state.ticks >= 20, what="ticks at the engine")

    def quality_ticks() -> int:  # the ticks column of the epic's row in the instruments table
        m = re.search(rf"<td[^>]*>{re.escape(EURUSD)}</td><td[^>]*>(\d+)</td>",
                      w.quality.value.split("<br>")[1] if "<br>" in w.quality.value else "")
        return int(m.group(1)) if m else 0

    wait_for(lambda: quality_ticks() >= 20, what="the epic's tick count in the quality tab")
    q = w.quality.value
    for header in ("ticks", "gaps", "out_of_order", "duplicates", "lost", "candles", "last tick"):
        assert f">{header}</th>" in q, header
    assert "tick rate" in q and "latency p50" in q and "µs" in q

    wait_for(lambda: "engine RUNNING" in w.log.value, what="the engine's start in the log tab")
    assert "INFO igkit.engine" in w.log.value and "feed demo: CONNECTED" in w.log.value

    risk = wait_for(lambda: w.risk.value if "limits.max_order_size" in w.risk.value else "",
                    what="the risk manager's limits in the risk tab")
    for key, value in panel.config.risk.model_dump().items():
        shown = f"{value:,.4g}" if isinstance(value, float) else str(value)
        assert re.search(rf">config\.risk\.{key}</td><td[^>]*>{re.escape(shown)}</td>", risk), (key, shown)
    assert ">halted</td><td style='padding:0 8px'>False</td>" in risk
    assert "usage.orders_last_minute" in risk


def test_the_running_demo_engine_header(panel: ControlPanel) -> None:
    w = panel.widgets
    panel.start()
    wait_for(lambda: "RUNNING" in w.status.value, what="RUNNING in the header")
    assert f"background:{MODE_COLORS['demo']}" in w.badge.value and ">DEMO</span>" in w.badge.value
    assert w.account.value == "account <b>paper</b>"  # a PaperBroker has no IG account


def test_mode_badge_has_each_modes_colour_before_start(panel: ControlPanel) -> None:
    panel.refresher.start()
    assert set(MODE_COLORS) == {"demo", "sim", "ig-demo", "ig-live"}
    assert len(set(MODE_COLORS.values())) == 4
    for mode, color in MODE_COLORS.items():
        with as_user(panel):
            panel.widgets.mode.value = mode
        wait_for(lambda c=color, m=mode: f"background:{c}" in panel.widgets.badge.value
                 and f">{MODE_LABELS[m]}</span>" in panel.widgets.badge.value, what=f"the {mode} badge")
    assert panel.engine is None


def test_quality_tab_cell_for_the_comparison_with_igs_candles() -> None:
    from igkit.widgets._render import _vs_ig

    cmp = {"common": 12, "only_ours": 0, "only_theirs": 1, "max_abs_diff": {"bid_open": 0.0, "ask_low": 1e-5}}
    assert _vs_ig(cmp) == "12 bars, max diff 1e-05"
    assert _vs_ig({"common": 0, "max_abs_diff": {"bid_open": float("nan")}}) == "0 bars, max diff 0"
    assert _vs_ig({"error": "DataError: x"}) == "error: DataError: x"
    assert _vs_ig(None) == ""
