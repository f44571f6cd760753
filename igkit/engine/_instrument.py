"""Per-instrument pieces of the engine: the candle history the strategy reads (its ``lookback`` bars, or all
of them), the instrument's reader/builder/counters and carried strategy state, and a rolling tick window
for the data-quality report.

Hand-written because the history is on the engine's hot path: a closed bar is appended to preallocated
numpy columns (no Python object per bar kept), and the strategy's frame is built from column slices
with ``DataFrame._from_arrays`` and a ``DatetimeIndex`` made without input inference (~0.05 ms for
120 bars here, against ~0.6 ms for :func:`igkit.candles.candles_to_frame` on the same bars). Both are
pandas internals: each has a public fallback, and the index path is checked against the public one at
import. The frame has exactly the candle schema (a test compares it with ``candles_to_frame``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from pandas.core.arrays import DatetimeArray

from igkit.candles import CANDLE_COLUMNS, Candle, CandleBuilder
from igkit.errors import DataError
from igkit.quality import quality_from_arrays
from igkit.ticks import TickBuffer, TickReader

__all__ = ["History", "Instrument", "QualityMonitor", "QualityWindow", "apply_repairs", "load_history"]

log = logging.getLogger(__name__)

_COLUMNS = pd.Index(list(CANDLE_COLUMNS))
_NF = len(CANDLE_COLUMNS) - 1  # float columns


def _public_index(ts: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(ts.view("M8[ns]"), name="time").tz_localize("UTC")


def _fast_index(ts: np.ndarray) -> pd.DatetimeIndex:
    """The same index without pandas' input inference (~2 µs instead of ~17 µs for 120 bars)."""
    arr = DatetimeArray._simple_new(ts.view("M8[ns]"), dtype=_UTC)  # type: ignore[attr-defined]
    return pd.DatetimeIndex._simple_new(arr, name="time")  # type: ignore[attr-defined]


def _pick_index_builder() -> Callable[[np.ndarray], pd.DatetimeIndex]:
    """The fast builder if this pandas builds exactly the public result with it, else the public one."""
    probe = np.array([0, 60_000_000_000, 1_700_000_000_000_000_000], dtype=np.int64)
    try:
        if _fast_index(probe).equals(_public_index(probe)) and _fast_index(probe).dtype == _UTC:
            return _fast_index
    except Exception:  # a pandas without these internals
        log.debug("pandas internals changed: the public DatetimeIndex path is used")
    return _public_index


_UTC = pd.DatetimeTZDtype("ns", "UTC")
_utc_index = _pick_index_builder()


