"""Translating with the encoder-decoder: greedy decoding (the default) and beam search.

The encoder runs once. Greedy decoding feeds the decoder one new token per step and keeps the
earlier positions' keys and values in a cache the caller owns (``Seq2Seq.new_cache``); beam search
runs the decoder on each beam's whole prefix (at the lengths the app shows that costs little). Both strategies never produce the pad token (Marian's `bad_words_ids`;
Marian also starts the decoder with it) and end with </s>: when `max_new_tokens` is reached the last token is
</s>, as transformers' forced end-of-sentence does.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .base import InputError
from .seq2seq import Seq2Seq
from .text import Encoded, encode


@dataclass(frozen=True)
class Translation:
    text: str                 # the translation, special tokens removed
    ids: tuple[int, ...]      # the generated target ids (without the start token; </s> last when it ended)
    source: Encoded           # the source as the encoder read it
    log_prob: float           # sum of the chosen tokens' log-probabilities


def _check(model, max_new_tokens: int, num_beams: int) -> None:
    if getattr(model, "family", "") != "seq2seq":
        raise InputError(f"{model.name} is not an encoder-decoder, so it cannot translate; choose a translator.")
    if not 1 <= int(max_new_tokens) <= model.config.n_positions - 1:
        raise InputError(f"max_new_tokens must be between 1 and {model.config.n_positions - 1}.")
    if int(num_beams) < 1:
        raise InputError("num_beams must be 1 (greedy) or more (beam search).")


def _step_log_probs(model: Seq2Seq, source: Encoded, memory, prefixes: torch.Tensor, last: bool,
                    cache: dict | None = None) -> torch.Tensor:
    """Log-probabilities of the next token after each prefix [rows, pos] -> [rows, vocab] (with ``cache``:
    ``prefixes`` are only the newest tokens, the rest is in the cache)."""
    rows = prefixes.shape[0]
    out = model(source.input_ids.expand(rows, -1), source.attention_mask.expand(rows, -1), prefixes,
                logits_at=[-1], encoder_hidden=memory.expand(rows, -1, -1), cache=cache)
    logp = out.logits[:, 0].float().log_softmax(dim=-1)                  # [rows, vocab]
    cfg = model.config
    logp[:, cfg.pad_token_id] = float("-inf")                            # never padding
    if last:                                                             # forced end of sentence
        keep = logp[:, cfg.eos_token_id].clone()
        logp.fill_(float("-inf"))
        logp[:, cfg.eos_token_id] = keep
    return logp


def generate_ids(model: Seq2Seq, source: Encoded, max_new_tokens: int = 64, num_beams: int = 1) -> tuple[list[int], float]:
    """The target ids for one encoded source (greedy, or beam search with length-normalised scores)."""
    _check(model, max_new_tokens, num_beams)
    cfg = model.config
    memory = model(source.input_ids, source.attention_mask, logits_at=()).encoder_hidden   # [1, source_pos, d_model]
    start = torch.tensor([[cfg.decoder_start_token_id]])
    if num_beams == 1:
        # Greedy: one new token per step, the earlier positions' keys and values kept in a cache.
        cache, new, ids, total = model.new_cache(), start, [], 0.0
        for step in range(max_new_tokens):
            logp = _step_log_probs(model, source, memory, new, step == max_new_tokens - 1, cache)[0]
            token = int(logp.argmax())
            total += float(logp[token])
            ids.append(token)
            new = torch.tensor([[token]])
            if token == cfg.eos_token_id:
                break
        return ids, total

    beams, scores = start, torch.zeros(1)                                # running prefixes and their sums
    finished: list[tuple[float, list[int], float]] = []                  # (normalised score, ids, sum)
    for step in range(max_new_tokens):
        logp = _step_log_probs(model, source, memory, beams, step == max_new_tokens - 1)
        candidates = (scores[:, None] + logp).flatten()                  # [beams * vocab]
        top = candidates.topk(min(2 * num_beams, int(torch.isfinite(candidates).sum())))
        vocab = logp.shape[1]
        keep_rows, keep_scores = [], []
        for value, flat in zip(top.values.tolist(), top.indices.tolist()):
            row, token = divmod(flat, vocab)
            ids = beams[row].tolist() + [token]
            if token == cfg.eos_token_id:
                finished.append((value / (len(ids) - 1), ids[1:], value))
            elif len(keep_rows) < num_beams:
                keep_rows.append(ids)
                keep_scores.append(value)
            if len(keep_rows) == num_beams:
                break
        finished = sorted(finished, key=lambda f: -f[0])[:num_beams]
        # transformers' default stopping rule: once num_beams hypotheses have ended, stop when the
        # best running beam, scored at its current length, is below the worst of them.
        length = beams.shape[1]
        if not keep_rows or (len(finished) == num_beams and max(keep_scores) / length < finished[-1][0]):
            break
        beams, scores = torch.tensor(keep_rows), torch.tensor(keep_scores)
    if not finished:                                                     # cannot happen: the last step forces </s>
        raise InputError("The translation did not end; raise max_new_tokens.")
    _, ids, total = max(finished, key=lambda f: f[0])
    return ids, total


def translate_full(model: Seq2Seq, text: str, max_new_tokens: int = 64, num_beams: int = 1) -> Translation:
    """Translate `text` and keep what a page needs: the ids, the encoded source, the score."""
    _check(model, max_new_tokens, num_beams)
    source = encode(model, text)
    ids, total = generate_ids(model, source, max_new_tokens, num_beams)
    text_out = model.tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
    return Translation(text=text_out.strip(), ids=tuple(ids), source=source, log_prob=total)


def translate(model: Seq2Seq, text: str, max_new_tokens: int = 64, num_beams: int = 1) -> str:
    """The translation of `text` as a string, greedy by default, beam search with num_beams > 1."""
    return translate_full(model, text, max_new_tokens, num_beams).text
