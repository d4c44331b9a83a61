"""Pre-training objectives as who-sees-whom: the attention masks each objective trains under.

`objective_masks(name, n, **params)` returns boolean numpy arrays `[query_pos, key_pos]` (True = the
query position may read the key position), plus, where an objective hides tokens, a 1-D `masked`
array `[pos]`. Pure functions of positions: no model, no text.

    bidirectional  BERT (Devlin et al., 2019)                    {"allowed"}: everything
    causal         GPT (Radford et al., 2018)                    {"allowed"}: key <= query
    elmo           ELMo (Peters et al., 2018)                    {"forward": key <= query, "backward": key >= query}
    prefix_lm      UniLM (Dong et al., 2019), T5's prefix LM     {"allowed"}: keys < prefix, and key <= query
                   (Raffel et al., 2020)                           for queries at or after the prefix
    xlnet          XLNet (Yang et al., 2019)                     {"content": rank(key) <= rank(query),
                                                                  "query": rank(key) < rank(query)}
    mass           MASS (Song et al., 2019)                      {"encoder" [n, n], "decoder" [length, length],
                                                                  "cross" [length, n], "masked" [n]}
    tlm            XLM's translation LM (Lample & Conneau, 2019) {"allowed", "masked" [n], "second" [n]}
"""
from __future__ import annotations

from typing import Iterable, Optional

import numpy as np

from .base import InputError

OBJECTIVES = ("bidirectional", "causal", "elmo", "prefix_lm", "xlnet", "mass", "tlm")


def _positions(n: int) -> tuple[np.ndarray, np.ndarray]:
    q = np.arange(n)[:, None]                    # [query_pos, 1]
    k = np.arange(n)[None, :]                    # [1, key_pos]
    return q, k


def check_order(order: Iterable[int], n: int) -> np.ndarray:
    """``order`` as an int array when it is a permutation of range(n); else InputError with a sentence."""
    try:
        values = np.asarray([int(x) for x in order], dtype=int)
    except (TypeError, ValueError):
        values = np.asarray([], dtype=int)
    if values.shape != (n,) or sorted(values.tolist()) != list(range(n)):
        example = " ".join(str(i) for i in np.random.default_rng(0).permutation(min(n, 6)))
        raise InputError(
            f"A factorisation order must list every position from 0 to {n - 1} exactly once, in the order they "
            f"are predicted (for {min(n, 6)} positions, for example: {example})."
        )
    return values


def tlm_masked(n: int, split: int, seed: int = 0, rate: float = 0.15) -> np.ndarray:
    """XLM's choice of hidden positions: ``rate`` of each segment (at least one per segment), seeded."""
    rng = np.random.default_rng(seed)
    masked = np.zeros(n, dtype=bool)
    for lo, hi in ((0, split), (split, n)):
        count = max(1, int(round(rate * (hi - lo))))
        masked[rng.choice(np.arange(lo, hi), size=count, replace=False)] = True
    return masked


def objective_masks(name: str, n: int, *, prefix: Optional[int] = None, order: Optional[Iterable[int]] = None,
                    start: Optional[int] = None, length: Optional[int] = None, split: Optional[int] = None,
                    masked: Optional[Iterable[int]] = None, seed: int = 0) -> dict[str, np.ndarray]:
    """The masks of objective ``name`` over ``n`` positions (see the module docstring for each).

    prefix: prefix_lm's prefix length (0..n). order: xlnet's factorisation order, a permutation of
    range(n). start, length: mass's hidden span. split: tlm's first position of the second language;
    masked: tlm's hidden positions (default: 15% of each language, seeded by ``seed``).
    """
    if name not in OBJECTIVES:
        raise InputError(f"Unknown objective {name!r}; choose one of {', '.join(OBJECTIVES)}.")
    if int(n) < 1:
        raise InputError("There are no tokens to draw a mask over: type a sentence first.")
    n = int(n)
    q, k = _positions(n)
    if name == "bidirectional":
        return {"allowed": np.ones((n, n), dtype=bool)}
    if name == "causal":
        return {"allowed": k <= q}
    if name == "elmo":
        return {"forward": k <= q, "backward": k >= q}
    if name == "prefix_lm":
        p = n // 2 if prefix is None else int(prefix)
        if not 0 <= p <= n:
            raise InputError(f"The prefix must be between 0 and {n} tokens long.")
        return {"allowed": (k < p) | ((q >= p) & (k <= q))}
    if name == "xlnet":
        rank = np.empty(n, dtype=int)
        rank[check_order(np.arange(n) if order is None else order, n)] = np.arange(n)
        return {"content": rank[None, :] <= rank[:, None], "query": rank[None, :] < rank[:, None]}
    if name == "mass":
        span = max(1, n // 2) if length is None else int(length)
        first = (n - span) // 2 if start is None else int(start)
        if span < 1 or first < 0 or first + span > n:
            raise InputError(f"The hidden span must lie inside the {n} tokens: start 0 to {n - 1}, length at least 1.")
        hidden = np.zeros(n, dtype=bool)
        hidden[first:first + span] = True
        qs, ks = _positions(span)
        return {"encoder": np.ones((n, n), dtype=bool), "decoder": ks <= qs, "cross": np.ones((span, n), dtype=bool),
                "masked": hidden}
    # tlm
    cut = n // 2 if split is None else int(split)
    if not 1 <= cut <= n - 1:
        raise InputError("A translation pair needs tokens in both languages: the split must leave at least one "
                         "token on each side.")
    if masked is None:
        hidden = tlm_masked(n, cut, seed)
    else:
        hidden = np.zeros(n, dtype=bool)
        picked = [int(i) for i in masked]
        if any(not 0 <= i < n for i in picked):
            raise InputError(f"Hidden positions must be between 0 and {n - 1}.")
        hidden[picked] = True
    return {"allowed": np.ones((n, n), dtype=bool), "masked": hidden, "second": np.arange(n) >= cut}
