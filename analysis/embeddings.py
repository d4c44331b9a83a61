"""Input embeddings part by part, every token's vector at every depth, and what compares them.

Vectors are ``[pos, d_model]``, or ``[layer, pos, d_model]`` through the depths.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from model_core import InputError

from .common import SPECIAL_TOKENS, check_text, cosine, encode, run, segments

# Words that make a poor first choice for "the same word in two sentences".
FUNCTION_WORDS = frozenset({"the", "a", "an", "of", "to", "in", "on", "at", "and", "or", "is", "was", "it", "he",
                            "she", "i"})


@dataclass(frozen=True)
class EmbeddingParts:
    """The encoder's input embeddings for a sentence (pair), part by part: float32 [pos, d_model] each."""

    token: np.ndarray
    segment: np.ndarray
    position: np.ndarray
    sum: np.ndarray                  # the three added by the model
    layer_norm: np.ndarray           # the LayerNorm of the sum: what block 0 reads
    tokens: tuple[str, ...]
    segments: tuple[int, ...]
    truncated: bool
    n_positions: int


def _pair(sentence_b: str) -> list[str] | None:
    return [sentence_b] if sentence_b.strip() else None


def embedding_parts(model: Any, sentence_a: str, sentence_b: str = "") -> EmbeddingParts:
    """Token, segment and position embeddings of a BERT-style encoder's input, their sum and its LayerNorm."""
    check_text(sentence_a)
    if int(getattr(model.config, "n_segments", 0)) < 1:
        raise InputError("This encoder has no segment embeddings; choose a BERT-style encoder.")
    enc = encode(model, [sentence_a], _pair(sentence_b))
    trace = run(model, enc, ("embed.*",)).trace.numpy()
    n = int(enc.lengths[0])
    parts = {name: np.asarray(trace[f"embed.{key}"][0, :n], dtype=np.float32)
             for name, key in (("token", "tok"), ("segment", "seg"), ("position", "pos"), ("sum", "sum"),
                               ("layer_norm", "out"))}
    return EmbeddingParts(**parts, tokens=tuple(enc.tokens[0][:n]), segments=segments(enc),
                          truncated=bool(enc.truncated), n_positions=int(model.config.n_positions))


@dataclass(frozen=True)
class LayerVectors:
    """Every token's vector at every depth of one input."""

    layers: tuple[str, ...]          # names of the depths: token embedding, input, after block i
    vectors: np.ndarray              # float32 [layer, pos, d_model]
    tokens: tuple[str, ...]
    segments: tuple[int, ...]
    truncated: bool


def layer_vectors(model: Any, sentence_a: str, sentence_b: str = "") -> LayerVectors:
    """Token embedding, block-0 input and each block's output for every token (a pair only for an encoder)."""
    check_text(sentence_a)
    pairs = _pair(sentence_b) if model.family == "encoder" else None
    enc = encode(model, [sentence_a], pairs)
    trace = run(model, enc, ("embed.tok", "embed.out", "embed.proj", "blocks.*.resid_post")).trace
    n = int(enc.lengths[0])
    if "embed.proj" in trace:
        # ALBERT: embeddings of width E, mapped up to the blocks' width H; only the H-wide vectors compare.
        stack, names = [trace["embed.proj"][0, :n]], ("input (embeddings projected to d_model)",)
    else:
        stack, names = [trace["embed.tok"][0, :n], trace["embed.out"][0, :n]], ("token embedding",
                                                                                  "input (after embeddings)")
    stack += [trace[f"blocks.{i}.resid_post"][0, :n] for i in range(int(model.config.n_layers))]
    names += tuple(f"after block {i}" for i in range(int(model.config.n_layers)))
    vectors = np.stack([t.float().numpy() for t in stack]).astype(np.float32)
    return LayerVectors(layers=names, vectors=vectors, tokens=tuple(enc.tokens[0][:n]), segments=segments(enc),
                        truncated=bool(enc.truncated))


@dataclass(frozen=True)
class SwapComparison:
    """(A, B) and (B, A) as pairs: each token against itself in the other order."""

    tokens: tuple[str, ...]              # the (A, B) order
    segments: tuple[int, ...]
    tokens_swapped: tuple[str, ...]      # the (B, A) order
    segments_swapped: tuple[int, ...]
    layers: tuple[str, ...]
    cosine: np.ndarray                   # float32 [layer, pos of (A, B)]; pos 0 is [CLS], what a classifier reads