class History:
    """The closed candles of one instrument as numpy columns; ``frame()`` → candle frame.

    ``size``: the newest ``size`` bars are kept (a strategy's ``lookback``), or None: every bar since the
    first, in columns that double their capacity when full (amortised O(1) per bar, no Python object per
    bar), for a strategy whose signal may depend on the whole path.
    """

    def __init__(self, size: int | None) -> None:
        if size is not None and size < 1:
            raise ValueError(f"History: size must be >= 1 or None, got {size!r}")
        self.size = size
        cap = 2 * size if size is not None else 1024
        self._ts = np.zeros(cap, dtype=np.int64)
        self._f = np.zeros((_NF, cap), dtype=np.float64)
        self._n = np.zeros(cap, dtype=np.int64)
        self._hi = 0  # one past the newest row
        self.total = 0  # bars ever appended

    def __len__(self) -> int:
        return self._hi - self._lo()

    def _lo(self) -> int:
        """Row of the oldest bar held (rows before it are kept only until the next move to the front)."""
        return 0 if self.size is None else max(0, self._hi - self.size)

    def _reserve(self, k: int) -> None:
        """Room for ``k`` more rows (``k <= size`` when bounded): a bounded history moves its newest rows to
        the front, an unbounded one grows."""
        cap = self._ts.shape[0]
        if self._hi + k <= cap:
            return
        if self.size is None:
            self._grow(max(2 * cap, self._hi + k))
            return
        keep = min(self._hi, self.size - k)
        lo = self._hi - keep
        self._ts[:keep] = self._ts[lo : self._hi]
        self._f[:, :keep] = self._f[:, lo : self._hi]
        self._n[:keep] = self._n[lo : self._hi]
        self._hi = keep

    def _grow(self, cap: int) -> None:
        hi = self._hi
        ts, f, n = np.zeros(cap, dtype=np.int64), np.zeros((_NF, cap), dtype=np.float64), np.zeros(cap, np.int64)
        ts[:hi], f[:, :hi], n[:hi] = self._ts[:hi], self._f[:, :hi], self._n[:hi]
        self._ts, self._f, self._n = ts, f, n

    def append(self, c: Candle) -> None:
        if self._hi == self._ts.shape[0]:
            self._reserve(1)
        i = self._hi
        self._ts[i] = c[0]
        self._f[:, i] = c[1:13]
        self._n[i] = c[13]
        self._hi = i + 1
        self.total += 1

    def extend_frame(self, frame: pd.DataFrame) -> int:
        """Append the rows of a candle frame (prior history); returns how many were taken."""
        missing = [c for c in CANDLE_COLUMNS if c not in frame.columns]
        if missing:
            raise DataError(f"history candles lack columns {missing} (igkit's candle schema)")
        if not isinstance(frame.index, pd.DatetimeIndex):
            raise DataError("history candles must have a DatetimeIndex of bar open times (UTC)")
        if self.size is not None:
            frame = frame.iloc[-self.size :]
        index = pd.DatetimeIndex(frame.index)
        if index.tz is None:
            raise DataError("history candles: the index must be tz-aware UTC, got a naive DatetimeIndex")
        k = len(frame)
        if k:
            self._reserve(k)
            i = self._hi
            self._ts[i : i + k] = index.as_unit("ns").asi8
            self._f[:, i : i + k] = frame[list(CANDLE_COLUMNS[:-1])].to_numpy(dtype=np.float64).T
            self._n[i : i + k] = frame["ticks"].to_numpy(dtype=np.int64)
            self._hi = i + k
            self.total += k
        return k

    def merge(self, frame: pd.DataFrame, start_ns: int, end_ns: int) -> int:
        """Put repaired bars in place: held bars opening in ``[start_ns, end_ns)`` are replaced by ``frame``'s
        (or dropped where it has none), missing ones inserted in time order; only the newest ``size`` bars
        are kept (all of them when unbounded). Returns the number of bars taken from ``frame``."""
        hi, lo = self._hi, self._lo()
        ts, f, n = self._ts[lo:hi], self._f[:, lo:hi], self._n[lo:hi]
        keep = (ts < start_ns) | (ts >= end_ns)
        if len(frame):
            rts = pd.DatetimeIndex(frame.index).as_unit("ns").asi8
            inside = (rts >= start_ns) & (rts < end_ns)
            rts = rts[inside]
            rf = frame[list(CANDLE_COLUMNS[:-1])].to_numpy(dtype=np.float64)[inside].T
            rn = frame["ticks"].to_numpy(dtype=np.int64)[inside]
        else:
            rts, rf, rn = np.empty(0, np.int64), np.empty((_NF, 0)), np.empty(0, np.int64)
        all_ts = np.concatenate([ts[keep], rts])
        all_f = np.concatenate([f[:, keep], rf], axis=1)
        all_n = np.concatenate([n[keep], rn])
        order = np.argsort(all_ts, kind="stable")
        if self.size is not None:
            order = order[-self.size :]
        m = len(order)
        if m > self._ts.shape[0]:
            self._hi = 0
            self._grow(2 * m)
        self._ts[:m] = all_ts[order]
        self._f[:, :m] = all_f[:, order]
        self._n[:m] = all_n[order]
        self._hi = m
        return len(rts)

    @property
    def last_ts(self) -> int | None:
        return int(self._ts[self._hi - 1]) if self._hi else None

    def columns(self) -> dict[str, np.ndarray]:
        """The held bars, oldest first, as ``{column: numpy array}`` views (no copy: valid until the next
        append; for a strategy's :attr:`~igkit.strategy.Strategy.columns_step`)."""
        hi, lo = self._hi, self._lo()
        cols: dict[str, np.ndarray] = {name: self._f[j, lo:hi] for j, name in enumerate(CANDLE_COLUMNS[:_NF])}
        cols["ticks"] = self._n[lo:hi]
        return cols

    def frame(self) -> pd.DataFrame:
        """The held bars, oldest first, as a candle frame (its own copy: safe to keep)."""
        hi, lo = self._hi, self._lo()
        ts = self._ts[lo:hi].copy()
        f = self._f[:, lo:hi].copy()
        n = self._n[lo:hi].copy()
        index = _utc_index(ts)
        arrays: list[Any] = [f[j] for j in range(_NF)]
        arrays.append(n)
        try:
            return pd.DataFrame._from_arrays(  # type: ignore[attr-defined]
                arrays, columns=_COLUMNS, index=index, verify_integrity=False)
        except (AttributeError, TypeError):  # a pandas without the private fast path: the public one
            return pd.DataFrame(dict(zip(CANDLE_COLUMNS, arrays, strict=True)), index=index, copy=False)


class Instrument:
    """What the engine keeps per instrument."""

    __slots__ = (
        "buffer",
        "builder",
        "candles",
        "epic",
        "history",
        "last",
        "last_candle",
        "lost",
        "reader",
        "repaired",
        "repairs",
        "signal",
        "signal_ns",
        "state",
        "ticks",
    )

    def __init__(self, epic: str, buffer: TickBuffer, freq: str, history: int | None) -> None:
        self.epic = epic
        self.buffer = buffer
        self.reader: TickReader | None = None
        self.builder = CandleBuilder(freq)
        self.history = History(history)
        self.candles = 0  # closed live (history excluded)
        self.ticks = 0
        self.lost = 0
        self.repairs: list[Any] = []  # feed repairs (igkit.feeds.Repair) waiting for their bars to close
        self.repaired = 0  # bars put in place by repairs
        self.last: tuple[int, float, float] | None = None
        self.last_candle: Candle | None = None
        self.signal: int | None = None
        self.signal_ns: int | None = None
        self.state: Any = None  # what the strategy's step() carries from bar to bar


