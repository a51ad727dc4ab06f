"""One bounded write-back cache for a whole dataset.

Holds decoded chunks, shard indexes, decoded samples and pending writes, all in one LRU bounded by bytes
(Hub 1.x kept one cache per tensor, so its memory grew with the schema). An entry with a ``writeback``
is dirty: evicting it, or ``flush``, calls the writeback first, so no write is ever dropped.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Hashable

Writeback = Callable[[Any], None]


class _Entry:
    __slots__ = ("value", "nbytes", "writeback")

    def __init__(self, value: Any, nbytes: int, writeback: Writeback | None):
        self.value = value
        self.nbytes = nbytes
        self.writeback = writeback


class Cache:
    """An LRU of values keyed by tuples, bounded by the sum of their declared sizes in bytes.

    Not thread-safe on its own: the dataset serialises access with its lock.
    """

    def __init__(self, capacity: int):
        self.capacity = max(0, int(capacity))
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self.nbytes = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> Any:
        """The value, or None; a hit makes the entry the most recent."""
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return entry.value

    def put(self, key: Hashable, value: Any, nbytes: int, writeback: Writeback | None = None) -> None:
        """Insert or replace; a replaced dirty entry keeps its writeback unless a new one is given."""
        old = self._entries.pop(key, None)
        if old is not None:
            self.nbytes -= old.nbytes
            if writeback is None:
                writeback = old.writeback
        self._entries[key] = _Entry(value, int(nbytes), writeback)
        self.nbytes += int(nbytes)
        self._evict(keep=key)

    def resize(self, key: Hashable, nbytes: int) -> None:
        """Update the size of an entry whose value grew or shrank in place."""
        entry = self._entries.get(key)
        if entry is not None:
            self.nbytes += int(nbytes) - entry.nbytes
            entry.nbytes = int(nbytes)
            self._evict(keep=key)

    def discard(self, key: Hashable) -> None:
        """Drop an entry without writing it back."""
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.nbytes -= entry.nbytes

    def discard_where(self, predicate: Callable[[Hashable], bool]) -> None:
        for key in [k for k in self._entries if predicate(k)]:
            self.discard(key)

    def is_dirty(self, key: Hashable) -> bool:
        entry = self._entries.get(key)
        return entry is not None and entry.writeback is not None

    def flush(self, predicate: Callable[[Hashable], bool] | None = None) -> int:
        """Write back every dirty entry (matching ``predicate``); they stay cached, clean. Returns the count."""
        done = 0
        for key in [k for k, e in self._entries.items() if e.writeback is not None and (predicate is None or predicate(k))]:
            entry = self._entries.get(key)
            if entry is None or entry.writeback is None:
                continue
            writeback = entry.writeback
            writeback(entry.value)  # raises on store failure: the entry stays dirty
            entry.writeback = None
            done += 1
        return done

    def clear(self) -> None:
        self._entries.clear()
        self.nbytes = 0

    def _evict(self, keep: Hashable) -> None:
        while self.nbytes > self.capacity and len(self._entries) > 1:
            key = next(iter(self._entries))
            if key == keep:
                self._entries.move_to_end(key)
                key = next(iter(self._entries))
            entry = self._entries.pop(key)
            self.nbytes -= entry.nbytes
            if entry.writeback is not None:
                # Popped first: the writeback may itself put entries (a fresh shard index) and evict.
                try:
                    entry.writeback(entry.value)
                except BaseException:
                    self._entries[key] = entry
                    self._entries.move_to_end(key, last=False)
                    self.nbytes += entry.nbytes
                    raise
