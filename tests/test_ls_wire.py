"""The simulator's TLCP wire format, checked line by line with a plain aiohttp client on 127.0.0.1
(what the real client needs is covered end to end in test_ls_stream.py; this pins the exact lines)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from igkit.sim.lightstreamer import install_lightstreamer
from igkit.sim.lightstreamer.ig_items import IGStreamBackend
from igkit.sim.lightstreamer.runner import AppThread

pytestmark = pytest.mark.timeout(30)

PW = "CST-c|XST-x"
ADD = "LS_reqId={r}&LS_op=add&LS_subId={s}&LS_mode={mode}&LS_group={item}&LS_schema={schema}&LS_snapshot={snap}"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, Any]]:
    backend = IGStreamBackend({"E1", "E2"}, {"ACC"}, lambda u, p: p == PW)
    app = web.Application()
    server = install_lightstreamer(app, backend, keepalive_ms=300, max_items=3)
    with AppThread(app) as t:
        yield t.url, server


class Wire:
    """A raw TLCP WebSocket: send frames, read lines."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.buf: list[str] = []

    async def send(self, text: str) -> None:
        await self.ws.send_str(text)

    async def line(self, timeout: float = 3.0) -> str:
        while not self.buf:
            msg = await asyncio.wait_for(self.ws.receive(), timeout)
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            assert msg.data.endswith("\r\n")  # whole lines only
            self.buf.extend(msg.data[:-2].split("\r\n"))
        return self.buf.pop(0)

    async def until(self, prefix: str, timeout: float = 3.0) -> tuple[str, list[str]]:
        skipped: list[str] = []
        while True:
            ln = await self.line(timeout)
            if ln.startswith(prefix):
                return ln, skipped
            skipped.append(ln)


@contextlib.asynccontextmanager
async def connect(url: str) -> AsyncIterator[Wire]:
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(url + "/lightstreamer", protocols=("TLCP-2.4.0.lightstreamer.com",)) as ws,
    ):
        assert ws.protocol == "TLCP-2.4.0.lightstreamer.com"  # older clients' protocol is accepted too
        yield Wire(ws)


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


async def _open(w: Wire, password: str = PW) -> str:
    await w.send("wsok")
    assert await w.line() == "WSOK"
    await w.send(f"create_session\r\nLS_user=ACC&LS_cid=x&LS_password={password.replace('|', '%7C')}")
    return await w.line()


def test_handshake_probe_subscribe_unsubscribe(served: tuple[str, Any]) -> None:
    run(_handshake(served[0]))


async def _handshake(url: str) -> None:
    async with connect(url) as wire:
        conok = await _open(wire)
        parts = conok.split(",")
        assert parts[0] == "CONOK" and parts[2:] == ["50000", "300", "*"]
        assert await wire.line(timeout=1.0) == "PROBE"  # idle: a PROBE within the keepalive
        item = "CHART%3AE1%3ATICK"
        await wire.send(
            "control\r\n"
            + ADD.format(r=1, s=1, mode="DISTINCT", item=item, schema="BID%20OFR%20UTM", snap="true")
            + "\r\n"
            + ADD.format(r=2, s=2, mode="MERGE", item="NOPE%3AX", schema="BID", snap="false")
        )
        assert (await wire.until("SUBOK"))[0] == "SUBOK,1,1,3"
        assert (await wire.until("EOS"))[0] == "EOS,1,1"  # DISTINCT snapshot requested: EOS even when empty
        reqerr, _ = await wire.until("REQERR")
        assert reqerr.startswith("REQERR,2,21,") and "NOPE:X" in reqerr.replace("%3A", ":")
        await wire.send("control\r\nLS_reqId=3&LS_op=delete&LS_subId=1\r\nLS_reqId=4&LS_op=delete&LS_subId=9")
        assert (await wire.until("REQOK"))[0] == "REQOK,3"  # LS_ack not false: acknowledged
        assert (await wire.until("UNSUB"))[0] == "UNSUB,1"
        assert (await wire.until("REQERR"))[0].startswith("REQERR,4,19,")


def test_item_limit_and_first_update_full(served: tuple[str, Any]) -> None:
    run(_limit(*served))


async def _limit(url: str, server: Any) -> None:
    async with connect(url) as wire:
        await _open(wire)
        group = "PRICE%3AACC%3AE1%20PRICE%3AACC%3AE2"
        add = ADD.format(r=1, s=1, mode="MERGE", item=group, schema="BIDPRICE1%20ASKPRICE1", snap="true")
        await wire.send("control\r\n" + add + "&LS_data_adapter=Pricing&LS_ack=false")
        assert (await wire.until("SUBOK"))[0] == "SUBOK,1,2,2"
        more = ADD.format(r=2, s=2, mode="MERGE", item="MARKET%3AE1%20MARKET%3AE2", schema="BID", snap="false")
        await wire.send("control\r\n" + more + "&LS_ack=false")
        reqerr, _ = await wire.until("REQERR")
        assert reqerr.startswith("REQERR,2,22,")  # 2 + 2 items > max_items=3
        server.publish("PRICE:ACC:E1", {"BIDPRICE1": "1.5", "ASKPRICE1": "1.6"})
        server.publish("PRICE:ACC:E1", {"BIDPRICE1": "1.7"})
        assert (await wire.until("U,"))[0] == "U,1,1,1.5|1.6"
        assert (await wire.until("U,"))[0] == "U,1,1,1.7|"
        # a fresh subscription to the same item starts again with full values (a MERGE snapshot here)
        again = ADD.format(r=3, s=3, mode="MERGE", item="PRICE%3AACC%3AE1", schema="ASKPRICE1", snap="true")
        await wire.send(
            "control\r\nLS_reqId=9&LS_op=delete&LS_subId=1&LS_ack=false\r\n" + again + "&LS_data_adapter=Pricing"
        )
        assert (await wire.until("SUBOK"))[0] == "SUBOK,3,1,1"
        assert (await wire.until("U,"))[0] == "U,3,1,1.6"


