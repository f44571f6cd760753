"""IGClient end to end over real HTTP against igkit.sim.IGSimulator on 127.0.0.1: sessions, market data,
history, errors, retries, limits, cache and secrets. Nothing in the client is patched."""

from __future__ import annotations

import http.server
import logging
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from _ig_sim import EPIC, UNLIMITED, logged_in_client, make_client, run_sim, sim_calls

from igkit.config import Config
from igkit.errors import AuthError, ConfigError, IGRequestError, RateLimitError
from igkit.ig import (
    PRICE_COLUMNS,
    IGClient,
    LoginResponse,
    LoginResponseV3,
    MarketDetails,
    RateLimits,
    Resolution,
    activities_frame,
)
from igkit.sim import IGSimulator
from igkit.sim import RateLimits as SimRateLimits


@pytest.fixture
def sim() -> Iterator[IGSimulator]:
    yield from run_sim()


@pytest.fixture
def client(sim: IGSimulator) -> Iterator[IGClient]:
    yield from logged_in_client(sim)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# -- sessions -------------------------------------------------------------------------------------------------
def test_v2_login_uses_cst_and_security_token(sim: IGSimulator) -> None:
    with make_client(sim) as c:
        info = c.login(sim.username, sim.password)
        assert isinstance(info, LoginResponse)
        assert info.current_account_id == sim.account_id
        headers = c.session.auth_headers()
        assert set(headers) == {"CST", "X-SECURITY-TOKEN"}
        assert [a.account_id for a in c.accounts()]  # an authenticated call works
        c.market(EPIC)
        c.positions()
        # per-request headers only: nothing request-specific or secret in the shared requests.Session
        shared = {k.lower() for k in c.transport._http.headers}
        assert not shared & {"version", "x-ig-api-key", "cst", "x-security-token", "authorization"}
    versions = {(r.method, r.path): r.version for r in sim.request_log}
    assert versions[("GET", "/accounts")] == 1
    assert versions[("GET", f"/markets/{EPIC}")] == 3
    assert versions[("GET", "/positions")] == 2
    logins = [r for r in sim.request_log if r.method == "POST" and r.path == "/session"]
    assert [r.version for r in logins] == [2]
    assert sim_calls(sim, "DELETE", "/session") == [200] or sim_calls(sim, "DELETE", "/session") == [204]


def test_v3_login_bearer_and_string_expiry(sim: IGSimulator) -> None:
    c = make_client(sim)
    info = c.login(sim.username, sim.password, version=3)
    assert isinstance(info, LoginResponseV3)
    headers = c.session.auth_headers()
    assert headers["Authorization"].startswith("Bearer ") and headers["IG-ACCOUNT-ID"] == sim.account_id
    assert c.session.expires_in is not None and 0 < c.session.expires_in <= 60
    assert c.session_details().account_id == sim.account_id
    c.close()


def test_v3_refreshes_before_expiry(sim: IGSimulator) -> None:
    clock = FakeClock()
    c = make_client(sim, clock=clock, refresh_margin=5.0)
    c.login(sim.username, sim.password, version=3)
    old = c.session.auth_headers()["Authorization"]
    c.accounts()
    assert sim_calls(sim, "POST", "/session/refresh-token") == []
    clock.now += 56.0  # inside the 5 s margin before the 60 s expiry
    c.accounts()
    assert sim_calls(sim, "POST", "/session/refresh-token") == [200]
    assert c.session.auth_headers()["Authorization"] != old
    assert c.session.refreshes == 1 and c.session.logins == 1
    paths = [(r.method, r.path) for r in sim.request_log]
    assert paths[-2:] == [("POST", "/session/refresh-token"), ("GET", "/accounts")]
    c.close()


def test_v3_expired_token_is_refreshed_and_request_repeated(sim: IGSimulator) -> None:
    c = make_client(sim)
    c.login(sim.username, sim.password, version=3)
    sim.expire_tokens()
    assert c.accounts()
    assert sim_calls(sim, "GET", "/accounts") == [401, 200]
    assert sim_calls(sim, "POST", "/session/refresh-token") == [200]
    assert c.session.logins == 1
    c.close()


