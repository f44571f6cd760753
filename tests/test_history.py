"""load_history from the Demo market, recorded ticks and IG prices; resolutions; errors; random_candles."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from igkit.candles import CANDLE_COLUMNS, resample_arrays, resample_ticks
from igkit.errors import DataError
from igkit.history import ig_to_candles, load_history, random_candles, resolution_ns
from igkit.market import SyntheticMarket
from igkit.store import read_ticks, write_ticks

EPIC = "CS.D.EURUSD.MINI.IP"
PAYLOADS = Path("/work/shared/ig-payloads")


def test_demo_candles_equal_resampling_all_the_ticks_at_once() -> None:
    # spans two midnights, starts off a bar boundary, and 7min does not divide a day
    start, end = "2024-03-04T22:03:10Z", "2024-03-06T01:00:00Z"
    ts, bid, ask = SyntheticMarket(3).ticks(EPIC, start, end)
    for freq in ("7min", "1h"):
        got = load_history("EURUSD", freq, start, end, seed=3, progress=False)
        expected = resample_arrays(ts, bid, ask, freq)
        pd.testing.assert_frame_equal(got, expected, check_freq=False)
        assert list(got.columns) == list(CANDLE_COLUMNS) and str(got.index.tz) == "UTC"
        assert got.attrs["epic"] == EPIC


def test_demo_is_deterministic_per_seed() -> None:
    a = load_history(EPIC, "5min", "2024-01-01", "2024-01-01T06:00", seed=1, progress=False)
    b = load_history(EPIC, "5min", "2024-01-01", "2024-01-01T06:00", seed=1, progress=False)
    c = load_history(EPIC, "5min", "2024-01-01", "2024-01-01T06:00", seed=2, progress=False)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 72 and not np.allclose(a["mid_close"], c["mid_close"])


def test_ig_resolution_names_give_the_same_candles() -> None:
    a = load_history(EPIC, "MINUTE_5", "2024-01-01", "2024-01-01T02:00", progress=False)
    b = load_history(EPIC, "5min", "2024-01-01", "2024-01-01T02:00", progress=False)
    pd.testing.assert_frame_equal(a, b)
    assert resolution_ns("HOUR") == resolution_ns("1h") == 3_600_000_000_000
    assert resolution_ns("DAY") == resolution_ns("1D")
    assert resolution_ns("MINUTE") == 60_000_000_000


def test_progress_bar_runs(capsys: pytest.CaptureFixture[str]) -> None:
    out = load_history(EPIC, "1h", "2024-01-01", "2024-01-03", progress=True)
    assert len(out) == 48
    assert "chunk" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"epic": "NOPE"}, "NOPE"),
        ({"resolution": "MONTH"}, f"{EPIC}: resolution 'MONTH'"),
        ({"resolution": "fortnightly"}, "fortnightly"),
        ({"end": "2023-12-31"}, "is not after start"),
        ({"source": "csv"}, "source 'csv'"),
        ({"source": "ticks"}, "needs root="),
    ],
)
def test_errors_name_the_epic_and_the_problem(kwargs: dict[str, Any], fragment: str) -> None:
    args: dict[str, Any] = {"epic": EPIC, "resolution": "1min", "start": "2024-01-01", "end": "2024-01-01T01:00",
                            "progress": False, **kwargs}
    with pytest.raises(DataError, match=fragment) as info:
        load_history(**args)
    assert args["epic"] in str(info.value)


def test_recorded_ticks_are_resampled(tmp_path: Path) -> None:
    market = SyntheticMarket(5)
    write_ticks(tmp_path, EPIC, market.ticks(EPIC, "2024-02-01T23:00Z", "2024-02-02T01:00Z"))
    got = load_history(EPIC, "MINUTE_15", "2024-02-01T23:30Z", "2024-02-02T00:30Z", source="ticks",
                       root=str(tmp_path))
    expected = resample_ticks(read_ticks(tmp_path, EPIC, "2024-02-01T23:30Z", "2024-02-02T00:30Z"), "15min")
    pd.testing.assert_frame_equal(got, expected, check_freq=False)
    assert len(got) == 4 and got.attrs["source"] == "ticks"
    with pytest.raises(DataError, match=re.escape(f"{EPIC}: no recorded ticks")):
        load_history(EPIC, "1min", "2020-01-01", "2020-01-02", source="ticks", root=str(tmp_path))
    with pytest.raises(DataError, match=r"CS\.D\.GBPUSD\.MINI\.IP"):
        load_history("CS.D.GBPUSD.MINI.IP", "1min", "2024-02-02", "2024-02-03", source="ticks", root=str(tmp_path))


class FakeClient:
    """Stands in for IGClient (no IG gateway can be reached here): serves a real recorded /prices
    payload through igkit's own parsing into IG's price frame, and records the call."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def prices(self, epic: str, resolution: Any, *, start: Any = None, end: Any = None,
               progress: Any = None) -> pd.DataFrame:
        from igkit.ig.models import PriceResponse
        from igkit.ig.prices import prices_frame

        self.calls.append((epic, resolution, start, end))
        body = json.loads((PAYLOADS / "historic_prices.json").read_text())
        body["prices"][1]["openPrice"]["bid"] = None  # one bar with a missing price
        return prices_frame([PriceResponse.model_validate(body)])


