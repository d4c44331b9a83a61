"""Translation with the encoder-decoder: its three kinds of attention, decoding step by step, teacher forcing.

Patterns follow the project's axis order: cross-attention is ``[layer, head, target_pos, source_pos]``
(rows: decoder positions, the queries; columns: source tokens, the keys and values), the
decoder's self-attention ``[layer, head, target_pos, target_pos]``, the encoder's
``[layer, head, source_pos, source_pos]``. Decoder row t reads the decoder input at t (the start
token, then the tokens produced so far) and produces the token at t: ``produced[t]``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

import model_core
from model_core import InputError

from .common import check_text

RECORD = ("encoder.blocks.*.attn.pattern", "decoder.blocks.*.attn.pattern", "decoder.blocks.*.cross_attn.pattern")
# Teacher forcing is compared with step-by-step decoding over at most this many target positions.
MAX_CHECKED_STEPS = 48
# The letters the bundled translator was trained on (English and French).
LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")


@dataclass(frozen=True)
class TranslationRun:
    """A translation and everything the page draws of it (one teacher-forced pass over the output)."""

    text: str                                         # the translation
    source_tokens: tuple[str, ...]                    # [source_pos], ending in </s>
    target_inputs: tuple[str, ...]                    # [target_pos]: the decoder's inputs (start token first)
    produced: tuple[str, ...]                         # [target_pos]: the token produced at each step
    cross: np.ndarray                                 # float32 [layer, head, target_pos, source_pos]
    decoder_self: np.ndarray                          # float32 [layer, head, target_pos, target_pos]
    encoder_self: np.ndarray                          # float32 [layer, head, source_pos, source_pos]
    top: tuple[tuple[tuple[str, float], ...], ...]    # per step: the top-k candidates (token, probability)
    chosen: tuple[float, ...]                         # per step: the probability of the produced token
    log_prob: float                                   # sum of log-probabilities of the produced tokens
    truncated: bool                                   # the source was cut to the model's limit
    ended: bool                                       # the model ended the sentence itself (not the length limit)
    n_positions: int
    num_beams: int


@dataclass(frozen=True)
class TeacherForcing:
    """The reference scored in one parallel pass under the causal mask, and checked against step-by-step decoding."""

    reference_tokens: tuple[str, ...]                 # [target_pos]: the reference as target tokens, ending in </s>
    target_inputs: tuple[str, ...]                    # [target_pos]: start token + reference shifted right
    probs: tuple[float, ...]                          # [target_pos]: p(reference token | source, reference before it)
    loss: float                                       # mean cross-entropy in nats per token
    cross: np.ndarray                                 # float32 [layer, head, target_pos, source_pos]
    max_difference: float                             # largest |teacher-forced - step-by-step| over logits and patterns
    checked_steps: int                                # how many target positions were decoded step by step
    truncated: bool                                   # the reference was cut to the model's limit


def _check_translator(model: Any) -> None:
    if getattr(model, "family", "") != "seq2seq":
        raise InputError(f"{model.name} is not an encoder-decoder; choose a translator in the sidebar.")


def _patterns(trace: model_core.Trace, prefix: str, suffix: str, n_query: int, n_key: int) -> np.ndarray:
    return trace.stack(suffix, prefix)[:, 0, :, :n_query, :n_key].float().numpy().astype(np.float32)


def _pass(model: Any, source: model_core.Encoded, target_ids: list[int], record=RECORD) -> model_core.Seq2SeqOutput:
    """One forward over the source and the decoder inputs [start] + target_ids[:-1]."""
    inputs = torch.tensor([[model.config.decoder_start_token_id] + list(target_ids[:-1])])
    return model(source.input_ids, source.attention_mask, inputs, record=record)


def translation_run(model: Any, text: str, max_new_tokens: int = 64, num_beams: int = 1,
                    top_k: int = 5) -> TranslationRun:
    """Translate ``text`` and trace the decoder over its own output.

    Under the causal mask, row t of one pass over [start, y1 .. y(T-1)] is exactly what the
    decoder computed at step t of decoding (``teacher_forcing`` checks this numerically), so the
    step-by-step view comes from a single pass. The pad token (Marian's start token) is left out of
    the candidates: decoding never produces it.
    """
    check_text(text)
    _check_translator(model)
    result = model_core.translate_full(model, text, max_new_tokens=max_new_tokens, num_beams=num_beams)
    ids = list(result.ids)
    out = _pass(model, result.source, ids)
    n_src, n_tgt = int(result.source.lengths[0]), len(ids)
    probs = out.logits[0].float().softmax(dim=-1)                        # [target_pos, vocab]
    probs[:, model.config.pad_token_id] = 0.0
    tok = model.tokenizer
    top = tuple(tuple(model_core.top_tokens(row, tok, top_k)) for row in probs)
    start = model.config.decoder_start_token_id
    return TranslationRun(
        text=result.text,
        source_tokens=tuple(result.source.tokens[0][:n_src]),
        target_inputs=tuple(tok.convert_ids_to_tokens([start] + ids[:-1])),
        produced=tuple(tok.convert_ids_to_tokens(ids)),
        cross=_patterns(out.trace, "decoder.", "cross_attn.pattern", n_tgt, n_src),
        decoder_self=_patterns(out.trace, "decoder.", "attn.pattern", n_tgt, n_tgt),
        encoder_self=_patterns(out.trace, "encoder.", "attn.pattern", n_src, n_src),
        top=top,
        chosen=tuple(float(probs[t, i]) for t, i in enumerate(ids)),
        log_prob=float(result.log_prob),
        truncated=bool(result.source.truncated),
        ended=len(ids) < max_new_tokens,
        n_positions=int(model.config.n_positions),
        num_beams=int(num_beams),
    )


def teacher_forcing(model: Any, text: str, reference: str) -> TeacherForcing:
    """Score ``reference`` as the translation of ``text`` in one pass, and check it step by step.

    The check decodes the same prefixes one at a time (the decoder on [start, r1 .. rt], the last
    row kept) and reports the largest difference from the parallel pass over the next-token
    logits and every layer's cross- and self-attention row, for the first MAX_CHECKED_STEPS positions.
    """
    check_text(text)
    _check_translator(model)
    if not reference.strip():
        raise InputError("Type a reference translation to see teacher forcing.")
    source = model_core.encode(model, text)
    tok = model.tokenizer
    ref_ids = list(tok(text_target=reference)["input_ids"])
    limit = model.config.n_positions
    truncated = len(ref_ids) > limit
    if truncated:
        ref_ids = ref_ids[: limit - 1] + [model.config.eos_token_id]
    record = ("decoder.blocks.*.cross_attn.pattern", "decoder.blocks.*.attn.pattern")
    out = _pass(model, source, ref_ids, record)
    log_probs = out.logits[0].float().log_softmax(dim=-1)                # [target_pos, vocab]
    picked = log_probs[torch.arange(len(ref_ids)), torch.tensor(ref_ids)]
    memory = out.encoder_hidden
    n_src = int(source.lengths[0])
    inputs = torch.tensor([[model.config.decoder_start_token_id] + ref_ids[:-1]])
    checked = min(len(ref_ids), MAX_CHECKED_STEPS)
    worst = 0.0
    for t in range(checked):
        step = model(source.input_ids, source.attention_mask, inputs[:, : t + 1], record=record,
                     logits_at=[-1], encoder_hidden=memory)
        worst = max(worst, float((step.logits[0, 0] - out.logits[0, t]).abs().max()))
        for name, tensor in step.trace.items():
            worst = max(worst, float((tensor[0, :, t] - out.trace[name][0, :, t, : tensor.shape[-1]]).abs().max()))
    start = model.config.decoder_start_token_id
    return TeacherForcing(
        reference_tokens=tuple(tok.convert_ids_to_tokens(ref_ids)),
        target_inputs=tuple(tok.convert_ids_to_tokens([start] + ref_ids[:-1])),
        probs=tuple(float(p) for p in picked.exp()),
        loss=float(-picked.mean()),
        cross=_patterns(out.trace, "decoder.", "cross_attn.pattern", len(ref_ids), n_src),
        max_difference=worst,
        checked_steps=checked,
        truncated=truncated,
    )


def translation_notes(text: str, source_tokens: tuple[str, ...], truncated: bool, n_positions: int,
                      ended: bool = True, max_new_tokens: int = 64) -> list[str]:
    """Plain sentences about what happened to the user's text on the way through the translator."""
    notes = []
    if truncated:
        notes.append(f"Your text is longer than the translator's limit of {n_positions} tokens, so only the first "
                     f"{len(source_tokens)} tokens are translated. Shorten the text to translate all of it.")
    letters = [ch for ch in text if ch.isalpha()]
    if letters and sum(bool(LATIN.match(ch)) for ch in letters) / len(letters) < 0.8:
        notes.append("Much of your text is not in the Latin alphabet. The translator learned English only, so it "
                     "runs, but expect a poor translation; the attention maps still show what it read.")
    unknown = sum(tok == "<unk>" for tok in source_tokens)
    if unknown:
        notes.append(f"{unknown} piece(s) of your text are not in the translator's vocabulary (emoji or characters "
                     "it never saw) and became <unk>.")
    if not ended:
        notes.append(f"The translation reached the limit of {max_new_tokens} tokens before the model ended it; "
                     "raise the limit or translate a shorter text.")
    return notes
