"""analysis.translation on a tiny random encoder-decoder: shapes, the step-by-step equivalence, notes."""
from __future__ import annotations

import numpy as np
import pytest

import analysis
import model_core


@pytest.fixture(scope="module")
def tiny():
    return model_core.tiny_random("seq2seq")


def test_translation_run_traces_the_decoder_over_its_own_output(tiny):
    run = analysis.translation_run(tiny, "The file could not be saved.", max_new_tokens=10, top_k=3)
    n_t, n_s = len(run.produced), len(run.source_tokens)
    assert run.cross.shape == (2, 4, n_t, n_s) and run.decoder_self.shape == (2, 4, n_t, n_t)
    assert run.encoder_self.shape == (2, 4, n_s, n_s) and run.source_tokens[-1] == "</s>"
    assert run.target_inputs[0] == "<pad>" and run.target_inputs[1:] == run.produced[:-1]
    np.testing.assert_allclose(run.cross.sum(-1), 1.0, atol=1e-5)
    assert np.all(np.triu(run.decoder_self, 1) == 0)
    # Greedy: every produced token (but the forced last one) is the top candidate of its step.
    for t in range(n_t - 1):
        assert run.top[t][0][0] == run.produced[t] and run.top[t][0][1] == pytest.approx(run.chosen[t])
    assert all("<pad>" not in [tok for tok, _ in step] for step in run.top)
    assert run.produced[-1] == "</s>"


def test_teacher_forcing_equals_step_by_step_decoding(tiny):
    forced = analysis.teacher_forcing(tiny, "The file could not be saved.", "Le fichier n'a pas pu être enregistré.")
    assert forced.reference_tokens[-1] == "</s>" and forced.target_inputs[0] == "<pad>"
    assert forced.max_difference < 1e-4 and forced.checked_steps == len(forced.reference_tokens)
    assert forced.loss == pytest.approx(-np.mean(np.log(forced.probs)), rel=1e-5)
    with pytest.raises(model_core.InputError, match="reference"):
        analysis.teacher_forcing(tiny, "hello", "  ")


def test_notes_name_truncation_scripts_unknown_pieces_and_the_length_limit():
    notes = analysis.translation_notes("我爱自然语言处理", ("<unk>", "</s>"), True, 512, ended=False, max_new_tokens=8)
    joined = " ".join(notes)
    for part in ("limit of 512 tokens", "not in the Latin alphabet", "became <unk>", "limit of 8 tokens"):
        assert part in joined
    assert analysis.translation_notes("The file could not be saved.", ("▁The", "</s>"), False, 512) == []


def test_a_model_that_is_not_a_translator_is_refused(tiny):
    with pytest.raises(model_core.InputError, match="not an encoder-decoder"):
        analysis.translation_run(model_core.tiny_random("encoder"), "hello")
