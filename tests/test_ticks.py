"""Tests for igkit.ticks: the single-writer ring, its readers, the hub, statuses and counters.

Concurrency tests run real threads against the real buffer with the interpreter's thread switch interval
cut to a microsecond, so the writer and the readers interleave at (almost) every bytecode. Every tick
carries its own sequence number (ts_ns = seq, bid = seq + 0.25, ask = seq + 0.75), so a reader can check
order, gaps, duplicates and torn copies (a ts from one tick with a bid from another) on its own.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from igkit.errors import DataError
from igkit.ticks import FeedStatus, TickBatch, TickBuffer, TickHub, TickReader
from igkit.ticks._buffer import FLUSH_AT
from igkit.types import Tick


@pytest.fixture
def fast_switching() -> Iterator[None]:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def seq_arrays(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.arange(lo, hi, dtype=np.int64)
    return s, s + 0.25, s + 0.75


def write_ops(buf: TickBuffer, ops: list[tuple[str, int]]) -> int:
    """Run the writer's ops (per-tick appends or batch extends); returns ticks written."""
    seq = 0
    for kind, k in ops:
        if kind == "a":
            for s in range(seq, seq + k):
                buf.append(s, s + 0.25, s + 0.75)
        else:
            buf.extend(*seq_arrays(seq, seq + k))
        seq += k
    return seq


def check_batch_integrity(batch: TickBatch) -> None:
    ts = batch.ts_ns
    assert ts.dtype == np.int64 and batch.bid.dtype == np.float64 and batch.ask.dtype == np.float64
    assert len(ts) == len(batch.bid) == len(batch.ask)
    if len(ts):
        assert np.all(np.diff(ts) == 1), "ticks out of order, duplicated or skipped inside a batch"
        assert np.array_equal(batch.bid, ts + 0.25), "torn copy: bid from another tick"
        assert np.array_equal(batch.ask, ts + 0.75), "torn copy: ask from another tick"


class Consumer(threading.Thread):
    """Reads until told the writer is done, then drains; keeps what it saw."""

    def __init__(self, reader: TickReader, done: threading.Event, max_n: int | None, use_wait: bool) -> None:
        super().__init__(daemon=True)
        self.reader, self.done, self.max_n, self.use_wait = reader, done, max_n, use_wait
        self.expected = 0  # next sequence number due
        self.received = 0
        self.lost = 0
        self.errors: list[BaseException] = []

    def take(self, batch: TickBatch) -> None:
        check_batch_integrity(batch)
        self.lost += batch.lost
        if len(batch):
            assert batch.ts_ns[0] == self.expected + batch.lost, "gap or overlap between batches"
            self.expected = int(batch.ts_ns[-1]) + 1
        else:
            self.expected += batch.lost
        self.received += len(batch)

    def run(self) -> None:
        try:
            while not self.done.is_set():
                if self.use_wait:
                    self.reader.wait(0.01)
                self.take(self.reader.read(self.max_n))
            while True:  # drain
                batch = self.reader.read(self.max_n)
                self.take(batch)
                if not batch and not batch.lost:
                    break
        except BaseException as exc:
            self.errors.append(exc)


ops_strategy = st.lists(
    st.tuples(st.sampled_from(["a", "e"]), st.integers(min_value=1, max_value=1500)), min_size=1, max_size=12
)


