"""Attention patterns of a sentence, and the summaries drawn from them (mean, max, rollout, hard, blocks).

Patterns are numpy arrays in the project's axis order: ``[layer, head, query_pos, key_pos]`` or
``[query_pos, key_pos]``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .common import MARKERS, check_text, encode, run, segments


@dataclass(frozen=True)
class AttentionRun:
    """Every layer's and head's attention for one input."""

    pattern: np.ndarray            # float32 [layer, head, query_pos, key_pos]
    tokens: tuple[str, ...]        # [pos]
    segments: tuple[int, ...]      # [pos]: 0 for sentence A, 1 for B
    truncated: bool                # the input was cut to the model's limit
    n_positions: int               # that limit


def attention_run(model: Any, sentence_a: str, sentence_b: str = "") -> AttentionRun:
    """Attention patterns of every layer and head for ``sentence_a`` (a pair with ``sentence_b``).

    For an encoder a pair reads ``[CLS] A [SEP] B [SEP]`` with segment ids 0/1.
    """
    check_text(sentence_a)
    pairs = [sentence_b] if sentence_b.strip() else None
    enc = encode(model, [sentence_a], pairs)
    out = run(model, enc, ("blocks.*.attn.pattern",))
    n = int(enc.lengths[0])
    pattern = out.trace.stack("attn.pattern")[:, 0, :, :n, :n]     # [layer, head, query_pos, key_pos]
    return AttentionRun(pattern=pattern.float().numpy().astype(np.float32), tokens=tuple(enc.tokens[0][:n]),
                        segments=segments(enc), truncated=bool(enc.truncated),
                        n_positions=int(model.config.n_positions))


def keep_positions(tokens: Sequence[str], drop: Sequence[str] = MARKERS) -> np.ndarray:
    """Indices of the tokens not in ``drop`` (by default the markers: [CLS], [SEP], [PAD], ...)."""
    return np.array([i for i, tok in enumerate(tokens) if tok not in drop], dtype=int)


def restrict(pattern: np.ndarray, keep: np.ndarray, renormalise: bool = True) -> np.ndarray:
    """Keep only positions ``keep`` on the last two axes (query_pos, key_pos).

    With ``renormalise`` each row is divided by its new sum, so it is again a
    distribution over the tokens shown; a row that put all its weight on
    hidden tokens stays all zero.
    """
    sub = pattern[..., keep, :][..., :, keep]
    if not renormalise:
        return sub
    total = sub.sum(axis=-1, keepdims=True)
    return np.divide(sub, total, out=np.zeros_like(sub), where=total > 0)


def head_mean(pattern: np.ndarray) -> np.ndarray:
    """Mean over heads: [layer, head, q, k] -> [layer, q, k]."""
    return pattern.mean(axis=1)


def head_max(pattern: np.ndarray) -> np.ndarray:
    """Max over heads: [layer, head, q, k] -> [layer, q, k] (rows no longer sum to 1)."""
    return pattern.max(axis=1)


def rollout(pattern: np.ndarray) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema, 2020): [layer, head, q, k] -> [layer, q, k].

    Per layer: average the heads, add the identity for the residual
    connection, renormalise rows; then multiply through the layers.
    ``out[l]`` says how much each input token flows into each position after
    layers 0..l.
    """
    n_layers, _, n_q, n_k = pattern.shape
    if n_q != n_k:
        raise ValueError(f"Rollout needs square patterns, got {n_q} queries and {n_k} keys")
    eye = np.eye(n_q, dtype=np.float64)
    joint = eye
    out = np.empty((n_layers, n_q, n_k), dtype=np.float32)
    for layer in range(n_layers):
        step = pattern[layer].astype(np.float64).mean(axis=0) + eye
        step /= step.sum(axis=-1, keepdims=True)
        joint = step @ joint
        out[layer] = joint
    return out


def hard_attention(pattern: np.ndarray) -> np.ndarray:
    """Arg-max per query as a one-hot matrix: [..., q, k] -> same shape, 0/1."""
    hard = np.zeros_like(pattern, dtype=np.float32)
    np.put_along_axis(hard, pattern.argmax(axis=-1)[..., None], 1.0, axis=-1)
    return hard


