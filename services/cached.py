"""The app's caches: thin wrappers that resolve a model id and call ``analysis``, their results kept in one
cache bounded by bytes (services/bytecache.py).

Each function takes only hashable, cheap arguments (a family, a model id, texts, numbers),
loads the model through ``services.models`` and returns what ``analysis`` returns (small
frozen dataclasses of numpy arrays), with the core's input errors turned into ``Problem``.
The cache is bounded by its size in memory (``AEX_CACHE_MB``): a classroom's stream of new sentences, long
or short, evicts the least recently used.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

import analysis
import model_core

from .bytecache import cached
from .models import load, user_errors


@cached
def attention(family: str, model_id: str, sentence_a: str, sentence_b: str = "") -> analysis.AttentionRun:
    """analysis.attention_run: every layer's and head's pattern for one input (a pair with B)."""
    with user_errors():
        return analysis.attention_run(load(family, model_id), sentence_a, sentence_b)


@cached
def mask_steps(family: str, model_id: str, texts: tuple[str, ...], layer: int, head: int) -> analysis.MaskSteps:
    """analysis.mask_steps: one head's named steps for a padded batch."""
    with user_errors():
        return analysis.mask_steps(load(family, model_id), texts, layer, head)


@cached
def prefix_experiment(family: str, model_id: str, sentence: str, extra: str, layer: int = 0,
                      head: int = 0) -> analysis.PrefixChange:
    """analysis.prefix_experiment: which rows change when a word is appended."""
    with user_errors():
        return analysis.prefix_experiment(load(family, model_id), sentence, extra, layer, head)


@cached
def sinusoidal(n_positions: int, d_model: int) -> np.ndarray:
    """analysis.sinusoidal: the fixed table [pos, d_model]."""
    with user_errors():
        return analysis.sinusoidal(n_positions, d_model)


@cached
def position_embeddings(family: str, model_id: str) -> np.ndarray:
    """analysis.position_embeddings: the model's learned table [n_positions, d_model]."""
    return analysis.position_embeddings(load(family, model_id))