@pytest.mark.usefixtures("fast_switching")
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ops=ops_strategy,
    capacity=st.sampled_from([1, 3, 64, 1000, 5000, 100_000]),
    readers=st.lists(
        st.tuples(st.one_of(st.none(), st.integers(1, 700)), st.booleans()), min_size=1, max_size=3
    ),
)
def test_concurrent_writer_and_readers_keep_order_and_count_losses(
    ops: list[tuple[str, int]], capacity: int, readers: list[tuple[int | None, bool]]
) -> None:
    buf = TickBuffer("CS.D.EURUSD.MINI.IP", capacity=capacity)
    done = threading.Event()
    consumers = [
        Consumer(buf.reader(f"r{i}"), done, max_n, use_wait) for i, (max_n, use_wait) in enumerate(readers)
    ]
    for c in consumers:
        c.start()
    n = write_ops(buf, ops)
    done.set()
    for c in consumers:
        c.join(30)
        assert not c.is_alive()
        assert not c.errors, c.errors
        # every tick either delivered once or counted lost, never both, never neither
        assert c.received + c.lost == n == c.expected
        assert c.reader.lost == c.lost
        if capacity >= n:
            assert c.lost == 0 and c.received == n
    assert buf.total == n
    stats = buf.stats()
    assert {name: v["lost"] for name, v in stats["readers"].items()} == {
        c.reader.name: c.lost for c in consumers
    }
    assert all(v["lag"] == 0 for v in stats["readers"].values())


@settings(max_examples=60, deadline=None)
@given(ops=ops_strategy, capacity=st.integers(1, 4000), max_n=st.one_of(st.none(), st.integers(1, 3000)))
def test_reader_behind_gets_held_ticks_and_exact_lost_count(
    ops: list[tuple[str, int]], capacity: int, max_n: int | None
) -> None:
    buf = TickBuffer("EURUSD", capacity=capacity)
    rd = buf.reader("late")
    n = write_ops(buf, ops)
    held = min(n, capacity)
    batch = rd.read(max_n)
    check_batch_integrity(batch)
    assert batch.lost == n - held == rd.lost
    assert len(batch) == (held if max_n is None else min(held, max_n))
    if len(batch):
        assert batch.ts_ns[0] == n - held
    ts, bid, ask = buf.arrays()
    assert np.array_equal(ts, np.arange(n - held, n))
    assert np.array_equal(bid, ts + 0.25) and np.array_equal(ask, ts + 0.75)
    rest = rd.read()
    assert rest.lost == 0 and len(batch) + len(rest) == held
    assert buf.stats()["readers"]["late"] == {"lag": 0, "lost": n - held}
    assert buf.stats()["held"] == held


def test_overflow_between_reads_counts_only_new_losses() -> None:
    buf = TickBuffer("EURUSD", capacity=10)
    rd = buf.reader()
    buf.extend(*seq_arrays(0, 8))
    assert list(rd.read().ts_ns) == list(range(8))
    for s in range(8, 33):  # 25 more: 15 of them fall out before the reader comes back
        buf.append(s, s + 0.25, s + 0.75)
    batch = rd.read()
    assert batch.lost == 15 and list(batch.ts_ns) == list(range(23, 33))
    assert rd.lost == 15


def test_reader_drops_ring_ticks_a_writer_is_overwriting() -> None:
    """White-box: a writer announced a flush (``_writing``) and was overwriting slots when the reader copied.

    Simulated by raising ``_writing`` and scribbling over the slots as a flush in progress would.
    The reader must not deliver those slots, and must count them as lost.
    """
    buf = TickBuffer("EURUSD", capacity=8)
    buf.extend(*seq_arrays(0, 8))
    rd = buf.reader()
    buf._writing = 8 + 3  # the writer is about to overwrite sequences 0, 1, 2
    buf._ts[:3] = -1
    buf._bid[:3] = -1.0
    batch = rd.read()
    check_batch_integrity(batch)
    assert batch.lost == 3 and list(batch.ts_ns) == list(range(3, 8))


