"""Sweeps: grid expansion and skipping, identical tables serially and on 1 or 2 Dask workers, the
scheduler chosen by argument, environment or config, and the heatmap."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from igkit.backtest import backtest
from igkit.errors import DataError
from igkit.history import random_candles
from igkit.strategy import BollingerBands, Param, ParamError, SmaCross, Strategy
from igkit.sweep import ENV_SCHEDULER, expand_grid, heatmap, local_cluster, sweep

GRID = {"fast": [3, 5, 8, 13], "slow": [5, 13, 21]}
KW = {"commission": 0.01, "stop": 8e-4}


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    return random_candles(3000, seed=12, freq="5min")


@pytest.fixture(scope="module")
def serial(candles: pd.DataFrame) -> pd.DataFrame:
    return sweep(SmaCross, GRID, candles, scheduler="sync", progress=False, **KW)


@pytest.fixture(scope="module")
def one_worker_cluster() -> Iterator[object]:
    cluster = local_cluster(1)
    try:
        yield cluster
    finally:
        cluster.close()


def test_expand_grid_skips_and_counts_invalid_sets() -> None:
    valid, skipped = expand_grid(SmaCross, GRID)
    pairs = [(p["fast"], p["slow"]) for p in valid]
    expected = [(f, s) for f in GRID["fast"] for s in GRID["slow"] if f < s]
    assert pairs == expected  # grid order, first key slowest
    assert len(skipped) == 12 - len(expected)
    assert all("must be < slow" in why for _, why in skipped)
    with pytest.raises(ParamError, match=r"window=\[1, 2\] is not a parameter of SmaCross"):
        expand_grid(SmaCross, {"window": [1, 2]})
    with pytest.raises(ParamError, match="list of values"):
        expand_grid(SmaCross, {"fast": "5"})


def test_serial_rows_are_the_backtests_stats(serial: pd.DataFrame, candles: pd.DataFrame) -> None:
    assert serial.attrs["skipped"] == 4 and len(serial) == 8  # (5,5) (8,5) (13,5) (13,13)
    assert list(serial.columns[:2]) == ["fast", "slow"]
    assert {"sharpe", "total_pnl", "max_drawdown", "n_trades", "win_rate"} <= set(serial.columns)
    for _, row in serial.iloc[[0, 3, 7]].iterrows():
        ref = backtest(candles, SmaCross(fast=int(row["fast"]), slow=int(row["slow"])), **KW).stats
        for key in ("total_pnl", "sharpe", "n_trades", "max_drawdown"):
            assert row[key] == ref[key]
    assert serial["total_pnl"].nunique() == len(serial)  # parameter sets really differ


def test_one_and_two_workers_give_the_serial_table(
    serial: pd.DataFrame, candles: pd.DataFrame, one_worker_cluster: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    address = one_worker_cluster.scheduler_address  # type: ignore[attr-defined]
    monkeypatch.setenv(ENV_SCHEDULER, address)  # an existing cluster named by the environment
    one = sweep(SmaCross, GRID, candles, progress=False, **KW)
    scheduler = one_worker_cluster.scheduler  # type: ignore[attr-defined]
    assert "run_batch" in scheduler.task_prefixes  # the work really ran on that cluster
    monkeypatch.delenv(ENV_SCHEDULER)
    two = sweep(SmaCross, GRID, candles, n_workers=2, progress=True, **KW)  # a LocalCluster of its own
    pd.testing.assert_frame_equal(one, serial)
    pd.testing.assert_frame_equal(two, serial)
    assert two.attrs["skipped"] == serial.attrs["skipped"]


def test_a_class_defined_in_a_function_travels_to_workers(
    candles: pd.DataFrame, one_worker_cluster: object
) -> None:
    """As a notebook's classes do: not importable by name, so cloudpickle sends it by value."""

    class Breakout(Strategy):
        window = Param(20, min=2)

        def signals(self, c: pd.DataFrame) -> pd.Series:
            close = c["mid_close"]
            prev_high = close.rolling(self.window).max().shift(1)
            prev_low = close.rolling(self.window).min().shift(1)
            return self.to_signals((close > prev_high).astype(int) - (close < prev_low).astype(int), c)

    address = one_worker_cluster.scheduler_address  # type: ignore[attr-defined]
    remote = sweep(Breakout, {"window": [5, 10, 1]}, candles, scheduler=address, progress=False)
    local = sweep(Breakout, {"window": [5, 10, 1]}, candles, scheduler="sync", progress=False)
    pd.testing.assert_frame_equal(remote, local)
    assert remote["window"].tolist() == [5, 10] and remote.attrs["skipped"] == 1


