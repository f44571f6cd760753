"""Run an ``aiohttp.web.Application`` on 127.0.0.1 in a daemon thread (tests, notebooks, the CLI).

``AppThread(app).start()`` returns the base URL (``http://127.0.0.1:<port>``, an ephemeral port by
default); ``stop()`` shuts the application down and joins the thread. Also a context manager.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from types import TracebackType

from aiohttp import web

from igkit.errors import StreamError

__all__ = ["AppThread"]

log = logging.getLogger(__name__)


class AppThread:
    """An aiohttp application served from its own event loop on a daemon thread."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        return f"<AppThread {self.url or 'not started'}>"

    def start(self, timeout: float = 10.0) -> str:
        """Start serving (idempotent) and return the base URL."""
        if self._thread is not None:
            return self.url
        self._thread = threading.Thread(target=self._run, name=f"aiohttp-{self.host}", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise StreamError(f"AppThread: could not serve on {self.host}:{self.port}: {self._error!r}")
        return self.url

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._shutdown())
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:  # handlers still waiting on a socket: cancel them rather than leak them
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()

    async def _serve(self) -> None:
        self._runner = web.AppRunner(self.app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        port = sockets[0].getsockname()[1] if sockets else self.port
        self.port = port
        self.url = f"http://{self.host}:{port}"

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the application down and join the thread (idempotent)."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        if thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
        self._thread = None

    def __enter__(self) -> AppThread:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
