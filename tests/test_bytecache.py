"""The app's cache is bounded by bytes: a burst of long texts cannot push it past its budget."""
from __future__ import annotations

import numpy as np
import pytest

from services import bytecache, cached, state
from services.models import Problem


@pytest.fixture
def small_cache(monkeypatch):
    cache = bytecache.ByteCache(2 * 2**20)            # 2 MB
    monkeypatch.setattr(bytecache, "CACHE", cache)
    return cache


def test_a_burst_of_long_texts_stays_within_the_budget(small_cache):
    largest = 0
    for i in range(40):
        text = " ".join(f"word{i}x{j}" for j in range(25))        # about 100 tokens each: 0.3 MB of patterns
        run = cached.attention("encoder", state.TINY, text)
        assert run.pattern.shape[-1] > 60
        largest = max(largest, small_cache.total_bytes)
        assert small_cache.total_bytes <= small_cache.max_bytes
    assert 0 < len(small_cache) < 40 and largest > small_cache.max_bytes // 2   # it filled up, then evicted


def test_hits_are_copies_and_the_oldest_use_goes_first(small_cache):
    first = cached.attention("encoder", state.TINY, "the cat sat")
    again = cached.attention("encoder", state.TINY, "the cat sat")
    assert (small_cache.hits, small_cache.misses) == (1, 1)     # what a benchmark's hit rate is made of
    np.testing.assert_array_equal(first.pattern, again.pattern)
    again.pattern[:] = 0                                         # a session changing its copy changes no other
    assert cached.attention("encoder", state.TINY, "the cat sat").pattern.max() > 0
    cache = bytecache.ByteCache(300)
    for key in (b"a", b"b", b"c"):
        cache.put(key, b"x" * 70)
    cache.get(b"a")                                               # a used again: b is now the oldest
    cache.put(b"d", b"x" * 70)
    cache.put(b"e", b"x" * 70)
    assert cache.get(b"b") is None and cache.get(b"a") is not None and cache.total_bytes <= 300
    assert not cache.put(b"huge", b"x" * 100)                    # over a quarter of the budget: not kept


def test_an_input_error_is_a_problem_and_is_not_kept(small_cache):
    with pytest.raises(Problem, match="empty|Type a sentence"):
        cached.attention("encoder", state.TINY, "   ")
    assert len(small_cache) == 0