def test_v3_failed_refresh_falls_back_to_login(sim: IGSimulator) -> None:
    c = make_client(sim)
    c.login(sim.username, sim.password, version=3)
    sim.expire_tokens(refresh=True)
    assert c.accounts()
    assert sim_calls(sim, "GET", "/accounts") == [401, 200]
    assert sim_calls(sim, "POST", "/session/refresh-token")[0] >= 400
    assert c.session.logins == 2
    c.close()


def test_v2_expiry_logs_in_again_once(sim: IGSimulator, client: IGClient) -> None:
    sim.expire_tokens()
    assert client.positions() == []
    assert sim_calls(sim, "GET", "/positions") == [401, 200]
    assert client.session.logins == 2


def test_token_still_refused_after_renewal_is_auth_error(sim: IGSimulator, client: IGClient) -> None:
    sim.faults.invalid_token_next(2, path="/accounts")
    with pytest.raises(AuthError) as ei:
        client.accounts()
    err = ei.value
    assert err.error_code == "error.security.client-token-invalid"
    assert err.status == 401 and err.endpoint == "GET /accounts"
    assert sim_calls(sim, "GET", "/accounts") == [401, 401]


def test_switch_account_replaces_security_token(sim: IGSimulator, client: IGClient) -> None:
    conf = client.open_position(epic=EPIC, direction="BUY", size=1)
    assert [p.deal_id for p in client.positions()] == [conf.deal_id]
    before = client.session.auth_headers()["X-SECURITY-TOKEN"]
    other = sim.second_account_id
    client.switch_account(other)
    assert client.session.auth_headers()["X-SECURITY-TOKEN"] != before
    assert client.session_details().account_id == other
    assert client.positions() == []  # the other account's (empty) book: the new token is the one used
    client.switch_account(sim.account_id)
    assert [p.deal_id for p in client.positions()] == [conf.deal_id]


def test_login_with_account_id_switches(sim: IGSimulator) -> None:
    c = make_client(sim, account_id=sim.second_account_id)
    c.login(sim.username, sim.password)
    assert c.session.account_id == sim.second_account_id
    assert sim_calls(sim, "PUT", "/session") == [200]
    c.close()


@pytest.mark.parametrize("version", [2, 3])
def test_streaming_credentials(sim: IGSimulator, version: int) -> None:
    c = make_client(sim)
    c.login(sim.username, sim.password, version=version)
    sim.clear_request_log()
    creds = c.streaming_credentials()
    assert creds.account_id == sim.account_id
    assert creds.endpoint.startswith("http://127.0.0.1")
    cst, _, xst = creds.password.partition("|")
    assert cst.startswith("CST-") and xst.startswith("XST-") and len(cst) > 4 and len(xst) > 4
    if version == 2:
        h = c.session.auth_headers()
        assert creds.password == f"CST-{h['CST']}|XST-{h['X-SECURITY-TOKEN']}"
        assert sim.request_log == []
    else:
        assert sim_calls(sim, "GET", "/session") == [200]
    assert cst[4:] not in repr(creds) and xst[4:] not in repr(creds)
    c.close()


def test_context_manager_logs_out(sim: IGSimulator) -> None:
    with make_client(sim) as c:
        c.login(sim.username, sim.password)
    assert not c.logged_in
    assert len(sim_calls(sim, "DELETE", "/session")) == 1
    c.logout()  # a second logout is harmless and sends nothing
    assert len(sim_calls(sim, "DELETE", "/session")) == 1


def test_bad_credentials_and_api_key(sim: IGSimulator) -> None:
    c = make_client(sim)
    with pytest.raises(AuthError) as ei:
        c.login(sim.username, "wrong-password")
    assert ei.value.error_code == "error.security.invalid-details"
    assert ei.value.endpoint == "POST /session" and ei.value.status == 401
    bad = IGClient(sim.rest_url, "not-the-key-123", backoff=0.001)
    with pytest.raises(AuthError) as ei:
        bad.login(sim.username, sim.password)
    assert ei.value.error_code is not None and "api-key" in ei.value.error_code
    assert ei.value.status == 403


