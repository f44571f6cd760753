"""Load and validate igkit's configuration.

Sources, later wins:

1. ``config/global.json`` — versioned defaults (broker kind, IG endpoints, instruments, candles, strategy,
   risk, limits);
2. ``config/local.json`` — gitignored secrets (API key, username, password, account id); in its place the
   file named by ``load_config(path)`` or by ``IGKIT_CONFIG=<file>`` (the test suite uses
   ``config/test.json``);
3. environment variables ``IGKIT_<SECTION>__<KEY>`` (e.g. ``IGKIT_IG__ENVIRONMENT=sim``); values are read
   as JSON when they parse (numbers, booleans, null, lists), else as text. ``IGKIT_MODE`` (demo, sim,
   ig-demo, ig-live) and ``IGKIT_DASK_SCHEDULER`` are shortcuts.

Every problem raises :class:`~igkit.errors.ConfigError` naming the source (file or variable), the key path
and what was expected, e.g. ``config/local.json: ig.environment: expected one of demo, live, sim, got
"prod"``. Secrets are :class:`pydantic.SecretStr`: they never appear in ``repr``, ``str``, logs or errors, and
:func:`redact` scrubs any text of the secret values loaded.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from igkit.errors import ConfigError
from igkit.types import Mode

__all__ = [
    "CandlesConfig",
    "Config",
    "IGConfig",
    "LimitsConfig",
    "MarketConfig",
    "RiskConfig",
    "StrategyConfig",
    "SweepConfig",
    "find_root",
    "load_config",
    "redact",
    "register_secret",
]

log = logging.getLogger(__name__)

ENV_PREFIX = "IGKIT_"
# IGKIT_* variables that are not config keys (read by other parts of igkit or by the tests)
_NOT_CONFIG = {"IGKIT_CONFIG", "IGKIT_HOME", "IGKIT_MODE", "IGKIT_DASK_SCHEDULER"}
_MODES = {
    "demo": {"broker": "demo"},
    "sim": {"broker": "ig", "ig": {"environment": "sim"}},
    "ig-demo": {"broker": "ig", "ig": {"environment": "demo"}},
    "ig-live": {"broker": "ig", "ig": {"environment": "live"}},
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class CandlesConfig(_Section):
    freq: str = "1min"
    window: int = Field(500, gt=0)


class MarketConfig(_Section):
    seed: int = 0
    tick_rate: float = Field(4.0, gt=0)
    speed: float | None = Field(1.0, gt=0)


class Endpoints(_Section):
    demo: str | None = "https://demo-api.ig.com/gateway/deal"
    live: str | None = "https://api.ig.com/gateway/deal"
    sim: str | None = None

    @field_validator("demo", "live", "sim")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL, got {v!r}")
        return v


class IGConfig(_Section):
    environment: Literal["demo", "live", "sim"] = "demo"
    api_key: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    account_id: str | None = None
    api_version: Literal[2, 3] = 2
    endpoints: Endpoints = Endpoints()
    confirm_live: bool = False
    timeout: float = Field(10.0, gt=0)
    cache_dir: str = "~/.cache/igkit/history"

    @property
    def base_url(self) -> str | None:
        """The REST base URL of the selected environment (None for an in-process simulator)."""
        return getattr(self.endpoints, self.environment)

    @property
    def missing_credentials(self) -> list[str]:
        """Credential keys still unset (the simulator needs none: it has its own test credentials)."""
        if self.environment == "sim":
            return []
        names = ("api_key", "username", "password")
        return [f"ig.{n}" for n in names if not _filled(getattr(self, n))]


class LimitsConfig(_Section):
    app_non_trading_per_min: int = Field(60, gt=0)
    account_non_trading_per_min: int = Field(30, gt=0)
    account_trading_per_min: int = Field(100, gt=0)
    historical_points_per_week: int = Field(10_000, ge=0)
    max_subscriptions: int = Field(40, gt=0)


class StrategyConfig(_Section):
    name: str = "sma"
    params: dict[str, Any] = Field(default_factory=dict)


class RiskConfig(_Section):
    size: float = Field(1.0, gt=0)
    max_order_size: float = Field(10.0, gt=0)
    max_position: float = Field(10.0, gt=0)
    max_exposure: float = Field(50.0, gt=0)
    max_open_positions: int = Field(10, gt=0)
    max_orders_per_minute: int = Field(30, gt=0)
    max_daily_loss: float = Field(500.0, gt=0)
    risk_per_trade: float = Field(0.01, gt=0, le=1)
    flatten_on_stop: bool = False
    # refuse opening orders with MARKET_CLOSED when the market is shut (RiskManager.from_config); the
    # paper (Demo) broker's synthetic market is always open, so Demo runs are never refused at weekends
    respect_hours: bool = True


class SweepConfig(_Section):
    scheduler: str | None = None
    n_workers: int = Field(2, gt=0)


class Config(_Section):
    """The whole, validated configuration (immutable)."""

    version: int = 1
    broker: Literal["demo", "ig"] = "demo"
    instruments: list[str] = Field(default_factory=lambda: ["CS.D.EURUSD.MINI.IP"])
    candles: CandlesConfig = CandlesConfig()
    market: MarketConfig = MarketConfig()
    ig: IGConfig = IGConfig()
    limits: LimitsConfig = LimitsConfig()
    strategy: StrategyConfig = StrategyConfig()
    risk: RiskConfig = RiskConfig()
    sweep: SweepConfig = SweepConfig()
    sources: tuple[str, ...] = Field(default=(), exclude=True, repr=False)

    @property
    def has_credentials(self) -> bool:
        return self.ig.environment == "sim" or not self.ig.missing_credentials

    @property
    def mode(self) -> Mode:
        """The mode the configuration asks for (before any fallback; see :meth:`resolve_mode`)."""
        if self.broker == "demo":
            return Mode.DEMO
        return {"sim": Mode.SIM, "demo": Mode.IG_DEMO, "live": Mode.IG_LIVE}[self.ig.environment]

    def resolve_mode(self, *, confirm_live: bool = False) -> tuple[Mode, list[str]]:
        """The mode to run in, and the warnings to show the user.

        An IG broker without credentials falls back to Demo with a warning (never a crash, never a silent
        live start). Live needs ``ig.confirm_live`` in config *and* ``confirm_live=True`` in the call.
        """
        mode = self.mode
        if mode in (Mode.IG_DEMO, Mode.IG_LIVE) and self.ig.missing_credentials:
            missing = ", ".join(self.ig.missing_credentials)
            msg = f"IG broker configured but credentials are missing ({missing}): falling back to Demo mode"
            log.warning(msg)
            return Mode.DEMO, [msg]
        if mode is Mode.IG_LIVE and not (self.ig.confirm_live and confirm_live):
            raise ConfigError(
                "refusing to trade real money without an explicit confirmation: set ig.confirm_live=true "
                "in config and pass confirm_live=True",
                key="ig.environment",
            )
        return mode, []


def _filled(v: object) -> bool:
    if isinstance(v, SecretStr):
        return bool(v.get_secret_value())
    return bool(v)


# -- secrets -----------------------------------------------------------------------------------------
_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()


def register_secret(value: str | SecretStr | None) -> None:
    """Remember a secret value so :func:`redact` and igkit's log filter scrub it from any text."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value and len(value) >= 4:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


