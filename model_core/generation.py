"""Continuing a text with a decoder: greedy or sampled, with top-k, top-p and a no-repeat rule.

One loop does every strategy. At each step the next-token logits go through the
same rules, in the same order, as transformers' `generate`:

    1. no_repeat_ngram  an n-gram already in the ids (prompt included) may not
                        appear again: its last token is banned after its first n-1
    2. special tokens   banned, except the end-of-text token, which stops
    3. temperature      logits / temperature                    (sampling only)
    4. top_k            keep the k highest logits (ties kept)    (sampling only)
    5. top_p            keep the smallest set of tokens whose probability reaches
                        top_p, dropping from the least likely up (sampling only)

Greedy takes the highest logit; sampling draws from the softmax with a
torch.Generator seeded by `seed`, so one seed gives one text. The prompt is read
once and each new token adds one position (the decoder keeps the earlier keys and
values: `Decoder.extend`), so a step costs the same at token 5 as at token 90.

    import model_core
    m = model_core.load_bundled("decoder")
    model_core.generate(m, "once upon a time", max_new_tokens=20)
    model_core.generate(m, "once upon a time", strategy="sample", top_p=0.9, seed=3)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .base import InputError, TransformerModel
from .text import _decoder_ids, top_tokens

STRATEGIES = ("greedy", "sample")  # the decoding strategies generate() knows


@dataclass(frozen=True)
class Decoding:
    """How the next token is chosen (see the module docstring for the order of the rules)."""
    strategy: str = "greedy"
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    no_repeat_ngram: int = 0
    seed: int = 0

    def describe(self) -> str:
        """One line for the page: which decoding produced the text."""
        parts = ["greedy (always the most likely token)"] if self.strategy == "greedy" else [
            f"sampling at temperature {self.temperature:g}"
            + (f", top-k {self.top_k}" if self.top_k else "")
            + (f", top-p {self.top_p:g}" if self.top_p is not None and self.top_p < 1 else "")
            + f", seed {self.seed}"]
        if self.no_repeat_ngram:
            parts.append(f"no {self.no_repeat_ngram}-gram repeated")
        return "; ".join(parts)


# The decoding the Predictions page starts with and the decoder's model card shows: reproducible, and
# with the loops of greedy decoding cut (scripts/evaluate_bundled.py measures the repeats both ways).
DEFAULT_DECODING = Decoding(no_repeat_ngram=3)


@dataclass
class Step:
    """One generated token and the distribution it was chosen from."""
    token_id: int
    token: str                             # the token as the tokenizer writes it (WordPiece: "##ing")
    probability: float                     # its probability under the rules (what was sampled from)
    model_probability: float               # its probability under the model alone (softmax of the logits)
    top: list[tuple[str, float]]           # the best tokens under the rules, best first
    banned: int                            # tokens the no-repeat rule banned at this step


@dataclass
class Generation:
    prompt_ids: list[int]                  # the prompt as the model read it (start token first, if any)
    steps: list[Step]                      # one per new token; the end-of-text token is not a step
    text: str                              # the new text, special tokens left out
    stopped: str                           # "end of text", "length" or "position limit"
    decoding: Decoding

    @property
    def ids(self) -> list[int]:
        """Prompt and new tokens, as the last forward pass read them."""
        return self.prompt_ids + [s.token_id for s in self.steps]


def check_decoding(decoding: Decoding) -> Decoding:
    if decoding.strategy not in STRATEGIES:
        raise InputError(f"Decoding must be one of {', '.join(STRATEGIES)}, not {decoding.strategy!r}.")
    if not decoding.temperature > 0:
        raise InputError("The temperature must be above 0; 1 gives the model's own probabilities.")
    if decoding.top_k is not None and decoding.top_k < 1:
        raise InputError("Top-k must be at least 1 (1 is greedy); leave it empty to keep every token.")
    if decoding.top_p is not None and not 0 < decoding.top_p <= 1:
        raise InputError("Top-p must be above 0 and at most 1 (1 keeps every token).")
    if decoding.no_repeat_ngram < 0:
        raise InputError("The no-repeat n-gram size must be 0 (off) or more.")
    return decoding


def stop_ids(model: TransformerModel) -> set[int]:
    """The end-of-text tokens: the model's eos (or start token, when it doubles as the separator)."""
    tok = model.tokenizer
    ids = {tok.eos_token_id, getattr(model.config, "bos_token_id", None)}
    if tok.eos_token_id is None:
        ids.add(tok.sep_token_id)
    return {i for i in ids if i is not None}


