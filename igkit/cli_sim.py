"""``igkit sim``: run the IG simulator in the foreground and print how to point igkit (or any IG client) at it.

Runs until Ctrl-C (or ``--duration`` seconds). Output goes to stdout: it is a command, not the library.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, TextIO

from igkit.sim import IGSimulator, RateLimits

__all__ = ["add_parser", "connection_text", "run"]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "sim", help="run the IG REST simulator on 127.0.0.1",
        description="Serve an IG-compatible REST gateway over the seeded synthetic market until Ctrl-C.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (default: an ephemeral one)")
    p.add_argument("--seed", type=int, default=0, help="synthetic market seed (default 0)")
    p.add_argument("--tick-rate", type=float, default=4.0, help="mean ticks per second per instrument")
    p.add_argument("--always-open", action="store_true", help="ignore opening hours (markets always open)")
    p.add_argument("--start", default=None, help="simulated start time, e.g. 2026-11-20T12:00Z (default: now)")
    p.add_argument("--access-token-ttl", type=float, default=60.0, help="v3 access token lifetime, seconds")
    p.add_argument("--ig-limits", action="store_true",
                   help="enforce IG's per-minute allowances (60 app / 30 account / 100 trading)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    return p


def connection_text(sim: IGSimulator) -> str:
    """How to connect: URLs, credentials, environment variables and a config/local.json snippet."""
    c = sim.credentials()
    env = {
        "IGKIT_MODE": "sim",
        "IGKIT_IG__ENDPOINTS__SIM": c["rest_url"],
        "IGKIT_IG__API_KEY": c["api_key"],
        "IGKIT_IG__USERNAME": c["username"],
        "IGKIT_IG__PASSWORD": c["password"],
        "IGKIT_IG__ACCOUNT_ID": c["account_id"],
    }
    local = {"broker": "ig", "ig": {"environment": "sim", "endpoints": {"sim": c["rest_url"]},
                                    "api_key": c["api_key"], "username": c["username"],
                                    "password": c["password"], "account_id": c["account_id"]}}
    accounts = ", ".join(f"{a.account_id} ({a.account_type}, {a.currency})" for a in sim.broker.accounts.values())
    lines = [
        "IG simulator running",
        f"  rest_url          {c['rest_url']}",
        f"  lightstreamer_url {c['lightstreamer_url']}",
        f"  username          {c['username']}",
        f"  password          {c['password']}",
        f"  api_key           {c['api_key']}",
        f"  account_id        {c['account_id']}",
        f"  accounts          {accounts}",
        "",
        "Point igkit at it with environment variables:",
        *(f"  export {k}={v}" for k, v in env.items()),
        "",
        "or in config/local.json:",
        *("  " + line for line in json.dumps(local, indent=2).splitlines()),
        "",
        "Ctrl-C stops it.",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    stream = out or sys.stdout
    limits = RateLimits() if args.ig_limits else None
    sim = IGSimulator(host=args.host, port=args.port, seed=args.seed, tick_rate=args.tick_rate,
                      always_open=args.always_open, clock=args.start, access_token_ttl=args.access_token_ttl,
                      rate_limits=limits)
    with sim:
        print(connection_text(sim), file=stream, flush=True)
        deadline = None if args.duration is None else time.monotonic() + args.duration
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic())))
        except KeyboardInterrupt:
            pass
        served = len(sim.request_log)
    print(f"IG simulator stopped after {served} requests.", file=stream, flush=True)
    return 0
