"""What the models predict: blanks filled in, BERT's masking recipe, next tokens, a continuation step by step,
heads switched off."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

import model_core
from model_core import InputError

from .common import check_layer_head, check_text, encode, run, start_marked

MAX_MASKS = 8  # predictions shown for at most this many blanks (each is its own panel)

Guesses = tuple[tuple[str, float], ...]   # (token, probability), best first


def check_mlm(model: Any) -> None:
    """Raise InputError unless ``model`` can fill in [MASK]."""
    if not model.has_lm_head:
        raise InputError(f"{model.name} has no masked-language-model head yet, so it cannot fill in [MASK]. "
                         "Load an MLM model such as bert-base-uncased in the sidebar, or wait for the bundled head.")
    if model.tokenizer.mask_token_id is None:
        raise InputError(f"{model.name}'s tokenizer has no [MASK] token, so it cannot fill in blanks.")


# The ways a user may type a blank: BERT's and RoBERTa's spelling; each becomes the model's own.
TYPED_MASKS = ("[MASK]", "<mask>")


def with_model_mask(model: Any, text: str) -> str:
    """``text`` with every typed blank ([MASK] or <mask>) spelled as this model's mask token."""
    own = getattr(model.tokenizer, "mask_token", None)
    if not own:
        return text
    for typed in TYPED_MASKS:
        if typed != own:
            text = text.replace(typed, own)
    return text


def _special_ids(tokenizer: Any) -> set[int]:
    return set(int(i) for i in getattr(tokenizer, "all_special_ids", []) or [])


def _top(probs: torch.Tensor, tokenizer: Any, top_k: int) -> Guesses:
    return tuple((str(t), float(p)) for t, p in model_core.top_tokens(probs, tokenizer, int(top_k)))


def heads_off_mask(model: Any, heads_off: Sequence[tuple[int, int]]) -> torch.Tensor | None:
    """The [layer, head] head mask with 0 at every (layer, head) of ``heads_off`` (None when empty)."""
    if not heads_off:
        return None
    cfg = model.config
    mask = torch.ones(int(cfg.n_layers), int(cfg.n_heads))
    for layer, head in heads_off:
        check_layer_head(cfg, layer, head)
        mask[layer, head] = 0.0
    return mask


def _blanked(model: Any, text: str, mask_positions: Sequence[int]) -> tuple[model_core.Encoded, list[int], list[str]]:
    """Encode ``text`` with the tokens at ``mask_positions`` replaced by [MASK].

    Returns the encoding, every blank's position (typed [MASK]s included) and the token
    each blank hides ("[MASK]" where typed); raises InputError when there is no blank.
    """
    enc = encode(model, [with_model_mask(model, text)])
    n = int(enc.lengths[0])
    ids = enc.input_ids.clone()
    mask_id = int(model.tokenizer.mask_token_id)
    specials = _special_ids(model.tokenizer)
    for pos in mask_positions:
        if 0 <= pos < n and int(ids[0, pos]) not in specials:
            ids[0, pos] = mask_id
    positions = [int(p) for p in (ids[0, :n] == mask_id).nonzero().flatten().tolist()]
    if not positions:
        mask = model.tokenizer.mask_token
        raise InputError(f"There is no blank to fill: type {mask} where a word is missing "
                         f"(for example: Paris is the {mask} of France.) or pick a word to hide.")
    original = model.tokenizer.convert_ids_to_tokens(enc.input_ids[0, positions].tolist())
    enc.input_ids = ids
    return enc, positions, original


def _blank_probs(model: Any, enc: model_core.Encoded, positions: list[int],
                 heads_off: Sequence[tuple[int, int]] = ()) -> torch.Tensor:
    """Softmax over the vocabulary at each blank: [blank, vocab]."""
    logits = run(model, enc, (), heads_off_mask(model, heads_off), logits_at=positions).logits
    return torch.softmax(logits[0].float(), dim=-1)


@dataclass(frozen=True)
class BlankFill:
    """The encoder's guesses for every blank of a sentence."""

    tokens: tuple[str, ...]          # the input, blanks as [MASK]
    original: tuple[str, ...]        # the token hidden at each blank ("[MASK]" where typed)
    positions: tuple[int, ...]       # where the blanks are
    top: tuple[Guesses, ...]         # per blank
    truncated: bool
    more_masks: int                  # blanks beyond MAX_MASKS, not predicted


def mask_predictions(model: Any, text: str, mask_positions: Sequence[int] = (), top_k: int = 5) -> BlankFill:
    """Fill in the blanks: every [MASK] typed in ``text`` plus the tokens at ``mask_positions``."""
    check_text(text)
    check_mlm(model)
    enc, positions, original = _blanked(model, text, mask_positions)
    shown = positions[:MAX_MASKS]
    probs = _blank_probs(model, enc, shown)
    n = int(enc.lengths[0])
    return BlankFill(tokens=tuple(model.tokenizer.convert_ids_to_tokens(enc.input_ids[0, :n].tolist())),
                     original=tuple(original[:MAX_MASKS]), positions=tuple(shown),
                     top=tuple(_top(row, model.tokenizer, top_k) for row in probs),
                     truncated=bool(enc.truncated), more_masks=len(positions) - len(shown))


