"""``igkit sim``: the command serves a working gateway and prints how to connect to it."""

from __future__ import annotations

import io
import re
import threading

import requests

from igkit.cli import build_parser
from igkit.cli_sim import run


def test_sim_command_serves_and_prints_connection() -> None:
    args = build_parser().parse_args(["sim", "--duration", "3", "--always-open", "--seed", "4"])
    out = io.StringIO()
    done = threading.Event()
    codes: list[int] = []

    def go() -> None:
        codes.append(run(args, out=out))
        done.set()

    t = threading.Thread(target=go, daemon=True)
    t.start()
    for _ in range(200):
        if "Ctrl-C" in out.getvalue():
            break
        done.wait(0.02)
    text = out.getvalue()
    url = re.search(r"rest_url\s+(\S+)", text)
    assert url, text
    key = re.search(r"api_key\s+(\S+)", text)
    user = re.search(r"username\s+(\S+)", text)
    pwd = re.search(r"password\s+(\S+)", text)
    assert key and user and pwd
    assert f"export IGKIT_IG__ENDPOINTS__SIM={url.group(1)}" in text and "IGKIT_MODE=sim" in text
    r = requests.post(url.group(1) + "/session", json={"identifier": user.group(1), "password": pwd.group(1)},
                      headers={"X-IG-API-KEY": key.group(1), "Version": "2"}, timeout=5)
    assert r.status_code == 200 and r.headers["CST"]
    t.join(10)
    assert codes == [0] and "stopped after 1 requests" in out.getvalue()


def test_sim_parser_defaults() -> None:
    args = build_parser().parse_args(["sim"])
    assert (args.host, args.port, args.always_open, args.ig_limits) == ("127.0.0.1", 0, False, False)
