"""What every analysis shares: the special tokens, input checks, one forward pass, cosine similarity."""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

import model_core
from model_core import InputError

# How a decoder's start-of-text token is written on the pages. The bundled decoder's is [SEP] (it doubles as
# the separator between texts); showing it as [SEP] at position 0 read as "end of sentence" to teachers.
START_MARK = "\u27e8start\u27e9"
# Tokens that structure an input rather than stand for text (a view may hide them).
MARKERS = ("[CLS]", "[SEP]", "[PAD]", "<s>", "</s>", "<pad>", "<|endoftext|>", START_MARK)
# Every special token of the supported tokenizers: the markers, and the placeholders a word becomes.
SPECIAL_TOKENS = MARKERS + ("[MASK]", "[UNK]", "<mask>", "<unk>")


def check_text(text: str, what: str = "sentence A") -> None:
    """Raise InputError when ``text`` has nothing to analyse."""
    if not text.strip():
        raise InputError(f"Type a sentence into {what} in the sidebar (it is empty), or pick an example.")


def check_layer_head(config: Any, layer: int, head: int) -> None:
    """Raise InputError when (layer, head) is not one of the model's heads."""
    n_layers, n_heads = int(config.n_layers), int(config.n_heads)
    if not (0 <= layer < n_layers and 0 <= head < n_heads):
        raise InputError(f"This model has layers 0 to {n_layers - 1} and heads 0 to {n_heads - 1}; pick one of those.")


def encode(model: Any, texts: list[str], pairs: list[str] | None = None) -> model_core.Encoded:
    """The padded batch the model reads (``pairs``: a sentence B per row); a decoder's start token as START_MARK."""
    enc = model_core.encode(model, texts, text_pairs=pairs)
    return dataclasses.replace(enc, tokens=[start_marked(model, enc.input_ids[b].tolist(), row)
                                            for b, row in enumerate(enc.tokens)])


def start_marked(model: Any, ids: Sequence[int], tokens: Sequence[str]) -> list[str]:
    """``tokens`` with a decoder's leading start-of-text token written as START_MARK."""
    tokens = list(tokens)
    bos = getattr(model.config, "bos_token_id", None)
    if model.family == "decoder" and bos is not None and len(ids) and ids[0] == bos:
        tokens[0] = START_MARK
    return tokens


def run(model: Any, enc: model_core.Encoded, record: Sequence[str], head_mask: Any = None,
        logits_at: Any = ()) -> model_core.ModelOutput:
    """One forward pass of an encoded input, recording ``record``.

    Vocabulary logits only at the positions ``logits_at``, none by default: a trace does not
    need them, and the vocabulary projection is the largest product of a small model.
    """
    return model(enc.input_ids, attention_mask=enc.attention_mask, token_type_ids=enc.token_type_ids,
                 record=tuple(record), head_mask=head_mask, logits_at=logits_at)


def segments(enc: model_core.Encoded, row: int = 0) -> tuple[int, ...]:
    """Segment id (0 = A, 1 = B) of each real token of batch row ``row``."""
    n = int(enc.lengths[row])
    return tuple(int(s) for s in enc.token_type_ids[row, :n].tolist())


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity along the last axis (0 where a vector is zero)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denom = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return np.where(denom > 0, (a * b).sum(axis=-1) / np.where(denom > 0, denom, 1.0), 0.0)


def input_notes(text: str, tokens: Sequence[str], truncated: bool, n_positions: int) -> list[str]:
    """Plain sentences about what the tokenizer did to the user's text."""
    notes = []
    if truncated:
        notes.append(
            f"Your text is longer than this model's limit of {n_positions} tokens, "
            f"so only its first {n_positions} tokens are read and shown. Shorten the text to see all of it."
        )
    bracketed = [tok for tok in SPECIAL_TOKENS if tok.startswith("[")]
    typed = sorted({tok for tok in bracketed if tok.lower() in text.lower()})
    if typed:
        notes.append(
            "You typed " + ", ".join(typed) + ": the tokenizer reads these as special tokens, "
            "not as words, so they behave like the model's own markers."
        )
    unknown = sum(1 for tok in tokens if tok == "[UNK]")
    if unknown:
        notes.append(
            f"{unknown} piece(s) of your text are not in this model's vocabulary (emoji or rare "
            "characters, for example) and became [UNK]: the model sees them all as one unknown token."
        )
    return notes


def clip_text(model: Any, text: str, max_tokens: int) -> tuple[str, bool]:
    """The longest start of ``text`` that the model reads in at most ``max_tokens`` tokens (its own special
    tokens included), cut at a token boundary; and whether anything was cut."""
    enc = model.tokenizer(text, return_offsets_mapping=True)
    spans = [span for span in enc["offset_mapping"] if span[1] > span[0]]   # the text's own tokens
    extra = len(enc["input_ids"]) - len(spans)                               # [CLS], [SEP], </s>, ...
    keep = max(1, int(max_tokens) - extra)
    if len(spans) <= keep:
        return text, False
    return text[: spans[keep - 1][1]], True