@pytest.mark.usefixtures("fast_switching")
def test_snapshot_and_last_are_consistent_under_a_racing_writer() -> None:
    buf = TickBuffer("EURUSD", capacity=50)
    stop = threading.Event()
    errors: list[BaseException] = []

    def inspect() -> None:
        try:
            while not stop.is_set():
                ts, bid, ask = buf.arrays()
                check_batch_integrity(TickBatch(ts, bid, ask, 0))
                assert len(ts) <= 50
                last = buf.last()
                if last is not None:
                    assert last.bid == last.ts_ns + 0.25 and last.ask == last.ts_ns + 0.75
        except BaseException as exc:
            errors.append(exc)
            raise

    threads = [threading.Thread(target=inspect, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    write_ops(buf, [("a", 3000), ("e", 700), ("a", 50), ("e", 3), ("a", 2500)])
    stop.set()
    for t in threads:
        t.join(10)
    assert not errors


def test_last_from_pending_ring_and_empty() -> None:
    buf = TickBuffer("EURUSD", capacity=5000)
    assert buf.last() is None
    buf.append(1, 1.1, 1.2)
    assert buf.last() == Tick(1, 1.1, 1.2)
    buf.extend(*seq_arrays(2, 10))
    assert buf.last() == Tick(9, 9.25, 9.75)
    write_ops(buf, [("a", FLUSH_AT)])  # exactly one flush: the pending lists are empty again
    assert buf.last() == Tick(FLUSH_AT - 1, FLUSH_AT - 0.75, FLUSH_AT - 0.25)


def test_reader_from_start_or_from_now() -> None:
    buf = TickBuffer("EURUSD", capacity=4)
    buf.extend(*seq_arrays(0, 6))
    old = buf.reader("old")
    new = buf.reader("new", from_start=False)
    assert list(old.read().ts_ns) == [2, 3, 4, 5] and old.lost == 0
    assert len(new.read()) == 0
    buf.append(6, 6.25, 6.75)
    assert list(new.read().ts_ns) == [6]
    assert list(old.read().ts_ns) == [6]


def test_readers_listed_named_uniquely_and_closed() -> None:
    buf = TickBuffer("EURUSD")
    a = buf.reader("engine")
    b = buf.reader("engine")
    c = buf.reader()
    assert [r.name for r in buf.readers] == ["engine", "engine#2", c.name]
    b.close()
    b.close()
    assert buf.readers == [a, c]
    with pytest.raises(ValueError, match=r"engine#2.*closed"):
        b.read()
    with pytest.raises(ValueError, match="closed"):
        b.wait(0)
    with c:
        pass
    assert c.closed and buf.readers == [a]
    assert set(buf.stats()["readers"]) == {"engine"}


def test_offer_counts_rejections_per_reason() -> None:
    buf = TickBuffer("EURUSD")
    nan, inf = float("nan"), float("inf")
    cases = [
        ((1, nan, 1.0), "non_finite"),
        ((2, 1.0, inf), "non_finite"),
        ((3, -inf, 1.0), "non_finite"),
        ((4, nan, -1.0), "non_finite"),  # non-finite is checked first
        ((5, 0.0, 1.0), "non_positive"),
        ((6, -2.0, -1.0), "non_positive"),
        ((7, 1.0, 0.0), "non_positive"),  # crossed too, but non-positive is checked first
        ((8, 1.2, 1.1), "crossed"),
    ]
    for args, _ in cases:
        assert buf.offer(*args) is False
    assert buf.rejected == {"non_finite": 4, "non_positive": 3, "crossed": 1}
    assert buf.total == 0
    assert buf.offer(9, 1.1, 1.1) is True  # locked quote accepted
    assert buf.offer(np.int64(10), np.float64(1.1), np.float64(1.2)) is True  # type: ignore[arg-type]
    assert list(buf.arrays()[0]) == [9, 10]
    assert buf.stats()["rejected"] == buf.rejected


def test_offer_bad_types_raise_data_error() -> None:
    buf = TickBuffer("EURUSD")
    with pytest.raises(DataError, match=r"EURUSD.*bid and ask must be numbers"):
        buf.offer(1, "1.1", 1.2)  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"EURUSD.*ts_ns must be an int"):
        buf.offer(1.5e18, 1.1, 1.2)  # type: ignore[arg-type]
    assert buf.total == 0


price = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, 1.0, 1.5, -1.0]),
)


