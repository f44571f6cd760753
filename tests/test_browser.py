"""A real browser on the Voilà dashboard: Debian's Chromium (``/usr/bin/chromium``, never ``playwright
install``) driven by Playwright against ``voila notebooks/03_live_panel.ipynb`` on 127.0.0.1.

With ``IGKIT_FAST=1`` the notebook uses 5-second bars at 60x speed and SMA(2, 3), so within seconds:
the chart renders, Start makes candles appear and grow, signal markers appear, positions open; the kill
switch turns the status to HALTED and flattens; Stop stops. A screenshot goes to ``artifacts/`` on success
and on failure. Elements are found by the panel's stable CSS classes (``igkit.widgets.CLASSES``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                       reason=f"{CHROMIUM} is absent: `make browser-deps` installs Debian's chromium"),
    pytest.mark.timeout(240),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"voila exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"voila did not listen on 127.0.0.1:{port} within {timeout} s")


@pytest.fixture
def voila_url() -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IGKIT_DEMO")}
    env["IGKIT_FAST"] = "1"
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / "voila.log").open("wb")
    voila = Path(sys.executable).with_name("voila")
    proc = subprocess.Popen(
        [str(voila), "notebooks/03_live_panel.ipynb", "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_port(port, proc)
        yield f"http://127.0.0.1:{port}/"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        log.close()


def test_dashboard_start_candles_signals_kill_stop(voila_url: str) -> None:
    from playwright.sync_api import sync_playwright

    shot = ARTIFACTS / "browser_panel.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1300})
        try:
            page.goto(voila_url, timeout=90_000)
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=90_000)
            page.wait_for_selector(".igkit-status [data-status='IDLE']", timeout=30_000)
            assert page.locator(".igkit-kill").is_visible()
            assert "DEMO" in page.locator(".igkit-mode-badge").inner_text()

            page.get_by_role("button", name="Start").click()
            page.wait_for_selector(".igkit-status [data-status='RUNNING']", timeout=30_000)

            def candles() -> int:
                got = page.locator(".igkit-candle-count [data-candles]").get_attribute("data-candles")
                return int(got or 0)

            page.wait_for_function(
                "() => { const e = document.querySelector('.igkit-candle-count [data-candles]');"
                " return e && Number(e.dataset.candles) >= 3; }", timeout=60_000)
            first = candles()
            boxes = page.locator(".js-plotly-plot g.trace.boxes path.box")
            page.wait_for_function(
                f"() => document.querySelectorAll('.js-plotly-plot g.trace.boxes path.box').length >= {first}",
                timeout=30_000)
            drawn = boxes.count()
            page.wait_for_function(
                "n => Number(document.querySelector('.igkit-candle-count [data-candles]').dataset.candles) > n",
                arg=first + 5, timeout=60_000)
            page.wait_for_function(
                "n => document.querySelectorAll('.js-plotly-plot g.trace.boxes path.box').length > n",
                arg=drawn, timeout=30_000)  # the figure in the browser grows too, not just the label
            # signal markers (scatter points on the price pane) and an open position with its Close button
            # the first three scatter traces of the price pane are the signal markers (long, short, flat)
            page.wait_for_function(
                "() => { const t = document.querySelectorAll('.js-plotly-plot .scatterlayer g.trace.scatter');"
                " return t.length >= 3 && [0, 1, 2].some(i => t[i].querySelectorAll('.points path').length > 0); }",
                timeout=60_000)
            page.wait_for_function("() => document.querySelectorAll('.igkit-close-position').length > 0",
                                   timeout=60_000)

            page.locator(".igkit-kill").click()
            page.wait_for_selector(".igkit-status [data-status='HALTED']", timeout=30_000)
            page.wait_for_function("() => document.querySelectorAll('.igkit-close-position').length === 0",
                                   timeout=30_000)  # flattened
            assert "kill" in page.locator(".igkit-error").inner_text().lower()

            page.get_by_role("button", name="Stop").click()
            page.wait_for_selector(".igkit-status [data-status='STOPPED']", timeout=30_000)
            page.screenshot(path=str(shot), full_page=True)
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "browser_panel_failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