@pytest.mark.skipif(not (PAYLOADS / "historic_prices.json").exists(), reason="IG payloads not present")
def test_ig_prices_map_onto_the_candle_schema() -> None:
    client = FakeClient()
    got = load_history("IX.D.FTSE.DAILY.IP", "1min", "2020-10-12T20:50", "2020-10-12T21:00", source="ig",
                       client=client)
    (epic, res, start, end), = client.calls
    assert epic == "IX.D.FTSE.DAILY.IP" and str(res) == "MINUTE"
    assert (start, end) == ("2020-10-12T20:50", "2020-10-12T21:00")
    body = json.loads((PAYLOADS / "historic_prices.json").read_text())
    n = len(body["prices"])
    assert list(got.columns) == list(CANDLE_COLUMNS) and len(got) == n - 1  # the bar missing a bid dropped
    assert got["ticks"].dtype == np.int64 and str(got.index.tz) == "UTC"
    first = body["prices"][0]
    row = got.iloc[0]
    assert got.index[0] == pd.Timestamp(first["snapshotTimeUTC"], tz="UTC")
    assert row["bid_open"] == first["openPrice"]["bid"] and row["ask_low"] == first["lowPrice"]["ask"]
    assert row["mid_close"] == pytest.approx((first["closePrice"]["bid"] + first["closePrice"]["ask"]) / 2)
    assert row["ticks"] == first["lastTradedVolume"]


def test_ig_to_candles_without_volume_and_with_a_missing_column() -> None:
    c = random_candles(4).drop(columns=["ticks"])
    out = ig_to_candles(c, "X")
    assert (out["ticks"] == 0).all()
    with pytest.raises(DataError, match=r"X: IG prices lack column\(s\) \['ask_close'\]"):
        ig_to_candles(c.drop(columns=["ask_close"]), "X")


def test_random_candles_schema_and_shape() -> None:
    c = random_candles(500, freq="5min", seed=4, spread=2e-4)
    assert list(c.columns) == list(CANDLE_COLUMNS) and len(c) == 500
    assert c.index[1] - c.index[0] == pd.Timedelta("5min") and str(c.index.tz) == "UTC"
    assert np.allclose(c["ask_close"] - c["bid_close"], 2e-4)
    assert (c["mid_high"] >= c[["mid_open", "mid_close"]].max(axis=1)).all()
    assert (c["mid_low"] <= c[["mid_open", "mid_close"]].min(axis=1)).all()
    assert random_candles(500, freq="5min", seed=4, spread=2e-4).equals(c)


def test_ig_history_without_a_client_logs_in_from_the_config_and_out_again(tmp_path: Path) -> None:
    """``source="ig"`` with no client: one made from the config (here the real simulator on 127.0.0.1),
    logged in with the configured credentials for this call and logged out after it."""
    from igkit.config import Config
    from igkit.errors import ConfigError
    from igkit.sim import IGSimulator

    with IGSimulator(seed=0, always_open=True) as sim:
        ig = {"environment": "sim", "endpoints": {"sim": sim.rest_url}, "api_key": sim.api_key,
              "username": sim.username, "password": sim.password, "cache_dir": str(tmp_path)}
        cfg = Config.model_validate({"ig": ig})
        end = pd.Timestamp.now(tz="UTC").floor("min")
        got = load_history("CS.D.EURUSD.MINI.IP", "1min", end - pd.Timedelta("30min"), end, source="ig",
                           config=cfg)
        assert list(got.columns) == list(CANDLE_COLUMNS) and 20 <= len(got) <= 31  # IG's end is inclusive
        assert (got["bid_high"] >= got["bid_low"]).all() and (got["ask_close"] > got["bid_close"]).all()
        calls = [(r.method, r.path) for r in sim.request_log if r.path == "/session"]
        assert calls == [("POST", "/session"), ("DELETE", "/session")]
        no_user = Config.model_validate({"ig": {**ig, "username": None}})
        with pytest.raises(ConfigError, match=r"ig\.username: CS\.D\.EURUSD\.MINI\.IP: source='ig' without client="):
            load_history("CS.D.EURUSD.MINI.IP", "1min", end - pd.Timedelta("30min"), end, source="ig",
                         config=no_user)


