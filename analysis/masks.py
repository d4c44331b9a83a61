"""Masks at work: one head's scores before and after the mask for a padded batch, and the prefix experiment."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from model_core import InputError

from .attention import attention_run
from .common import check_layer_head, check_text, encode, run

STEP_NAMES = ("raw_scores", "scores", "masked_scores", "pattern")


@dataclass(frozen=True)
class MaskSteps:
    """Every step of one head's attention for a batch of sentences, padded on the right."""

    raw_scores: np.ndarray                 # float32 [batch, query_pos, key_pos]: q.k
    scores: np.ndarray                     # same, divided by sqrt(d_head)
    masked_scores: np.ndarray              # same, disallowed cells NaN (the model fills them with the dtype minimum)
    pattern: np.ndarray                    # same, after softmax (disallowed cells 0)
    allowed: np.ndarray                    # bool [batch, query_pos, key_pos] (the same for every head)
    tokens: tuple[tuple[str, ...], ...]    # [batch][pos], padded rows end in "[PAD]"
    lengths: tuple[int, ...]               # real tokens per row
    truncated: bool
    d_head: int


def mask_steps(model: Any, texts: tuple[str, ...], layer: int, head: int) -> MaskSteps:
    """Run ``texts`` as one padded batch; every named step of head ``head`` in layer ``layer``."""
    for i, text in enumerate(texts):
        check_text(text, "sentence A" if i == 0 else "sentence B")
    check_layer_head(model.config, layer, head)
    enc = encode(model, list(texts))
    names = tuple(f"blocks.{layer}.attn.{step}" for step in (*STEP_NAMES, "allowed"))
    trace = run(model, enc, names).trace.numpy()
    steps = {step: np.asarray(trace[f"blocks.{layer}.attn.{step}"][:, head], dtype=np.float32) for step in STEP_NAMES}
    allowed = np.asarray(trace[f"blocks.{layer}.attn.allowed"]).astype(bool)  # [batch, query_pos, key_pos]
    steps["masked_scores"] = np.where(allowed, steps["masked_scores"], np.nan).astype(np.float32)
    return MaskSteps(**steps, allowed=allowed, tokens=tuple(tuple(row) for row in enc.tokens),
                     lengths=tuple(int(n) for n in enc.lengths), truncated=bool(enc.truncated),
                     d_head=int(model.config.d_head))


def shorter_version(text: str) -> str:
    """The first half of the words of ``text``: a second, shorter sentence when B is empty."""
    words = text.split()
    return " ".join(words[: max(1, len(words) // 2)])


def padding_difference(steps: MaskSteps, alone: np.ndarray) -> float:
    """Largest |pattern padded in the batch - pattern run alone| over the shorter row's real tokens.

    ``alone`` is the shorter sentence's own [query_pos, key_pos] pattern at the same layer and head.
    """
    short = int(np.argmin(steps.lengths))
    n = steps.lengths[short]
    return float(np.abs(steps.pattern[short][:n, :n] - alone[:n, :n]).max())


@dataclass(frozen=True)
class PrefixChange:
    """How much each row of attention changed when a word was appended."""

    after: np.ndarray                  # float32 [query_pos, key_pos]: the longer input's pattern at layer/head
    layer: int                         # the ones used (clamped to the model)
    head: int
    tokens_before: tuple[str, ...]
    tokens_after: tuple[str, ...]
    shared: int                        # leading positions both inputs share
    row_change: np.ndarray             # float32 [shared]: max |after - before| over layers, heads and shared keys,
                                       # or the weight the row gave to new keys, whichever is larger
    max_change: float                  # the largest of those
    truncated: bool


def prefix_experiment(model: Any, sentence: str, extra: str, layer: int = 0, head: int = 0) -> PrefixChange:
    """Run ``sentence`` and ``sentence + extra``; measure how much each shared row changed.

    The rows compared are the positions both inputs share (same token ids at the
    same positions, e.g. [CLS] and the words of ``sentence``; a trailing [SEP]
    moves, so it is not shared), over every layer and head.
    """
    check_text(sentence)
    if not extra.strip():
        raise InputError("Type a word to append (for example 'today') to run the experiment.")
    longer = sentence.rstrip() + " " + extra.strip()
    first, second = attention_run(model, sentence), attention_run(model, longer)
    enc_a, enc_b = encode(model, [sentence]), encode(model, [longer])
    ids_a = enc_a.input_ids[0, : enc_a.lengths[0]].tolist()
    ids_b = enc_b.input_ids[0, : enc_b.lengths[0]].tolist()
    shared = 0
    for x, y in zip(ids_a, ids_b):
        if x != y:
            break
        shared += 1
    before, after = first.pattern, second.pattern
    diff = np.abs(after[:, :, :shared, :shared] - before[:, :, :shared, :shared])  # [layer, head, row, key]
    row_change = diff.max(axis=(0, 1, 3)) if shared else np.zeros(0, np.float32)
    # Weight the shared rows give to keys the shorter input does not have.
    leak = after[:, :, :shared, shared:].sum(axis=-1).max(axis=(0, 1)) if shared else np.zeros(0)
    row_change = np.maximum(row_change, leak).astype(np.float32)
    layer = min(max(layer, 0), after.shape[0] - 1)
    head = min(max(head, 0), after.shape[1] - 1)
    return PrefixChange(after=after[layer, head], layer=layer, head=head, tokens_before=first.tokens,
                        tokens_after=second.tokens, shared=int(shared), row_change=row_change,
                        max_change=float(row_change.max()) if shared else 0.0,
                        truncated=bool(first.truncated or second.truncated))