@cached
def position_pca(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """analysis.pca_2d: an eigendecomposition (~60 ms) that every session's run would repeat."""
    return analysis.pca_2d(table)


@cached
def similarity(table: np.ndarray, cosine: bool) -> np.ndarray:
    """analysis.similarity_matrix: [pos, pos], up to a million cells, the same on every rerun."""
    return analysis.similarity_matrix(table, cosine)


@cached
def tokens_of(family: str, model_id: str, text: str) -> list[str]:
    """The tokens the model reads for ``text`` (special tokens included, cut at its limit); a typed blank
    ([MASK] or <mask>) is read as the model's own mask token."""
    with user_errors():
        analysis.check_text(text)
        model = load(family, model_id)
        return list(analysis.common.encode(model, [analysis.with_model_mask(model, text)]).tokens[0])


@cached
def embedding_parts(model_id: str, sentence_a: str, sentence_b: str = "") -> analysis.EmbeddingParts:
    """analysis.embedding_parts of the encoder ``model_id``."""
    with user_errors():
        return analysis.embedding_parts(load("encoder", model_id), sentence_a, sentence_b)


@cached
def layer_vectors(family: str, model_id: str, sentence_a: str, sentence_b: str = "") -> analysis.LayerVectors:
    """analysis.layer_vectors: every token's vector at every depth."""
    with user_errors():
        return analysis.layer_vectors(load(family, model_id), sentence_a, sentence_b)


@cached
def swap_comparison(model_id: str, sentence_a: str, sentence_b: str) -> analysis.SwapComparison:
    """analysis.swap_comparison of (A, B) and (B, A), both runs through the layer_vectors cache."""
    with user_errors():
        analysis.check_text(sentence_b, "sentence B")
        return analysis.swap_comparison(layer_vectors("encoder", model_id, sentence_a, sentence_b),
                                        layer_vectors("encoder", model_id, sentence_b, sentence_a))


@cached
def mask_predictions(model_id: str, text: str, mask_positions: tuple[int, ...] = (),
                     top_k: int = 5) -> analysis.BlankFill:
    """analysis.mask_predictions: the encoder's guesses for every blank."""
    with user_errors():
        return analysis.mask_predictions(load("encoder", model_id), text, mask_positions, top_k)


@cached
def ablation(model_id: str, text: str, mask_positions: tuple[int, ...], heads_off: tuple[tuple[int, int], ...],
             top_k: int = 5) -> analysis.Ablation:
    """analysis.ablation: the first blank's guesses before and after switching heads off."""
    with user_errors():
        return analysis.ablation(load("encoder", model_id), text, mask_positions, heads_off, top_k)


@cached
def mlm_masking(model_id: str, text: str, seed: int, top_k: int = 3) -> analysis.MaskingRun:
    """analysis.mlm_masking: BERT's 15% / 80-10-10 recipe on the text with ``seed``."""
    with user_errors():
        return analysis.mlm_masking(load("encoder", model_id), text, seed, top_k)


@cached
def next_tokens(model_id: str, text: str, top_k: int = 5, temperature: float = 1.0) -> tuple[tuple[str, float], ...]:
    """analysis.next_tokens of the decoder ``model_id``."""
    with user_errors():
        return analysis.next_tokens(load("decoder", model_id), text, top_k, temperature)


@cached
def writing(model_id: str, text: str, n_tokens: int, strategy: str = "greedy", temperature: float = 1.0,
            top_k: int | None = None, top_p: float | None = None, no_repeat_ngram: int = 0,
            seed: int = 0) -> analysis.Writing:
    """analysis.write: the decoder's continuation under this decoding, step by step, with its attention rows."""
    with user_errors():
        decoding = model_core.Decoding(strategy, temperature, top_k, top_p, no_repeat_ngram, seed)
        return analysis.write(load("decoder", model_id), text, n_tokens, decoding)


@cached
def reference_check(family: str, model_id: str, sentence_a: str, sentence_b: str = "") -> analysis.ReferenceCheck:
    """analysis.check_against_transformers: ours against transformers' own model on the same weights."""
    with user_errors():
        return analysis.check_against_transformers(load(family, model_id), sentence_a, sentence_b)


@cached
def head_steps(family: str, model_id: str, sentence: str, layer: int, head: int) -> analysis.HeadSteps:
    """analysis.head_steps: one head's computation with the model's own numbers."""
    with user_errors():
        return analysis.head_steps(load(family, model_id), sentence, layer, head)


@cached
def scaling_experiment(d_ks: tuple[int, ...], n_keys: int, seed: int, n_samples: int = 256) -> pd.DataFrame:
    """analysis.scaling_experiment: up to a second of sampling for many keys."""
    return analysis.scaling_experiment(list(d_ks), n_keys=int(n_keys), n_samples=int(n_samples), seed=int(seed))


@cached
def race(steps: int, weight_decay: float, scale: float) -> analysis.Race:
    """analysis.race: six optimisers stepped in Python (~20 ms for 200 steps), the same for every session."""
    return analysis.race(int(steps), float(weight_decay), float(scale))


@cached
def activation_curves(low: float = -4.0, high: float = 4.0, n_points: int = 401) -> dict[str, np.ndarray]:
    """analysis.activation_curves: GELU exact, GELU tanh and ReLU over [low, high]."""
    return analysis.activation_curves(low, high, n_points)


@cached
def translation(model_id: str, text: str, max_new_tokens: int = 64, num_beams: int = 1,
                top_k: int = 5) -> analysis.TranslationRun:
    """analysis.translation_run: the translation and its three kinds of attention, step by step."""
    with user_errors():
        return analysis.translation_run(load("seq2seq", model_id), text, max_new_tokens, num_beams, top_k)


@cached
def teacher_forcing(model_id: str, text: str, reference: str) -> analysis.TeacherForcing:
    """analysis.teacher_forcing: the reference scored in one pass, checked against step-by-step decoding."""
    with user_errors():
        return analysis.teacher_forcing(load("seq2seq", model_id), text, reference)


@cached
def masking_epochs(model_id: str, text: str, seed: int, epochs: int = 4) -> analysis.MaskingEpochs:
    """analysis.masking_epochs: BERT's static mask against RoBERTa's dynamic masks."""
    with user_errors():
        return analysis.masking_epochs(load("encoder", model_id), text, seed, epochs)


@cached
def mass_span(encoder_id: str, decoder_id: str, text: str, start: int, length: int) -> analysis.MassSpan:
    """analysis.mass_span: a hidden span, filled by the encoder at once and by the decoder left to right."""
    with user_errors():
        return analysis.mass_span(load("encoder", encoder_id), load("decoder", decoder_id), text, start, length)


@cached
def permutation_view(model_id: str, text: str, order: tuple[int, ...], position: int) -> analysis.PermutationView:
    """analysis.permutation_view: what one position may read under an XLNet order, and the encoder's guess."""
    with user_errors():
        return analysis.permutation_view(load("encoder", model_id), text, order, position)


@cached
def prefix_what_if(model_id: str, text: str, prefix: int, layer: int, head: int) -> analysis.PrefixWhatIf:
    """analysis.prefix_what_if: the decoder's head under its causal mask and under a prefix-LM mask."""
    with user_errors():
        return analysis.prefix_what_if(load("decoder", model_id), text, prefix, layer, head)


@cached
def finetune_shapes(model_id: str, sentence_a: str, sentence_b: str, seed: int) -> analysis.FineTuneShapes:
    """analysis.finetune_shapes: untrained classification and span heads on the encoder's outputs."""
    with user_errors():
        return analysis.finetune_shapes(load("encoder", model_id), sentence_a, sentence_b, seed)


@cached
def objective_masks(name: str, n: int, params: tuple[tuple[str, object], ...] = ()) -> dict[str, np.ndarray]:
    """analysis.objective_masks: an objective's who-sees-whom over ``n`` positions (``params`` as sorted pairs)."""
    with user_errors():
        return analysis.objective_masks(name, n, **dict(params))


@cached
def next_token_readout(model_id: str, text: str) -> analysis.NextTokenReadout:
    """analysis.next_token_readout: the decoder's next-token guess at every position of the sentence."""
    with user_errors():
        return analysis.next_token_readout(load("decoder", model_id), text)


@cached
def shared_layers_check(model_id: str, text: str) -> analysis.SharedLayersCheck:
    """analysis.shared_layers_check: an ALBERT's parameters against a same-shaped BERT, and its one shared block."""
    with user_errors():
        return analysis.shared_layers_check(load("encoder", model_id), text)


@cached
def clip_text(family: str, model_id: str, text: str, max_tokens: int) -> tuple[str, bool]:
    """analysis.clip_text: the start of ``text`` the model reads in ``max_tokens`` tokens, and whether it was cut."""
    with user_errors():
        analysis.check_text(text)
        model = load(family, model_id)
        return analysis.clip_text(model, analysis.with_model_mask(model, text), max_tokens)
