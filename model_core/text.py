"""From text to model inputs and back: encode, top_tokens, fill_mask, next_token (generation.py continues texts).

Every problem a user can cause raises InputError with a sentence that says what to do.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch

from .base import InputError, TransformerModel


@dataclass
class Encoded:
    input_ids: torch.Tensor          # [batch, pos], padded on the right
    attention_mask: torch.Tensor     # [batch, pos], 1 = real token, 0 = padding
    token_type_ids: torch.Tensor     # [batch, pos], segment ids (0 = A, 1 = B); zeros for a decoder
    tokens: list[list[str]]          # per row, padded rows end in the pad token
    lengths: list[int]               # real tokens per row
    truncated: bool                  # True when some text was cut at the model's position limit
    limit: int                       # the number of positions kept at most


def _as_list(texts) -> list[str]:
    return [texts] if isinstance(texts, str) else list(texts)


def _ids_for_row(model: TransformerModel, text: str, pair: Optional[str]) -> tuple[list[int], list[int]]:
    tok = model.tokenizer
    if model.family == "seq2seq":
        ids = list(tok(text if pair is None else f"{text} {pair}")["input_ids"])   # ends in </s>
        return ids, [0] * len(ids)
    if model.family == "encoder":
        enc = tok(text, pair) if pair is not None else tok(text)
        ids = list(enc["input_ids"])
        types = list(enc.get("token_type_ids") or [0] * len(ids))
        return ids, types
    joined = text if pair is None else f"{text} {pair}"
    ids = list(tok(joined, add_special_tokens=False)["input_ids"])
    bos = getattr(model.config, "bos_token_id", None)
    if bos is not None:
        ids = [bos] + ids
    return ids, [0] * len(ids)


def _truncate(model: TransformerModel, ids: list[int], types: list[int], limit: int) -> tuple[list[int], list[int]]:
    """Keep the first `limit` tokens; an encoder keeps its closing [SEP] (a translator its </s>) so the
    input stays well formed."""
    if len(ids) <= limit:
        return ids, types
    sep = model.tokenizer.eos_token_id if model.family == "seq2seq" else model.tokenizer.sep_token_id
    if model.family != "decoder" and sep is not None and ids[-1] == sep:
        return ids[: limit - 1] + [sep], types[: limit - 1] + [types[-1]]
    return ids[:limit], types[:limit]


def encode(
    model: TransformerModel,
    texts: str | Sequence[str],
    text_pairs: str | Sequence[Optional[str]] | None = None,
    max_tokens: Optional[int] = None,
) -> Encoded:
    """Tokenise one text or a batch (padded on the right), with optional second sentences (segment B)."""
    if model.tokenizer is None:
        raise InputError("This model has no tokenizer attached, so text cannot be run through it.")
    texts = _as_list(texts)
    pairs = [None] * len(texts) if text_pairs is None else _as_list(text_pairs)
    if len(pairs) != len(texts):
        raise InputError(f"There are {len(texts)} sentences but {len(pairs)} second sentences; give one per sentence.")
    if not texts:
        raise InputError("There is nothing to run: type a sentence first.")
    for text in texts:
        if not isinstance(text, str) or not text.strip():
            raise InputError("The sentence is empty: type a few words to see how the model reads them.")
    pairs = [p if p is not None and p.strip() else None for p in pairs]

    limit = model.config.n_positions if max_tokens is None else min(max_tokens, model.config.n_positions)
    rows, truncated = [], False
    for text, pair in zip(texts, pairs):
        ids, types = _ids_for_row(model, text, pair)
        if not ids:
            raise InputError("Nothing is left of the text after tokenisation: type a sentence with words in it.")
        truncated |= len(ids) > limit
        rows.append(_truncate(model, ids, types, limit))

    n_pos = max(len(ids) for ids, _ in rows)
    pad = model.config.pad_token_id
    input_ids = torch.full((len(rows), n_pos), pad, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), n_pos), dtype=torch.long)
    token_type_ids = torch.zeros((len(rows), n_pos), dtype=torch.long)
    for b, (ids, types) in enumerate(rows):
        input_ids[b, : len(ids)] = torch.tensor(ids)
        attention_mask[b, : len(ids)] = 1
        token_type_ids[b, : len(ids)] = torch.tensor(types)
    tokens = [model.tokenizer.convert_ids_to_tokens(row.tolist()) for row in input_ids]
    return Encoded(input_ids, attention_mask, token_type_ids, tokens, [len(ids) for ids, _ in rows], truncated, limit)


def top_tokens(probs: torch.Tensor, tokenizer, top_k: int) -> list[tuple[str, float]]:
    """The `top_k` most probable tokens of one distribution `probs` [vocab]: [(token, probability), ...] best first.

    `tokenizer` is any Hugging Face tokenizer (it only needs convert_ids_to_tokens); fewer than
    `top_k` entries come back when the vocabulary is smaller.
    """
    values, ids = probs.topk(min(int(top_k), probs.shape[-1]))
    return list(zip(tokenizer.convert_ids_to_tokens(ids.tolist()), values.tolist()))


def fill_mask(model: TransformerModel, text: str, top_k: int = 5) -> list[list[tuple[str, float]]]:
    """One list per [MASK] in the text, each [(token, probability), ...] best first."""
    if model.family != "encoder":
        raise InputError(f"{model.name} reads left to right and has no [MASK] token; use its next-token predictions instead.")
    if not model.has_lm_head:
        raise InputError(f"{model.name} has no masked-language-model head, so it cannot fill in [MASK]; choose a model with one.")
    mask = model.tokenizer.mask_token
    if mask is None or mask not in (text or ""):
        raise InputError(f"Put {mask or '[MASK]'} where a word is missing, for example: the cat sat on the {mask or '[MASK]'}.")
    enc = encode(model, text)
    positions = (enc.input_ids[0] == model.tokenizer.mask_token_id).nonzero().flatten()
    if len(positions) == 0:
        raise InputError(f"Every {mask} lies past the first {enc.limit} tokens the model can read; shorten the text.")
    out = model(enc.input_ids, enc.attention_mask, enc.token_type_ids, logits_at=positions)
    probs = out.logits[0].softmax(dim=-1)                                # [n_masks, vocab]
    return [top_tokens(row, model.tokenizer, top_k) for row in probs]


def _next_token_probs(model: TransformerModel, ids: torch.Tensor, temperature: float) -> torch.Tensor:
    out = model(ids[None], logits_at=[-1])
    return (out.logits[0, 0] / temperature).softmax(dim=-1)              # [vocab]


def _decoder_ids(model: TransformerModel, text: str) -> torch.Tensor:
    if model.family != "decoder":
        raise InputError(f"{model.name} reads in both directions and does not predict a next token; use fill-in-the-blank with [MASK].")
    if not model.has_lm_head:
        raise InputError(f"{model.name} has no language-model head, so it cannot predict the next token.")
    enc = encode(model, text)
    return enc.input_ids[0]


def next_token(model: TransformerModel, text: str, top_k: int = 5, temperature: float = 1.0) -> list[tuple[str, float]]:
    """The decoder's distribution over the token after `text`: [(token, probability), ...] best first."""
    if not temperature > 0:
        raise InputError("The temperature must be above 0; 1 gives the model's own probabilities.")
    return top_tokens(_next_token_probs(model, _decoder_ids(model, text), temperature), model.tokenizer, top_k)
