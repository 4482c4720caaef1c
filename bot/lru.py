"""A small thread-safe LRU map whose size a long piece of work can raise for its duration."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """The `size` most recently used values by key. The web server's threads share the
    caches built on it, hence the lock."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

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
        while len(self._items) > size:
            self._items.popitem(last=False)
