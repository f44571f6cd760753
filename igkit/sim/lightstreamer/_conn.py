"""One server-side TLCP transport (a WebSocket, or an HTTP streaming/polling response) and the
framing rule: batches of whole lines, each frame under ~1 MiB (a line split across frames is corrupted
by the client; aiohttp caps frames at 4 MiB)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from aiohttp import web

from igkit.sim.lightstreamer.session import Session

__all__ = ["Conn", "frames"]

_FRAME_BYTES = 1 << 20


class Conn:
    """One transport (a WebSocket, or an HTTP streaming/polling response): its outbox, writer wake-up,
    attached session and fault state."""

    def __init__(self, request: web.Request, now: float, *, ws: web.WebSocketResponse | None = None,
                 resp: web.StreamResponse | None = None, content_length: int = 0) -> None:  # fmt: skip
        self.ws = ws
        self.resp = resp
        self.request = request
        self.outbox: list[str] = []
        self.wake = asyncio.Event()
        self.session: Session | None = None
        self.stall_until = 0.0
        self.closed = False
        self.close_after_flush = False
        self.last_write = now
        self.content_length = content_length  # HTTP streaming: LOOP once this many bytes went out
        self.sent_bytes = 0
        self.data_sent = 0  # data notifications queued on this transport (polling answers once > 0)
        self.last_session = ""  # id of the session this transport last carried

    def send(self, line: str) -> None:
        self.outbox.append(line)
        self.wake.set()

    async def write(self, text: str) -> None:
        if self.ws is not None:
            await self.ws.send_str(text)
        elif self.resp is not None:
            data = text.encode("utf-8")
            await self.resp.write(data)
            self.sent_bytes += len(data)

    async def finish(self) -> None:
        self.closed = True
        if self.ws is not None:
            await self.ws.close()

    def abort(self) -> None:
        """Kill the socket without a close frame."""
        self.closed = True
        transport = self.request.transport
        if transport is not None:
            transport.abort()
        self.wake.set()


def frames(lines: list[str]) -> Iterator[str]:
    """Join lines into frames of whole lines, each under ~1 MiB."""
    chunk: list[str] = []
    size = 0
    for line in lines:
        if chunk and size + len(line) > _FRAME_BYTES:
            yield "\r\n".join(chunk) + "\r\n"
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 2
    if chunk:
        yield "\r\n".join(chunk) + "\r\n"
