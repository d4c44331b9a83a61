"""Fine-tuning shapes on the bundled encoder's real outputs, with small randomly initialised (untrained) heads.

What is shown is the arithmetic, not answers: a sentence (or pair) classifier reads the [CLS] output
through one weight matrix and a softmax; span question answering dots a start vector and an end vector
with every passage token's output and takes a softmax over the passage for each (BERT, Devlin et al.
2019, section 4). The heads are seeded random numbers, so their outputs are arbitrary: a trained head
would put its weight on a real answer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from model_core import InputError

from .common import check_text, encode, run

MAX_ANSWER_TOKENS = 15


@dataclass(frozen=True)
class FineTuneShapes:
    tokens: tuple[str, ...]              # [CLS] A [SEP] (B [SEP])
    segments: tuple[int, ...]
    cls_vector: np.ndarray               # float32 [d_model]: the last layer's output at [CLS]
    class_logits: np.ndarray             # float32 [2]: cls_vector W + b, W [d_model, 2] random
    class_probs: np.ndarray              # float32 [2]: softmax of the logits
    passage: tuple[int, ...]             # positions of sentence B's tokens (the passage), () without B
    start_probs: np.ndarray              # float32 [len(passage)]: softmax over the passage of S . h_i
    end_probs: np.ndarray                # float32 [len(passage)]: softmax of E . h_j
    best_span: tuple[int, int]           # (start, end) positions maximising start + end log-probs, end >= start
    d_model: int


def finetune_shapes(model: Any, sentence_a: str, sentence_b: str = "", seed: int = 0) -> FineTuneShapes:
    """Run the encoder on A (and B), then the untrained heads: a two-class classifier and a span start/end."""
    check_text(sentence_a)
    pairs = [sentence_b] if sentence_b.strip() else None
    enc = encode(model, [sentence_a], pairs)
    n = int(enc.lengths[0])
    hidden = run(model, enc, ()).last_hidden[0, :n].float().numpy().astype(np.float64)   # [pos, d_model]
    d = hidden.shape[1]
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 1.0 / np.sqrt(d), size=(d, 2))
    b = np.zeros(2)
    logits = hidden[0] @ w + b
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    segments = tuple(int(s) for s in enc.token_type_ids[0, :n].tolist())
    tokens = tuple(enc.tokens[0][:n])
    passage = tuple(i for i in range(n) if segments[i] == 1 and tokens[i] not in ("[SEP]", "</s>"))
    start_probs = end_probs = np.zeros(0)
    best = (0, 0)
    if passage:
        s_vec, e_vec = rng.normal(0.0, 1.0 / np.sqrt(d), size=(2, d))
        h = hidden[list(passage)]
        start_probs, end_probs = (_softmax(h @ v) for v in (s_vec, e_vec))
        best_score = -np.inf
        for i in range(len(passage)):
            for j in range(i, min(len(passage), i + MAX_ANSWER_TOKENS)):
                score = np.log(start_probs[i]) + np.log(end_probs[j])
                if score > best_score:
                    best_score, best = score, (passage[i], passage[j])
    elif sentence_b.strip():
        raise InputError("Sentence B has no tokens left after the model's length limit; shorten sentence A.")
    return FineTuneShapes(tokens=tokens, segments=segments, cls_vector=hidden[0].astype(np.float32),
                          class_logits=logits.astype(np.float32), class_probs=probs.astype(np.float32),
                          passage=passage, start_probs=np.asarray(start_probs, np.float32),
                          end_probs=np.asarray(end_probs, np.float32), best_span=best, d_model=d)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()
