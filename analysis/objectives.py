"""Pre-training objectives on the user's sentence: masks on real tokens and what real models predict under them.

The masks come from ``model_core.objective_masks``. The model runs here are labelled by what they are:
the bundled encoder filling BERT-style blanks (its own objective), RoBERTa's dynamic masking against
BERT's static one (the procedure, no model), MASS's span predicted all at once by the encoder and left
to right by the decoder, and two what-ifs the models were not trained for (the encoder reading under an
XLNet order; the decoder reading under a prefix-LM mask).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

import model_core
from model_core import InputError, objective_masks  # noqa: F401  (the masks, re-exported for the pages)

from .common import MARKERS, check_text, encode, run
from .predictions import check_mlm, sentence_mask_plan

Guesses = tuple[tuple[str, float], ...]


def word_positions(tokens: Sequence[str]) -> list[int]:
    """Positions of the sentence's own tokens (not [CLS], [SEP], padding)."""
    return [i for i, tok in enumerate(tokens) if tok not in MARKERS]


def _words_of(model: Any, text: str, what: str) -> tuple[model_core.Encoded, int, list[str], list[int]]:
    """The encoding of ``text``, its length, tokens and word positions; InputError when it has no word."""
    enc = encode(model, [text])
    n = int(enc.lengths[0])
    tokens = enc.tokens[0][:n]
    words = word_positions(tokens)
    if not words:
        raise InputError(f"The sentence has no word to {what}; type a few words.")
    return enc, n, tokens, words


@dataclass(frozen=True)
class MaskingEpochs:
    """BERT's static masking against RoBERTa's dynamic masking over a few epochs of the same sentence."""

    tokens: tuple[str, ...]
    static: tuple[tuple[str, ...], ...]     # [epoch][pos]: the action at each position (one mask, reused)
    dynamic: tuple[tuple[str, ...], ...]    # [epoch][pos]: a fresh mask every epoch
    covered_static: int                     # distinct positions ever predicted
    covered_dynamic: int


def masking_epochs(model: Any, text: str, seed: int, epochs: int = 4) -> MaskingEpochs:
    """The 15% / 80-10-10 recipe on ``text``: drawn once (static, BERT) or anew each epoch (dynamic, RoBERTa)."""
    check_text(text)
    check_mlm(model)
    enc = encode(model, [text])
    n = int(enc.lengths[0])
    ids = enc.input_ids[0, :n].tolist()
    once = sentence_mask_plan(model, ids, seed)
    fresh = [sentence_mask_plan(model, ids, seed + epoch) for epoch in range(epochs)]
    return MaskingEpochs(
        tokens=tuple(enc.tokens[0][:n]), static=tuple(once.actions for _ in range(epochs)),
        dynamic=tuple(plan.actions for plan in fresh), covered_static=len(once.chosen),
        covered_dynamic=len({p for plan in fresh for p in plan.chosen}))


@dataclass(frozen=True)
class MassSpan:
    """MASS: a span of k tokens hidden; the encoder fills all k at once, the decoder writes them left to right."""

    tokens: tuple[str, ...]                 # the encoder's tokens ([CLS] ... [SEP])
    start: int                              # first hidden position (encoder positions)
    length: int
    original: tuple[str, ...]               # the hidden tokens
    encoder_top: tuple[Guesses, ...]        # per hidden position: the encoder's guesses, all read at once
    decoder_steps: tuple[Guesses, ...]      # per step: the decoder's guesses given the left context and its own words
    decoder_text: tuple[str, ...]           # the tokens the decoder wrote (greedy)


