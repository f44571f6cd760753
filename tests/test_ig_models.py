"""Every real IG payload in /work/shared/ig-payloads parses into igkit's typed models.

The expected values are read from the JSON files themselves (not copied from the code under test), so
these tests pin what IG really sends: field spellings of v1 and v2, nulls, strings where numbers are
expected, UTC versus local timestamps.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from igkit.ig import (
    PRICE_COLUMNS,
    Account,
    ApplicationInfo,
    Confirm,
    LegacyActivity,
    LoginResponse,
    LoginResponseV3,
    MarketDetails,
    Position,
    PriceResponse,
    Resolution,
    SessionDetails,
    StreamingCredentials,
    SwitchAccountResult,
    WorkingOrder,
    activities_frame,
    empty_prices_frame,
    prices_frame,
)
from igkit.ig.models import Activity, OAuthToken, parse_utc
from igkit.types import Direction

PAYLOADS = Path("/work/shared/ig-payloads")
if not PAYLOADS.is_dir():  # a copy of the repo elsewhere: the payloads travel with the shared folder only
    pytest.skip("IG payload folder not available", allow_module_level=True)


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def test_every_payload_file_is_covered() -> None:
    covered = {
        "accounts.json", "accounts_balances.json", "activities_v1.json", "application.json",
        "historic_prices.json", "historic_prices_dates.json", "historic_prices_num_points.json",
        "historic_prices_v1.json", "historic_prices_v2.json", "markets_epic.json", "positions_v1.json",
        "positions_v2.json", "session.json", "switch.json", "workingorders_v1.json", "workingorders_v2.json",
    }  # fmt: skip
    assert {p.name for p in PAYLOADS.glob("*.json")} == covered


def test_login_v2_body() -> None:
    raw = load("accounts.json")
    info = LoginResponse.model_validate(raw)
    assert info.current_account_id == raw["currentAccountId"]
    assert info.lightstreamer_endpoint == raw["lightstreamerEndpoint"]
    assert [a.account_id for a in info.accounts] == [a["accountId"] for a in raw["accounts"]]
    assert [a.preferred for a in info.accounts] == [a["preferred"] for a in raw["accounts"]]
    assert info.account_info is not None
    assert info.account_info.profit_loss == raw["accountInfo"]["profitLoss"]
    assert info.rerouting_environment is None
    assert info.currency_symbol == "£"


def test_session_and_switch() -> None:
    raw = load("session.json")
    s = SessionDetails.model_validate(raw)
    assert (s.account_id, s.locale, s.timezone_offset) == (raw["accountId"], raw["locale"], raw["timezoneOffset"])
    sw = SwitchAccountResult.model_validate(load("switch.json"))
    assert sw.dealing_enabled is True and sw.trailing_stops_enabled is True


def test_v3_login_expires_in_is_a_string_and_tokens_are_hidden() -> None:
    raw = {
        "clientId": "100",
        "accountId": "ABC123",
        "timezoneOffset": 0,
        "lightstreamerEndpoint": "https://x",
        "oauthToken": {
            "access_token": "ACCESS-SECRET-1",
            "refresh_token": "REFRESH-SECRET-1",
            "scope": "profile",
            "token_type": "Bearer",
            "expires_in": "60",
        },
    }
    v3 = LoginResponseV3.model_validate(raw)
    assert v3.oauth_token.expires_in == 60
    assert v3.oauth_token.access_token.get_secret_value() == "ACCESS-SECRET-1"
    text = repr(v3) + str(v3) + repr(v3.oauth_token)
    assert "ACCESS-SECRET-1" not in text and "REFRESH-SECRET-1" not in text
    with pytest.raises(ValidationError):
        OAuthToken.model_validate({**raw["oauthToken"], "expires_in": "soon"})


def test_accounts_with_null_balance() -> None:
    raw = load("accounts_balances.json")["accounts"]
    accts = [Account.model_validate(a) for a in raw]
    assert [a.account_id for a in accts] == [a["accountId"] for a in raw]
    assert accts[0].balance is not None and accts[0].balance.available == raw[0]["balance"]["available"]
    assert accts[1].balance is None
    assert accts[1].account_alias is None


def test_application_limits_and_hidden_api_key() -> None:
    raw = load("application.json")
    assert isinstance(raw, list)
    app = ApplicationInfo.model_validate(raw[0])
    assert app.allowance_application_overall == raw[0]["allowanceApplicationOverall"]
    assert app.allowance_account_trading == raw[0]["allowanceAccountTrading"]
    assert app.allowance_account_overall == raw[0]["allowanceAccountOverall"]
    assert app.allowance_account_historical_data == raw[0]["allowanceAccountHistoricalData"]
    assert app.concurrent_subscriptions_limit == raw[0]["concurrentSubscriptionsLimit"]
    assert raw[0]["apiKey"] not in repr(app)


def test_market_details_v3() -> None:
    raw = load("markets_epic.json")
    m = MarketDetails.model_validate(raw)
    assert m.epic == raw["instrument"]["epic"]
    assert m.instrument.expiry == raw["instrument"]["expiry"]
    assert m.instrument.default_currency == next(c["code"] for c in raw["instrument"]["currencies"] if c["isDefault"])
    assert m.instrument.margin_deposit_bands[-1].max is None
    assert m.instrument.opening_hours is not None
    assert m.instrument.opening_hours.market_times[0].open_time == "07:00"
    assert m.instrument.special_info == raw["instrument"]["specialInfo"]
    rules = raw["dealingRules"]
    assert m.dealing_rules.min_deal_size is not None
    assert m.dealing_rules.min_deal_size.value == rules["minDealSize"]["value"]
    assert m.dealing_rules.max_stop_or_limit_distance is not None
    assert m.dealing_rules.max_stop_or_limit_distance.unit == "PERCENTAGE"
    assert m.dealing_rules.market_order_preference == rules["marketOrderPreference"]
    snap = raw["snapshot"]
    assert (m.snapshot.bid, m.snapshot.offer, m.snapshot.market_status) == (
        snap["bid"], snap["offer"], snap["marketStatus"]
    )  # fmt: skip


@pytest.mark.parametrize("name", ["positions_v1.json", "positions_v2.json"])
def test_positions_v1_and_v2_spellings(name: str) -> None:
    raw = load(name)["positions"]
    ps = [Position.model_validate(p) for p in raw]
    for p, r in zip(ps, raw, strict=True):
        assert p.deal_id == r["position"]["dealId"]
        assert p.size == r["position"].get("size", r["position"].get("dealSize"))
        assert p.level == r["position"].get("level", r["position"].get("openLevel"))
        assert p.direction is Direction(r["position"]["direction"])
        assert p.epic == r["market"]["epic"]
    if name == "positions_v2.json":
        assert ps[1].position.created_date_utc == datetime(2020, 6, 10, 12, 17, 55, tzinfo=UTC)
        assert ps[0].position.deal_reference == raw[0]["position"]["dealReference"]
    else:
        assert ps[0].position.created_date_utc is None


@pytest.mark.parametrize("name", ["workingorders_v1.json", "workingorders_v2.json"])
def test_working_orders_v1_and_v2_spellings(name: str) -> None:
    raw = load(name)["workingOrders"]
    wos = [WorkingOrder.model_validate(w) for w in raw]
    d, r = wos[0].working_order_data, raw[0]["workingOrderData"]
    assert d.deal_id == r["dealId"]
    assert d.order_size == r.get("orderSize", r.get("size"))
    assert d.order_level == r.get("orderLevel", r.get("level"))
    assert d.order_type == r.get("orderType", r.get("requestType"))
    assert d.time_in_force == r.get("timeInForce", r.get("goodTill"))
    assert wos[0].market_data.exchange_id == raw[0]["marketData"]["exchangeId"]
    if name == "workingorders_v2.json":
        assert d.created_date_utc == datetime(2021, 4, 29, 11, 14, tzinfo=UTC)
        assert d.stop_distance == r["stopDistance"]


def test_legacy_activity_v1() -> None:
    raw = load("activities_v1.json")["activities"]
    acts = [LegacyActivity.model_validate(a) for a in raw]
    assert [a.deal_id for a in acts] == [a["dealId"] for a in raw]
    assert acts[0].size == "+0.60" and acts[0].stop == "-"


def test_activity_v3_and_frame() -> None:
    raw = [
        {
            "date": "2024-01-02T10:00:00",
            "epic": "CS.D.EURUSD.MINI.IP",
            "period": "-",
            "dealId": "DIAAAA1",
            "channel": "PUBLIC_WEB_API",
            "type": "POSITION",
            "status": "ACCEPTED",
            "description": "Position opened: DIAAAA1",
            "details": {
                "dealReference": "REF1",
                "actions": [{"actionType": "POSITION_OPENED", "affectedDealId": "DIAAAA1"}],
                "size": 1.5,
                "direction": "BUY",
            },
        }
    ]
    acts = [Activity.model_validate(a) for a in raw]
    assert acts[0].date == datetime(2024, 1, 2, 10, tzinfo=UTC)
    assert acts[0].details is not None and acts[0].details.direction is Direction.BUY
    frame = activities_frame(acts)
    assert str(frame.index.tz) == "UTC"
    assert frame.loc[frame.index[0], "deal_reference"] == "REF1"
    assert activities_frame([]).empty


def test_confirm_rejected_sample() -> None:
    c = Confirm.model_validate(
        {"date": "2021-02-08T15:21:16.804", "dealId": "DIAAAA", "dealReference": "REF", "dealStatus": "REJECTED",
         "reason": "INSUFFICIENT_FUNDS", "status": None, "affectedDeals": [], "level": None, "size": None,
         "direction": "BUY", "epic": "CS.D.EURUSD.MINI.IP"}
    )  # fmt: skip
    assert not c.accepted
    assert c.date == datetime(2021, 2, 8, 15, 21, 16, 804000, tzinfo=UTC)
    assert c.affected_deals == [] and c.level is None


def test_streaming_credentials_hide_password() -> None:
    sc = StreamingCredentials("https://ls", "ABC123", "CST-abc123secret|XST-def456secret")
    assert "abc123secret" not in repr(sc) and "abc123secret" not in str(sc)


# -- prices --------------------------------------------------------------------------------------------------
PRICE_FILES = [
    "historic_prices.json",
    "historic_prices_dates.json",
    "historic_prices_num_points.json",
    "historic_prices_v1.json",
    "historic_prices_v2.json",
]


def assert_schema(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == list(PRICE_COLUMNS)
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert frame.index.name == "time"
    assert str(frame.index.dtype) == "datetime64[ns, UTC]"
    assert all(str(t) == "float64" for t in frame.dtypes)
    assert frame.index.is_monotonic_increasing and frame.index.is_unique


@pytest.mark.parametrize("name", PRICE_FILES)
def test_price_payloads_into_fixed_schema(name: str) -> None:
    raw = load(name)
    resp = PriceResponse.model_validate(raw)
    frame = prices_frame([resp])
    assert_schema(frame)
    assert len(frame) == len(raw["prices"])
    first = raw["prices"][0]
    if "snapshotTimeUTC" in first:  # v3: the UTC field wins over the local one
        expected_t = pd.Timestamp(first["snapshotTimeUTC"], tz="UTC")
    else:  # legacy: only local snapshotTime, read as UTC
        expected_t = pd.Timestamp(parse_utc(first["snapshotTime"]))
    assert frame.index[0] == expected_t
    row = frame.iloc[0]
    assert row["bid_open"] == first["openPrice"]["bid"]
    assert row["ask_close"] == first["closePrice"]["ask"]
    assert row["mid_high"] == pytest.approx((first["highPrice"]["bid"] + first["highPrice"]["ask"]) / 2)
    assert row["volume"] == first["lastTradedVolume"]
    allowance = raw.get("metadata", {}).get("allowance") or raw["allowance"]
    assert resp.allowance is not None
    assert resp.allowance.remaining_allowance == allowance["remainingAllowance"]


def test_v3_price_time_is_utc_not_local() -> None:
    raw = load("historic_prices.json")
    frame = prices_frame([PriceResponse.model_validate(raw)])
    # snapshotTime is local (UTC+1 in October); snapshotTimeUTC is one hour earlier
    assert raw["prices"][0]["snapshotTime"].endswith("21:50:00")
    assert frame.index[0] == pd.Timestamp("2020-10-12T20:50:00", tz="UTC")


def test_price_nulls_become_nan_and_pages_merge() -> None:
    raw = load("historic_prices.json")
    p1 = json.loads(json.dumps(raw))
    p1["prices"][0]["openPrice"] = {"bid": None, "ask": 1.0, "lastTraded": None}
    p1["prices"][1]["lastTradedVolume"] = None
    p1["prices"][2]["highPrice"] = None
    p2 = json.loads(json.dumps(raw))
    # page 2 repeats the last bar and adds an older one (out of order)
    p2["prices"] = [raw["prices"][-1], {**raw["prices"][0], "snapshotTimeUTC": "2020-10-12T20:49:00"}]
    frame = prices_frame([PriceResponse.model_validate(p1), PriceResponse.model_validate(p2)])
    assert_schema(frame)
    assert len(frame) == len(raw["prices"]) + 1
    t0 = pd.Timestamp("2020-10-12T20:50:00", tz="UTC")
    assert np.isnan(frame.loc[t0, "bid_open"]) and np.isnan(frame.loc[t0, "mid_open"])
    assert frame.loc[t0, "ask_open"] == 1.0
    assert np.isnan(frame.iloc[2]["volume"])
    assert np.isnan(frame.iloc[3]["bid_high"]) and np.isnan(frame.iloc[3]["ask_high"])
    assert frame.index[0] == pd.Timestamp("2020-10-12T20:49:00", tz="UTC")


def test_empty_prices_have_the_schema() -> None:
    assert_schema(empty_prices_frame())
    assert_schema(prices_frame([PriceResponse.model_validate({"prices": []})]))


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("1min", Resolution.MINUTE), ("min", Resolution.MINUTE), ("1T", Resolution.MINUTE),
        ("5min", Resolution.MINUTE_5), ("15min", Resolution.MINUTE_15), ("1s", Resolution.SECOND),
        ("1S", Resolution.SECOND), ("60s", Resolution.MINUTE), ("1h", Resolution.HOUR),
        ("4H", Resolution.HOUR_4), ("1D", Resolution.DAY), ("W", Resolution.WEEK), ("1M", Resolution.MONTH),
        ("MINUTE_30", Resolution.MINUTE_30), ("hour_2", Resolution.HOUR_2), (Resolution.DAY, Resolution.DAY),
    ],
)  # fmt: skip
def test_resolution_aliases(alias: str, expected: Resolution) -> None:
    assert Resolution.parse(alias) is expected


@pytest.mark.parametrize("bad", ["7min", "2M", "fortnight", "", "0min"])
def test_resolution_bad_alias_names_value(bad: str) -> None:
    with pytest.raises(ValueError, match="resolution"):
        Resolution.parse(bad)


def test_parse_utc_formats() -> None:
    want = datetime(2020, 9, 1, 5, tzinfo=UTC)
    for text in ("2020-09-01T05:00:00", "2020/09/01 05:00:00", "2020:09:01-05:00:00", "2020/09/01 05:00:00:000"):
        assert parse_utc(text) == want
    assert parse_utc(int(want.timestamp() * 1000)) == want
    with pytest.raises(ValueError, match="timestamp"):
        parse_utc("yesterday")


# -- property: any IG price page becomes the fixed schema -----------------------------------------------------
_price = st.one_of(st.none(), st.floats(min_value=0.0001, max_value=1e6, allow_nan=False))
_point = st.one_of(st.none(), st.fixed_dictionaries({"bid": _price, "ask": _price, "lastTraded": st.none()}))
_bar = st.fixed_dictionaries(
    {
        "minute": st.integers(0, 500),
        "openPrice": _point, "highPrice": _point, "lowPrice": _point, "closePrice": _point,
        "lastTradedVolume": st.one_of(st.none(), st.integers(0, 10**9)),
    }
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.lists(_bar, max_size=30), st.booleans())
def test_any_price_page_gives_the_fixed_schema(bars: list[dict[str, Any]], legacy: bool) -> None:
    base = pd.Timestamp("2024-03-01T00:00:00", tz="UTC")
    prices = []
    for b in bars:
        t = base + pd.Timedelta(minutes=b["minute"])
        bar = {k: v for k, v in b.items() if k != "minute"}
        if legacy:
            bar["snapshotTime"] = t.strftime("%Y/%m/%d %H:%M:%S")
        else:
            bar["snapshotTime"] = (t + pd.Timedelta(hours=1)).strftime("%Y/%m/%d %H:%M:%S")  # local time
            bar["snapshotTimeUTC"] = t.strftime("%Y-%m-%dT%H:%M:%S")
        prices.append(bar)
    frame = prices_frame([PriceResponse.model_validate({"prices": prices})])
    assert_schema(frame)
    last: dict[pd.Timestamp, dict[str, Any]] = {}
    for b in bars:  # a repeated time keeps the last bar
        last[base + pd.Timedelta(minutes=b["minute"])] = b
    assert list(frame.index) == sorted(last)
    for t, b in last.items():
        row = frame.loc[t]
        for short, key in (("open", "openPrice"), ("high", "highPrice"), ("low", "lowPrice"), ("close", "closePrice")):
            p = b[key] or {}
            bid, ask = p.get("bid"), p.get("ask")
            assert (np.isnan(row[f"bid_{short}"]) if bid is None else row[f"bid_{short}"] == bid)
            assert (np.isnan(row[f"ask_{short}"]) if ask is None else row[f"ask_{short}"] == ask)
            if bid is None or ask is None:
                assert np.isnan(row[f"mid_{short}"])
            else:
                assert row[f"mid_{short}"] == pytest.approx((bid + ask) / 2)
        v = b["lastTradedVolume"]
        assert np.isnan(row["volume"]) if v is None else row["volume"] == v
