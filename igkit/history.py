"""Historical candles for research, in igkit's candle schema, from one of three sources.

* ``"demo"``: the seeded :class:`~igkit.market.SyntheticMarket` — its ticks resampled with
  :func:`~igkit.candles.resample_arrays`, in chunks of about a day whose edges fall on bar boundaries,
  so the candles are exactly those of resampling the whole span at once (and those the live Demo feed
  builds from the same seed);
* ``"ticks"``: ticks recorded with :mod:`igkit.store`, resampled the same way;
* ``"ig"``: IG's ``/prices`` through an :class:`~igkit.ig.IGClient` (its allowance tracking and Parquet
  cache apply), with a progress bar over the pages fetched; IG's bars are mapped onto the candle schema,
  ``ticks`` from IG's volume (0 if absent).

Also :func:`random_candles`, a fast random walk with bid/ask for benchmarks and examples.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd

from igkit.candles import CANDLE_COLUMNS, empty_candles, freq_to_ns, resample_arrays, resample_ticks
from igkit.errors import DataError
from igkit.progress import Progress, ProgressBar, make_progress

__all__ = ["SOURCES", "latest_ig_candles", "load_history", "random_candles", "resolution_ns"]

log = logging.getLogger(__name__)

SOURCES = ("demo", "ticks", "ig")
_DAY_NS = 86_400_000_000_000
_FLOATS = CANDLE_COLUMNS[:-1]


def resolution_ns(resolution: str | pd.Timedelta) -> int:
    """A bar length in ns from a pandas alias (``"1min"``, ``"5min"``, ``"1h"``, ``"1D"``, also ``"7min"``)
    or IG's name (``"MINUTE"``, ``"MINUTE_5"``, ``"HOUR"``, ``"DAY"``...). Between 1 s and 1 day."""
    try:
        return freq_to_ns(resolution)
    except DataError as first:
        if not isinstance(resolution, str):
            raise
        from igkit.ig.enums import Resolution

        try:
            res = Resolution.parse(resolution)
        except ValueError:
            raise first from None
        return freq_to_ns(pd.Timedelta(seconds=res.seconds))


def _time_ns(value: Any, what: str, epic: str) -> int:
    from igkit.market import to_ns

    try:
        return to_ns(value, what)
    except DataError as exc:
        raise DataError(f"{epic}: {exc}") from None


def load_history(
    epic: str,
    resolution: str | pd.Timedelta,
    start: Any,
    end: Any,
    *,
    source: Literal["demo", "ticks", "ig"] = "demo",
    seed: int = 0,
    tick_rate: float = 4.0,
    root: str | None = None,
    client: Any = None,
    config: Any = None,
    progress: Progress = True,
) -> pd.DataFrame:
    """Candles of ``epic`` over ``[start, end)`` at ``resolution``, in the candle schema.

    Args:
        epic: an IG epic or, for ``"demo"``, a catalog symbol such as ``"EURUSD"``.
        resolution: ``"1min"``, ``"5min"``, ``"1h"``, ``"1D"`` (any fixed pandas alias from 1 s to 1 day)
            or IG's names (``MINUTE``, ``MINUTE_5``, ``HOUR``, ``DAY``, ...). ``"ig"`` also takes ``WEEK``
            and ``MONTH``.
        start, end: tz-aware times, ISO strings (read as UTC) or int ns.
        source: ``"demo"``, ``"ticks"`` or ``"ig"`` (see the module docstring).
        seed, tick_rate: the synthetic market's (``"demo"``); the same seed gives the same candles.
        root: the tick store's directory (``"ticks"``).
        client: a logged-in :class:`~igkit.ig.IGClient` (``"ig"``); without one, a client is made from
            ``config`` (default :func:`igkit.load_config`), logged in with its credentials, used for this
            call and logged out.
        config: the :class:`~igkit.config.Config` for ``"ig"`` without ``client``.
        progress: a tqdm bar over the chunks (``"demo"``) or over the pages downloaded (``"ig"``), none
            (False), or a ``(desc, total) -> bar`` factory such as ``ControlPanel.progress`` to show it in
            the notebook panel.

    Errors (:class:`~igkit.errors.DataError`) name the epic and what was wrong.
    """
    if source not in SOURCES:
        raise DataError(f"{epic}: history source {source!r} is not one of {SOURCES}")
    if source == "ig":
        return _from_ig(epic, resolution, start, end, client, config, progress)
    try:
        f = resolution_ns(resolution)
    except DataError as exc:
        raise DataError(f"{epic}: resolution {resolution!r}: {exc}") from None
    s, e = _time_ns(start, "start", epic), _time_ns(end, "end", epic)
    if e <= s:
        raise DataError(f"{epic}: end {pd.Timestamp(e, tz='UTC')} is not after start {pd.Timestamp(s, tz='UTC')}")
    if source == "ticks":
        return _from_ticks(epic, f, s, e, root)
    return _from_demo(epic, f, s, e, seed, tick_rate, progress)