def test_from_config(sim: IGSimulator) -> None:
    cfg = Config.model_validate(
        {"broker": "ig", "ig": {"environment": "sim", "api_key": sim.api_key,
                                "endpoints": {"sim": sim.rest_url}, "timeout": 3.0}}
    )  # fmt: skip
    c = IGClient.from_config(cfg)
    assert c.base_url == sim.rest_url and c.transport.timeout == 3.0
    assert c.limits.account_non_trading.limit == cfg.limits.account_non_trading_per_min
    assert c.allowance.total == cfg.limits.historical_points_per_week
    no_url = Config.model_validate({"broker": "ig", "ig": {"environment": "sim", "api_key": "k12345"}})
    with pytest.raises(ConfigError, match="igkit sim"):
        IGClient.from_config(no_url)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("http://example.com/gateway/deal", False),
        ("ftp://127.0.0.1/x", False),
        ("https://demo-api.ig.com/gateway/deal", True),
        ("http://127.0.0.1:9/gateway/deal", True),
        ("http://localhost:9/gateway/deal", True),
        ("http://[::1]:9/gateway/deal", True),
    ],
)
def test_https_required_off_loopback(url: str, ok: bool) -> None:
    if ok:
        assert IGClient(url, "key-1234").base_url == url
    else:
        with pytest.raises(ConfigError, match=r"ig\.base_url"):
            IGClient(url, "key-1234")


# -- market data --------------------------------------------------------------------------------------------
def test_search_and_market_details(sim: IGSimulator, client: IGClient) -> None:
    found = client.search_markets("EUR/USD")
    assert EPIC in [m.epic for m in found]
    m = client.market(EPIC)
    assert isinstance(m, MarketDetails) and m.epic == EPIC
    bid, _ = sim.quote(EPIC)
    assert m.snapshot.bid is not None and m.snapshot.offer is not None
    assert m.snapshot.bid <= m.snapshot.offer
    assert abs(m.snapshot.bid - bid) < 0.01 * bid
    assert m.dealing_rules.min_deal_size is not None and m.instrument.default_currency
    [r] = [r for r in sim.request_log if r.path == f"/markets/{EPIC}"]
    assert r.version == 3


def test_markets_split_in_chunks_of_50(sim: IGSimulator, client: IGClient) -> None:
    epics = [m.epic for m in client.search_markets("EUR")][:2]
    assert len(epics) == 2
    many = [epics[i % 2] for i in range(51)]
    details = client.markets(many)
    calls = [r for r in sim.request_log if r.method == "GET" and r.path == "/markets"]
    assert len(calls) == 1 + 2  # the search, then two chunks (50 + 1)
    assert all(r.version == 2 for r in calls[1:])
    assert {d.epic for d in details} == set(epics)


def test_paged_prices_fixed_schema(sim: IGSimulator, client: IGClient) -> None:
    end = pd.Timestamp.now(tz="UTC").floor("min") - pd.Timedelta(minutes=5)
    start = end - pd.Timedelta(minutes=45)
    paged = client.prices(EPIC, "1min", start=start, end=end, page_size=10)
    pages = sim_calls(sim, "GET", f"/prices/{EPIC}")
    assert len(pages) >= 4 and set(pages) == {200}
    assert list(paged.columns) == list(PRICE_COLUMNS)
    assert str(paged.index.dtype) == "datetime64[ns, UTC]" and paged.index.name == "time"
    assert paged.index.is_unique and paged.index.is_monotonic_increasing
    assert paged.index[0] >= start and paged.index[-1] <= end
    assert len(paged) >= 40
    assert (paged["bid_low"] <= paged["bid_high"]).all() and (paged["ask_close"] >= paged["bid_close"]).all()
    one_page = client.prices(EPIC, Resolution.MINUTE, start=start, end=end, page_size=0)
    pd.testing.assert_frame_equal(paged, one_page)
    # the allowance the simulator reported is tracked
    last = [r for r in client.request_log if r.path == f"/prices/{EPIC}"][-1]
    assert last.remaining_allowance == client.allowance.left()


def test_latest_points(sim: IGSimulator, client: IGClient) -> None:
    df = client.prices(EPIC, "5min", max_points=7)
    assert len(df) == 7 and list(df.columns) == list(PRICE_COLUMNS)
    assert (df.index.to_series().diff().dropna() == pd.Timedelta(minutes=5)).all()


