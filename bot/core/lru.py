"""A small thread-safe LRU map whose size a long piece of work can raise for its duration, and
which can also be bounded by the total weight of its values (e.g. bytes)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """The `size` most recently used values by key. The web server's threads share the
    caches built on it, hence the lock."""

    def __init__(
        self, size: int, weigh: Callable[[V], int] | None = None, max_weight: int = 0
    ) -> None:
        """`weigh` and `max_weight`: also keep the values' total weight within `max_weight`
        (a value heavier than that alone is not kept)."""
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self._weigh = weigh
        self.max_weight = max_weight
        self.weight = 0  # the values' total weight, when they are weighed

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: K, value: V) -> None:
        with self._lock:
            if self._weigh is not None:
                old = self._items.get(key)
                self.weight += self._weigh(value) - (0 if old is None else self._weigh(old))
            self._items[key] = value
            self._items.move_to_end(key)
            self._trim(self.size)

    @contextmanager
    def holding(self, count: int) -> Iterator[None]:
        """Keep up to `count` values within the block, then shrink back: a publish that
        writes every page meets each article in several feeds, far apart."""
        normal = self.size
        self.size = max(normal, count)
        try:
            yield
        finally:
            with self._lock:
                self.size = normal
                self._trim(normal)

    def _trim(self, size: int) -> None:
        while len(self._items) > size or (
            self._weigh is not None and self.weight > self.max_weight
        ):
            _, value = self._items.popitem(last=False)
            if self._weigh is not None:
                self.weight -= self._weigh(value)