def _from_demo(epic: str, f: int, s: int, e: int, seed: int, tick_rate: float, progress: Progress) -> pd.DataFrame:
    from igkit.market import SyntheticMarket

    try:
        market = SyntheticMarket(seed, tick_rate=tick_rate)
        epic = market.epic(epic)
    except DataError as exc:
        raise DataError(f"{epic}: {exc}") from None
    # chunk edges are multiples of a chunk length that is a multiple of the bar length: no bar is split
    chunk = max(1, _DAY_NS // f) * f
    edges = [s, *range((s // chunk + 1) * chunk, e, chunk), e]
    parts: list[pd.DataFrame] = []
    bar = make_progress(progress, len(edges) - 1, f"{epic} {pd.Timedelta(f, unit='ns')}", unit="chunk",
                        leave=False)
    try:
        for a, b in itertools.pairwise(edges):
            ts, bid, ask = market.ticks(epic, a, b)
            if ts.shape[0]:
                parts.append(resample_arrays(ts, bid, ask, pd.Timedelta(f, unit="ns")))
            bar.update(1)
    finally:
        bar.close()
    if not parts:
        log.warning("%s: the synthetic market has no ticks in the span", epic)
        return empty_candles()
    out = pd.concat(parts) if len(parts) > 1 else parts[0]
    out.attrs = {"epic": epic, "source": "demo", "seed": seed, "freq_ns": f}
    return out


def _from_ticks(epic: str, f: int, s: int, e: int, root: str | None) -> pd.DataFrame:
    from igkit.store import read_ticks

    if root is None:
        raise DataError(f"{epic}: source='ticks' needs root=, the tick store's directory")
    try:
        ticks = read_ticks(root, epic, s, e)
    except DataError as exc:
        raise DataError(f"{epic}: {exc}") from None
    if ticks.empty:
        raise DataError(f"{epic}: no recorded ticks in {root} between {pd.Timestamp(s, tz='UTC')} and "
                        f"{pd.Timestamp(e, tz='UTC')}")
    out = resample_ticks(ticks, pd.Timedelta(f, unit="ns"))
    out.attrs.update({"epic": epic, "source": "ticks", "freq_ns": f})
    return out


def _page_bars(progress: Progress) -> Callable[[str, int], ProgressBar] | None:
    """``progress`` as the factory ``IGClient.prices`` takes: a tqdm bar over pages for True, None for False."""
    if progress is False:
        return None
    if progress is True:
        return lambda desc, total: make_progress(True, total, desc, unit="page", leave=False)
    if not callable(progress):
        raise DataError(f"progress must be True, False or a (desc, total) -> bar factory, got {progress!r}")
    return progress


def _ig_prices(client: Any, epic: str, res: Any, progress: Progress, **kwargs: Any) -> pd.DataFrame:
    """``client.prices`` (an :class:`~igkit.ig.IGClient`'s) with the page progress bar."""
    frame: pd.DataFrame = client.prices(epic, res, progress=_page_bars(progress), **kwargs)
    return frame


def _from_ig(epic: str, resolution: str | pd.Timedelta, start: Any, end: Any, client: Any,
             config: Any, progress: Progress = False) -> pd.DataFrame:
    from igkit.ig.enums import Resolution

    try:
        res = Resolution.parse(resolution if isinstance(resolution, str) else _alias(resolution))
    except ValueError as exc:
        raise DataError(f"{epic}: {exc}") from None
    if client is not None:
        return ig_to_candles(_ig_prices(client, epic, res, progress, start=start, end=end), epic)
    from igkit.config import load_config
    from igkit.errors import ConfigError
    from igkit.ig import IGClient

    cfg = config if config is not None else load_config()
    ig = cfg.ig
    if not ig.username or ig.password is None:
        raise ConfigError(f"{epic}: source='ig' without client= logs in with the configured credentials, and "
                          "ig.username or ig.password is not set (config/local.json or IGKIT_IG__USERNAME / "
                          "IGKIT_IG__PASSWORD)", key="ig.username")
    with IGClient.from_config(cfg) as own:
        own.login(ig.username, ig.password, version=ig.api_version)
        return ig_to_candles(own.prices(epic, res, start=start, end=end, progress=_page_bars(progress)), epic)


def latest_ig_candles(client: Any, epic: str, resolution: str | pd.Timedelta, bars: int, *,
                      progress: Progress = False) -> pd.DataFrame:
    """The last ``bars`` finished candles of ``epic`` from IG (``GET /prices`` with ``max``), for warming up
    a live engine: the bar still forming is left out (the engine builds it from the stream). ``progress``:
    a bar over the pages fetched, as in :func:`load_history` (off by default)."""
    from igkit.ig.enums import Resolution

    if isinstance(bars, bool) or not isinstance(bars, int) or bars <= 0:
        raise DataError(f"{epic}: bars must be a positive int, got {bars!r}")
    try:
        res = Resolution.parse(resolution if isinstance(resolution, str) else _alias(resolution))
    except ValueError as exc:
        raise DataError(f"{epic}: {exc}") from None
    frame = ig_to_candles(_ig_prices(client, epic, res, progress, max_points=bars + 1), epic)
    ends = pd.DatetimeIndex(frame.index).asi8 + int(res.seconds) * 1_000_000_000
    finished = frame[ends <= pd.Timestamp.now(tz="UTC").value]
    return finished.iloc[-bars:]


def _alias(td: pd.Timedelta) -> str:
    return f"{int(pd.Timedelta(td).total_seconds())}s"


def ig_to_candles(frame: pd.DataFrame, epic: str = "?") -> pd.DataFrame:
    """IG's price frame (``bid_*``/``ask_*``/``mid_*`` OHLC and ``volume``) → the candle schema.

    Bars with a missing bid or ask price are dropped (and counted in a warning): igkit never invents
    prices. ``ticks`` is IG's volume (tick count for CFDs), 0 where absent.
    """
    missing = [c for c in _FLOATS if c not in frame.columns]
    if missing:
        raise DataError(f"{epic}: IG prices lack column(s) {missing}")
    floats = frame[list(_FLOATS)].astype(np.float64)
    ok = np.isfinite(floats.to_numpy()).all(axis=1)
    if not ok.all():
        log.warning("%s: dropped %d IG bar(s) with missing prices", epic, int((~ok).sum()))
    out = floats[ok].copy()
    vol = frame["volume"][ok] if "volume" in frame.columns else pd.Series(0.0, index=out.index)
    out["ticks"] = vol.fillna(0).to_numpy().astype(np.int64)
    index = pd.DatetimeIndex(out.index, name="time")
    out.index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    out.attrs.update({"epic": epic, "source": "ig"})
    return out[list(CANDLE_COLUMNS)]


def random_candles(
    n: int,
    *,
    freq: str = "1min",
    start: str = "2024-01-01",
    seed: int = 0,
    price: float = 1.1,
    volatility: float = 1e-4,
    spread: float = 1e-4,
) -> pd.DataFrame:
    """``n`` bars of a Gaussian random walk in the candle schema (fast: for benchmarks and examples).

    Mid opens are the previous close, highs/lows enclose open and close by a random margin; the spread
    is constant (bid = mid − spread/2, ask = mid + spread/2). Not a market model: use ``"demo"`` history
    for realistic data.
    """
    if n < 0:
        raise DataError(f"random_candles: n must be >= 0, got {n}")
    rng = np.random.default_rng(seed)
    close = price + np.cumsum(rng.normal(0.0, volatility, n))
    open_ = np.empty(n)
    open_[:1] = price
    open_[1:] = close[:-1]
    wick = np.abs(rng.normal(0.0, volatility / 2, (2, n)))
    high = np.maximum(open_, close) + wick[0]
    low = np.minimum(open_, close) - wick[1]
    cols: dict[str, np.ndarray] = {}
    for side, off in (("bid", -spread / 2), ("ask", spread / 2), ("mid", 0.0)):
        for part, arr in (("open", open_), ("high", high), ("low", low), ("close", close)):
            cols[f"{side}_{part}"] = arr + off
    cols["ticks"] = rng.integers(1, 100, n).astype(np.int64)
    step = freq_to_ns(freq)
    t0 = pd.Timestamp(start, tz="UTC").as_unit("ns").value
    index = pd.DatetimeIndex((t0 + step * np.arange(n, dtype=np.int64)).astype("datetime64[ns]"),
                             name="time").tz_localize("UTC")
    return pd.DataFrame(cols, index=index, columns=list(CANDLE_COLUMNS))
