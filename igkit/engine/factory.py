"""``build_engine``: the ONE place that turns a configuration and a mode into a ready ``LiveEngine`` and the
resources around it (simulator, IG client, streaming feed, broker), for ``igkit run``, the notebook panel
and user code alike.

* ``demo``: :class:`~igkit.feeds.DemoFeed` (the seeded synthetic market) + :class:`~igkit.broker.PaperBroker`.
* ``sim``: the IG simulator, through the real REST and Lightstreamer paths: an in-process
  :class:`~igkit.sim.IGSimulator` when ``config.ig.endpoints.sim`` is None (started here, stopped by
  :meth:`EngineResources.close`), else the configured URL (the configured credentials, or the simulator's
  default test credentials); then an :class:`~igkit.ig.IGClient` login, the streaming feed and an
  :class:`~igkit.broker.IGBroker` that takes its TRADE events from the feed.
* ``ig-demo`` / ``ig-live``: :meth:`IGClient.from_config` + login with the configured credentials, the same
  feed and broker. Real money needs ``ig.confirm_live`` in the config AND ``confirm_live=True`` here;
  missing credentials fall back to Demo with a warning (:meth:`igkit.config.Config.resolve_mode`).

Every mode gets the same strategy, risk manager (:meth:`igkit.risk.RiskManager.from_config`) and engine:
only the feed and the broker differ. Hand-written glue: it is igkit's own wiring of its own parts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from igkit.config import Config
from igkit.engine.engine import LiveEngine
from igkit.errors import ConfigError
from igkit.market import resolve
from igkit.strategy import Strategy, get_strategy
from igkit.ticks import TickHub
from igkit.types import Mode

__all__ = ["EngineResources", "build_engine", "config_for_mode"]

log = logging.getLogger(__name__)

_ENVIRONMENT = {Mode.SIM: "sim", Mode.IG_DEMO: "demo", Mode.IG_LIVE: "live"}


@dataclass
class EngineResources:
    """What :func:`build_engine` made around the engine; :meth:`close` tears it all down (idempotent):
    the engine (stopped as the config says, audit closed), the feed, the broker, the IG session (logout),
    and an in-process simulator started for it."""

    mode: Mode
    config: Config
    engine: LiveEngine | None = None
    feed: Any = None
    broker: Any = None
    client: Any = None
    sim: Any = None
    owns_sim: bool = False
    warnings: list[str] = field(default_factory=list)
    closed: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
        steps: list[tuple[str, Any]] = [
            ("engine", getattr(self.engine, "close", None)),
            ("feed", getattr(self.feed, "stop", None)),
            ("broker", getattr(self.broker, "stop", None) if self.client is not None else None),
            ("client", self._logout),
            ("simulator", getattr(self.sim, "stop", None) if self.owns_sim else None),
        ]
        for what, step in steps:
            if step is None:
                continue
            try:
                step()
            except Exception:  # tear down the rest whatever one part does
                log.exception("closing the %s (%s mode) failed", what, self.mode.value)

    def _logout(self) -> None:
        client = self.client
        if client is None:
            return
        try:
            if client.logged_in:
                client.logout()
        finally:
            client.close()

    def __enter__(self) -> EngineResources:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def config_for_mode(config: Config, mode: Mode | str) -> Config:
    """``config`` with ``broker``/``ig.environment`` set to ``mode`` (what ``IGKIT_MODE`` does when loading)."""
    m = Mode(mode)
    if m is Mode.DEMO:
        return config if config.broker == "demo" else config.model_copy(update={"broker": "demo"})
    ig = config.ig.model_copy(update={"environment": _ENVIRONMENT[m]})
    return config.model_copy(update={"broker": "ig", "ig": ig})


def _strategy(strategy: Strategy | str | None, params: Mapping[str, Any] | None, config: Config) -> Strategy:
    if strategy is None or isinstance(strategy, str):
        name = strategy or config.strategy.name
        return get_strategy(name, **dict(config.strategy.params if params is None and strategy is None
                                         else (params or {})))
    if params:
        raise ConfigError(f"build_engine: params={dict(params)!r} given with a built strategy {strategy!r}; pass "
                          "the strategy's name instead", key="strategy.params")
    return strategy


def build_engine(
    config: Config | None = None,
    *,
    mode: Mode | str | None = None,
    strategy: Strategy | str | None = None,
    params: Mapping[str, Any] | None = None,
    instruments: Iterable[str] | None = None,
    freq: str | None = None,
    size: float | None = None,
    confirm_live: bool = False,
    sim: Any = None,
    audit_path: str | None = None,
    speed: float | str | None = "config",
    seed: int | None = None,
    history: Any = None,
    warmup_bars: int = 0,
    progress: Any = None,
    hub: TickHub | None = None,
    client_options: Mapping[str, Any] | None = None,
    broker_options: Mapping[str, Any] | None = None,
    feed_options: Mapping[str, Any] | None = None,
    sim_options: Mapping[str, Any] | None = None,
    engine_options: Mapping[str, Any] | None = None,
) -> tuple[LiveEngine, EngineResources]:
    """The engine for ``mode`` and its resources (call ``resources.close()`` when done; it closes the
    engine too). Nothing is started: ``engine.start()`` starts the broker and the feed.

    Args:
        config: the configuration (None: the defaults). mode: demo, sim, ig-demo, ig-live (None: the
            config's, through :meth:`Config.resolve_mode`; Demo with a warning when IG credentials are
            missing — the warnings are in ``resources.warnings``).
        strategy: a built :class:`~igkit.strategy.Strategy` or a registered name with ``params`` (None:
            the config's strategy and parameters).
        instruments, freq, size: epics or symbols, bar frequency, units per trade (None: the config's).
        confirm_live: the caller's confirmation for ``ig-live`` (the config must confirm too).
        sim: a running :class:`~igkit.sim.IGSimulator` to use in ``sim`` mode (not stopped by ``close``).
        audit_path: the engine's JSON-lines audit log. history: warm-up candles for the engine.
        warmup_bars: in the IG modes, without ``history``: that many finished bars per instrument from IG's
            ``/prices`` (one request each, counted against the weekly allowance), one ``progress`` step
            (a ``(desc, total) -> bar`` factory, e.g. the panel's) per instrument. Demo: pass ``history``.
        speed: Demo market speed (``"config"``: the config's; None: as fast as possible).
        seed: the synthetic market's seed (Demo, and an in-process simulator; None: ``market.seed``).
        client_options, broker_options, feed_options, sim_options, engine_options: keywords for
            :class:`~igkit.ig.IGClient`, :class:`~igkit.broker.IGBroker`, the streaming feed, the
            in-process simulator (``IGSimulator.from_config``) and :class:`LiveEngine`.

    Raises:
        ConfigError: live without both confirmations, no instruments, a bad strategy/parameter/frequency.
        AuthError, IGError: the IG login failed (nothing is left running).
    """
    cfg = config if config is not None else Config()
    if mode is None:
        chosen, warnings = cfg.resolve_mode(confirm_live=confirm_live)
    else:
        chosen, warnings = config_for_mode(cfg, mode).resolve_mode(confirm_live=confirm_live)
    cfg = config_for_mode(cfg, chosen)
    for w in warnings:
        log.warning("%s", w)
    strat = _strategy(strategy, params, cfg)
    epics = [resolve(e) for e in (instruments if instruments is not None else cfg.instruments)]
    if not epics:
        raise ConfigError("build_engine: no instruments (pass instruments= or set config.instruments)",
                          key="instruments")
    res = EngineResources(chosen, cfg, warnings=list(warnings))
    hub = hub if hub is not None else TickHub()
    try:
        if chosen is Mode.DEMO:
            _demo_parts(res, cfg, hub, epics, speed, seed)
        else:
            sim_opts = dict(sim_options or {})
            if seed is not None:
                sim_opts.setdefault("seed", seed)
            _ig_parts(res, cfg, hub, epics, freq or cfg.candles.freq, sim, client_options, broker_options,
                      feed_options, sim_opts)
            if history is None and warmup_bars > 0:
                history = _ig_warmup(res, epics, freq or cfg.candles.freq, warmup_bars, progress)
        from igkit.risk import RiskManager

        risk = RiskManager.from_config(cfg, broker=res.broker)
        res.engine = LiveEngine(cfg, feed=res.feed, strategy=strat, broker=res.broker, risk=risk, hub=hub,
                                instruments=epics, freq=freq, size=size, audit_path=audit_path, history=history,
                                mode=chosen, **dict(engine_options or {}))
    except BaseException:
        res.close()
        raise
    log.info("built a %s engine: %s on %s", chosen.value, strat, ", ".join(epics))
    return res.engine, res


def _demo_parts(res: EngineResources, cfg: Config, hub: TickHub, epics: list[str], speed: float | str | None,
                seed: int | None) -> None:
    from igkit.broker.paper import PaperBroker
    from igkit.feeds.demo import DemoFeed

    spd = cfg.market.speed if isinstance(speed, str) else speed
    res.feed = DemoFeed(hub, epics, seed=cfg.market.seed if seed is None else seed,
                        tick_rate=cfg.market.tick_rate, speed=spd)
    res.broker = PaperBroker()


def _ig_parts(res: EngineResources, cfg: Config, hub: TickHub, epics: list[str], freq: str, sim: Any,
              client_options: Mapping[str, Any] | None, broker_options: Mapping[str, Any] | None,
              feed_options: Mapping[str, Any] | None, sim_options: Mapping[str, Any] | None) -> None:
    from igkit.broker.ig import IGBroker
    from igkit.ig import IGClient

    ig = cfg.ig
    copts = dict(client_options or {})
    if res.mode is Mode.SIM:
        if sim is None and ig.endpoints.sim is None:
            sim = _start_sim(cfg, sim_options)
            res.owns_sim = True
        res.sim = sim
        url = sim.rest_url if sim is not None else ig.endpoints.sim
        from igkit.sim import IGSimulator

        api_key: Any = ig.api_key if (sim is None and ig.api_key is not None) else IGSimulator.api_key
        user = ig.username if (sim is None and ig.username) else IGSimulator.username
        password: Any = ig.password if (sim is None and ig.password is not None) else IGSimulator.password
        if sim is not None:  # the simulator's own test credentials
            api_key, user, password = sim.api_key, sim.username, sim.password
        copts.setdefault("timeout", ig.timeout)
        copts.setdefault("limits", cfg.limits)
        res.client = IGClient(str(url), api_key, account_id=ig.account_id, **copts)
    else:
        res.client = IGClient.from_config(cfg, **copts)
        user, password = str(ig.username), ig.password
    res.client.login(user, password, version=ig.api_version)
    res.broker = IGBroker.from_config(cfg, client=res.client, **dict(broker_options or {}))
    for problem in res.broker.check_markets(epics).values():  # shown by the panel, logged here
        log.warning("%s", problem)
        res.warnings.append(problem)
    res.feed = _streaming_feed(res.client, hub, epics, freq, feed_options)
    res.feed.attach_broker(res.broker)


def _ig_warmup(res: EngineResources, epics: list[str], freq: str, bars: int, progress: Any) -> dict[str, Any]:
    """The last ``bars`` finished candles of each epic from IG; an epic IG cannot serve starts without them
    (a warning in ``res.warnings``, not a failure)."""
    from igkit.errors import DataError, IGError
    from igkit.history import latest_ig_candles

    history: dict[str, Any] = {}
    bar = progress(f"history {bars} bars", len(epics)) if progress is not None else None
    try:
        for epic in epics:
            try:
                history[epic] = latest_ig_candles(res.client, epic, freq, bars)
            except (DataError, IGError) as exc:
                msg = f"{epic}: no warm-up history from IG ({exc}); it starts from live ticks only"
                log.warning("%s", msg)
                res.warnings.append(msg)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return history


def _start_sim(cfg: Config, sim_options: Mapping[str, Any] | None) -> Any:
    """An in-process simulator (REST + its Lightstreamer server), ticking every day (``always_open``) unless
    ``sim_options`` say otherwise."""
    from igkit.sim import IGSimulator

    opts: dict[str, Any] = {"always_open": True, **dict(sim_options or {})}
    return IGSimulator.from_config(cfg, **opts).start()


def _streaming_feed(client: Any, hub: TickHub, epics: list[str], freq: str,
                    options: Mapping[str, Any] | None) -> Any:
    from igkit.feeds.streaming import StreamingFeed

    opts: dict[str, Any] = {"freq": freq, **dict(options or {})}
    return StreamingFeed(client, hub, epics, **opts)