def test_history_cache_hit_sends_nothing(sim: IGSimulator, tmp_path: Path) -> None:
    c = make_client(sim, cache_dir=str(tmp_path))
    c.login(sim.username, sim.password)
    end = pd.Timestamp.now(tz="UTC").floor("h") - pd.Timedelta(hours=1)
    start = end - pd.Timedelta(hours=3)
    first = c.prices(EPIC, "15min", start=start, end=end)
    assert len(sim_calls(sim, "GET", f"/prices/{EPIC}")) == 1
    left = c.allowance.left()
    second = c.prices(EPIC, "15min", start=start, end=end)
    assert len(sim_calls(sim, "GET", f"/prices/{EPIC}")) == 1  # served from Parquet
    pd.testing.assert_frame_equal(first, second)
    assert c.allowance.left() == left and c.cache is not None and c.cache.hits == 1
    assert list(tmp_path.rglob("*.parquet"))
    # another client with the same cache directory also pays nothing
    c2 = make_client(sim, cache_dir=str(tmp_path))
    c2.login(sim.username, sim.password)
    pd.testing.assert_frame_equal(c2.prices(EPIC, "15min", start=start, end=end), first)
    assert len(sim_calls(sim, "GET", f"/prices/{EPIC}")) == 1
    c.prices(EPIC, "15min", start=start - pd.Timedelta(hours=1), end=end)  # another range is fetched
    assert len(sim_calls(sim, "GET", f"/prices/{EPIC}")) == 2
    c.close()
    c2.close()


def test_history_cache_serves_a_range_inside_a_cached_one(sim: IGSimulator, tmp_path: Path) -> None:
    c = make_client(sim, cache_dir=str(tmp_path))
    c.login(sim.username, sim.password)
    end = pd.Timestamp.now(tz="UTC").floor("h") - pd.Timedelta(hours=1)
    c.prices(EPIC, "5min", start=end - pd.Timedelta(hours=4), end=end)
    inner_start, inner_end = end - pd.Timedelta(hours=3), end - pd.Timedelta(minutes=30)
    inner = c.prices(EPIC, "5min", start=inner_start, end=inner_end)
    assert len(sim_calls(sim, "GET", f"/prices/{EPIC}")) == 1
    direct = make_client(sim)  # no cache: what IG itself answers for the inner range
    direct.login(sim.username, sim.password)
    pd.testing.assert_frame_equal(inner, direct.prices(EPIC, "5min", start=inner_start, end=inner_end))
    assert len(sim_calls(sim, "GET", f"/prices/{EPIC}")) == 2
    c.close()
    direct.close()


def test_history_allowance_refused_before_sending(sim: IGSimulator) -> None:
    c = make_client(sim, historical_points_per_week=50)
    c.login(sim.username, sim.password)
    end = pd.Timestamp("2026-11-18 12:00", tz="UTC")  # a Wednesday: FX trades all of it (121 points)
    with pytest.raises(RateLimitError, match="allowance") as ei:
        c.prices(EPIC, "1min", start=end - pd.Timedelta(hours=2), end=end)
    assert "prices" in str(ei.value)
    assert sim_calls(sim, "GET", f"/prices/{EPIC}") == []
    assert len(c.prices(EPIC, "1min", max_points=20)) == 20  # within the allowance: sent
    c.close()


def test_history_allowance_counts_only_bars_of_open_hours(sim: IGSimulator) -> None:
    """A week of FX hours is 120 bars, not 169: IG has no bars while the market is shut, so the estimate
    follows the instrument's opening hours (a range of 169 hours fits an allowance of 130)."""
    from igkit.ig.api import _expected_points

    mon = pd.Timestamp("2026-11-16 00:00", tz="UTC")
    week = pd.Timedelta(days=7)
    assert _expected_points(EPIC, mon, mon + week, 3600) == 120 + 1  # IG's end is inclusive: Monday 00:00
    assert _expected_points(EPIC, mon, mon + week, 60) == 120 * 60 + 1
    assert _expected_points("IX.D.FTSE.DAILY.IP", mon, mon + week, 3600) == 5 * 9  # 08:00-16:30, 9 bars a day
    assert _expected_points("NOT.IN.CATALOG", mon, mon + week, 3600) == 169  # unknown hours: every bar
    c = make_client(sim, historical_points_per_week=130)
    c.login(sim.username, sim.password)
    with pytest.raises(RateLimitError, match="needs about 241 points"):
        c.prices(EPIC, "HOUR", start=mon, end=mon + 2 * week)
    assert sim_calls(sim, "GET", f"/prices/{EPIC}") == []
    got = c.prices(EPIC, "HOUR", start=mon, end=mon + week)  # ~120: sent
    assert sim_calls(sim, "GET", f"/prices/{EPIC}") and len(got) > 0
    c.close()


