"""The ``Strategy`` base class: declared, validated parameters and one ``signals`` method.

A strategy is a small immutable object: its parameters are declared as class attributes with
:class:`Param` (default, type, bounds, relations to other parameters), checked when the object is built,
and never changed afterwards (``with_params`` returns a new one). Its one method,
``signals(candles) -> Series``, returns target positions in {-1, 0, +1} indexed like the candles, each
computed from information up to that bar's close only. The live engine calls ``step`` once per closed bar
(by default the last value of ``signals`` on the bars it keeps); ``lookback`` tells it how many bars to keep
(None, the default: all of them), and a path-dependent built-in carries its state from bar to bar there so
its live signals equal the backtest's without re-reading the whole history. Subclasses that set ``name``
are registered by that name for the CLI and the config (``get_strategy("sma")``).

Hand-written because it is igkit's own small contract, shared by the backtest, the sweep and the live
engine; a dataclass would not give bounds, relations and clear errors naming the parameter.

A user strategy fits in a notebook cell::

    class Momentum(Strategy):
        lookback = Param(30, min=2, doc="bars of return to look back on")

        @property
        def warmup(self) -> int:
            return self.lookback + 1

        def signals(self, candles):
            r = candles["mid_close"].diff(self.lookback)
            return self.to_signals((r > 0).astype(int) - (r < 0).astype(int), candles)
"""

from __future__ import annotations

import builtins
import numbers
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from igkit.errors import DataError, IgkitError

__all__ = ["STRATEGIES", "Param", "ParamError", "Strategy", "get_strategy", "register"]

_MISSING: Any = object()
_RELATIONS = {"lt": ("<", lambda a, b: a < b), "le": ("<=", lambda a, b: a <= b),
              "gt": (">", lambda a, b: a > b), "ge": (">=", lambda a, b: a >= b)}


class ParamError(IgkitError, ValueError):
    """A strategy parameter is unknown, of the wrong type, out of range or breaks a relation.

    ``strategy``, ``param`` and ``value`` name what was wrong.
    """

    def __init__(self, strategy: str, param: str, value: object, message: str) -> None:
        self.strategy = strategy
        self.param = param
        self.value = value
        super().__init__(f"{strategy}: parameter {param}={value!r} {message}")


class Param:
    """A declared strategy parameter.

    Args:
        default: the default value; its type is the parameter's type unless ``type`` is given.
        type: ``int``, ``float``, ``bool`` or ``str`` (an ``int`` is accepted for a ``float``; numpy
            scalars are accepted and converted; ``bool`` is never accepted as a number).
        min, max: inclusive bounds for numbers.
        choices: the allowed values, if it is a closed set.
        lt, le, gt, ge: the name of another parameter this one must be less than (``lt``), at most
            (``le``), greater than (``gt``) or at least (``ge``), e.g. ``fast = Param(20, lt="slow")``.
        doc: one line shown in ``Strategy.describe()``.
    """

    def __init__(
        self,
        default: Any,
        *,
        type: builtins.type | None = None,
        min: float | None = None,
        max: float | None = None,
        choices: tuple[Any, ...] | list[Any] | None = None,
        lt: str | None = None,
        le: str | None = None,
        gt: str | None = None,
        ge: str | None = None,
        doc: str = "",
    ) -> None:
        self.default = default
        self.type: builtins.type = type if type is not None else builtin_type(default)
        if self.type not in (int, float, bool, str):
            raise TypeError(f"Param type must be int, float, bool or str, got {self.type!r}")
        self.min = min
        self.max = max
        self.choices = tuple(choices) if choices is not None else None
        self.relations: list[tuple[str, str]] = [
            (key, other) for key, other in (("lt", lt), ("le", le), ("gt", gt), ("ge", ge)) if other
        ]
        self.doc = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: object, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        return obj.__dict__.get(self.name, self.default)

    def __set__(self, obj: object, value: Any) -> None:
        raise AttributeError(
            f"{type(obj).__name__}.{self.name} is read-only; use .with_params({self.name}=...) for a new one"
        )

    def __repr__(self) -> str:
        return f"Param({self.default!r}, type={self.type.__name__}, min={self.min!r}, max={self.max!r})"

    def coerce(self, strategy: str, value: Any) -> Any:
        """``value`` converted to this parameter's type and checked against its bounds and choices."""
        t = self.type
        if t is bool:
            if not isinstance(value, bool | np.bool_):
                raise ParamError(strategy, self.name, value, "must be a bool")
            value = bool(value)
        elif t is str:
            if not isinstance(value, str):
                raise ParamError(strategy, self.name, value, "must be a string")
        elif isinstance(value, bool | np.bool_):
            raise ParamError(strategy, self.name, value, f"must be {t.__name__}, not a bool")
        elif t is int:
            if isinstance(value, numbers.Integral):
                value = int(value)
            elif isinstance(value, numbers.Real) and float(value).is_integer():
                value = int(float(value))
            else:
                raise ParamError(strategy, self.name, value, "must be an integer")
        else:  # float
            if not isinstance(value, numbers.Real) or not np.isfinite(float(value)):
                raise ParamError(strategy, self.name, value, "must be a finite number")
            value = float(value)
        if self.min is not None and value < self.min:
            raise ParamError(strategy, self.name, value, f"must be >= {self.min}")
        if self.max is not None and value > self.max:
            raise ParamError(strategy, self.name, value, f"must be <= {self.max}")
        if self.choices is not None and value not in self.choices:
            raise ParamError(strategy, self.name, value, f"must be one of {list(self.choices)}")
        return value


