"""What the panel's controls describe (``EngineSettings``) and the default way to build an engine from
them: ``demo_engine`` (DemoFeed + PaperBroker + the risk manager, offline, seeded) and ``ig_engine`` (the
simulator or IG through :func:`igkit.engine.factory.build_engine`: IG client, streaming feed, IG broker).

Kept apart from the panel so notebooks and tests can build the same engine the Start button builds, or
pass their own factory (``ControlPanel(engine_factory=...)``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from igkit.config import Config
from igkit.errors import ConfigError
from igkit.market import SyntheticMarket, is_open

__all__ = [
    "EngineFactory",
    "EngineSettings",
    "ProgressFn",
    "close_engine",
    "default_factory",
    "demo_engine",
    "demo_start_ns",
    "ig_engine",
]

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, int], Any]  # (description, total) -> an object with update(n) / close()


@dataclass(frozen=True)
class EngineSettings:
    """The engine the controls ask for."""

    mode: str
    instruments: tuple[str, ...]
    freq: str
    strategy: str
    params: Mapping[str, Any] = field(default_factory=dict)
    warmup_bars: int = 0  # bars of history loaded before the start (with a progress bar)

    def key(self) -> tuple[Any, ...]:
        return (self.mode, self.instruments, self.freq, self.strategy, tuple(sorted(self.params.items())),
                self.warmup_bars)


EngineFactory = Callable[[Config, EngineSettings, ProgressFn], Any]


def demo_start_ns(epics: tuple[str, ...] | list[str], now_ns: int | None = None) -> int:
    """``now`` if any of ``epics`` trades now, else the last hour when one did (so a weekend Demo still
    streams: it replays the synthetic Friday)."""
    t = time.time_ns() if now_ns is None else now_ns
    hour = 3_600_000_000_000
    for _ in range(24 * 8):
        if any(is_open(e, t) for e in epics):
            return t
        t -= hour
    return t


def demo_engine(
    config: Config,
    settings: EngineSettings,
    progress: ProgressFn | None = None,
    *,
    start: Any = None,
    speed: float | str | None = "config",
    seed: int | None = None,
    tick_rate: float | None = None,
    hub: Any = None,
    audit_path: str | None = None,
) -> Any:
    """A Demo ``LiveEngine``: ``DemoFeed`` (seeded synthetic market) → engine → ``PaperBroker``.

    ``start`` (market time; default :func:`demo_start_ns`), ``speed`` (default the config's
    ``market.speed``; None: as fast as possible), ``seed`` and ``tick_rate`` (default the config's).
    ``settings.warmup_bars`` > 0 loads that much Demo history first, one progress step per instrument.
    """
    from igkit.broker.paper import PaperBroker
    from igkit.engine import LiveEngine
    from igkit.feeds.demo import DemoFeed
    from igkit.strategy import get_strategy
    from igkit.ticks import TickHub

    if settings.mode != "demo":
        raise ConfigError(f"demo_engine builds Demo engines only, not mode {settings.mode!r}", key="broker")
    if not settings.instruments:
        raise ConfigError("no instruments selected: pick at least one", key="instruments")
    strategy = get_strategy(settings.strategy, **dict(settings.params))
    seed = config.market.seed if seed is None else seed
    tick_rate = config.market.tick_rate if tick_rate is None else tick_rate
    spd: float | None = config.market.speed if isinstance(speed, str) else speed
    market = SyntheticMarket(seed, tick_rate=tick_rate, instruments=list(settings.instruments))
    epics = tuple(market.epic(e) for e in settings.instruments)
    start_ns = demo_start_ns(epics) if start is None else start
    hub = hub if hub is not None else TickHub()
    history: dict[str, pd.DataFrame] | None = None
    if settings.warmup_bars > 0:
        from igkit.history import load_history

        f = pd.Timedelta(settings.freq)
        s0 = pd.Timestamp(start_ns, tz="UTC") if isinstance(start_ns, int) else pd.Timestamp(start_ns)
        bar = progress(f"history {settings.warmup_bars} bars", len(epics)) if progress else None
        history = {}
        try:
            for e in epics:
                frame = load_history(e, settings.freq, s0 - f * settings.warmup_bars * 3, s0, seed=seed,
                                     tick_rate=tick_rate, progress=False)
                history[e] = frame.iloc[-settings.warmup_bars:]
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
    feed = DemoFeed(hub, epics, market=market, speed=spd, start=start_ns)
    risk = None
    try:
        from igkit.risk import RiskManager

        risk = RiskManager.from_config(config)
    except (ImportError, AttributeError):
        log.warning("igkit.risk.RiskManager is not available: the Demo engine runs without pre-trade checks")
    return LiveEngine(config, feed=feed, strategy=strategy, broker=PaperBroker(currency="GBP"), risk=risk,
                      hub=hub, instruments=epics, freq=settings.freq, audit_path=audit_path, history=history,
                      mode="demo")


def ig_engine(
    config: Config,
    settings: EngineSettings,
    progress: ProgressFn | None = None,
    *,
    confirm_live: bool = False,
    sim: Any = None,
    audit_path: str | None = None,
    **options: Any,
) -> Any:
    """A ``LiveEngine`` for ``settings.mode`` (sim, ig-demo, ig-live) from :func:`igkit.engine.factory.build_engine`:
    sim starts an in-process simulator unless ``config.ig.endpoints.sim`` names one (or ``sim`` is given).
    The resources (simulator, IG session, feed) ride on the engine as ``engine.resources``; close it all
    with :func:`close_engine`. ``options`` go to ``build_engine`` (``broker_options=``, ``sim_options=``...).
    ``settings.warmup_bars`` > 0 loads that many finished bars per instrument from IG's ``/prices`` (one
    progress step per instrument)."""
    from igkit.engine.factory import build_engine

    if not settings.instruments:
        raise ConfigError("no instruments selected: pick at least one", key="instruments")
    bar = progress(f"{settings.mode}: connecting", 1) if progress else None
    try:
        engine, resources = build_engine(config, mode=settings.mode, strategy=settings.strategy,
                                         params=dict(settings.params), instruments=settings.instruments,
                                         freq=settings.freq, confirm_live=confirm_live, sim=sim,
                                         audit_path=audit_path, warmup_bars=settings.warmup_bars,
                                         progress=progress, **options)
        if bar is not None:
            bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    setattr(engine, "resources", resources)  # noqa: B010 - LiveEngine has no such field: ride along
    return engine


def close_engine(engine: Any) -> None:
    """Close ``engine`` and what was built around it (``engine.resources``: simulator, IG session, feed)."""
    resources = getattr(engine, "resources", None)
    if resources is not None and callable(getattr(resources, "close", None)):
        resources.close()  # closes the engine first
    else:
        engine.close()


def default_factory(config: Config, settings: EngineSettings, progress: ProgressFn) -> Any:
    """Demo: :func:`demo_engine`; sim, ig-demo, ig-live: :func:`ig_engine` (the panel calls a factory for
    ig-live only after its confirmation button; the engine's start checks both confirmations again)."""
    if settings.mode == "demo":
        return demo_engine(config, settings, progress)
    return ig_engine(config, settings, progress, confirm_live=settings.mode == "ig-live")