def test_prices_bad_arguments(client: IGClient) -> None:
    with pytest.raises(ValueError, match="resolution"):
        client.prices(EPIC, "7min")
    with pytest.raises(ValueError, match="before start"):
        client.prices(EPIC, "1min", start="2024-01-02", end="2024-01-01")
    with pytest.raises(ValueError, match="max_points"):
        client.prices(EPIC, "1min", max_points=0)
    with pytest.raises(ValueError, match="epic"):
        client.prices("CS.D/../x", "1min", max_points=5)


def test_accounts_preferences_and_application(sim: IGSimulator) -> None:
    limits = SimRateLimits(app_non_trading=500, account_non_trading=400, account_trading=300)
    with IGSimulator(seed=0, always_open=True, rate_limits=limits) as s2:
        c = make_client(s2)
        c.login(s2.username, s2.password)
        app = c.application()
        assert app.allowance_account_trading == 300
        assert c.limits.app_non_trading.limit == 500
        assert c.limits.account_non_trading.limit == 400
        assert c.limits.account_trading.limit == 300
        prefs = c.account_preferences()
        c.set_account_preferences(trailing_stops_enabled=not prefs.trailing_stops_enabled)
        assert c.account_preferences().trailing_stops_enabled is (not prefs.trailing_stops_enabled)
        accts = c.accounts()
        assert s2.account_id in [a.account_id for a in accts]
        c.close()


def test_activity_paging_and_transactions(sim: IGSimulator, client: IGClient) -> None:
    start = pd.Timestamp.now(tz="UTC") - pd.Timedelta(minutes=1)
    deal_ids = []
    for _ in range(6):
        conf = client.open_position(epic=EPIC, direction="BUY", size=1)
        client.close_position(deal_id=conf.deal_id or "")
        deal_ids.append(conf.deal_id)
    acts = client.activity(start=start, page_size=10, detailed=True)
    assert len(sim_calls(sim, "GET", "/history/activity")) >= 2  # followed metadata.paging.next
    assert len(acts) >= 12
    assert set(deal_ids) <= {a.deal_id for a in acts}
    assert len({(a.deal_id, a.date, a.description) for a in acts}) == len(acts)  # no page read twice
    frame = activities_frame(acts)
    assert str(frame.index.tz) == "UTC" and len(frame) == len(acts)
    one = client.activity(start=start, deal_id=deal_ids[0])
    assert one and {a.deal_id for a in one} == {deal_ids[0]}
    txs = client.transactions(start=start)
    assert len(txs) >= 6


# -- errors and retries --------------------------------------------------------------------------------------
def test_not_found_maps_to_request_error(client: IGClient) -> None:
    with pytest.raises(IGRequestError) as ei:
        client.market("XX.D.NOPE.CASH.IP")
    err = ei.value
    assert type(err) is IGRequestError
    assert err.error_code == "error.public-api.epic-not-found"
    assert err.status == 404 and err.endpoint == "GET /markets/XX.D.NOPE.CASH.IP"
    assert "XX.D.NOPE.CASH.IP" in str(err)


def test_allowance_code_is_rate_limit_error(sim: IGSimulator, client: IGClient) -> None:
    sim.faults.allowance_next(1, path="/accounts", code="error.public-api.exceeded-account-allowance")
    with pytest.raises(RateLimitError) as ei:
        client.accounts()
    assert ei.value.error_code == "error.public-api.exceeded-account-allowance"
    assert ei.value.status == 403 and ei.value.endpoint == "GET /accounts"