@settings(max_examples=80, deadline=None)
@given(quotes=st.lists(st.tuples(price, price), max_size=60))
def test_offer_many_matches_offer_one_by_one(quotes: list[tuple[float, float]]) -> None:
    one, many = TickBuffer("A", capacity=100), TickBuffer("A", capacity=100)
    accepted = sum(one.offer(i, b, a) for i, (b, a) in enumerate(quotes))
    ts = np.arange(len(quotes), dtype=np.int64)
    bid = np.array([q[0] for q in quotes], dtype=np.float64)
    ask = np.array([q[1] for q in quotes], dtype=np.float64)
    assert many.offer_many(ts, bid, ask) == accepted
    assert many.rejected == one.rejected
    assert sum(one.rejected.values()) == len(quotes) - accepted
    for x, y in zip(one.arrays(), many.arrays(), strict=True):
        assert np.array_equal(x, y)


def test_snapshot_schema_timezone_and_arrival_order() -> None:
    buf = TickBuffer("EURUSD", capacity=10)
    t0 = pd.Timestamp("2026-11-24 08:00:00", tz="UTC").value
    buf.append(t0 + 5, 1.10, 1.11)
    buf.append(t0 + 1, 1.20, 1.21)  # earlier timestamp, later arrival: kept where it arrived
    buf.extend(np.array([t0 + 3], dtype=np.int64), np.array([1.3]), np.array([1.31]))
    df = buf.snapshot()
    assert list(df.columns) == ["bid", "ask"]
    assert df.index.name == "time"
    assert str(df.index.dtype) == "datetime64[ns, UTC]"
    assert all(df.dtypes == np.float64)
    assert list(pd.DatetimeIndex(df.index).asi8) == [t0 + 5, t0 + 1, t0 + 3]
    assert list(df["bid"]) == [1.10, 1.20, 1.3]
    assert df.index[0] == pd.Timestamp("2026-11-24 08:00:00.000000005", tz="UTC")
    frame = buf.reader().read().to_frame()
    pd.testing.assert_frame_equal(frame, df)
    empty = TickBuffer("X").snapshot()
    assert len(empty) == 0 and str(empty.index.dtype) == "datetime64[ns, UTC]"
    assert list(empty.columns) == ["bid", "ask"]


def test_arrays_are_copies() -> None:
    buf = TickBuffer("EURUSD", capacity=10)
    buf.extend(*seq_arrays(0, 5))
    ts, bid, _ = buf.arrays()
    ts[:] = -1
    bid[:] = -1
    assert list(buf.arrays()[0]) == [0, 1, 2, 3, 4]


def test_extend_accepts_other_int_float_and_datetime_dtypes() -> None:
    buf = TickBuffer("EURUSD", capacity=10)
    buf.extend([1, 2], [1.0, 2.0], [1.5, 2.5])  # lists
    buf.extend(np.array([3], dtype=np.int32), np.array([3], dtype=np.float32), np.array([4], dtype=np.int64))
    buf.extend(np.array(["1970-01-01T00:00:00.000000004"], dtype="datetime64[ns]"), [4.0], [4.5])
    buf.extend([], [], [])
    ts, bid, ask = buf.arrays()
    assert list(ts) == [1, 2, 3, 4] and list(bid) == [1.0, 2.0, 3.0, 4.0] and list(ask) == [1.5, 2.5, 4.0, 4.5]


@pytest.mark.parametrize(
    ("ts", "bid", "ask", "match"),
    [
        (np.array([1.0, 2.0]), np.ones(2), np.ones(2), "ts_ns must be int64"),
        (np.arange(2), np.array(["a", "b"]), np.ones(2), "bid must be float64"),
        (np.arange(2), np.ones(2), np.array([object(), object()]), "ask must be float64"),
        (np.arange(2), np.ones(2), np.ones(3), "ts_ns, bid and ask must have the same length, got 2, 2, 3"),
        (np.arange(4).reshape(2, 2), np.ones(2), np.ones(2), "ts_ns must be one-dimensional"),
        (np.arange(2), np.array([True, False]), np.ones(2), "bid must be float64"),
    ],
)
def test_extend_bad_input_raises_data_error(ts: object, bid: object, ask: object, match: str) -> None:
    buf = TickBuffer("CS.D.GBPUSD.MINI.IP")
    with pytest.raises(DataError, match=re.escape(f"CS.D.GBPUSD.MINI.IP: {match}")):
        buf.extend(ts, bid, ask)
    with pytest.raises(DataError, match=match):
        buf.offer_many(ts, bid, ask)
    assert buf.total == 0