def test_refusals(served: tuple[str, Any]) -> None:
    run(_refusals(served[0]))


async def _refusals(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url + "/lightstreamer", protocols=("TLCP-2.5.0.lightstreamer.com",)) as ws:
            w = Wire(ws)
            assert (await _open(w, "CST-bad|XST-bad")).startswith("CONERR,1,")
            msg = await asyncio.wait_for(ws.receive(), 3)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)  # refused: socket closed
        async with http.ws_connect(url + "/lightstreamer", protocols=("TLCP-2.5.0.lightstreamer.com",)) as ws:
            w = Wire(ws)
            await w.send("wsok")
            assert await w.line() == "WSOK"
            await w.send("bind_session\r\nLS_session=Sdoesnotexist")
            assert (await w.line()).startswith("CONERR,20,")
        async with http.post(url + "/lightstreamer/bind_session.txt?LS_protocol=TLCP-2.5.0",
                             data="LS_session=Snope&LS_recovery_from=3&LS_polling=true") as resp:  # fmt: skip
            assert resp.status == 200 and (await resp.text()).startswith("CONERR,20,")


def test_recovery_replays_after_the_clients_count(served: tuple[str, Any]) -> None:
    run(_recovery(*served))


async def _recovery(url: str, server: Any) -> None:
    async with connect(url) as wire:
        sid = (await _open(wire)).split(",")[1]
        add = ADD.format(r=1, s=1, mode="DISTINCT", item="TRADE%3AACC", schema="CONFIRMS%20OPU", snap="false")
        await wire.send("control\r\n" + add + "&LS_ack=false")
        await wire.until("SUBOK")  # notification 1
        for i in range(3):  # notifications 2, 3, 4
            server.publish("TRADE:ACC", {"OPU": f'{{"n": {i}}}'})
        await wire.until("U,")
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                url + "/lightstreamer/bind_session.txt?LS_protocol=TLCP-2.5.0",
                data=f"LS_session={sid}&LS_recovery_from=2&LS_polling=true&LS_polling_millis=0&LS_idle_millis=0",
            ) as resp,
        ):
            lines = (await resp.text()).strip().split("\r\n")
        assert lines[0].startswith(f"CONOK,{sid},") and lines[1] == "PROG,2" and lines[-1] == "LOOP,0"
        assert lines[2:-1] == ['U,1,1,|{"n": 1}', 'U,1,1,|{"n": 2}']  # exactly the ones after #2, as first sent


def test_http_create_control_and_streaming_bind(served: tuple[str, Any]) -> None:
    run(_http_flow(*served))


async def _http_flow(url: str, server: Any) -> None:
    q = "?LS_protocol=TLCP-2.5.0"
    async with aiohttp.ClientSession() as http:
        async with http.post(url + "/lightstreamer/create_session.txt" + q,
                             data="LS_user=ACC&LS_password=CST-c%7CXST-x&LS_polling=true&LS_polling_millis=0"
                                  "&LS_idle_millis=0") as resp:  # fmt: skip
            lines = (await resp.text()).strip().split("\r\n")
        assert lines[0].startswith("CONOK,") and lines[-1] == "LOOP,0"  # a polling create answers at once
        sid = lines[0].split(",")[1]
        good = ADD.format(r=1, s=1, mode="DISTINCT", item="CHART%3AE1%3ATICK", schema="BID%20UTM", snap="false")
        bad = ADD.format(r=2, s=2, mode="DISTINCT", item="CHART%3AE1%3ATICK", schema="BID%20NOPE", snap="false")
        async with http.post(f"{url}/lightstreamer/control.txt{q}&LS_session={sid}",
                             data=good + "&LS_ack=false\r\n" + bad + "\r\n") as resp:  # fmt: skip
            ctrl = (await resp.text()).strip().split("\r\n")
        assert ctrl[0] == "REQOK,1" and ctrl[1].startswith("REQERR,2,23,")  # answered on the control response
        server.publish("CHART:E1:TICK", {"BID": "1.25", "UTM": "5"})
        bind = f"LS_session={sid}&LS_content_length=60&LS_keepalive_millis=300"
        async with http.post(url + "/lightstreamer/bind_session.txt" + q, data=bind) as resp:
            body = await asyncio.wait_for(resp.text(), 5)
        lines = body.strip().split("\r\n")
        # the stream carries what waited since the create, and ends with LOOP once 60 bytes went out
        assert lines[0].startswith(f"CONOK,{sid},") and lines[1:3] == ["SUBOK,1,1,2", "U,1,1,1.25|5"]
        assert lines[-1] == "LOOP,0"


def test_publish_needs_a_running_app_and_is_dropped_after_shutdown() -> None:
    from igkit.errors import StreamError

    app = web.Application()
    server = install_lightstreamer(app, IGStreamBackend({"E1"}, {"ACC"}, lambda u, p: True))
    with pytest.raises(StreamError, match="not running"):
        server.publish("CHART:E1:TICK", {"BID": "1"})
    thread = AppThread(app)
    thread.start()
    server.publish("CHART:E1:TICK", {"BID": "1"})
    server.sync()
    assert server.last_values("CHART:E1:TICK") == {"BID": "1"}
    thread.stop()
    server.publish("CHART:E1:TICK", {"BID": "2"})  # no error from a feed thread that outlives the app
    assert server.stats["dropped_after_close"] == 1
    with pytest.raises(StreamError, match="how must be one of"):
        server.drop("explode")
