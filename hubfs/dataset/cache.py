"""One bounded write-back cache for a whole dataset.

Holds decoded chunks, shard indexes, decoded samples and pending writes, all bounded together by bytes
(Hub 1.x kept one cache per tensor, so its memory grew with the schema). An entry with a ``writeback``
is dirty: ``flush`` or eviction calls the writeback first, so no write is ever dropped. Clean entries are
evicted before dirty ones (least recently used first within each), so a cache under pressure drops what
it can re-read before it pays for writing a chunk or shard early.
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
    """LRU values keyed by tuples, bounded by the sum of their declared sizes in bytes.

    Not thread-safe on its own: the dataset serialises access with its lock.
    """

    def __init__(self, capacity: int):
        self.capacity = max(0, int(capacity))
        self._clean: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._dirty: OrderedDict[Hashable, _Entry] = OrderedDict()
        self.nbytes = 0
        # Changes whenever an entry is added, replaced or dropped: a reader that remembers the value it
        # got (a scan's current chunk) may use it again while the version is the one it saw.
        self.version = 0
        self.hits = 0
        self.misses = 0
        self.writebacks = 0

    def __len__(self) -> int:
        return len(self._clean) + len(self._dirty)

    def get(self, key: Hashable) -> Any:
        """The value, or None; a hit makes the entry the most recent."""
        table = self._clean
        entry = table.get(key)
        if entry is None:
            table = self._dirty
            entry = table.get(key)
            if entry is None:
                self.misses += 1
                return None
        table.move_to_end(key)
        self.hits += 1
        return entry.value

    def _pop(self, key: Hashable) -> _Entry | None:
        entry = self._clean.pop(key, None) or self._dirty.pop(key, None)
        if entry is not None:
            self.nbytes -= entry.nbytes
            self.version += 1
        return entry

    def put(self, key: Hashable, value: Any, nbytes: int, writeback: Writeback | None = None) -> None:
        """Insert or replace; a replaced dirty entry keeps its writeback unless a new one is given."""
        old = self._pop(key)
        if old is not None and writeback is None:
            writeback = old.writeback
        entry = _Entry(value, int(nbytes), writeback)
        (self._dirty if writeback is not None else self._clean)[key] = entry
        self.nbytes += entry.nbytes
        self.version += 1
        self._evict(keep=key)

    def discard(self, key: Hashable) -> None:
        """Drop an entry without writing it back."""
        self._pop(key)

    def discard_where(self, predicate: Callable[[Hashable], bool]) -> None:
        for key in [k for table in (self._clean, self._dirty) for k in table if predicate(k)]:
            self._pop(key)

    def mark_clean(self, key: Hashable) -> None:
        """The entry's writes reached the store another way: keep it cached, clean, without its writeback."""
        entry = self._dirty.pop(key, None)
        if entry is not None:
            entry.writeback = None
            self._clean[key] = entry

    def is_dirty(self, key: Hashable) -> bool:
        """True while the entry holds writes not yet in the store."""
        return key in self._dirty

    def flush(self, predicate: Callable[[Hashable], bool] | None = None) -> int:
        """Write back every dirty entry (matching ``predicate``); they stay cached, clean. Returns the count."""
        done = 0
        for key in [k for k in self._dirty if predicate is None or predicate(k)]:
            entry = self._dirty.get(key)
            if entry is None:
                continue
            entry.writeback(entry.value)  # raises on store failure: the entry stays dirty
            self.writebacks += 1
            done += 1
            if self._dirty.pop(key, None) is entry:  # the writeback may have discarded it itself
                entry.writeback = None
                self._clean[key] = entry
        return done

    def clear(self) -> None:
        self._clean.clear()
        self._dirty.clear()
        self.nbytes = 0
        self.version += 1

    def _evict(self, keep: Hashable) -> None:
        while self.nbytes > self.capacity:
            table = self._clean if any(k != keep for k in _head(self._clean)) else self._dirty
            key = next((k for k in _head(table) if k != keep), None)
            if key is None:
                return
            entry = table.pop(key)
            self.nbytes -= entry.nbytes
            self.version += 1
            if entry.writeback is not None:
                # Popped first: the writeback may itself put entries (a fresh shard index) and evict.
                try:
                    entry.writeback(entry.value)
                    self.writebacks += 1
                except BaseException:
                    table[key] = entry
                    table.move_to_end(key, last=False)
                    self.nbytes += entry.nbytes
                    raise


def _head(table: OrderedDict) -> list:
    """The two least recently used keys (enough to skip the one being inserted)."""
    out = []
    for k in table:
        out.append(k)
        if len(out) == 2:
            break
    return out
