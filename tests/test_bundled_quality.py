"""The shipped bundled models still reach the figures their model cards report (minus a small margin).

Uses only files in tests/data (the training corpus is not in CI) and the public model_core API.
"""
import importlib.util
import re
import time
from pathlib import Path

import pytest

import model_core

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "model_core" / "bundled"
CLOZE_MARGIN = 0.02  # about 2 of 125 sentences
BPC_MARGIN = 0.01


def _evaluate_bundled():
    spec = importlib.util.spec_from_file_location("evaluate_bundled", ROOT / "scripts" / "evaluate_bundled.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def card_figures(kind: str) -> dict[str, float]:
    """The `name = value` lines of the card's figures block."""
    text = (BUNDLED / kind / "MODEL_CARD.md").read_text(encoding="utf-8")
    return {k: float(v) for k, v in re.findall(r"^(\w+) = ([0-9.]+)$", text, flags=re.M)}


@pytest.fixture(scope="module")
def evaluation():
    return _evaluate_bundled()


@pytest.fixture(scope="module")
def bundled():
    start = time.perf_counter()
    encoder = model_core.load_bundled("encoder")
    decoder = model_core.load_bundled("decoder")
    return encoder, decoder, time.perf_counter() - start


@pytest.mark.slow
def test_first_load_of_both_bundled_models_is_quick(bundled):
    assert bundled[2] < 10.0, f"loading both bundled models took {bundled[2]:.1f} s"


@pytest.mark.slow
def test_encoder_cloze_scores_hold(bundled, evaluation):
    scores = evaluation.cloze_scores(bundled[0], evaluation.read_cloze())
    card = card_figures("encoder")
    assert scores["cloze_top1"] >= card["cloze_top1"] - CLOZE_MARGIN, scores
    assert scores["cloze_top5"] >= card["cloze_top5"] - CLOZE_MARGIN, scores
    assert scores["cloze_copied"] <= card["cloze_copied"] + CLOZE_MARGIN, scores


@pytest.mark.slow
def test_the_textbook_heads_stay_readable(bundled, evaluation):
    """Tuning every layer must not blur the previous-token, next-token, [CLS] and [SEP] heads the card reports."""
    heads = evaluation.textbook_heads(bundled[0], evaluation.read_cloze())
    card = card_figures("encoder")
    for relation, (_, _, weight) in heads.items():
        assert weight >= card["head_" + relation.replace(" ", "_")] - 0.02, (relation, weight)
    assert heads["previous token"][2] >= 0.9                      # one head still looks almost only one token back


@pytest.mark.slow
def test_decoder_repeats_no_more_than_its_card_says(bundled, evaluation):
    greedy = evaluation.repetition(bundled[1])
    assert greedy <= card_figures("decoder")["repeat_3gram_greedy"] + 0.02
    assert evaluation.repetition(bundled[1], decoding=model_core.DEFAULT_DECODING) == 0.0   # the default cuts loops


@pytest.mark.slow
def test_the_card_shows_continuations_under_the_default_decoding(bundled, evaluation):
    card = (BUNDLED / "decoder" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert model_core.DEFAULT_DECODING.describe() in card
    for prompt, text in evaluation.continuations(bundled[1])[:3]:
        assert f"*{prompt}* → {text}" in card


@pytest.mark.slow
def test_decoder_bits_per_character_on_everyday_paragraphs_hold(bundled, evaluation):
    paragraphs = evaluation.read_paragraphs()
    assert len(paragraphs) == 5
    bpc, _, _ = evaluation.decoder_bpc(bundled[1], paragraphs)
    assert bpc <= card_figures("decoder")["paragraphs_bpc"] + BPC_MARGIN


@pytest.mark.slow
def test_fill_mask_and_next_token_work_offline(bundled, no_network):
    (candidates,) = model_core.fill_mask(bundled[0], "i drank a cup of [MASK].", top_k=5)
    assert len(candidates) == 5 and all(0.0 <= p <= 1.0 for _, p in candidates)
    following = model_core.next_token(bundled[1], "once upon a", top_k=5)
    assert len(following) == 5 and following[0][1] >= following[-1][1]