def swap_comparison(first: LayerVectors, second: LayerVectors) -> SwapComparison:
    """Compare the runs of the pairs (A, B) (``first``) and (B, A) (``second``) token by token, at every depth."""
    if first.truncated or second.truncated:
        raise InputError("The two sentences together are longer than the model can read; shorten them to compare orders.")
    n_a = first.segments.count(0) - 2            # tokens of A, without [CLS] and its [SEP]
    n_b = len(first.tokens) - n_a - 3
    # Where each position of (A, B) sits in (B, A): [CLS] stays, A moves after B, B moves to the front.
    where = [0] + [n_b + 2 + i for i in range(n_a)] + [n_b + n_a + 2] + [1 + i for i in range(n_b)] + [n_b + 1]
    cos = cosine(first.vectors, second.vectors[:, where])   # [layer, pos]
    return SwapComparison(tokens=first.tokens, segments=first.segments, tokens_swapped=second.tokens,
                          segments_swapped=second.segments, layers=first.layers, cosine=cos.astype(np.float32))


def projections_onto(total: np.ndarray, parts: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each part's signed length along the direction of ``total``, per token.

    Because projection is linear, these add up to |total| exactly when the parts sum to
    total: the one honest way to stack vector pieces as bars.
    """
    norms = np.linalg.norm(total, axis=1)
    unit = total / np.where(norms > 0, norms, 1.0)[:, None]
    return {name: (np.asarray(part) * unit).sum(axis=1) for name, part in parts.items()}


def component_norms(parts: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each part's Euclidean norm per token: {"|name|": [pos]}."""
    return {f"|{name}|": np.linalg.norm(np.asarray(m, dtype=np.float64), axis=1) for name, m in parts.items()}


@dataclass(frozen=True)
class SpanScores:
    """Span question answering with untrained start and end vectors."""

    p_start: np.ndarray              # [passage]
    p_end: np.ndarray                # [passage]
    best: tuple[int, int]            # (first, last) passage index of the best span
    start_vector: np.ndarray         # S [d_model]
    end_vector: np.ndarray           # E [d_model]


def span_scores(outputs: np.ndarray, passage: Sequence[int], seed: int, max_len: int = 15) -> SpanScores:
    """Span question answering as BERT fine-tunes it, with untrained (seeded random) vectors.

    A start vector S and an end vector E [d_model] are dotted with every passage token's
    final output; softmax over the passage gives P(start) and P(end). The answer is the span
    i <= j < i + max_len with the largest S.h_i + E.h_j.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    rows = outputs[list(passage)]                                   # [passage, d_model]
    rng = np.random.default_rng(seed)
    start_vec, end_vec = rng.standard_normal((2, outputs.shape[1])) / np.sqrt(outputs.shape[1])
    start, end = rows @ start_vec, rows @ end_vec                   # [passage]
    p_start = np.exp(start - start.max())
    p_end = np.exp(end - end.max())
    pairs = [(i, j) for i in range(len(rows)) for j in range(i, min(len(rows), i + max_len))]
    best = max(pairs, key=lambda ij: start[ij[0]] + end[ij[1]]) if pairs else (0, 0)
    return SpanScores(p_start=p_start / p_start.sum(), p_end=p_end / p_end.sum(), best=best,
                      start_vector=start_vec, end_vector=end_vec)


def nearest_tokens(sims: np.ndarray, word_pos: int, k: int = 3) -> list[tuple[int, float]]:
    """The k positions most similar to ``word_pos`` (itself excluded), best first: [(pos, similarity)]."""
    order = [int(i) for i in np.argsort(-np.asarray(sims), kind="stable") if int(i) != word_pos]
    return [(i, float(sims[i])) for i in order[:k]]


def shared_words(tokens_a: Sequence[str], tokens_b: Sequence[str]) -> tuple[list[str], str | None]:
    """Word tokens found in both inputs, in order, and the one to start with (a content word, the longest)."""
    common = [t for t in dict.fromkeys(tokens_a) if t in tokens_b and t not in SPECIAL_TOKENS and t.isalnum()]
    default = max(common, key=lambda t: (t not in FUNCTION_WORDS, len(t))) if common else None
    return common, default
