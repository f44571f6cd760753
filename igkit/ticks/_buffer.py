"""``TickBuffer``: one instrument's bounded tick ring, one writer that never waits, many readers.

Hand-written core (no library gives this): ``queue``/``collections.deque`` hand each item to ONE consumer
and cost a lock or a Python object per tick on both sides, and a numpy ring written tick by tick costs
~500 ns/tick. Here the writer appends to three plain lists (~30 ns each, atomic under the GIL) and flushes
them into preallocated numpy arrays every ``FLUSH_AT`` ticks (~15 ns/tick per array); batches go
straight into the arrays. Readers copy what they need without ever blocking the writer.

How it stays correct without a lock on the writer's path (CPython with the GIL; every statement named
below is one bytecode-level operation or one C call that does not run Python code, hence atomic):

* Sequence numbers: tick ``s`` (0-based, ever increasing) lives in ring slot ``s % capacity`` once
  flushed. ``_state = (base, ts_list, bid_list, ask_list)`` is published as ONE tuple: ticks with
  ``s < base`` are in the ring, ticks ``base <= s < base + len(ask_list)`` are in the lists. The writer
  appends ts, then bid, then ask, so a reader that reads ``len(ask_list)`` first always finds at least
  that many items in the other two lists.
* A flush writes the ring FIRST and publishes the new ``_state`` (with fresh, empty lists) LAST. Lists
  are never cleared or reused: a reader holding an old ``_state`` holds lists that no longer change,
  and everything in them is also in the ring.
* Overwrites are detected seqlock-style: before touching the ring the writer raises ``_writing`` to
  one past the last sequence it is about to write, which overwrites every slot holding ``s <
  _writing - capacity``. A reader copies ring slots, THEN reads ``_writing``, and discards (counting
  them as lost) the copied ticks with ``s < _writing - capacity``: their slot may have changed while it
  copied (numpy may release the GIL during a large copy). What survives was intact when it was read.
* Wake-ups: a sleeper (a reader's ``wait`` or the hub's ``wait_any``) registers a locked
  ``threading.Lock`` in ``_sleepers`` and THEN checks for data; the writer publishes data and THEN
  looks at ``_sleepers``. Either the sleeper sees the data or the writer sees the sleeper, so no
  wake-up is lost. When nobody waits the writer pays one attribute test per tick, never a lock.

Evidence, not hope: ``tests/test_ticks.py`` runs a writer against several readers (and ``last``/
``snapshot`` callers) with the interpreter's switch interval cut to 1 µs, every tick carrying its own
sequence number, and checks order, gaps, duplicates, torn copies and the exact lost counts; a handshake
test proves no wake-up is lost. Breaking any rule above on purpose (publishing before writing the ring,
announcing ``_writing`` after it, skipping the seqlock check, not waking on append, checking for data
before registering a sleeper) makes those tests fail. The argument assumes the GIL build of CPython
(what igkit targets); a free-threaded build would need it re-examined.

The single-writer rule is the caller's: one thread (a feed) calls ``append``/``extend``/``offer*`` for
a given buffer. Readers and the inspection methods may be used from any thread.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

import numpy as np
import pandas as pd

from igkit.errors import DataError
from igkit.ticks._batch import TickBatch, check_batch, check_ts, tick_frame
from igkit.ticks._reader import TickReader
from igkit.types import Tick

__all__ = ["FLUSH_AT", "REJECT_REASONS", "TickBuffer"]

log = logging.getLogger(__name__)

# Per-tick appends pending before a flush into the numpy ring. Kept under 500 on purpose: numpy releases
# the GIL for copies of more than 500 elements, and a flush that released it would hand the GIL to any
# waiting thread (a reader) thousands of times a second; measured, that made a writer with a draining
# reader ~30 % slower than a SimpleQueue pipeline, and on par with it below the threshold.
FLUSH_AT = 384
REJECT_REASONS = ("non_finite", "non_positive", "crossed")
_INF = float("inf")


class TickBuffer:
    """The last ``capacity`` ticks of one instrument, in arrival order, for one writer and many readers.

    The writer never blocks. A reader that falls more than ``capacity`` ticks behind gets the ticks
    still held and the exact count of those it lost.
    """

    def __init__(self, instrument: str, capacity: int = 1_000_000) -> None:
        if not isinstance(instrument, str) or not instrument:
            raise ValueError(f"instrument must be a non-empty str, got {instrument!r}")
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity <= 0:
            raise ValueError(f"{instrument}: capacity must be a positive int, got {capacity!r}")
        self.instrument: str = instrument
        self.capacity: int = capacity
        self.rejected: dict[str, int] = dict.fromkeys(REJECT_REASONS, 0)
        self._ts = np.zeros(capacity, dtype=np.int64)
        self._bid = np.zeros(capacity, dtype=np.float64)
        self._ask = np.zeros(capacity, dtype=np.float64)
        self._writing = 0  # seqlock: the ring slots of sequences < _writing - capacity may be overwritten
        self._t: list[int] = []
        self._b: list[float] = []
        self._a: list[float] = []
        self._state: tuple[int, list[int], list[float], list[float]] = (0, self._t, self._b, self._a)
        self._sleepers: list[Any] = []  # locked threading.Lock objects to release on new data
        self._wlock = threading.Lock()  # guards _sleepers changes (sleeper side, or writer waking them)
        self._rlock = threading.Lock()  # guards the reader list
        self._readers: list[TickReader] = []
        self._reader_seq = 0

    # ------------------------------------------------------------------ writer side (one thread)
    def append(self, ts_ns: int, bid: float, ask: float) -> None:
        """Append one trusted tick (``ts_ns`` an int of UTC ns). The per-tick fast path: no checks."""
        t = self._t
        t.append(ts_ns)
        self._b.append(bid)
        self._a.append(ask)
        if len(t) >= FLUSH_AT:
            self._flush()
        if self._sleepers:
            self._wake()

    def offer(self, ts_ns: int, bid: float, ask: float) -> bool:
        """Append one tick if it is a sane quote; else count it under its reason and return False.

        Refused: non-finite bid or ask (``non_finite``), bid or ask ≤ 0 (``non_positive``), bid > ask
        (``crossed``), checked in that order. A locked quote (bid == ask) is accepted.
        """
        try:
            ok = 0.0 < bid <= ask < _INF
        except TypeError:
            raise DataError(
                f"{self.instrument}: bid and ask must be numbers, got bid={bid!r} ask={ask!r}"
            ) from None
        if not ok:
            self.rejected[_reason(float(bid), float(ask))] += 1
            return False
        if type(ts_ns) is not int:
            ts_ns = check_ts(self.instrument, ts_ns)
        t = self._t
        t.append(ts_ns)
        self._b.append(bid)
        self._a.append(ask)
        if len(t) >= FLUSH_AT:
            self._flush()
        if self._sleepers:
            self._wake()
        return True

    def extend(self, ts_ns: Any, bid: Any, ask: Any) -> None:
        """Append a batch (int64 ns, float64, float64; equal-length 1-D arrays) in one go."""
        ts, b, a = check_batch(self.instrument, ts_ns, bid, ask)
        if ts.shape[0] == 0:
            return
        if self._t:
            self._flush()
        self._write(ts, b, a)
        if self._sleepers:
            self._wake()

    def offer_many(self, ts_ns: Any, bid: Any, ask: Any) -> int:
        """Vectorised :meth:`offer`: append the sane quotes in order, count the rest; return how many went in."""
        ts, b, a = check_batch(self.instrument, ts_ns, bid, ask)
        n = ts.shape[0]
        if n == 0:
            return 0
        with np.errstate(invalid="ignore"):
            finite = np.isfinite(b) & np.isfinite(a)
            positive = finite & (b > 0.0) & (a > 0.0)
            ok = positive & (b <= a)
        n_ok = int(np.count_nonzero(ok))
        if n_ok != n:
            n_fin = int(np.count_nonzero(finite))
            n_pos = int(np.count_nonzero(positive))
            rej = self.rejected
            rej["non_finite"] += n - n_fin
            rej["non_positive"] += n_fin - n_pos
            rej["crossed"] += n_pos - n_ok
            ts, b, a = ts[ok], b[ok], a[ok]
        if n_ok:
            self.extend(ts, b, a)
        return n_ok

    def _flush(self) -> None:
        t, b, a = self._t, self._b, self._a
        n = len(t)
        if n:
            self._write(
                np.fromiter(t, np.int64, n), np.fromiter(b, np.float64, n), np.fromiter(a, np.float64, n)
            )

    def _write(self, ts: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> None:
        """Put ticks after the pending lists (which must be empty) into the ring, then publish them."""
        cap = self.capacity
        base = self._state[0]
        n = ts.shape[0]
        end = base + n
        if n > cap:  # only the last `cap` of them can be held
            ts, bid, ask = ts[n - cap :], bid[n - cap :], ask[n - cap :]
        m = ts.shape[0]
        self._writing = end  # 1) announce the overwrite
        start = (end - m) % cap  # 2) write the ring
        first = min(m, cap - start)
        self._ts[start : start + first] = ts[:first]
        self._bid[start : start + first] = bid[:first]
        self._ask[start : start + first] = ask[:first]
        if first < m:
            self._ts[: m - first] = ts[first:]
            self._bid[: m - first] = bid[first:]
            self._ask[: m - first] = ask[first:]
        self._t, self._b, self._a = [], [], []  # 3) publish, with fresh lists
        self._state = (end, self._t, self._b, self._a)

    def _wake(self) -> None:
        with self._wlock:
            sleepers, self._sleepers = self._sleepers, []
        for lock in sleepers:
            # RuntimeError: already released by another buffer's writer (a hub sleeper is in all of them)
            with contextlib.suppress(RuntimeError):
                lock.release()

    # ------------------------------------------------------------------ sleepers (any thread)
    def _add_sleeper(self, lock: Any) -> None:
        with self._wlock:
            self._sleepers.append(lock)

    def _remove_sleeper(self, lock: Any) -> None:
        with self._wlock:
            if lock in self._sleepers:
                self._sleepers.remove(lock)

    # ------------------------------------------------------------------ reading (any thread)
    @property
    def total(self) -> int:
        """Ticks ever appended."""
        state = self._state
        return state[0] + len(state[3])

    @property
    def held(self) -> int:
        """Ticks still held (at most ``capacity``)."""
        return min(self.total, self.capacity)

    def _collect(self, pos: int, max_n: int | None = None) -> tuple[TickBatch, int]:
        """Copy the held ticks from sequence ``pos`` on: (batch whose ``lost`` counts skipped ticks, next pos)."""
        base, lt, lb, la = self._state
        k = len(la)  # ask is appended last: ts and bid hold at least k items
        total = base + k
        cap = self.capacity
        lo = max(pos, total - cap)
        hi = total if max_n is None else min(total, lo + max_n)
        if hi <= lo:
            return TickBatch.empty(max(lo - pos, 0)), max(lo, pos)
        n = hi - lo
        ts = np.empty(n, dtype=np.int64)
        bid = np.empty(n, dtype=np.float64)
        ask = np.empty(n, dtype=np.float64)
        ring_hi = min(hi, base)
        if lo < ring_hi:  # the part in the ring: sequences [lo, ring_hi)
            r = ring_hi - lo
            start = lo % cap
            first = min(r, cap - start)
            ts[:first] = self._ts[start : start + first]
            bid[:first] = self._bid[start : start + first]
            ask[:first] = self._ask[start : start + first]
            if first < r:
                ts[first:r] = self._ts[: r - first]
                bid[first:r] = self._bid[: r - first]
                ask[first:r] = self._ask[: r - first]
        if hi > base:  # the part in the lists: private copies, immune to later writes
            j = max(lo, base)
            i0, i1, o = j - base, hi - base, j - lo
            ts[o:] = lt[i0:i1]
            bid[o:] = lb[i0:i1]
            ask[o:] = la[i0:i1]
        valid_from = self._writing - cap  # read AFTER the copy (seqlock)
        if valid_from > lo and lo < ring_hi:
            drop = min(valid_from, ring_hi) - lo
            ts, bid, ask = ts[drop:], bid[drop:], ask[drop:]
            lo += drop
        return TickBatch(ts, bid, ask, lo - pos), hi

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of the held ticks: ``(ts_ns int64, bid float64, ask float64)``, oldest first."""
        batch, _ = self._collect(0)
        return batch.ts_ns, batch.bid, batch.ask

    def snapshot(self) -> pd.DataFrame:
        """The held ticks as a frame: ``time`` (UTC ns) index, float64 ``bid``, ``ask``, arrival order."""
        return tick_frame(*self.arrays())

    def last(self) -> Tick | None:
        """The newest tick, or None before the first one."""
        cap = self.capacity
        while True:
            base, lt, lb, la = self._state
            k = len(la)
            if k:
                return Tick(lt[k - 1], lb[k - 1], la[k - 1])
            if base == 0:
                return None
            i = (base - 1) % cap
            tick = Tick(int(self._ts[i]), float(self._bid[i]), float(self._ask[i]))
            if self._writing - cap <= base - 1:
                return tick

    # ------------------------------------------------------------------ readers
    def reader(self, name: str | None = None, *, from_start: bool = True) -> TickReader:
        """A new reader: from the oldest held tick (``from_start``) or from the next tick appended.

        Names are unique per buffer: a taken name gets a ``#2``, ``#3``… suffix.
        """
        with self._rlock:
            self._reader_seq += 1
            taken = {r.name for r in self._readers}
            base_name = name if name else f"reader-{self._reader_seq}"
            final, i = base_name, 1
            while final in taken:
                i += 1
                final = f"{base_name}#{i}"
            total = self.total
            rd = TickReader(self, final, max(0, total - self.capacity) if from_start else total)
            self._readers.append(rd)
        return rd

    def _drop_reader(self, reader: TickReader) -> None:
        with self._rlock:
            if reader in self._readers:
                self._readers.remove(reader)

    @property
    def readers(self) -> list[TickReader]:
        """The open readers."""
        with self._rlock:
            return list(self._readers)

    def stats(self) -> dict[str, Any]:
        """``instrument, total, held, capacity, rejected{reason: n}, readers{name: {lag, lost}}``."""
        total = self.total
        return {
            "instrument": self.instrument,
            "total": total,
            "held": min(total, self.capacity),
            "capacity": self.capacity,
            "rejected": dict(self.rejected),
            "readers": {r.name: {"lag": max(total - r.position, 0), "lost": r.lost} for r in self.readers},
        }

    def __repr__(self) -> str:
        return f"TickBuffer({self.instrument!r}, capacity={self.capacity}, total={self.total})"


def _reason(bid: float, ask: float) -> str:
    if not (bid - bid == 0.0 and ask - ask == 0.0):  # NaN or ±inf
        return "non_finite"
    if bid <= 0.0 or ask <= 0.0:
        return "non_positive"
    return "crossed"