def redact(text: str) -> str:
    """Replace every registered secret in ``text`` with ``***``."""
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for s in secrets:
        if s in text:
            text = text.replace(s, "***")
    return text


_previous_factory = logging.getLogRecordFactory()


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Scrub registered secrets from every log record, whichever logger or handler it goes to."""
    record = _previous_factory(*args, **kwargs)
    if _SECRETS:
        try:
            msg = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report
            return record
        clean = redact(msg)
        if clean != msg:
            record.msg, record.args = clean, None
    return record


logging.setLogRecordFactory(_redacting_factory)


# -- loading -----------------------------------------------------------------------------------------
def find_root(start: Path | None = None) -> Path | None:
    """The project folder holding ``config/global.json``: ``IGKIT_HOME``, else the working directory or a
    parent of it, else the folder above the installed package (an editable install)."""
    env = os.environ.get("IGKIT_HOME")
    if env:
        return Path(env).expanduser()
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "config" / "global.json").is_file():
            return d
    pkg_parent = Path(__file__).resolve().parents[1]
    if (pkg_parent / "config" / "global.json").is_file():
        return pkg_parent
    return None


def _display(path: Path, root: Path | None) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve())) if root else str(path)
    except ValueError:
        return str(path)


def _read_json(path: Path, shown: str, *, required: bool) -> dict[str, Any] | None:
    if not path.is_file():
        if required:
            raise ConfigError(f"file not found ({path})", source=shown)
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ConfigError(f"malformed JSON at line {e.lineno} column {e.colno}: {e.msg}", source=shown) from None
    except OSError as e:
        raise ConfigError(f"cannot read file: {e.strerror}", source=shown) from None
    if not isinstance(data, dict):
        raise ConfigError(f"expected a JSON object at the top level, got {type(data).__name__}", source=shown)
    return data


def _merge(base: dict[str, Any], over: Mapping[str, Any], origin: dict[tuple[str, ...], str], source: str,
           prefix: tuple[str, ...] = ()) -> None:
    for key, value in over.items():
        path = (*prefix, key)
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            origin.setdefault(path, source)
            _merge(base[key], value, origin, source, path)
        else:
            base[key] = _deep_copy(value)
            origin[path] = source
            for p in [p for p in origin if p[: len(path)] == path and len(p) > len(path)]:
                origin[p] = source
            if isinstance(value, Mapping):
                _mark(value, path, origin, source)


def _mark(value: Mapping[str, Any], prefix: tuple[str, ...], origin: dict[tuple[str, ...], str], source: str) -> None:
    for k, v in value.items():
        origin[(*prefix, k)] = source
        if isinstance(v, Mapping):
            _mark(v, (*prefix, k), origin, source)


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def _env_layer(environ: Mapping[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """One override layer per ``IGKIT_*`` variable, named after it (so errors can name the variable)."""
    layers: list[tuple[str, dict[str, Any]]] = []
    mode = environ.get("IGKIT_MODE")
    if mode:
        if mode.lower() not in _MODES:
            raise ConfigError(f"expected one of {', '.join(_MODES)}, got {mode!r}", source="env IGKIT_MODE")
        layers.append(("env IGKIT_MODE", _deep_copy(_MODES[mode.lower()])))
    if environ.get("IGKIT_DASK_SCHEDULER"):
        layers.append(("env IGKIT_DASK_SCHEDULER", {"sweep": {"scheduler": environ["IGKIT_DASK_SCHEDULER"]}}))
    top_level = {name.upper(): name for name, f in Config.model_fields.items() if name != "sources"}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in _NOT_CONFIG:
            continue
        rest = name[len(ENV_PREFIX):]
        if "__" not in rest and rest not in top_level:
            continue  # an IGKIT_* variable that is not a config override (e.g. IGKIT_DEMO_SECONDS)
        parts = [p.lower() for p in rest.split("__")]
        if not all(parts):
            raise ConfigError("malformed variable name: expected IGKIT_<SECTION>__<KEY>", source=f"env {name}")
        raw = environ[name]
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        layer: dict[str, Any] = {}
        node = layer
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
        layers.append((f"env {name}", layer))
    return layers


def load_config(path: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None) -> Config:
    """Load ``config/global.json``, then the local file (``path``, ``IGKIT_CONFIG`` or
    ``config/local.json``), then ``IGKIT_*`` environment overrides, and validate the result."""
    env = os.environ if environ is None else environ
    root = find_root()
    merged: dict[str, Any] = {}
    origin: dict[tuple[str, ...], str] = {}
    sources: list[str] = []

    if root is not None:
        g = root / "config" / "global.json"
        data = _read_json(g, _display(g, root), required=True)
        assert data is not None
        _merge(merged, data, origin, _display(g, root))
        sources.append(_display(g, root))
    else:
        log.warning("no config/global.json found (set IGKIT_HOME): using built-in defaults")

    if path is not None:
        local, required = Path(path).expanduser(), True
    elif env.get("IGKIT_CONFIG"):
        local, required = Path(env["IGKIT_CONFIG"]).expanduser(), True
        if not local.is_absolute() and not local.is_file() and root is not None:
            local = root / local
    else:
        local, required = (root or Path.cwd()) / "config" / "local.json", False
    shown = _display(local, root)
    data = _read_json(local, shown, required=required)
    if data is not None:
        _merge(merged, data, origin, shown)
        sources.append(shown)

    for src, layer in _env_layer(env):
        _merge(merged, layer, origin, src)
        sources.append(src)

    try:
        cfg = Config.model_validate({**merged, "sources": tuple(sources)})
    except ValidationError as e:
        raise _to_config_error(e, origin) from None
    for secret in (cfg.ig.api_key, cfg.ig.password):
        register_secret(secret)
    return cfg


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Config
    for part in loc:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return None
        ann = model.model_fields[part].annotation
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return model


def _to_config_error(exc: ValidationError, origin: dict[tuple[str, ...], str]) -> ConfigError:
    messages = []
    first_source = first_key = None
    for err in exc.errors():
        loc = tuple(str(p) for p in err["loc"])
        key = ".".join(loc)
        source = None
        for n in range(len(loc), 0, -1):
            source = origin.get(loc[:n])
            if source:
                break
        detail = _describe(err, loc)
        messages.append(f"{source or 'config'}: {key}: {detail}")
        if first_source is None:
            first_source, first_key = source, key
    text = messages[0] if len(messages) == 1 else "\n".join(["invalid configuration:", *messages])
    error = ConfigError(text)
    error.source, error.key = first_source, first_key
    return error


def _describe(err: Any, loc: tuple[str, ...]) -> str:
    kind = err["type"]
    given = err.get("input")
    shown = "a secret value" if loc and loc[-1] in {"api_key", "password"} else json.dumps(given, default=str)
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        known = [f for f in (parent.model_fields if parent else {}) if f != "sources"]
        close = difflib.get_close_matches(loc[-1], known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown key{hint}; expected one of {', '.join(known)}"
    if kind == "literal_error":
        options = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"expected one of {options}, got {shown}"
    if kind == "missing":
        return "required key is missing"
    types = {
        "int_type": "an integer", "float_type": "a number", "string_type": "a string", "bool_type": "true or false",
        "list_type": "a list", "dict_type": "an object", "model_type": "an object", "int_from_float": "an integer",
        "model_attributes_type": "an object",
    }
    if kind in types:
        return f"expected {types[kind]}, got {shown}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind.startswith(("greater_than", "less_than")):
        return f"{err['msg'].lower()}, got {shown}"
    return f"{err['msg']} (got {shown})"
