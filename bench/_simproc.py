"""An IGSimulator in a child process, for the streaming benchmarks (imported as ``_simproc``).

In one process the simulator's Lightstreamer server and the client under test share the GIL, so every
update the server encodes is time the client cannot spend receiving: the measured rates then swing with
whatever the server thread happens to be doing. In its own process the server has its own interpreter,
and the client-side rate measures the client library plus igkit's listener, which is the question.
Commands go over a pipe: ``burst`` (publish on the tick items; answered once the server has generated
every update), ``close_sessions``, ``stop``.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
from multiprocessing.connection import Connection
from typing import Any

_utm = itertools.count(1_700_000_000_000)


def tick_values(i: int) -> dict[str, str | None]:
    """Values of the ``i``-th update of a burst: EURUSD-like quotes, increasing UTM."""
    bid = 1.1 + (i % 101) * 1e-5
    return {"BID": f"{bid:.5f}", "OFR": f"{bid + 1e-4:.5f}", "UTM": str(next(_utm))}


def _serve(conn: Connection, options: dict[str, Any]) -> None:
    from igkit.ig.stream import tick_item
    from igkit.sim import IGSimulator
    from igkit.sim.lightstreamer.ig_hook import LS_STREAMER_KEY

    with IGSimulator(**options) as sim:
        assert sim.app is not None
        sim.app[LS_STREAMER_KEY].stop()  # only bursts flow
        conn.send({"rest_url": sim.rest_url, "api_key": sim.api_key, "username": sim.username,
                   "password": sim.password, "epics": list(sim.prices.market.instruments)})
        while True:
            cmd, args = conn.recv()
            if cmd == "burst":
                epics, per_item = args
                for epic in epics:
                    sim.stream_burst(tick_item(epic), per_item, tick_values)
                sim.stream.sync()
                conn.send(True)
            elif cmd == "close_sessions":
                conn.send(sim.stream.close_sessions())
            else:
                conn.send(None)
                return


class SimProcess:
    """``with SimProcess(always_open=True, seed=0) as sim:`` then ``sim.info`` (URL, credentials, epics),
    ``sim.burst(epics, per_item)`` / ``sim.wait_burst()``, ``sim.close_sessions()``."""

    def __init__(self, **options: Any) -> None:
        ctx = mp.get_context("spawn")  # a fresh interpreter: nothing inherited from the parent's threads
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, options), daemon=True, name="bench-igsim")
        self._proc.start()
        if not self._conn.poll(60):
            self._proc.kill()
            raise RuntimeError("the simulator process did not start within 60 s")
        self.info: dict[str, Any] = self._conn.recv()

    def burst(self, epics: list[str], per_item: int) -> None:
        """Start publishing ``per_item`` updates on each epic's tick item; :meth:`wait_burst` for the answer."""
        self._conn.send(("burst", (epics, per_item)))

    def wait_burst(self, timeout: float = 60.0) -> None:
        if not self._conn.poll(timeout):
            raise TimeoutError(f"the simulator did not finish a burst within {timeout} s")
        self._conn.recv()

    def close_sessions(self) -> int:
        self._conn.send(("close_sessions", None))
        return int(self._conn.recv())

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._conn.send(("stop", None))
            self._conn.poll(10)
        finally:
            self._proc.join(10)
            if self._proc.is_alive():
                self._proc.kill()