@dataclass(frozen=True)
class Ablation:
    """The first blank's guesses with every head, and with some switched off."""

    tokens: tuple[str, ...]          # the union of both top-k lists, all-heads order first
    position: int                    # the blank
    before: np.ndarray               # float32 [token]: probabilities with all heads
    after: np.ndarray                # float32 [token]: with the heads switched off
    top_after: Guesses


def ablation(model: Any, text: str, mask_positions: Sequence[int], heads_off: Sequence[tuple[int, int]],
             top_k: int = 5) -> Ablation:
    """Probabilities at the first blank before and after setting ``heads_off``'s head-mask entries to 0."""
    check_text(text)
    check_mlm(model)
    enc, positions, _ = _blanked(model, text, mask_positions)
    before = _blank_probs(model, enc, positions[:1])[0]
    after = _blank_probs(model, enc, positions[:1], heads_off)[0]
    top_before, top_after = _top(before, model.tokenizer, top_k), _top(after, model.tokenizer, top_k)
    tokens = [t for t, _ in top_before] + [t for t, _ in top_after if t not in dict(top_before)]
    ids_of = model.tokenizer.convert_tokens_to_ids(tokens)
    return Ablation(tokens=tuple(tokens), position=positions[0], top_after=top_after,
                    before=before[ids_of].numpy().astype(np.float32), after=after[ids_of].numpy().astype(np.float32))


@dataclass(frozen=True)
class MaskPlan:
    """The outcome of BERT's masking procedure on one token sequence."""

    actions: tuple[str, ...]         # per position: "special", "not chosen", "[MASK]", "random" or "unchanged"
    input_ids: tuple[int, ...]       # the ids the model sees after masking
    chosen: tuple[int, ...]          # chosen positions, in sentence order


def bert_mask_plan(token_ids: Sequence[int], special: Sequence[bool], mask_id: int,
                   replacement_ids: Sequence[int], seed: int, rate: float = 0.15) -> MaskPlan:
    """BERT's pre-training masking (Devlin et al. 2019, create_pretraining_data.py).

    Choose round(rate * n) of the n ordinary tokens (at least one) at random; each
    chosen token becomes [MASK] with probability 0.8, stays unchanged with 0.1, and is
    replaced by a random token from `replacement_ids` with 0.1. Special tokens are never
    chosen. Every chosen position is predicted, whatever happened to it.
    """
    if len(token_ids) != len(special):
        raise ValueError(f"{len(token_ids)} token ids, while the special-token flags number {len(special)}")
    rng = np.random.default_rng(seed)
    candidates = [i for i, is_special in enumerate(special) if not is_special]
    actions = ["special" if s else "not chosen" for s in special]
    ids = list(int(t) for t in token_ids)
    if not candidates:
        return MaskPlan(tuple(actions), tuple(ids), ())
    n_chosen = min(len(candidates), max(1, int(round(rate * len(candidates)))))
    chosen = sorted(int(i) for i in rng.permutation(candidates)[:n_chosen])
    for pos in chosen:
        draw = rng.random()
        if draw < 0.8:
            actions[pos], ids[pos] = "[MASK]", int(mask_id)
        elif draw < 0.9:
            actions[pos] = "unchanged"
        else:
            actions[pos] = "random"
            ids[pos] = int(replacement_ids[int(rng.integers(len(replacement_ids)))])
    return MaskPlan(tuple(actions), tuple(ids), tuple(chosen))


@functools.lru_cache(maxsize=4)  # per tokenizer object: get_vocab() builds a 30,000-entry dict each call
def _replacement_ids(tokenizer: Any) -> tuple[int, ...]:
    """Whole-word vocabulary entries (letters only) that BERT's 10% random replacement draws from."""
    vocab = tokenizer.get_vocab()
    return tuple(sorted(i for tok, i in vocab.items() if tok.isalpha() and tok.isascii() and len(tok) > 1))


def sentence_mask_plan(model: Any, ids: Sequence[int], seed: int) -> MaskPlan:
    """``bert_mask_plan`` on one sentence's token ids with the model's own special, [MASK] and replacement ids."""
    specials = _special_ids(model.tokenizer)
    return bert_mask_plan(ids, [i in specials for i in ids], int(model.tokenizer.mask_token_id),
                          _replacement_ids(model.tokenizer), seed=int(seed))