@pytest.mark.parametrize("capacity", [0, -1, 1.5, True, "10"])
def test_bad_capacity_raises(capacity: object) -> None:
    with pytest.raises(ValueError, match="capacity must be a positive int"):
        TickBuffer("EURUSD", capacity=capacity)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="capacity must be a positive int"):
        TickHub(capacity=capacity)  # type: ignore[arg-type]


def test_bad_instrument_and_max_n_raise() -> None:
    with pytest.raises(ValueError, match="instrument must be a non-empty str"):
        TickBuffer("")
    rd = TickBuffer("EURUSD").reader("x")
    for bad in (0, -3, 2.0):
        with pytest.raises(ValueError, match="max_n must be a positive int"):
            rd.read(bad)  # type: ignore[arg-type]


def test_batch_len_and_truthiness() -> None:
    b = TickBatch(*seq_arrays(0, 3), lost=0)
    assert len(b) == 3 and b
    e = TickBatch.empty(lost=4)
    assert len(e) == 0 and not e and e.lost == 4
    ts, bid, ask, lost = b
    assert list(bid) == [0.25, 1.25, 2.25] and list(ask) == [0.75, 1.75, 2.75]
    assert list(ts) == [0, 1, 2] and lost == 0


# ---------------------------------------------------------------------- waiting


def run_in_thread(fn: Callable[..., object], *args: object) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def target() -> None:
        t0 = time.monotonic()
        out["result"] = fn(*args)
        out["elapsed"] = time.monotonic() - t0

    th = threading.Thread(target=target, daemon=True)
    th.start()
    return th, out


def test_wait_returns_at_once_when_data_is_unread() -> None:
    buf = TickBuffer("EURUSD")
    rd = buf.reader()
    buf.append(1, 1.0, 1.1)
    th, out = run_in_thread(rd.wait, None)  # would block for ever if it did not check first
    th.join(5)
    assert out.get("result") is True
    assert rd.wait(0) is True


def test_wait_times_out_without_data() -> None:
    buf = TickBuffer("EURUSD")
    buf.append(1, 1.0, 1.1)
    rd = buf.reader(from_start=False)
    assert rd.wait(0) is False
    assert rd.wait(0.05) is False
    assert buf._sleepers == []  # the timed-out sleeper deregistered itself


@pytest.mark.parametrize("how", ["append", "extend", "offer", "offer_many", "append_until_flush"])
def test_wait_wakes_on_new_data(how: str) -> None:
    buf = TickBuffer("EURUSD")
    rd = buf.reader()
    th, out = run_in_thread(rd.wait, 30.0)
    while not buf._sleepers:  # until the reader is asleep
        time.sleep(0.001)
    if how == "append":
        buf.append(1, 1.0, 1.1)
    elif how == "extend":
        buf.extend(*seq_arrays(0, 3))
    elif how == "offer":
        assert buf.offer(1, 1.0, 1.1)
    elif how == "offer_many":
        assert buf.offer_many(*seq_arrays(0, 3)) == 3
    else:
        write_ops(buf, [("a", FLUSH_AT)])
    th.join(10)
    assert out.get("result") is True
    assert out["elapsed"] < 10  # woke up rather than timing out (30 s)
    assert len(rd.read()) >= 1


def test_rejected_offer_does_not_wake() -> None:
    buf = TickBuffer("EURUSD")
    rd = buf.reader()
    th, out = run_in_thread(rd.wait, 0.2)
    while not buf._sleepers:
        time.sleep(0.001)
    assert buf.offer(1, 2.0, 1.0) is False
    th.join(10)
    assert out.get("result") is False


