"""Calls from several threads that can share one engine call, run together as they arrive.

The async workers of a node each decode their own job. On a GPU, eight short files decoded in one batched call
take 0.14-0.19 of the time of eight calls (docs/benchmarks.md, "Batched decoding"), so the workers' calls
are pooled here: a caller that finds the engine idle runs its own call at once, with whatever compatible
calls are already waiting; callers that arrive meanwhile wait and go together in the next call. Nobody
waits for company, so a lone job costs what it did; under load the calls grow towards `most` items.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
Item = TypeVar("Item")  # what one caller asks for
R = TypeVar("R")


@dataclass(eq=False)
class _Call(Generic[Item, R]):
    key: Hashable
    item: Item
    done: bool = False
    alone: bool = False  # the shared call failed: run this item by itself, so one bad file fails alone
    result: R | None = None
    error: BaseException | None = None


class CallBatcher(Generic[Item, R]):
    def __init__(self, run: Callable[[list[Item]], list[R]], most: int) -> None:
        self._run = run  # items with one key -> their results, in order
        self._most = max(1, most)
        self._waiting: list[_Call[Item, R]] = []
        self._busy = False
        self._changed = threading.Condition()
        self.sizes: list[int] = []  # items per engine call, the last 64 calls (tests read it)

    def submit(self, key: Hashable, item: Item) -> R:
        """Run `item` with others of the same `key`; blocks until its result is in (or raises its error)."""
        call: _Call[Item, R] = _Call(key, item)
        with self._changed:
            self._waiting.append(call)
        while True:
            with self._changed:
                self._changed.wait_for(lambda: call.done or call.alone or not self._busy)
                if call.done:
                    break
                if call.alone:
                    batch = [call]
                else:
                    self._busy = True
                    batch = self._take()
            self._run_batch(batch, holds_turn=not call.alone)
        if call.error is not None:
            raise call.error
        return call.result  # type: ignore[return-value]

    def _take(self) -> list[_Call[Item, R]]:
        """The oldest waiting call and, in arrival order, those that share its key (under the lock)."""
        key = self._waiting[0].key
        batch = [c for c in self._waiting if c.key == key][: self._most]
        self._waiting = [c for c in self._waiting if c not in batch]
        return batch

    def _run_batch(self, batch: list[_Call[Item, R]], *, holds_turn: bool) -> None:
        try:
            results = self._run([c.item for c in batch])
            outcome: list[tuple[R | None, BaseException | None]] = [(r, None) for r in results]
            retry = False
        except Exception as exc:
            outcome, retry = [(None, exc)] * len(batch), len(batch) > 1
            if retry:
                log.warning("a call of %d items failed (%s); each item runs alone", len(batch), exc)
        with self._changed:
            for call, (result, error) in zip(batch, outcome, strict=True):
                if retry:
                    call.alone = True
                else:
                    call.result, call.error, call.done = result, error, True
            if not retry:
                self.sizes = [*self.sizes[-63:], len(batch)]
            if holds_turn:
                self._busy = False
            self._changed.notify_all()