def test_get_retried_on_5xx_and_dropped_connection(sim: IGSimulator, client: IGClient) -> None:
    sim.faults.fail_next(2, path="/accounts", status=503)
    assert client.accounts()
    assert sim_calls(sim, "GET", "/accounts") == [503, 503, 200]
    sim.faults.drop_next(1, path="/positions")
    assert client.positions() == []
    assert sim_calls(sim, "GET", "/positions") == [0, 200]
    attempts = [r.attempt for r in client.request_log if r.path == "/accounts"]
    assert attempts == [1, 2, 3]


def test_retries_are_bounded(sim: IGSimulator) -> None:
    c = make_client(sim, max_retries=1)
    c.login(sim.username, sim.password)
    sim.faults.fail_next(5, path="/accounts", status=500, code="system.error")
    with pytest.raises(IGRequestError) as ei:
        c.accounts()
    assert ei.value.status == 500 and ei.value.error_code == "system.error"
    assert sim_calls(sim, "GET", "/accounts") == [500, 500]
    c.close()


class _HtmlHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        ok = "HTML200" in self.path
        body = b"<html><body>Welcome</body></html>" if ok else b"<html><body>502 Bad Gateway</body></html>"
        self.send_response(200 if ok else 502)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def html_server() -> Iterator[str]:
    """A loopback server answering every GET with an HTML 502 (IG's gateway does this in outages)."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HtmlHandler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/gateway/deal"
    srv.shutdown()
    srv.server_close()


def test_non_json_error_body(html_server: str) -> None:
    c = IGClient(html_server, "key-1234", max_retries=1, backoff=0.001)
    with pytest.raises(IGRequestError) as ei:
        c.market(EPIC)
    err = ei.value
    assert err.status == 502 and err.error_code is None
    assert "non-JSON" in str(err) and "Bad Gateway" in str(err)
    assert [r.status for r in c.request_log] == [502, 502]
    with pytest.raises(IGRequestError, match="non-JSON") as ei:  # a 200 that is not IG's JSON either
        c.market("CS.D.HTML200.IP")
    assert ei.value.status == 200 and "Welcome" in str(ei.value)


# -- limits --------------------------------------------------------------------------------------------------
def test_client_limiter_holds_budget_under_four_threads(sim: IGSimulator) -> None:
    limits = RateLimits(UNLIMITED, 4, UNLIMITED, period=0.4)
    c = make_client(sim, limits=limits)
    c.login(sim.username, sim.password)
    stamps: list[float] = []

    class RecordingDeque(deque[float]):
        def append(self, x: float) -> None:
            stamps.append(x)
            super().append(x)

    limits.account_non_trading._stamps = RecordingDeque(limits.account_non_trading._stamps)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(3):
                c.accounts()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert sim_calls(sim, "GET", "/accounts") == [200] * 12
    assert len(stamps) == 12
    for i, t0 in enumerate(stamps):
        assert sum(1 for s in stamps[i:] if s < t0 + 0.4) <= 4
    c.close()


# -- secrets -----------------------------------------------------------------------------------------------
def test_secrets_absent_from_logs_reprs_and_errors(sim: IGSimulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    secrets = {sim.password, sim.api_key}
    c = make_client(sim)
    try:
        c.login(sim.username, sim.password + "x")
    except AuthError as exc:
        errors.append(str(exc) + repr(exc))
    for version in (2, 3):
        c.login(sim.username, sim.password, version=version)
        secrets.update(v.removeprefix("Bearer ") for v in c.session.auth_headers().values())
        creds = c.streaming_credentials()
        secrets.update(creds.password.replace("CST-", "").replace("XST-", "").split("|"))
        sim.expire_tokens()
        c.accounts()  # renewal path logs
        secrets.update(v.removeprefix("Bearer ") for v in c.session.auth_headers().values())
        sim.faults.fail_next(1, path="/accounts", status=503)
        c.accounts()
        sim.faults.invalid_token_next(2, path="/positions")
        try:
            c.positions()
        except AuthError as exc:
            errors.append(str(exc) + repr(exc))
        texts = [repr(c), repr(c.session), repr(c.transport), repr(creds), str(c.application())]
        secrets.update(v.removeprefix("Bearer ") for v in c.session.auth_headers().values())
        secrets.discard(sim.account_id)
        secrets.discard("")
        haystack = "\n".join([caplog.text, *errors, *texts, *(repr(r) for r in c.request_log)])
        for s in secrets:
            assert len(s) >= 6 and s not in haystack, "a secret leaked"
    assert "GET /accounts" in caplog.text or "/accounts" in caplog.text  # the request log does log
    c.close()


# -- error mapping and transport details ---------------------------------------------------------------------
AUTH_CODES = [
    "error.security.invalid-details", "error.security.api-key-missing", "error.security.api-key-invalid",
    "error.security.api-key-disabled", "error.security.api-key-revoked", "error.security.api-key-restricted",
    "error.security.client-token-invalid", "error.security.client-token-missing",
    "error.security.account-token-invalid", "error.security.account-token-missing",
    "error.security.oauth-token-invalid", "error.public-api.failure.missing.credentials",
    "error.security.account-suspended", "error.security.too-many-failed-attempts",
    "error.security.invalid-application", "authentication.failure.not-a-client-account",
    "error.public-api.failure.kyc.required", "error.public-api.failure.pending.agreements.required",
    "error.public-api.failure.preferred.account.disabled", "endpoint.unavailable.for.api-key",
    "error.security.authentication.timeout",
]  # fmt: skip
RATE_CODES = [
    "error.public-api.exceeded-api-key-allowance", "error.public-api.exceeded-account-allowance",
    "error.public-api.exceeded-account-trading-allowance",
    "error.public-api.exceeded-account-historical-data-allowance",
]  # fmt: skip
OTHER_CODES = [
    "invalid.input", "error.request.invalid.date-range", "error.public-api.epic-not-found",
    "error.position.notfound", "error.confirms.deal-not-found", "system.error", "error.positions.generic",
    "error.switch.accountId-must-be-different", "validation.null-not-allowed.request.forceOpen",
    "error.public-api.failure.stockbroking-not-supported", "unauthorised.access.to.equity.exception",
]  # fmt: skip


@pytest.mark.parametrize("code", AUTH_CODES + RATE_CODES + OTHER_CODES)
def test_every_error_code_maps_to_a_typed_error(code: str) -> None:
    from igkit.ig.transport import map_error

    err = map_error(code, 403, "POST /positions/otc")
    expected = AuthError if code in AUTH_CODES else RateLimitError if code in RATE_CODES else IGRequestError
    assert type(err) is expected
    assert (err.error_code, err.status, err.endpoint) == (code, 403, "POST /positions/otc")
    assert code in str(err) and "POST /positions/otc" in str(err)


def test_backoff_is_bounded_with_jitter() -> None:
    from igkit.ig import Transport

    t = Transport("http://127.0.0.1:9/gateway/deal", "key-1234", backoff=0.1, backoff_max=0.5)
    for attempt, cap in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.5), (10, 0.5)]:
        delays = {t.backoff_delay(attempt) for _ in range(50)}
        assert all(cap / 2 <= d <= cap for d in delays)
        assert len(delays) > 1  # jittered


def test_connection_refused_after_bounded_retries() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = IGClient(f"http://127.0.0.1:{port}/gateway/deal", "key-1234", max_retries=2, backoff=0.001)
    with pytest.raises(IGRequestError, match="network error") as ei:
        c.market(EPIC)
    assert ei.value.endpoint == f"GET /markets/{EPIC}"
    assert [r.status for r in c.request_log] == [None, None, None]


def test_read_timeout_get_retried_and_deal_looked_up(sim: IGSimulator) -> None:
    c = make_client(sim, timeout=0.3)
    c.login(sim.username, sim.password)
    sim.faults.delay_next(1, 0.8, path="/accounts")
    assert c.accounts()
    assert [r.error_code for r in c.request_log if r.path == "/accounts"] == ["ReadTimeout", None]
    sim.faults.delay_next(1, 0.8, path="/positions/otc", method="POST")
    conf = c.open_position(epic=EPIC, direction="BUY", size=1)
    assert conf.accepted
    paths = [r.path for r in c.request_log]
    assert paths.count("/positions/otc") == 1 and f"/confirms/{conf.deal_reference}" in paths  # never resent
    assert len(sim.positions()) == 1
    c.close()
