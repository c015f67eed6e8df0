"""server/engine/call_batcher.py: calls of several threads share one engine call, and only when they can."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from server.engine.call_batcher import CallBatcher


class GatedRun:
    """An engine call that records what it got and, the first time, holds until `waiting` calls queue."""

    def __init__(self, batcher_ref: Callable[[], CallBatcher[int, int]], waiting: int) -> None:
        self.batcher_ref = batcher_ref
        self.waiting = waiting
        self.calls: list[list[int]] = []
        self.fail_on: int | None = None

    def __call__(self, items: list[int]) -> list[int]:
        if not self.calls:
            deadline = time.monotonic() + 10
            while len(self.batcher_ref()._waiting) < self.waiting and time.monotonic() < deadline:
                time.sleep(0.005)
        self.calls.append(list(items))
        if self.fail_on in items:
            raise ValueError(f"bad item {self.fail_on}")
        return [i * 10 for i in items]


def _submit_all(batcher: CallBatcher[int, int], calls: list[tuple[str, int]]) -> dict[int, object]:
    """Submit (key, item) pairs from one thread each; the first goes in alone before the others start."""
    out: dict[int, object] = {}

    def one(key: str, item: int) -> None:
        try:
            out[item] = batcher.submit(key, item)
        except Exception as exc:
            out[item] = exc

    threads = [threading.Thread(target=one, args=call) for call in calls]
    threads[0].start()
    while not batcher._busy:
        time.sleep(0.001)
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join(timeout=20)
    return out


def test_a_lone_call_runs_at_once() -> None:
    batcher: CallBatcher[int, int] = CallBatcher(lambda items: [i + 1 for i in items], most=8)
    assert batcher.submit("k", 1) == 2
    assert batcher.sizes == [1]


def test_calls_that_arrive_while_the_engine_is_busy_share_the_next_call() -> None:
    run = GatedRun(lambda: batcher, waiting=3)
    batcher: CallBatcher[int, int] = CallBatcher(run, most=8)
    out = _submit_all(batcher, [("k", 1), ("k", 2), ("k", 3), ("k", 4)])
    assert out == {1: 10, 2: 20, 3: 30, 4: 40}  # each caller gets its own result
    assert [len(c) for c in run.calls] == [1, 3]
    assert batcher.sizes == [1, 3]


def test_only_calls_with_the_same_key_share_and_a_call_holds_at_most_most() -> None:
    run = GatedRun(lambda: batcher, waiting=5)
    batcher: CallBatcher[int, int] = CallBatcher(run, most=2)
    out = _submit_all(batcher, [("a", 1), ("a", 2), ("b", 3), ("a", 4), ("a", 5), ("b", 6)])
    assert out == {i: i * 10 for i in range(1, 7)}
    shared = [sorted(c) for c in run.calls[1:]]
    assert all(len(c) <= 2 for c in shared)
    assert all({i % 3 == 0 for i in c} in ({True}, {False}) for c in shared)  # "b" items are 3 and 6
    assert sorted(i for c in run.calls for i in c) == [1, 2, 3, 4, 5, 6]


def test_a_failing_shared_call_runs_each_item_alone_so_only_the_bad_one_fails() -> None:
    run = GatedRun(lambda: batcher, waiting=3)
    run.fail_on = 3
    batcher: CallBatcher[int, int] = CallBatcher(run, most=8)
    out = _submit_all(batcher, [("k", 1), ("k", 2), ("k", 3), ("k", 4)])
    assert out[1] == 10 and out[2] == 20 and out[4] == 40
    assert isinstance(out[3], ValueError)
    assert sorted(map(sorted, run.calls)) == [[1], [2], [2, 3, 4], [3], [4]]


def test_an_error_of_a_lone_call_reaches_its_caller() -> None:
    def fail(items: list[int]) -> list[int]:
        raise RuntimeError("engine down")

    batcher: CallBatcher[int, int] = CallBatcher(fail, most=8)
    with pytest.raises(RuntimeError, match="engine down"):
        batcher.submit("k", 1)
    assert not batcher._busy  # the turn was handed back: the next caller is not stuck behind it