def mass_span(encoder: Any, decoder: Any, text: str, start: int, length: int, top_k: int = 3) -> MassSpan:
    """Hide ``length`` tokens from encoder position ``start``; compare the two ways of predicting them.

    The decoder reads the tokens left of the span (its own tokenizer's reading of that text) and writes
    ``length`` tokens greedily. Both bundled models share one tokenizer, so their tokens line up.
    """
    check_text(text)
    check_mlm(encoder)
    enc, n, tokens, words = _words_of(encoder, text, "hide")
    if start not in words or start + length - 1 not in words or length < 1:
        raise InputError(f"The hidden span must cover words of the sentence: positions {words[0]} to {words[-1]}.")
    if start == words[0]:
        raise InputError("MASS's decoder writes the span from the words before it: start the span after the "
                         "first word.")
    span = list(range(start, start + length))
    ids = enc.input_ids.clone()
    ids[0, span] = encoder.tokenizer.mask_token_id
    blanked = model_core.Encoded(ids, enc.attention_mask, enc.token_type_ids, enc.tokens, enc.lengths, enc.truncated,
                                 enc.limit)
    probs = run(encoder, blanked, (), logits_at=span).logits[0].softmax(dim=-1)       # [span, vocab]
    encoder_top = tuple(tuple((t, float(p)) for t, p in model_core.top_tokens(row, encoder.tokenizer, top_k))
                        for row in probs)
    left = encoder.tokenizer.convert_tokens_to_string(tokens[words[0]:start])
    prompt = model_core.encode(decoder, left).input_ids[0]
    steps, written = [], []
    cache, unread = decoder.new_cache(), prompt            # the left context is read once, then a token a step
    for _ in range(length):
        row = decoder.extend(unread[None], cache)[0].softmax(dim=-1)
        guesses = tuple((t, float(p)) for t, p in model_core.top_tokens(row, decoder.tokenizer, top_k))
        steps.append(guesses)
        token = int(row.argmax())
        written.append(decoder.tokenizer.convert_ids_to_tokens([token])[0])
        unread = torch.tensor([token])
    return MassSpan(tokens=tuple(tokens), start=start, length=length, original=tuple(tokens[start:start + length]),
                    encoder_top=encoder_top, decoder_steps=tuple(steps), decoder_text=tuple(written))


@dataclass(frozen=True)
class PermutationView:
    """XLNet's view of one position under a factorisation order, and the encoder's guess under it (a what-if)."""

    tokens: tuple[str, ...]
    order: tuple[int, ...]                  # the sentence's word positions, in prediction order
    position: int                           # the position being predicted
    visible: tuple[int, ...]                # word positions it may read (predicted before it)
    allowed: np.ndarray                     # bool [query_pos, key_pos]: the mask the encoder ran under
    guesses: Guesses                        # the encoder's guesses at ``position`` under that mask


def permutation_view(model: Any, text: str, order: Sequence[int], position: int, top_k: int = 5) -> PermutationView:
    """The query stream of XLNet for ``position``: it sees the words that come before it in ``order``.

    ``order`` is a permutation of the sentence's word positions ([CLS] and [SEP] are readable by every
    token). The encoder then runs with the token at ``position`` replaced by [MASK] and attention
    restricted: every word reads the words ranked at or before it (XLNet's content stream), the
    predicted position reads only those ranked before it (the query stream). BERT-style encoders
    were not trained this way: a what-if that shows how the visible context shapes a prediction.
    """
    check_text(text)
    check_mlm(model)
    enc, n, tokens, words = _words_of(model, text, "order")
    order = [int(x) for x in order]
    if sorted(order) != words:
        raise InputError("A factorisation order must list every word position exactly once: "
                         + " ".join(str(w) for w in words) + " in any order.")
    if position not in words:
        raise InputError(f"Pick a word position to predict: one of {', '.join(str(w) for w in words)}.")
    masks = model_core.objective_masks("xlnet", len(words), order=[words.index(p) for p in order])
    allowed = np.ones((n, n), dtype=bool)                              # markers: everyone reads them, they read all
    index = np.array(words)
    allowed[np.ix_(index, index)] = masks["content"]
    me = words.index(position)
    allowed[position, index] = masks["query"][me]
    allowed[position, position] = True                                 # its own slot: [MASK], i.e. only its position
    ids = enc.input_ids.clone()
    ids[0, position] = model.tokenizer.mask_token_id
    out = model(ids, torch.from_numpy(allowed)[None], enc.token_type_ids, logits_at=[position])
    row = out.logits[0, 0].softmax(dim=-1)
    rank = {p: r for r, p in enumerate(order)}
    return PermutationView(
        tokens=tuple(tokens), order=tuple(order), position=position,
        visible=tuple(sorted(p for p in words if rank[p] < rank[position])), allowed=allowed,
        guesses=tuple((t, float(p)) for t, p in model_core.top_tokens(row, model.tokenizer, top_k)))


@dataclass(frozen=True)
class PrefixWhatIf:
    """The decoder's attention under its own causal mask and under a prefix-LM mask (what-if)."""

    tokens: tuple[str, ...]
    prefix: int
    causal: np.ndarray                      # float32 [query_pos, key_pos], the chosen head
    prefix_pattern: np.ndarray              # float32 [query_pos, key_pos], same head under the prefix mask
    allowed: np.ndarray                     # bool [query_pos, key_pos]: the prefix mask


