"""A small bounded, thread-safe map for pre-signed OCSP responses (oldest entry evicted first)."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A dict that holds at most ``max_entries`` items, dropping the oldest inserted first."""

    def __init__(self, max_entries: int = 100_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max = max_entries
        self._data: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        return self._data.get(key)  # a single dict read is atomic in CPython

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data.pop(key, None)
            while len(self._data) >= self._max:
                self._data.pop(next(iter(self._data)))
            self._data[key] = value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