class RecordingBars:
    """A ``(desc, total) -> bar`` factory that keeps every bar it made and what each was told."""

    def __init__(self) -> None:
        self.bars: list[dict[str, Any]] = []

    def __call__(self, desc: str, total: int) -> RecordingBars:
        self.bars.append({"desc": desc, "total": total, "updates": [], "closed": False})
        return self

    def update(self, n: int = 1) -> None:
        self.bars[-1]["updates"].append(n)

    def close(self) -> None:
        self.bars[-1]["closed"] = True


def test_ig_downloads_report_progress_per_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Against the real simulator: the bar's total is IG's ``totalPages`` and it advances once per page
    fetched, through ``IGClient.prices`` and through ``load_history(source="ig")``."""
    from igkit.config import Config
    from igkit.history import latest_ig_candles
    from igkit.ig import IGClient
    from igkit.sim import IGSimulator

    with IGSimulator(seed=0, always_open=True) as sim:
        ig = {"environment": "sim", "endpoints": {"sim": sim.rest_url}, "api_key": sim.api_key,
              "username": sim.username, "password": sim.password, "cache_dir": str(tmp_path)}
        cfg = Config.model_validate({"ig": ig})
        end = pd.Timestamp.now(tz="UTC").floor("min")

        def page_calls() -> int:
            return sum(1 for r in sim.request_log if r.method == "GET" and r.path == f"/prices/{EPIC}")

        with IGClient.from_config(cfg) as client:
            client.login(sim.username, sim.password)
            bars = RecordingBars()
            frame = client.prices(EPIC, "1min", start=end - pd.Timedelta("45min"), end=end, page_size=10,
                                  progress=bars)
            (bar,) = bars.bars
            assert page_calls() >= 4 and bar["updates"] == [1] * page_calls()  # one update per page
            assert bar["total"] == page_calls() and bar["closed"] and bar["desc"] == f"{EPIC} MINUTE"
            assert 40 <= len(frame) <= 46
            # a cache hit fetches nothing: no bar
            before = page_calls()
            client.prices(EPIC, "1min", start=end - pd.Timedelta("45min"), end=end, page_size=10, progress=bars)
            assert page_calls() == before and len(bars.bars) == 1
            warm = RecordingBars()
            latest_ig_candles(client, EPIC, "1min", 250, progress=warm)  # 251 points: 3 pages of 100
            assert [b["updates"] for b in warm.bars] == [[1, 1, 1]] and warm.bars[0]["total"] == 3
            with pytest.raises(ValueError, match="progress must be None or a"):
                client.prices(EPIC, "1min", max_points=5, progress=True)  # type: ignore[arg-type]

        # load_history logs in from the config; 4 hours of minutes at IG's default 100 a page
        before = page_calls()
        bars = RecordingBars()
        got = load_history(EPIC, "1min", end - pd.Timedelta("4h"), end - pd.Timedelta("1min"), source="ig",
                           config=cfg, progress=bars)
        pages = page_calls() - before
        assert pages == 3 and len(got) >= 200
        assert len(bars.bars) == 1 and bars.bars[0]["updates"] == [1] * pages and bars.bars[0]["total"] == pages
        assert bars.bars[0]["closed"]
        # True: a tqdm bar over the pages (on stderr); False: none (ranges outside the cached one)
        capsys.readouterr()
        load_history(EPIC, "1min", end - pd.Timedelta("6h"), end - pd.Timedelta("5h"), source="ig",
                     config=cfg, progress=True)
        assert f"{EPIC} MINUTE" in capsys.readouterr().err
        load_history(EPIC, "1min", end - pd.Timedelta("8h"), end - pd.Timedelta("7h"), source="ig",
                     config=cfg, progress=False)
        assert EPIC not in capsys.readouterr().err