def banned_special_ids(model: TransformerModel) -> list[int]:
    """Special tokens that are never generated (padding, [CLS], [MASK], [UNK], ...)."""
    stops = stop_ids(model)
    return sorted(i for i in model.tokenizer.all_special_ids if i not in stops and i < model.config.vocab_size)


def repeat_bans(ids: list[int], n: int) -> list[int]:
    """Tokens that would complete an n-gram already present in `ids` (transformers' NoRepeatNGram rule)."""
    if n <= 0 or len(ids) + 1 < n:
        return []
    tail = tuple(ids[len(ids) - n + 1:]) if n > 1 else ()
    return [ids[i + n - 1] for i in range(len(ids) - n + 1) if tuple(ids[i:i + n - 1]) == tail]


def apply_rules(logits: torch.Tensor, ids: list[int], decoding: Decoding,
                banned: list[int]) -> tuple[torch.Tensor, int]:
    """Rules 1-5 on one row of logits [vocab]; returns (scores [vocab], tokens the repeat rule banned)."""
    scores = logits.clone()
    repeats = repeat_bans(ids, decoding.no_repeat_ngram)
    scores[repeats] = -float("inf")
    scores[banned] = -float("inf")
    if decoding.strategy == "greedy":
        return scores, len(set(repeats))
    scores = scores / decoding.temperature
    if decoding.top_k is not None:
        k = min(decoding.top_k, scores.shape[-1])
        scores = scores.masked_fill(scores < scores.topk(k).values[-1], -float("inf"))
    if decoding.top_p is not None and decoding.top_p < 1:
        ascending, order = scores.sort()
        drop = ascending.softmax(-1).cumsum(-1) <= 1 - decoding.top_p
        drop[-1] = False                                   # the most likely token always stays
        scores = scores.masked_fill(drop.scatter(0, order, drop), -float("inf"))
    return scores, len(set(repeats))


def generate_steps(model: TransformerModel, prompt: str, max_new_tokens: int = 30, decoding: Decoding = Decoding(),
                   top_k_shown: int = 5) -> Generation:
    """Continue `prompt`, keeping every step's distribution (for the page that steps through it)."""
    check_decoding(decoding)
    if max_new_tokens < 1:
        raise InputError("Ask for at least one new token.")
    prompt_ids = _decoder_ids(model, prompt).tolist()
    stops, banned = stop_ids(model), banned_special_ids(model)
    generator = torch.Generator().manual_seed(int(decoding.seed))
    ids, steps, stopped = list(prompt_ids), [], "length"
    cache, unread = model.new_cache(), list(prompt_ids)
    for _ in range(max_new_tokens):
        if len(ids) >= model.config.n_positions:
            stopped = "position limit"
            break
        logits = model.extend(torch.tensor([unread]), cache)[0].float()                # [vocab]
        scores, n_banned = apply_rules(logits, ids, decoding, banned)
        probs = scores.softmax(-1)                                                   # [vocab]
        if decoding.strategy == "greedy":
            token = int(scores.argmax())
        else:
            token = int(torch.multinomial(probs, 1, generator=generator))
        if token in stops:
            stopped = "end of text"
            break
        steps.append(Step(token, model.tokenizer.convert_ids_to_tokens(token), float(probs[token]),
                          float(logits.softmax(-1)[token]), top_tokens(probs, model.tokenizer, top_k_shown), n_banned))
        ids.append(token)
        unread = [token]
    text = model.tokenizer.decode([s.token_id for s in steps], skip_special_tokens=True,
                                  clean_up_tokenization_spaces=True)
    return Generation(prompt_ids, steps, text, stopped, decoding)


def generate(model: TransformerModel, prompt: str, max_new_tokens: int = 30, strategy: str = "greedy",
             temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
             no_repeat_ngram: int = 0, seed: int = 0) -> str:
    """The continuation of `prompt` as text (special tokens never appear; it stops at end of text)."""
    decoding = Decoding(strategy, temperature, top_k, top_p, no_repeat_ngram, seed)
    return generate_steps(model, prompt, max_new_tokens, decoding).text


def greedy_continue(model: TransformerModel, text: str, n_tokens: int = 10) -> str:
    """The greedy continuation of `text`, at most `n_tokens` tokens (generate with its defaults)."""
    return generate(model, text, max_new_tokens=n_tokens)
