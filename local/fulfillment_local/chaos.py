"""Chaos switches for e2e tests and chaos runs. They live in the runtime only, never in functions."""

from __future__ import annotations

import random
import threading
from collections.abc import Collection, MutableSequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

T = TypeVar("T")

FaultPoint = Literal["before", "after"]


@dataclass
class Chaos:
    """What to break, how often, reproducibly.

    fault_rate     probability that an invocation fails: half of the faults happen before the
                   handler runs ("before its writes"), half after it ran ("after its writes",
                   its result is discarded and the invocation reported as failed).
    duplicate_sqs  probability (True = 1.0) that an SQS batch is delivered twice: a second,
                   concurrent invocation with the same records (same messageIds).
    reorder        shuffle the records of each SQS batch (standard queues only; stream batches
                   keep their order, as Lambda guarantees per shard).
    seed           seeds the random source.
    functions      limit faults to these functions (logical ids); None = all.
    """

    fault_rate: float = 0.0
    duplicate_sqs: float | bool = 0.0
    reorder: bool = False
    seed: int | None = None
    functions: Collection[str] | None = None
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def fault(self, function: str) -> FaultPoint | None:
        """Where (if at all) to fail this invocation."""
        if self.fault_rate <= 0 or (self.functions is not None and function not in self.functions):
            return None
        with self._lock:
            if self._rng.random() >= self.fault_rate:
                return None
            return "before" if self._rng.random() < 0.5 else "after"

    def duplicate(self) -> bool:
        rate = 1.0 if self.duplicate_sqs is True else float(self.duplicate_sqs or 0.0)
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def shuffle(self, items: MutableSequence[T]) -> None:
        if self.reorder and len(items) > 1:
            with self._lock:
                self._rng.shuffle(items)


class ChaosFault(Exception):
    """The error type reported for an injected fault."""
