"""Parameter sweeps: one backtest per parameter set of a grid, on a Dask cluster, as a stats table.

Runs on ``dask.distributed``: a fresh ``LocalCluster`` (worker processes, no dashboard) by default, or
an existing scheduler when ``scheduler=`` / ``IGKIT_DASK_SCHEDULER`` / ``config.sweep.scheduler`` names
its address (in that order of precedence; the config is :func:`igkit.load_config`'s unless ``config=`` is
given, so ``"sweep": {"scheduler": ...}`` in ``config/local.json`` or ``IGKIT_SWEEP__SCHEDULER`` is
enough), or serially in this process with ``scheduler="sync"``. The candles are sent to the workers
once (``scatter``, broadcast) and parameter sets travel in batches, a few per worker, so a progress bar
can follow them. Rows come back in grid order: the table is the same whatever the number of workers.

Worker processes are spawned and re-import ``__main__``: a script that sweeps needs an
``if __name__ == "__main__":`` guard (notebooks need nothing; strategy classes defined in a notebook travel
to the workers by cloudpickle).
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from igkit.backtest import backtest
from igkit.errors import DataError
from igkit.progress import Progress, make_progress
from igkit.strategy import ParamError, Strategy

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["ENV_SCHEDULER", "expand_grid", "heatmap", "local_cluster", "sweep"]

log = logging.getLogger(__name__)

ENV_SCHEDULER = "IGKIT_DASK_SCHEDULER"
_TASKS_PER_WORKER = 4


def expand_grid(
    strategy_class: type[Strategy], grid: Mapping[str, Sequence[Any]]
) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str]]]:
    """Every combination of ``grid`` (first key varies slowest) → (valid parameter sets, skipped ones
    with the reason). A grid key that is not a parameter raises :class:`ParamError` at once."""
    specs = strategy_class.param_specs()
    for key, values in grid.items():
        if key not in specs:
            raise ParamError(strategy_class.__name__, key, values,
                             f"is not a parameter of {strategy_class.__name__} (parameters: {', '.join(specs)})")
        if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
            raise ParamError(strategy_class.__name__, key, values, "grid values must be a list of values")
    keys = list(grid)
    valid: list[dict[str, Any]] = []
    skipped: list[tuple[dict[str, Any], str]] = []
    for combo in itertools.product(*(list(grid[k]) for k in keys)):
        params = dict(zip(keys, combo, strict=True))
        try:
            strategy = strategy_class(**params)
        except ParamError as exc:
            skipped.append((params, str(exc)))
            continue
        valid.append(strategy.params)
    return valid, skipped


def _run_batch(
    candles: pd.DataFrame, strategy_class: type[Strategy], batch: list[tuple[int, dict[str, Any]]],
    kwargs: dict[str, Any],
) -> list[tuple[int, dict[str, Any]]]:
    """Worker side: backtest each parameter set of a batch; (grid position, stats) pairs."""
    out = []
    for i, params in batch:
        result = backtest(candles, strategy_class(**params), **kwargs)
        out.append((i, dict(result.stats)))
    return out


def _batches(items: list[tuple[int, dict[str, Any]]], size: int) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _resolve_scheduler(scheduler: Any, config: Any) -> Any:
    if scheduler is not None:
        return scheduler
    env = os.environ.get(ENV_SCHEDULER, "").strip()
    if env:
        return env
    return getattr(getattr(config, "sweep", None), "scheduler", None)


def sweep(
    strategy_class: type[Strategy],
    grid: Mapping[str, Sequence[Any]],
    candles: pd.DataFrame,
    *,
    scheduler: Any = None,
    n_workers: int | None = None,
    progress: Progress = True,
    config: Any = None,
    **backtest_kwargs: Any,
) -> pd.DataFrame:
    """Backtest ``strategy_class`` for every parameter set of ``grid`` on ``candles``.

    Args:
        strategy_class: a :class:`~igkit.strategy.Strategy` subclass (sent to workers by cloudpickle, so
            one defined in a notebook works).
        grid: parameter name → list of values; every combination is tried. Combinations the strategy
            refuses (e.g. ``fast >= slow``) are skipped and counted, not raised.
        candles: the candle frame, sent to each worker once.
        scheduler: ``"sync"`` (serial, in this process), a scheduler address (``"tcp://host:8786"``), a
            ``distributed.Client``, or None: ``IGKIT_DASK_SCHEDULER``, then ``config.sweep.scheduler``,
            else a temporary ``LocalCluster(processes=True, dashboard_address=None)``.
        n_workers: workers of the temporary local cluster (default ``config.sweep.n_workers`` or 2).
        progress: a tqdm bar over the parameter sets (True), none (False), or a ``(desc, total) -> bar``
            factory such as ``ControlPanel.progress`` to show it in the notebook panel.
        config: an igkit ``Config`` whose ``sweep`` section supplies defaults; None loads it with
            :func:`igkit.load_config` when a default is needed (a bad config raises its ``ConfigError``).
        **backtest_kwargs: passed to :func:`~igkit.backtest.backtest` (size, commission, stop, ...).

    Returns:
        One row per valid parameter set, in grid order: the parameters, then every statistic of
        :func:`~igkit.backtest.compute_stats`. ``attrs["skipped"]`` counts the skipped sets and
        ``attrs["skipped_params"]`` lists them with the reason.
    """
    if not isinstance(strategy_class, type) or not issubclass(strategy_class, Strategy):
        raise ParamError("sweep", "strategy_class", strategy_class, "must be a Strategy subclass")
    if not isinstance(candles, pd.DataFrame) or candles.empty:
        raise DataError("sweep: candles must be a non-empty candle frame")
    valid, skipped = expand_grid(strategy_class, grid)
    if skipped:
        log.info("sweep %s: skipped %d invalid parameter set(s), e.g. %s", strategy_class.__name__,
                 len(skipped), skipped[0][1])
    items = list(enumerate(valid))
    needs_config = n_workers is None or (scheduler is None and not os.environ.get(ENV_SCHEDULER, "").strip())
    if config is None and needs_config:
        from igkit.config import load_config

        config = load_config()
    if n_workers is None:
        n_workers = int(getattr(getattr(config, "sweep", None), "n_workers", 0) or 2)
    sched = _resolve_scheduler(scheduler, config)
    bar = make_progress(progress, len(items), f"sweep {strategy_class.__name__}", unit="set")
    try:
        if sched == "sync" or not items:
            results = _run_batch(candles, strategy_class, items, backtest_kwargs)
            bar.update(len(items))
        else:
            results = _run_distributed(sched, n_workers, candles, strategy_class, items, backtest_kwargs, bar)
    finally:
        bar.close()
    results.sort(key=lambda r: r[0])
    rows = [{**valid[i], **stats} for i, stats in results]
    columns = list(grid) + [c for c in (rows[0] if rows else {}) if c not in grid]
    table = pd.DataFrame(rows, columns=columns or list(grid))
    table.attrs["skipped"] = len(skipped)
    table.attrs["skipped_params"] = skipped
    table.attrs["strategy"] = strategy_class.__name__
    return table


def _run_distributed(
    sched: Any, n_workers: int, candles: pd.DataFrame, strategy_class: type[Strategy],
    items: list[tuple[int, dict[str, Any]]], kwargs: dict[str, Any], bar: Any,
) -> list[tuple[int, dict[str, Any]]]:
    from distributed import Client, as_completed

    cluster = None
    own_client = True
    if isinstance(sched, Client):
        client, own_client = sched, False
    elif isinstance(sched, str) and sched:
        log.info("sweep: connecting to the Dask scheduler at %s", sched)
        client = Client(sched)
    elif sched is None:
        cluster = local_cluster(n_workers)
        client = Client(cluster)
    else:
        raise ParamError("sweep", "scheduler", sched, "must be 'sync', an address, a distributed.Client or None")
    try:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        size = max(1, math.ceil(len(items) / (workers * _TASKS_PER_WORKER)))
        data = client.scatter(candles, broadcast=True)
        futures = [client.submit(_run_batch, data, strategy_class, batch, kwargs, pure=False)
                   for batch in _batches(items, size)]
        results: list[tuple[int, dict[str, Any]]] = []
        for fut in as_completed(futures):
            part = fut.result()
            results.extend(part)
            bar.update(len(part))
        return results
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()


def local_cluster(n_workers: int = 2) -> Any:
    """A ``LocalCluster`` of ``n_workers`` single-threaded worker processes on 127.0.0.1, no dashboard
    (its HTTP endpoint on a free port, so several clusters on one machine never fight over 8787)."""
    from distributed import LocalCluster

    return LocalCluster(n_workers=max(1, int(n_workers)), threads_per_worker=1, processes=True,
                        host="127.0.0.1", dashboard_address=None,
                        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})


def heatmap(results: pd.DataFrame, x: str, y: str, stat: str = "sharpe", *,
            agg: Literal["mean", "median", "max", "min"] = "mean") -> go.Figure:
    """A heatmap of ``stat`` over two swept parameters (other parameters aggregated with ``agg``)."""
    import plotly.graph_objects as go

    for col in (x, y, stat):
        if col not in results.columns:
            raise DataError(f"heatmap: results have no column {col!r} (columns: {list(results.columns)})")
    table = results.pivot_table(index=y, columns=x, values=stat, aggfunc=agg).sort_index().sort_index(axis=1)
    fig = go.Figure(go.Heatmap(
        z=table.to_numpy(dtype=float), x=[str(v) for v in table.columns], y=[str(v) for v in table.index],
        colorscale="RdYlGn", colorbar={"title": {"text": stat}},
        hovertemplate=f"{x}=%{{x}}<br>{y}=%{{y}}<br>{stat}=%{{z:.4g}}<extra></extra>",
    ))
    name = results.attrs.get("strategy", "")
    fig.update_layout(title=f"{name} {stat} by {x} and {y}".strip(), xaxis_title=x, yaxis_title=y)
    return fig
