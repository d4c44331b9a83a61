"""Every computation a page shows, as plain functions over a ``model_core`` model and numpy arrays.

    import model_core, analysis
    m = model_core.load_bundled("encoder")
    run = analysis.attention_run(m, "The cat sat on the mat.")   # AttentionRun: pattern [layer, head, q, k], tokens
    analysis.rollout(run.pattern)                                # [layer, query_pos, key_pos]

Functions that run a model return small frozen dataclasses of numpy arrays and plain Python
(never torch tensors), so a cache can pickle them and ``viz`` can draw them. Errors a user can
cause raise ``model_core.InputError`` with a sentence to show as is. No Streamlit, no plotly here:
``services`` caches these functions, ``viz`` draws their results.
"""
from .attention import (FINDER, RELATIONS, AttentionRun, attention_run, downsample, hard_attention, head_max, head_mean,
                        head_scores, keep_positions, ranked_heads, relation_weights, restrict, rollout,
                        point_head, same_word_weights, word_pair_positions)
from .common import (MARKERS, SPECIAL_TOKENS, START_MARK, check_layer_head, check_text, clip_text, cosine,
                     input_notes)
from .embeddings import (EmbeddingParts, LayerVectors, SpanScores, SwapComparison, component_norms,
                         embedding_parts, layer_vectors, nearest_tokens, projections_onto, shared_words,
                         span_scores, swap_comparison)
from .finetuning import FineTuneShapes, finetune_shapes
from .masks import MaskSteps, PrefixChange, mask_steps, padding_difference, prefix_experiment, shorter_version
from .objectives import (MaskingEpochs, MassSpan, NextTokenReadout, PermutationView, PrefixWhatIf, masking_epochs,
                         mass_span, next_token_readout, objective_masks, permutation_view, prefix_what_if,
                         SharedLayersCheck, shared_layers_check, word_positions)
from .optimisers import Race, race
from .optimisers import surface as loss_surface
from .positional import (offset_rotation, pca_2d, position_embeddings, similarity_by_distance,
                         similarity_matrix, sinusoidal)
from .reference import TOLERANCE, ReferenceCheck, check_against_transformers
from .predictions import (STRATEGIES, Ablation, BlankFill, MaskingRun, MaskPlan, Writing, ablation, bert_mask_plan,
                          mask_predictions, mlm_masking, next_tokens, repeated_share, with_model_mask, words_to_hide,
                          write)
from .translation import TeacherForcing, TranslationRun, teacher_forcing, translation_notes, translation_run
from .walkthrough import (HeadSteps, activation_curves, batch_norm, head_steps, layer_norm, norm_stats,
                          scaling_experiment, score_decomposition)

__all__ = [
    "FINDER", "RELATIONS", "relation_weights", "head_scores", "ranked_heads", "same_word_weights",
    "word_pair_positions", "point_head", "AttentionRun", "attention_run", "downsample", "hard_attention", "head_max", "head_mean", "keep_positions",
    "restrict", "rollout",
    "MARKERS", "SPECIAL_TOKENS", "START_MARK", "check_layer_head", "check_text", "clip_text", "cosine", "input_notes",
    "EmbeddingParts", "LayerVectors", "SpanScores", "SwapComparison", "component_norms", "embedding_parts",
    "layer_vectors", "nearest_tokens", "projections_onto", "shared_words", "span_scores", "swap_comparison",
    "FineTuneShapes", "finetune_shapes",
    "MaskingEpochs", "MassSpan", "NextTokenReadout", "next_token_readout", "PermutationView", "PrefixWhatIf", "masking_epochs", "mass_span", "objective_masks", "permutation_view",
    "prefix_what_if", "SharedLayersCheck", "shared_layers_check", "word_positions", "Race", "race", "loss_surface",
    "MaskSteps", "PrefixChange", "mask_steps", "padding_difference", "prefix_experiment", "shorter_version",
    "offset_rotation", "pca_2d", "position_embeddings", "similarity_by_distance", "similarity_matrix", "sinusoidal",
    "TOLERANCE", "ReferenceCheck", "check_against_transformers",
    "Ablation", "BlankFill", "MaskingRun", "MaskPlan", "ablation", "bert_mask_plan", "STRATEGIES", "Writing",
    "mask_predictions", "mlm_masking", "next_tokens", "repeated_share", "with_model_mask", "words_to_hide", "write",
    "TeacherForcing", "TranslationRun", "teacher_forcing", "translation_notes", "translation_run",
    "HeadSteps", "activation_curves", "batch_norm", "head_steps", "layer_norm", "norm_stats", "scaling_experiment",
    "score_decomposition",
]