def builtin_type(default: Any) -> type:
    """The parameter type implied by a default value."""
    if isinstance(default, bool | np.bool_):
        return bool
    if isinstance(default, numbers.Integral):
        return int
    if isinstance(default, numbers.Real):
        return float
    if isinstance(default, str):
        return str
    raise TypeError(f"cannot infer a parameter type from default {default!r}; pass type=")


STRATEGIES: dict[str, type[Strategy]] = {}


class Strategy:
    """Base class of every strategy: declared :class:`Param` attributes, ``warmup`` and ``signals``.

    Build with keyword arguments (``SmaCross(fast=10, slow=30)``); unknown names, wrong types, values out
    of bounds and broken relations raise :class:`ParamError` naming the parameter and the value.
    Override :meth:`check` for relations that ``lt``/``le``/``gt``/``ge`` cannot express.

    Class attributes: ``name`` (registry name, optional) and ``description`` (one line).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    _params: ClassVar[dict[str, Param]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        params: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            for key, value in vars(klass).items():
                if isinstance(value, Param):
                    params[key] = value
        cls._params = params
        if "name" in vars(cls) and cls.name:
            register(cls)

    def __init__(self, **params: Any) -> None:
        cls = type(self).__name__
        for key in params:
            if key not in self._params:
                known = ", ".join(self._params) or "none"
                raise ParamError(cls, key, params[key], f"is not a parameter of {cls} (parameters: {known})")
        values = {key: p.coerce(cls, params.get(key, p.default)) for key, p in self._params.items()}
        self.__dict__.update(values)
        for key, p in self._params.items():
            for rel, other in p.relations:
                sym, ok = _RELATIONS[rel]
                if not ok(values[key], values[other]):
                    raise ParamError(cls, key, values[key], f"must be {sym} {other} (={values[other]!r})")
        self.check()

    # -- parameters ---------------------------------------------------------------------------------
    @classmethod
    def param_specs(cls) -> Mapping[str, Param]:
        """The declared parameters, in declaration order."""
        return dict(cls._params)

    @property
    def params(self) -> dict[str, Any]:
        """The parameter values as a new dict."""
        return {key: self.__dict__[key] for key in self._params}

    def with_params(self, **params: Any) -> Strategy:
        """A new strategy of the same class with some parameters changed (validated again)."""
        return type(self)(**{**self.params, **params})

    def check(self) -> None:
        """Check relations between parameters; raise :class:`ParamError` via :meth:`fail`. Default: none."""

    def fail(self, param: str, message: str) -> None:
        """Raise a :class:`ParamError` for ``param`` with ``message``."""
        raise ParamError(type(self).__name__, param, self.__dict__.get(param), message)

    @classmethod
    def describe(cls) -> str:
        """One line per parameter: name, default, bounds and doc."""
        lines = [f"{cls.__name__}: {cls.description or (cls.__doc__ or '').strip().splitlines()[0]}"]
        for key, p in cls._params.items():
            bounds = "".join(
                f" {s}{v}" for s, v in ((">=", p.min), ("<=", p.max)) if v is not None
            ) + "".join(f" {_RELATIONS[r][0]}{o}" for r, o in p.relations)
            lines.append(f"  {key}: {p.type.__name__} = {p.default!r}{bounds}  {p.doc}".rstrip())
        return "\n".join(lines)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.params == self.params

    def __hash__(self) -> int:
        return hash((type(self).__qualname__, tuple(self.params.items())))

    # -- the contract -------------------------------------------------------------------------------
    @property
    def warmup(self) -> int:
        """Bars of history needed for the first defined signal; the first ``warmup - 1`` signals are 0."""
        return 0

    def signals(self, candles: pd.DataFrame) -> pd.Series:
        """Target positions in {-1, 0, +1} (int8), indexed like ``candles``; bar t uses bars ≤ t only."""
        raise NotImplementedError(f"{type(self).__name__}.signals is not implemented")

    # -- live, one bar at a time (the engine) ---------------------------------------------------------
    @property
    def lookback(self) -> int | None:
        """Bars the live engine keeps for :meth:`step`: the signal of a bar must follow from that many
        newest bars (itself included) and the state :meth:`step` carries. None (the default): it may
        depend on every bar since the first one (a position held since, an exponential average), so the
        engine keeps them all. A window-only strategy (``SmaCross``: ``slow``) says so and stays cheap."""
        return None

    @property
    def columns_step(self) -> bool:
        """True when :meth:`step` reads its candles through :meth:`column` only: the live engine then hands
        it the held bars as a ``{column: numpy array}`` mapping (oldest first; views, valid during the call)
        instead of building a DataFrame each bar, which at a live pace, with cold caches, costs most of the
        per-bar time. Default False (``step`` gets a DataFrame)."""
        return False

    def start_state(self, candles: pd.DataFrame) -> Any:
        """The state :meth:`step` carries into the bar after the last of ``candles`` (a whole series from
        its first bar, maybe empty: the engine's warm-up history). Default: None (nothing carried)."""
        return None

    def step(self, candles: pd.DataFrame, state: Any) -> tuple[int, Any]:
        """The live engine's call on each closed bar: the signal of the last bar of ``candles`` and the
        state to carry to the next bar.

        ``candles`` hold the newest bars, at least :attr:`lookback` of them (every bar so far when it is
        None), the just-closed one last; ``state`` is what :meth:`step` returned on the bar before (or
        :meth:`start_state` on the warm-up history). The result must equal ``signals(every bar so
        far).iloc[-1]``: that is what makes live trading equal the backtest (tested for the built-ins).
        Default: the last value of :meth:`signals` on ``candles``; the state passes through unchanged.
        """
        return int(self.signals(candles).to_numpy()[-1]), state

    @staticmethod
    def to_signals(values: Any, candles: pd.DataFrame) -> pd.Series:
        """Any array-like of -1/0/+1 (NaN → 0) → an int8 Series named ``signal`` on the candles' index."""
        arr = np.asarray(values, dtype=np.float64)
        if arr.shape != (len(candles),):
            raise DataError(f"signals have shape {arr.shape}, expected ({len(candles)},) like the candles")
        arr = np.nan_to_num(arr, nan=0.0)
        return pd.Series(np.sign(arr).astype(np.int8), index=candles.index, name="signal")

    @staticmethod
    def column(candles: pd.DataFrame | Mapping[str, np.ndarray], name: str) -> np.ndarray:
        """A float64 numpy view of a candle column (of a frame, or of the engine's column mapping, see
        :attr:`columns_step`); DataError naming the column if it is missing."""
        try:
            col = candles[name]
        except KeyError:
            have = list(candles.columns) if isinstance(candles, pd.DataFrame) else list(candles)
            raise DataError(f"candles have no column {name!r} (columns: {have})") from None
        if isinstance(col, np.ndarray):
            return col if col.dtype == np.float64 else col.astype(np.float64)
        return col.to_numpy(dtype=np.float64, copy=False)


def register(cls: type[Strategy], name: str | None = None) -> type[Strategy]:
    """Register a strategy class under ``name`` (default: its ``name`` attribute). Returns the class."""
    key = (name or cls.name).strip().lower()
    if not key:
        raise ValueError(f"{cls.__name__} has no name to register under")
    STRATEGIES[key] = cls
    return cls


def get_strategy(name: str, **params: Any) -> Strategy:
    """The registered strategy ``name`` (case-insensitive; its class name also works) built with ``params``."""
    key = name.strip().lower()
    cls = STRATEGIES.get(key)
    if cls is None:
        by_class = {c.__name__.lower(): c for c in STRATEGIES.values()}
        cls = by_class.get(key)
    if cls is None:
        raise ParamError("get_strategy", "name", name, f"is not a registered strategy ({', '.join(STRATEGIES)})")
    return cls(**params)