# ---------------------------------------------------------------------- hub


@pytest.mark.usefixtures("fast_switching")
def test_hub_buffer_creation_race_gives_one_buffer() -> None:
    hub = TickHub(capacity=100)
    barrier = threading.Barrier(16)
    got: list[TickBuffer] = []

    def grab() -> None:
        barrier.wait()
        for name in ("EURUSD", "GBPUSD", "EURUSD"):
            got.append(hub.buffer(name))

    threads = [threading.Thread(target=grab) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(got) == 48
    assert len({id(b) for b in got if b.instrument == "EURUSD"}) == 1
    assert len({id(b) for b in got if b.instrument == "GBPUSD"}) == 1
    assert sorted(hub.instruments()) == ["EURUSD", "GBPUSD"]
    assert hub.buffers["EURUSD"] is hub.buffer("EURUSD")
    assert hub.buffer("EURUSD").capacity == 100
    with pytest.raises(TypeError):
        hub.buffers["X"] = TickBuffer("X")  # type: ignore[index]


def test_hub_wait_any_first_call_then_timeout_then_wake() -> None:
    hub = TickHub()
    assert hub.wait_any(0) is False  # nothing ever arrived
    hub.buffer("EURUSD").append(1, 1.0, 1.1)
    assert hub.wait_any(0) is True  # first wait of this thread: ticks exist
    assert hub.wait_any(0.05) is False  # nothing new since
    hub.buffer("EURUSD").append(2, 1.0, 1.1)
    assert hub.wait_any(0.05) is True
    assert hub.wait_any(0) is False


@pytest.mark.parametrize("target", ["existing", "new"])
def test_hub_wait_any_wakes_on_existing_and_new_buffers(target: str) -> None:
    hub = TickHub()
    hub.buffer("EURUSD")
    hub.buffer("GBPUSD")
    th, out = run_in_thread(hub.wait_any, 30.0)
    while not hub._sleepers:
        time.sleep(0.001)
    if target == "existing":
        hub.buffer("GBPUSD").append(1, 1.0, 1.1)
    else:  # a buffer created while the consumer sleeps must wake it too
        hub.buffer("USDJPY").extend(*seq_arrays(0, 2))
    th.join(10)
    assert out.get("result") is True and out["elapsed"] < 10
    assert hub._sleepers == []
    assert all(b._sleepers == [] for b in hub.buffers.values())


def test_hub_wait_any_is_per_thread() -> None:
    hub = TickHub()
    hub.buffer("EURUSD").append(1, 1.0, 1.1)
    assert hub.wait_any(0) is True
    th, out = run_in_thread(hub.wait_any, 0)  # another thread has not seen the tick yet
    th.join(5)
    assert out.get("result") is True
    assert hub.wait_any(0) is False


def test_hub_statuses_and_listeners() -> None:
    hub = TickHub()
    seen: list[tuple[str, FeedStatus, str]] = []
    unsubscribe = hub.on_status(lambda f, s, d: seen.append((f, s, d)))

    def broken(feed: str, status: FeedStatus, detail: str) -> None:
        raise RuntimeError("listener bug")

    hub.on_status(broken)  # must not stop the others nor the caller
    assert hub.status("demo") is FeedStatus.DISCONNECTED
    before = time.time_ns()
    hub.set_status("demo", FeedStatus.CONNECTING)
    hub.set_status("demo", "CONNECTED", "ws")
    status, detail, since = hub.statuses()["demo"]
    assert (status, detail) == (FeedStatus.CONNECTED, "ws") and since >= before
    hub.set_status("demo", FeedStatus.CONNECTED, "ws, 2 subs")  # detail only: no event, same since
    assert hub.statuses()["demo"] == (FeedStatus.CONNECTED, "ws, 2 subs", since)
    hub.set_status("ig", FeedStatus.STALLED, "no data 5 s")
    assert seen == [
        ("demo", FeedStatus.CONNECTING, ""),
        ("demo", FeedStatus.CONNECTED, "ws"),
        ("ig", FeedStatus.STALLED, "no data 5 s"),
    ]
    unsubscribe()
    hub.set_status("ig", FeedStatus.RECONNECTING)
    assert len(seen) == 3
    assert hub.status("ig") is FeedStatus.RECONNECTING
    assert set(hub.statuses()) == {"demo", "ig"}
    with pytest.raises(ValueError, match=r"feed 'ig': unknown status 'UP'"):
        hub.set_status("ig", "UP")
    assert [s.value for s in FeedStatus] == [s.name for s in FeedStatus]


@pytest.mark.usefixtures("fast_switching")
def test_hub_counters_are_exact_under_threads() -> None:
    hub = TickHub()

    def bump() -> None:
        for _ in range(2000):
            hub.count("ig", "messages")
        hub.count("ig", "reconnects", 3)
        hub.count("demo", "ticks", 5)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    counters = hub.counters()
    assert counters == {"ig": {"messages": 8000, "reconnects": 12}, "demo": {"ticks": 20}}
    counters["ig"]["messages"] = 0  # a copy
    assert hub.counters()["ig"]["messages"] == 8000


def test_hub_stats_lists_every_buffer() -> None:
    hub = TickHub(capacity=3)
    hub.buffer("A").extend(*seq_arrays(0, 5))
    hub.buffer("B")
    stats = hub.stats()
    assert stats["A"]["total"] == 5 and stats["A"]["held"] == 3 and stats["B"]["total"] == 0


@pytest.mark.usefixtures("fast_switching")
@pytest.mark.parametrize("how", ["reader.wait", "hub.wait_any"])
def test_no_lost_wakeup_in_many_handoffs(how: str) -> None:
    """Writers hand bursts to one sleeping consumer and wait until it has them all, round after round.

    Each burst is the last one until the consumer acknowledges it, so a lost wake-up cannot be rescued
    by a later tick: it shows up as a writer not acknowledged within 10 s (the consumer waits up to 60 s).
    """
    hub = TickHub(capacity=1000)
    names = ["A", "B", "C"] if how == "hub.wait_any" else ["A"]
    readers = {n: hub.buffer(n).reader(n) for n in names}
    consumed = dict.fromkeys(names, 0)
    cond = threading.Condition()
    stop = threading.Event()
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            while not stop.is_set():
                woke = hub.wait_any(60) if how == "hub.wait_any" else readers["A"].wait(60)
                assert woke or stop.is_set()
                for n, rd in readers.items():
                    batch = rd.read()
                    assert batch.lost == 0
                    if len(batch):
                        with cond:
                            consumed[n] += len(batch)
                            cond.notify_all()
        except BaseException as exc:
            errors.append(exc)

    def produce(name: str, seed: int) -> None:
        buf = hub.buffer(name)
        rng = np.random.default_rng(seed)
        written = 0
        for _ in range(3000):
            k = int(rng.integers(1, 5))
            r = rng.random()
            if r < 0.3:  # land anywhere in the consumer's way back to sleep
                time.sleep(r * 1e-4)
            elif r < 0.6:
                for _ in range(int(r * 300)):
                    pass
            if rng.random() < 0.5:
                for _ in range(k):
                    buf.append(written, written + 0.25, written + 0.75)
                    written += 1
            else:
                buf.extend(*seq_arrays(written, written + k))
                written += k
            with cond:
                if not cond.wait_for(lambda w=written: consumed[name] == w, timeout=10):  # type: ignore[misc]
                    errors.append(AssertionError(f"{name}: consumer never woke for tick {written}"))
                    return

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    producers = [threading.Thread(target=produce, args=(n, i), daemon=True) for i, n in enumerate(names)]
    for p in producers:
        p.start()
    for p in producers:
        p.join(60)
    stop.set()
    hub.buffer("A").append(-1, 0.25, 0.75)  # let the consumer see the stop flag
    consumer.join(10)
    assert not errors, errors