def downsample(matrix: np.ndarray, max_size: int, how: str = "mean") -> tuple[np.ndarray, int]:
    """Shrink a [..., rows, cols] matrix in square blocks so neither side exceeds ``max_size``.

    ``how="mean"``: the mean of each block. ``how="mass"`` (for attention
    patterns): the weight a block of queries gives a block of keys, i.e. the
    sum over the block's keys averaged over its queries, so each row of blocks
    still sums to 1 and the 0..1 scale stays meaningful (a plain mean would
    shrink every value by the block width). Returns the smaller matrix and the
    block size (1 = unchanged).
    """
    if how not in ("mean", "mass"):
        raise ValueError(f"how must be 'mean' or 'mass', got {how!r}")
    rows, cols = matrix.shape[-2:]
    block = max(1, math.ceil(max(rows, cols) / max_size))
    if block == 1:
        return matrix, 1
    pad_r, pad_c = (-rows) % block, (-cols) % block
    padded = np.pad(
        matrix.astype(np.float32),
        [(0, 0)] * (matrix.ndim - 2) + [(0, pad_r), (0, pad_c)],
        constant_values=np.nan,
    )
    shape = padded.shape[:-2] + (padded.shape[-2] // block, block, padded.shape[-1] // block, block)
    blocks = padded.reshape(shape)
    if how == "mean":
        return np.nanmean(blocks, axis=(-3, -1)), block
    per_row = np.where(np.isnan(blocks).all(axis=-1), np.nan, np.nansum(blocks, axis=-1))  # sum over keys
    return np.nanmean(per_row, axis=-2), block  # mean over queries


# Relations a head may specialise in, each as the key it picks for a query at position i of n.
RELATIONS = ("previous token", "next token", "first token", "last token")


def relation_weights(pattern: np.ndarray) -> dict[str, np.ndarray]:
    """For each relation, every head's mean weight on the key that relation names: {relation: [layer, head]}.

    ``pattern`` is one input's [layer, head, query_pos, key_pos]. The previous token is averaged over
    queries 1..n-1, the next token over 0..n-2, the first and last token ([CLS] and [SEP] for BERT,
    the start token for a decoder) over the queries that are not that token.
    """
    n = pattern.shape[-1]
    if n < 2:
        raise ValueError("a relation needs at least two tokens")
    q = np.arange(n)
    return {
        "previous token": pattern[..., q[1:], q[1:] - 1].mean(-1),
        "next token": pattern[..., q[:-1], q[:-1] + 1].mean(-1),
        "first token": pattern[..., 1:, 0].mean(-1),
        "last token": pattern[..., :-1, n - 1].mean(-1),
    }


# What the head finder can rank heads by (the Attention page's choices).
FINDER = ("a word to another word",) + RELATIONS + ("the same word elsewhere",)


def _word(token: str) -> str:
    return token.lower().removeprefix("##")


def same_word_weights(pattern: np.ndarray, tokens: Sequence[str]) -> np.ndarray:
    """Every head's mean weight from a token to the other occurrences of the same token: [layer, head].

    Averaged over the tokens that occur more than once (markers left out); zeros when none does."""
    words = [_word(t) for t in tokens]
    total, count = np.zeros(pattern.shape[:2]), 0
    for q, word in enumerate(words):
        others = [k for k, w in enumerate(words) if w == word and k != q]
        if others and tokens[q] not in MARKERS:
            total += pattern[..., q, others].sum(-1)
            count += 1
    return total / count if count else total


def head_scores(pattern: np.ndarray, tokens: Sequence[str], relation: str, query: int | None = None,
                key: int | None = None) -> np.ndarray:
    """How strongly every head [layer, head] does ``relation`` (one of FINDER) on this input.

    "a word to another word" is the weight query position ``query`` gives key position ``key``."""
    if relation == FINDER[0]:
        if query is None or key is None:
            raise ValueError("pick a query and a key token")
        return pattern[..., query, key]
    if relation == FINDER[-1]:
        return same_word_weights(pattern, tokens)
    if relation not in RELATIONS:
        raise ValueError(f"unknown relation {relation!r}; choose one of {FINDER}")
    return relation_weights(pattern)[relation]


def ranked_heads(scores: np.ndarray, top: int = 5) -> list[tuple[int, int, float]]:
    """The ``top`` heads by score, best first: [(layer, head, score), ...]."""
    order = np.argsort(-scores, axis=None, kind="stable")[:top]
    return [(int(i // scores.shape[1]), int(i % scores.shape[1]), float(scores.flat[i])) for i in order]


def word_pair_positions(tokens: Sequence[str], query_word: str, key_word: str) -> tuple[int, int] | None:
    """Positions of an example's point: the last ``query_word`` token and the first other ``key_word`` token."""
    words = [_word(t) for t in tokens]
    queries = [i for i, w in enumerate(words) if w == query_word.lower()]
    if not queries:
        return None
    keys = [i for i, w in enumerate(words) if w == key_word.lower() and i != queries[-1]]
    return (queries[-1], keys[0]) if keys else None


def point_head(run: AttentionRun, query_word: str, key_word: str) -> tuple[int, int, float, int, int] | None:
    """The head that sends the most weight from ``query_word`` to ``key_word`` once [CLS]/[SEP] are hidden and
    each row renormalised: (layer, head, that weight, query position, key position); None when a word is absent."""
    where = word_pair_positions(run.tokens, query_word, key_word)
    if where is None:
        return None
    q, k = where
    keep = list(keep_positions(run.tokens))
    if q not in keep or k not in keep:
        return None
    weight = restrict(run.pattern, np.array(keep))[..., keep.index(q), keep.index(k)]    # [layer, head]
    layer, head, value = ranked_heads(weight, top=1)[0]
    return layer, head, value, q, k