@dataclass(frozen=True)
class MaskingRun:
    """BERT's masking recipe on a sentence, and the model's guesses at the chosen positions."""

    tokens: tuple[str, ...]          # the original tokens
    input_tokens: tuple[str, ...]    # what the model sees
    actions: tuple[str, ...]         # per token: "special", "not chosen", "[MASK]", "random", "unchanged"
    chosen: tuple[int, ...]
    top: tuple[Guesses, ...]         # per chosen position
    p_original: tuple[float, ...]    # per chosen position: the probability of the original token
    truncated: bool


def mlm_masking(model: Any, text: str, seed: int, top_k: int = 3) -> MaskingRun:
    """BERT's 15% / 80-10-10 masking on ``text`` with ``seed``, and the model's guesses at the chosen spots."""
    check_text(text)
    check_mlm(model)
    enc = encode(model, [text])
    ids = enc.input_ids[0, :int(enc.lengths[0])].tolist()
    plan = sentence_mask_plan(model, ids, seed)
    enc.input_ids = torch.tensor([list(plan.input_ids)])  # one row: no padding to keep
    tok = model.tokenizer
    top, p_original = (), ()
    if plan.chosen:
        probs = torch.softmax(run(model, enc, (), logits_at=list(plan.chosen)).logits[0].float(), dim=-1)
        top = tuple(_top(probs[i], tok, top_k) for i in range(len(plan.chosen)))
        p_original = tuple(float(probs[i, ids[pos]]) for i, pos in enumerate(plan.chosen))
    return MaskingRun(tokens=tuple(tok.convert_ids_to_tokens(ids)),
                      input_tokens=tuple(tok.convert_ids_to_tokens(list(plan.input_ids))), actions=plan.actions,
                      chosen=plan.chosen, top=top, p_original=p_original, truncated=bool(enc.truncated))


def next_tokens(model: Any, text: str, top_k: int = 5, temperature: float = 1.0) -> Guesses:
    """The decoder's top-k next tokens after ``text`` at ``temperature``."""
    check_text(text)
    guesses = model_core.next_token(model, text, top_k=int(top_k), temperature=float(temperature))
    return tuple((str(t), float(p)) for t, p in guesses)


STRATEGIES = model_core.STRATEGIES   # the decodings a page offers


@dataclass(frozen=True)
class Writing:
    """A continuation step by step: what the decoder read, what it chose, and where it looked."""
    tokens: tuple[str, ...]          # prompt then new tokens; the start-of-text token written as START_MARK
    prompt_len: int                  # tokens of the prompt (start token included)
    steps: tuple[model_core.Step, ...]   # one per new token
    text: str                        # the new text, special tokens left out
    stopped: str                     # "end of text", "length" or "position limit"
    decoding: str                    # which decoding produced it, in words
    rows: np.ndarray                 # [layer, head, step, key]: the attention row of the query that chose each token
    repeated_trigrams: float         # share of the new text's 3-grams that already occurred (nan: under 3 tokens)


def repeated_share(ids: Sequence[int], first: int, n: int = 3) -> float:
    """Share of the n-grams ending at or after position ``first`` that already occurred earlier in ``ids``."""
    seen, repeats, total = set(), 0, 0
    for end in range(n, len(ids) + 1):
        gram = tuple(ids[end - n:end])
        if end - 1 >= first:
            total += 1
            repeats += gram in seen
        seen.add(gram)
    return repeats / total if total else float("nan")


def write(model: Any, text: str, n_tokens: int, decoding: model_core.Decoding) -> Writing:
    """The decoder continues ``text`` with ``decoding``; one more pass records every attention row it used.

    The decoder is causal, so the pass over the finished text gives at each position exactly the row
    that position had when its next token was chosen."""
    check_text(text)
    made = model_core.generate_steps(model, text, int(n_tokens), decoding)
    ids = made.ids
    n_layers = int(model.config.n_layers)
    n_heads = int(model.config.n_heads)
    rows = np.zeros((n_layers, n_heads, len(made.steps), len(ids)), dtype=np.float32)
    if made.steps:
        out = model(torch.tensor([ids]), record=("blocks.*.attn.pattern",), logits_at=[-1])
        queries = list(range(len(made.prompt_ids) - 1, len(ids) - 1))
        for layer in range(n_layers):
            pattern = out.trace[f"blocks.{layer}.attn.pattern"][0]               # [head, query_pos, key_pos]
            rows[layer] = pattern[:, queries, :].float().numpy()
    tokens = start_marked(model, ids, model.tokenizer.convert_ids_to_tokens(ids))
    return Writing(tokens=tuple(tokens), prompt_len=len(made.prompt_ids), steps=tuple(made.steps), text=made.text,
                   stopped=made.stopped, decoding=decoding.describe(), rows=rows,
                   repeated_trigrams=repeated_share(ids, len(made.prompt_ids)))


def words_to_hide(text: str) -> list[tuple[int, int, str]]:
    """Every run of letters or digits in ``text``: (start, end, word), for hiding one of them."""
    return [(m.start(), m.end(), m.group(0)) for m in re.finditer(r"\w+", text)]
