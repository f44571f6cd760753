"""Every real IG payload in shared/ig-payloads has a simulator counterpart of the same shape.

Same keys at every level (recursively, lists merged over their items), the same JSON types where both
sides have a value (int and float are both "number"), and the same date/time formats in strings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sim_support import Raw

from igkit.sim import IGSimulator

PAYLOADS = Path("/work/shared/ig-payloads")
if not PAYLOADS.is_dir():  # the repo keeps no copy of the captures
    pytest.skip(f"IG payload captures not found at {PAYLOADS}", allow_module_level=True)

EURUSD = "CS.D.EURUSD.MINI.IP"

_FORMATS = [
    ("ymd_hms_ms", r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}:\d{3}"),
    ("ymd_hms", r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}"),
    ("iso", r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"),
    ("iso_min", r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}"),
    ("v1price", r"\d{4}:\d{2}:\d{2}-\d{2}:\d{2}:\d{2}"),
    ("hms", r"\d{2}:\d{2}:\d{2}"),
    ("hm", r"\d{2}:\d{2}"),
    ("dmy2", r"\d{2}/\d{2}/\d{2}"),
    ("date", r"\d{4}-\d{2}-\d{2}"),
]


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        for name, pattern in _FORMATS:
            if re.fullmatch(pattern, value):
                return "str:" + name
        return "str"
    return "list" if isinstance(value, list) else "object"


def flatten(value: Any, path: str = "$", out: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    """path → kinds seen there; list items share the path ``<list>[]``."""
    out = {} if out is None else out
    out.setdefault(path, set()).add(kind(value))
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(v, f"{path}.{k}", out)
    elif isinstance(value, list):
        for item in value:
            flatten(item, f"{path}[]", out)
    return out


def assert_same_shape(sample: Any, got: Any, *, may_be_null: frozenset[str] = frozenset()) -> None:
    want, have = flatten(sample), flatten(got)
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    assert not missing and not extra, f"missing keys {missing}, unexpected keys {extra}"
    for path, kinds in want.items():
        w = kinds - {"null"}
        h = have[path] - {"null"}
        if not w:
            continue  # the capture only shows null here: any value is fine
        if not h:
            assert path.rsplit(".", 1)[-1] in may_be_null, f"{path}: simulator sent only null, IG sends {w}"
            continue
        assert h <= w, f"{path}: simulator sent {h}, IG sends {w}"


def sample(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


@pytest.fixture(scope="module")
def sim() -> Iterator[IGSimulator]:
    with IGSimulator(always_open=True, seed=5) as s:
        yield s


@pytest.fixture(scope="module")
def raw(sim: IGSimulator) -> Raw:
    r = Raw(sim)
    r.login(2)
    # some state so that lists are not empty: two positions, one working order, history
    assert r.deal(size=1)["dealStatus"] == "ACCEPTED"
    assert r.deal(size=2, direction="SELL", limitDistance=30)["dealStatus"] == "ACCEPTED"
    _bid, ask = sim.quote(EURUSD)
    order = {"epic": EURUSD, "expiry": "-", "direction": "BUY", "size": 1, "level": round(ask + 0.005, 5),
             "type": "STOP", "timeInForce": "GOOD_TILL_CANCELLED", "currencyCode": "USD",
             "guaranteedStop": False, "stopDistance": 5, "limitDistance": 25}
    resp = r.call("POST", "/workingorders/otc", version=2, json=order)
    assert r.confirm(resp.json()["dealReference"])["dealStatus"] == "ACCEPTED"
    return r


CASES: dict[str, Callable[[Raw], Any]] = {
    "accounts.json": lambda r: r.login(2).json(),
    "session.json": lambda r: r.call("GET", "/session", version=1).json(),
    "accounts_balances.json": lambda r: r.call("GET", "/accounts", version=1).json(),
    "application.json": lambda r: r.call("GET", "/operations/application", version=1).json(),
    "activities_v1.json": lambda r: r.call("GET", "/history/activity/3600000", version=1).json(),
    "historic_prices.json": lambda r: r.call("GET", f"/prices/{EURUSD}", version=3).json(),
    "historic_prices_dates.json": lambda r: r.call(
        "GET", f"/prices/{EURUSD}", version=3,
        params={"resolution": "DAY", "from": "2026-09-01T00:00:00", "to": "2026-09-05T00:00:00"}).json(),
    "historic_prices_num_points.json": lambda r: r.call(
        "GET", f"/prices/{EURUSD}", version=3, params={"resolution": "WEEK", "max": 10}).json(),
    "historic_prices_v1.json": lambda r: r.call("GET", f"/prices/{EURUSD}/DAY/4", version=1).json(),
    "historic_prices_v2.json": lambda r: r.call(
        "GET", f"/prices/{EURUSD}/DAY/2026-10-09 00:00:00/2026-10-21 00:00:00", version=2).json(),
    "markets_epic.json": lambda r: r.call("GET", f"/markets/{EURUSD}", version=3).json(),
    "positions_v1.json": lambda r: r.call("GET", "/positions", version=1).json(),
    "positions_v2.json": lambda r: r.call("GET", "/positions", version=2).json(),
    "workingorders_v1.json": lambda r: r.call("GET", "/workingorders", version=1).json(),
    "workingorders_v2.json": lambda r: r.call("GET", "/workingorders", version=2).json(),
}

def test_every_payload_has_a_case() -> None:
    files = {p.name for p in PAYLOADS.glob("*.json")}
    covered = set(CASES) | {"switch.json"}
    assert files == covered, f"payload files without a counterpart: {files - covered}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_payload_shape(name: str, raw: Raw) -> None:
    got = CASES[name](raw)
    assert_same_shape(sample(name), got)


def test_switch_payload_shape(sim: IGSimulator) -> None:
    r = Raw(sim)
    r.login(2)
    resp = r.call("PUT", "/session", json={"accountId": sim.second_account_id})
    assert resp.status_code == 200
    assert_same_shape(sample("switch.json"), resp.json())


def test_shape_checker_catches_differences() -> None:
    base = {"a": 1, "b": {"c": "2020-01-01T10:00:00"}, "d": [{"e": True}]}
    assert_same_shape(base, {"a": 2.5, "b": {"c": "2021-02-03T04:05:06"}, "d": [{"e": False}]})
    for bad in ({"a": 1, "b": {"c": "2020/01/01 10:00:00"}, "d": [{"e": True}]},  # date format
                {"a": "1", "b": {"c": "2020-01-01T10:00:00"}, "d": [{"e": True}]},  # type
                {"a": 1, "b": {"c": "2020-01-01T10:00:00"}, "d": [{"e": True, "f": 1}]}):  # extra key
        with pytest.raises(AssertionError):
            assert_same_shape(base, bad)