def apply_repairs(inst: Instrument, freq_ns: int) -> int:
    """Merge the instrument's waiting repairs whose span has closed live (the builder is past it); returns
    how many bars were put in place. Runs on the engine thread, the history's only writer."""
    if not inst.repairs:
        return 0
    current = inst.builder.current
    edge = current.ts_ns if current is not None else None
    last = inst.history.last_ts
    done = 0
    waiting = []
    for rep in inst.repairs:
        closed = (edge is not None and edge >= rep.end_ns) or (last is not None and last + freq_ns >= rep.end_ns)
        if closed:
            done += inst.history.merge(rep.frame, rep.start_ns, rep.end_ns)
        else:
            waiting.append(rep)
    inst.repairs = waiting
    inst.repaired += done
    return done


class QualityWindow:
    """The last ``window`` ticks of a buffer, read through its own reader, for a quality report."""

    def __init__(self, buffer: TickBuffer, window: int = 20_000) -> None:
        self.reader = buffer.reader("engine-quality")
        self.window = window
        e64, ef = np.empty(0, np.int64), np.empty(0, np.float64)
        self._ts, self._b, self._a = e64, ef, ef

    def report(self, now_ns: int | None = None) -> dict[str, Any]:
        batch = self.reader.read()
        if len(batch):
            w = self.window
            self._ts = np.concatenate([self._ts, batch.ts_ns])[-w:]
            self._b = np.concatenate([self._b, batch.bid])[-w:]
            self._a = np.concatenate([self._a, batch.ask])[-w:]
        rep = quality_from_arrays(self._ts, self._b, self._a, now=now_ns)
        rep["lost"] = self.reader.lost
        return rep

    def close(self) -> None:
        self.reader.close()


class QualityMonitor:
    """Quality reports of every instrument, one instrument per :meth:`step`, each refreshed every
    ``interval`` seconds (spread out so the engine thread never pays for all of them at once).

    ``compare(epic)``, when set (a feed that keeps IG-built candles), adds ``ig_candles`` to the report:
    :func:`igkit.quality.compare_candles` of the engine's candles against IG's, summarised (``common``
    bars, ``only_ours``/``only_theirs`` counts, ``max_abs_diff`` per bid/ask column)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.windows: dict[str, QualityWindow] = {}
        self.reports: dict[str, dict[str, Any]] = {}
        self.compare: Callable[[str], dict[str, Any]] | None = None
        self._next = 0.0
        self._i = 0

    def add(self, buffer: TickBuffer) -> None:
        self.windows[buffer.instrument] = QualityWindow(buffer)

    def step(self, now: float) -> bool:
        """Refresh one instrument's report if one is due; True if a report changed."""
        if not self.interval or not self.windows or now < self._next:
            return False
        epics = list(self.windows)
        epic = epics[self._i % len(epics)]
        self._i += 1
        self._next = now + self.interval / len(epics)
        rep = self.windows[epic].report()
        if self.compare is not None:
            try:
                got = self.compare(epic)
            except Exception as exc:  # a comparison must never stop the engine
                rep["ig_candles"] = {"error": f"{type(exc).__name__}: {exc}"}
            else:
                rep["ig_candles"] = {
                    "common": int(got["common"]), "only_ours": len(got["only_ours"]),
                    "only_theirs": len(got["only_theirs"]),
                    "max_abs_diff": {k: float(v) for k, v in got["max_abs_diff"].items()},
                }  # fmt: skip
        self.reports = {**self.reports, epic: rep}
        return True


def load_history(
    instruments: Mapping[str, Instrument], history: pd.DataFrame | Mapping[str, pd.DataFrame] | None,
    strategy: Any = None,
) -> None:
    """Warm the instruments' histories with prior candles: one frame (one instrument) or ``{epic: frame}``;
    and start each instrument's carried strategy state from its whole warm-up series (``start_state``; an
    empty series where none is given), so the first live bar continues it as a backtest over both would."""
    frames: dict[str, pd.DataFrame] = {}
    if isinstance(history, pd.DataFrame):
        if len(instruments) != 1:
            raise DataError("LiveEngine: history= as one frame needs exactly one instrument; pass {epic: frame}")
        frames = {next(iter(instruments)): history}
    elif history is not None:
        frames = dict(history)
    for epic in frames:
        if epic not in instruments:
            raise DataError(f"LiveEngine: history for {epic!r}, which is not one of {list(instruments)}")
    start = getattr(strategy, "start_state", None)
    for epic, inst in instruments.items():
        frame = frames.get(epic)
        if frame is not None:
            inst.history.extend_frame(frame)
        if callable(start):
            inst.state = start(frame if frame is not None else inst.history.frame())
