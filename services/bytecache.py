"""One process-wide cache of the app's computed results, bounded by bytes, oldest use evicted first.

``st.cache_data`` bounds each cache by its number of entries, but entries differ in size by 35x or more (a
12-word sentence against 512 tokens: 6 layers x 12 heads x 512 x 512 floats), so a burst of long texts grew
memory with no bound in bytes. Here every entry is kept pickled, as ``st.cache_data`` keeps it (each hit gets
its own copy, so no session can change another's result), and all of them share one budget: ``CACHE_MB``
(environment variable ``AEX_CACHE_MB``, default 64). An entry larger than a quarter of the budget is
computed and returned but not kept, so one huge input cannot evict everything else.

    @bytecache.cached
    def attention(family, model_id, sentence_a, sentence_b=""): ...
"""
from __future__ import annotations

import functools
import hashlib
import os
import pickle
import threading
from collections import OrderedDict
from typing import Any, Callable, TypeVar

CACHE_MB = int(os.environ.get("AEX_CACHE_MB", "64"))

T = TypeVar("T")


class ByteCache:
    """Pickled values under hashed keys, least recently used evicted once the total passes ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = int(max_bytes)
        self._entries: OrderedDict[bytes, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0       # lookups answered from the cache, and not: a benchmark's probe reads the hit rate
        self.misses = 0

    @property
    def total_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> bytes | None:
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self.misses += 1
            else:
                self.hits += 1
                self._entries.move_to_end(key)
            return value

    def put(self, key: bytes, value: bytes) -> bool:
        """Keep ``value`` unless it is over a quarter of the budget; evict the oldest to stay within it."""
        if len(value) > self.max_bytes // 4:
            return False
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old)
            self._entries[key] = value
            self._bytes += len(value)
            while self._bytes > self.max_bytes and self._entries:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted)
        return True

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


CACHE = ByteCache(CACHE_MB * 2**20)


def cached(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn``'s results kept in CACHE, keyed by its name and its pickled arguments; each call gets a copy."""
    name = f"{fn.__module__}.{fn.__qualname__}".encode()

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        key = hashlib.blake2b(name + b"\0" + pickle.dumps((args, sorted(kwargs.items())), protocol=5),
                              digest_size=20).digest()
        hit = CACHE.get(key)
        if hit is not None:
            return pickle.loads(hit)
        result = fn(*args, **kwargs)
        CACHE.put(key, pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        return result

    return wrapper


def clear() -> None:
    CACHE.clear()