def prefix_what_if(model: Any, text: str, prefix: int, layer: int, head: int) -> PrefixWhatIf:
    """Run the decoder twice: causal (how it was trained) and with the first ``prefix`` tokens bidirectional."""
    check_text(text)
    enc = encode(model, [text])
    n = int(enc.lengths[0])
    if not 1 <= prefix <= n:
        raise InputError(f"The prefix must be between 1 and {n} tokens long.")
    allowed = model_core.objective_masks("prefix_lm", n, prefix=prefix)["allowed"]
    name = f"blocks.{layer}.attn.pattern"
    causal = model(enc.input_ids, enc.attention_mask, record=(name,), logits_at=()).trace[name][0, head]
    what_if = model(enc.input_ids, torch.from_numpy(allowed)[None], record=(name,), logits_at=()).trace[name][0, head]
    return PrefixWhatIf(tokens=tuple(enc.tokens[0][:n]), prefix=prefix, causal=causal.numpy().astype(np.float32),
                        prefix_pattern=what_if.numpy().astype(np.float32), allowed=allowed)


@dataclass(frozen=True)
class NextTokenReadout:
    """GPT's objective on the sentence: at every position, the decoder's guess for the next token."""

    tokens: tuple[str, ...]                 # the decoder's input tokens
    guesses: tuple[tuple[str, float], ...]  # per position t: the top guess for token t + 1 and its probability
    p_actual: tuple[float, ...]             # per position t < n - 1: the probability of the real token t + 1
    loss: float                             # mean -ln p_actual (nats per token)


def next_token_readout(model: Any, text: str) -> NextTokenReadout:
    """One causal pass: every position predicts the next token, all at once (teacher forcing)."""
    check_text(text)
    enc = encode(model, [text])
    n = int(enc.lengths[0])
    if n < 2:
        raise InputError("Type at least two tokens: each position predicts the one after it.")
    ids = enc.input_ids[0, :n]
    probs = run(model, enc, (), logits_at=list(range(n))).logits[0].float().softmax(dim=-1)   # [pos, vocab]
    top = probs.max(dim=-1)
    guesses = tuple((model.tokenizer.convert_ids_to_tokens([int(i)])[0], float(p))
                    for p, i in zip(top.values, top.indices))
    p_actual = tuple(float(probs[t, ids[t + 1]]) for t in range(n - 1))
    return NextTokenReadout(tokens=tuple(enc.tokens[0][:n]), guesses=guesses, p_actual=p_actual,
                            loss=float(-np.log(np.clip(p_actual, 1e-45, None)).mean()))


@dataclass(frozen=True)
class SharedLayersCheck:
    """ALBERT's parameter sharing, checked on the loaded model and the user's sentence."""

    parameters: int                         # the model's parameters, each tensor counted once
    bert_parameters: int                    # a BERT of the same shape (vocabulary, positions, H, layers, d_ff)
    one_block: bool                         # every layer is the very same module
    block_parameters: int                   # parameters of that one block
    differences: tuple[float, ...]          # per layer > 0: max |pattern_layer - pattern_0| on the sentence


def shared_layers_check(model: Any, text: str) -> SharedLayersCheck:
    """Count ALBERT's parameters against a same-shaped BERT; check the layers share one block yet attend differently."""
    check_text(text)
    cfg = model.config
    if not getattr(cfg, "shared_layers", False):
        raise InputError(f"{model.name} is not an ALBERT model: its layers do not share weights. Load an ALBERT "
                         "checkpoint (for example albert-base-v2) in the sidebar's encoder picker.")
    h, f, v = cfg.d_model, cfg.d_mlp, cfg.vocab_size
    embeddings = (v + cfg.n_positions + max(cfg.n_segments, 1)) * h + 2 * h
    block = 4 * h * h + 4 * h + 2 * h * f + f + h + 4 * h
    head = (h * h + 3 * h + v) if model.has_lm_head else 0
    first = model.blocks[0]
    enc = encode(model, [text])
    patterns = run(model, enc, ("blocks.*.attn.pattern",)).trace.stack("attn.pattern")    # [layer, batch, ...]
    return SharedLayersCheck(
        parameters=sum(p.numel() for p in model.parameters()),
        bert_parameters=embeddings + cfg.n_layers * block + head,
        one_block=all(model.blocks[i] is first for i in range(cfg.n_layers)),
        block_parameters=sum(p.numel() for p in first.parameters()),
        differences=tuple(float((patterns[i] - patterns[0]).abs().max()) for i in range(1, cfg.n_layers)))