def test_config_supplies_the_scheduler(candles: pd.DataFrame, serial: pd.DataFrame,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_SCHEDULER, raising=False)
    config = SimpleNamespace(sweep=SimpleNamespace(scheduler="sync", n_workers=2))
    out = sweep(SmaCross, GRID, candles, config=config, progress=False, **KW)
    pd.testing.assert_frame_equal(out, serial)


def test_backtest_arguments_reach_every_run(candles: pd.DataFrame) -> None:
    grid = {"period": [10, 20], "width": [1.0, 2.0]}
    plain = sweep(BollingerBands, grid, candles, scheduler="sync", progress=False)
    costly = sweep(BollingerBands, grid, candles, scheduler="sync", progress=False, commission=0.5)
    assert (plain["n_trades"] == costly["n_trades"]).all()
    # 0.5 per side: two sides per trade, one for a trade closed by the end-of-data valuation
    cost = plain["total_pnl"] - costly["total_pnl"]
    n = plain["n_trades"]
    assert ((np.isclose(cost, n * 1.0) | np.isclose(cost, n * 1.0 - 0.5)) & (n > 0)).all()


def test_all_invalid_grid_gives_an_empty_table(candles: pd.DataFrame) -> None:
    out = sweep(SmaCross, {"fast": [10], "slow": [5, 10]}, candles, scheduler="sync", progress=False)
    assert out.empty and out.attrs["skipped"] == 2 and list(out.columns) == ["fast", "slow"]


def test_bad_arguments(candles: pd.DataFrame) -> None:
    with pytest.raises(ParamError, match="scheduler"):
        sweep(SmaCross, GRID, candles, scheduler=42, progress=False)
    with pytest.raises(ParamError, match="Strategy subclass"):
        sweep(SmaCross(), GRID, candles, scheduler="sync")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="non-empty"):
        sweep(SmaCross, GRID, candles.iloc[:0], scheduler="sync")


def test_heatmap(serial: pd.DataFrame) -> None:
    fig = heatmap(serial, "fast", "slow", stat="total_pnl")
    assert isinstance(fig, go.Figure) and fig.data[0].type == "heatmap"
    hm = fig.data[0]
    assert list(hm.x) == ["3", "5", "8", "13"] and list(hm.y) == ["5", "13", "21"]
    z = np.array(hm.z, dtype=float)
    row = serial[(serial["fast"] == 8) & (serial["slow"] == 21)].iloc[0]
    assert z[2, 2] == row["total_pnl"]
    assert np.isnan(z[0, 1])  # fast=5, slow=5 was skipped
    with pytest.raises(DataError, match="'calmar'"):
        heatmap(serial, "fast", "slow", stat="calmar")


def test_scheduler_set_only_in_the_config_environment_reaches_that_cluster(
    candles: pd.DataFrame, serial: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ``config=`` and no ``IGKIT_DASK_SCHEDULER``: the address comes from ``load_config()``
    (``IGKIT_SWEEP__SCHEDULER`` over config/test.json) and the work runs on that cluster."""
    from distributed import LocalCluster

    from igkit.config import load_config

    monkeypatch.delenv(ENV_SCHEDULER, raising=False)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        monkeypatch.setenv("IGKIT_SWEEP__SCHEDULER", cluster.scheduler_address)
        assert load_config().sweep.scheduler == cluster.scheduler_address
        out = sweep(SmaCross, GRID, candles, progress=False, **KW)
        prefixes = cluster.scheduler.task_prefixes
        assert "run_batch" in prefixes  # the batches ran on this cluster, not on a LocalCluster of sweep's own
        assert sum(prefixes["run_batch"].state_counts.values()) >= 1
    pd.testing.assert_frame_equal(out, serial)
