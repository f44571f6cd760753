"""Shared set-up of the IG client end-to-end tests: a real IGSimulator on 127.0.0.1 and a real client."""

from __future__ import annotations

from collections.abc import Iterator

from igkit.ig import IGClient, RateLimits
from igkit.sim import IGSimulator

EPIC = "CS.D.EURUSD.MINI.IP"
UNLIMITED = 1_000_000


def run_sim() -> Iterator[IGSimulator]:
    """Body of the ``sim`` fixture of the IG test modules."""
    with IGSimulator(seed=0, always_open=True) as s:
        yield s


def make_client(sim: IGSimulator, **kw: object) -> IGClient:
    """A client for ``sim`` with no local rate limiting and fast retries (tests stay quick)."""
    kw.setdefault("limits", RateLimits(UNLIMITED, UNLIMITED, UNLIMITED))
    kw.setdefault("backoff", 0.001)
    kw.setdefault("confirm_timeout", 2.0)
    kw.setdefault("settle", 0.01)
    return IGClient(sim.rest_url, sim.api_key, **kw)  # type: ignore[arg-type]


def logged_in_client(sim: IGSimulator) -> Iterator[IGClient]:
    """Body of the ``client`` fixture: a v2 session, closed (logged out) afterwards."""
    c = make_client(sim)
    c.login(sim.username, sim.password)
    yield c
    c.close()


def sim_calls(sim: IGSimulator, method: str, path: str) -> list[int]:
    """Statuses of the requests the simulator received for ``method path`` (0 = dropped), in order."""
    return [r.status for r in sim.request_log if r.method == method and r.path == path]
