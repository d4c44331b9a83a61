"""The one table of every query parameter (its default and what it holds), and the model ids it starts from.

``services.state`` reads and writes these; the table is here so it can be read whole.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .examples import DEFAULT_SENTENCE

BUNDLED = "bundled"  # model id of the bundled default of each family
TINY = "tiny"  # model id of a tiny random model (fast tests, demos of shapes)
FAMILIES = ("encoder", "decoder")   # the two families every page compares
TRANSLATOR = "seq2seq"              # the encoder-decoder family (the Translation page)
LOADABLE = FAMILIES + (TRANSLATOR,)


@dataclass(frozen=True)
class Param:
    """One query parameter of the view."""

    default: Any            # None: the page works it out (it depends on the model or the text)
    what: str               # what it holds, in a few words
    in_url: bool = True     # False: kept across page switches but never put in a link


PARAMS: dict[str, Param] = {
    # The sidebar, on every page.
    "a": Param(DEFAULT_SENTENCE, "sentence A"),
    "b": Param("", "sentence B (optional)"),
    "enc": Param(BUNDLED, "encoder: bundled, a hub id or a folder"),
    "dec": Param(BUNDLED, "decoder: bundled, a hub id or a folder"),
    "mt": Param(BUNDLED, "translator (encoder-decoder): bundled, a hub id or a folder"),
    "custom_encoder": Param("", "the encoder id being typed in the sidebar", in_url=False),
    "custom_decoder": Param("", "the decoder id being typed in the sidebar", in_url=False),
    "custom_seq2seq": Param("", "the translator id being typed in the sidebar", in_url=False),
    # Shared by the pages that show one model's head.
    "model": Param("encoder", "family in view: encoder or decoder"),
    "lesson": Param("", "a lesson packed into the link (services/lesson.py)"),
    "tour": Param("", "guided tour: bert, gpt or mt (empty: none)"),
    "step": Param(1, "step of the guided tour"),
    "big": Param(False, "projector mode: large dark text, full-width summaries"),
    "img": Param("png", "what a figure's camera button saves: png or svg"),
    "scale": Param("fixed", "colour scale of attention weights: fixed (0 to 1) or fit (0 to the largest drawn)"),
    "layer": Param(0, "layer in view"),
    "head": Param(0, "head in view"),
    # Attention
    "at_hide": Param(False, "hide [CLS]/[SEP] and renormalise"),
    "at_view": Param("heatmap", "the head as a heatmap or lines"),
    "at_softhard": Param(False, "draw soft vs hard attention"),
    "at_summaries": Param(False, "draw mean, max and rollout"),
    "at_follow": Param(-1, "token followed in every tile and the large head (-1: none)"),
    "at_find": Param("a word to another word", "what the head finder ranks heads by"),
    "at_fq": Param(None, "head finder: query position (the example's point, else the last token)"),
    "at_fk": Param(None, "head finder: key position (the example's point, else the first token)"),
    # Masks
    "mk_row": Param(None, "batch row shown step by step (the padded one)"),
    "mk_align": Param(True, "line up words only in BERT vs GPT"),
    "mk_append": Param("today", "word appended in the prefix experiment"),
    "mk_prefix": Param(False, "draw the prefix experiment's figures"),
    # Positional encoding
    "pe_d": Param(64, "d_model of the sinusoidal table"),
    "pe_n": Param(100, "positions of the sinusoidal table"),
    "pe_dims": Param(None, "dimensions drawn as waves"),
    "pe_k": Param(3, "offset k"),
    "pe_p": Param(5, "position p"),
    "pe_lp": Param(128, "learned positions shown"),
    "pe_t": Param("encoder", "table for the heatmap and the 2-D map"),
    "pe_s0": Param(True, "leave out position 0"),
    "pe_cos": Param(True, "cosine (else dot product) similarity"),
    "pe_md": Param(64, "largest distance"),
    # Embeddings
    "em_dims": Param(None, "dimensions drawn"),
    "em_sl": Param(None, "depth of the swap comparison (the last)"),
    "em_seed": Param(0, "seed of the untrained span vectors"),
    "em_w": Param(None, "word found in both sentences"),
    "em_nl": Param(None, "depth of the nearest tokens (the last)"),
    # Predictions
    "pr_mask": Param(None, "token positions hidden"),
    "pr_k": Param(5, "guesses shown (top-k)"),
    "pr_seed": Param(0, "seed of the masking recipe"),
    "pr_word": Param(None, "word hidden for next word vs fill-in (the last)"),
    "pr_temp": Param(1.0, "temperature"),
    "pr_n": Param(20, "tokens the decoder writes at most"),
    "pr_dec": Param("greedy", "decoding: greedy or sample"),
    "pr_gt": Param(1.0, "temperature of sampling"),
    "pr_topk": Param(0, "top-k of sampling (0: off)"),
    "pr_topp": Param(1.0, "top-p of sampling (1: off)"),
    "pr_rep": Param(3, "no-repeat n-gram size (0: off)"),
    "pr_gseed": Param(0, "seed of sampling"),
    "pr_step": Param(1, "generation step watched"),
    "pr_al": Param(-1, "layer whose heads are switched off (-1: every layer)"),
    "pr_ah": Param((0, 1, 2, 3), "heads switched off"),
    # Walkthrough
    "wt_q": Param(None, "query row taken apart (the second token)"),
    "wt_nk": Param(16, "keys per query in the sqrt(d_k) experiment"),
    "wt_seed": Param(0, "seed of the sqrt(d_k) experiment"),
    "wt_nf": Param(6, "features in LayerNorm vs BatchNorm"),
    # Translation
    "tr_ref": Param("", "reference translation (optional)"),
    "tr_beams": Param(1, "beams (1: greedy decoding)"),
    "tr_max": Param(64, "longest translation, in tokens"),
    "tr_view": Param("heatmap", "cross-attention as a heatmap or lines"),
    "tr_step": Param(0, "decoding step shown"),
    "tr_k": Param(5, "candidates shown per step (top-k)"),
    # Objectives
    "ob_show": Param(None, "objective cards shown (comma list)"),
    "ob_pair": Param(False, "cards two side by side"),
    "ob_seed": Param(0, "seed of the masking"),
    "ob_order": Param("", "XLNet factorisation order typed (empty: seeded random)"),
    "ob_pos": Param(None, "XLNet position predicted (the middle word)"),
    "ob_start": Param(None, "MASS span start (the second word)"),
    "ob_len": Param(2, "MASS span length"),
    "ob_prefix": Param(None, "prefix length of the prefix LM (half the tokens)"),
    "ob_ft": Param(0, "seed of the untrained fine-tuning heads"),
    "ob_steps": Param(200, "optimiser steps"),
    "ob_wd": Param(0.1, "weight decay"),
    "ob_lr": Param(1.0, "learning-rate factor"),
}

# Names used by links shared before the naming scheme: old -> new.
ALIASES: dict[str, str] = {
    "hide": "at_hide", "view": "at_view", "softhard": "at_softhard", "summaries": "at_summaries",
    "row": "mk_row", "align": "mk_align", "append": "mk_append",
    "wt_fam": "model", "em_fam": "model", "wt_l": "layer", "wt_h": "head",
}
