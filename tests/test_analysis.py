"""analysis on tiny random models: what each page computes, checked directly (milliseconds, no Streamlit)."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import analysis
import model_core
import torch
from model_core import InputError


def test_attention_run_of_a_pair(tiny_encoder):
    run = analysis.attention_run(tiny_encoder, "the cat sat on the mat", "a dog")
    n = len(run.tokens)
    assert run.pattern.shape == (2, 4, n, n) and run.pattern.dtype == np.float32
    np.testing.assert_allclose(run.pattern.sum(axis=-1), 1.0, atol=1e-5)
    assert run.tokens[0] == "[CLS]" and run.tokens.count("[SEP]") == 2
    assert run.segments == (0,) * 8 + (1,) * 3
    assert not run.truncated and run.n_positions == 512


def test_attention_run_says_what_to_do_with_empty_text(tiny_encoder):
    with pytest.raises(InputError, match="Type a sentence"):
        analysis.attention_run(tiny_encoder, "   ")


def test_hiding_markers_and_renormalising(tiny_encoder):
    run = analysis.attention_run(tiny_encoder, "the cat sat")
    keep = analysis.keep_positions(run.tokens)
    assert [run.tokens[i] for i in keep] == ["the", "cat", "sat"]
    shown = analysis.restrict(run.pattern, keep)
    assert shown.shape == (2, 4, 3, 3)
    np.testing.assert_allclose(shown.sum(axis=-1), 1.0, atol=1e-5)


def test_mask_steps_of_a_padded_causal_batch(tiny_decoder):
    steps = analysis.mask_steps(tiny_decoder, ("the cat sat on the mat", "a dog"), 1, 0)
    assert steps.lengths == (6, 2) and steps.tokens[1][2:] == ("[PAD]",) * 4
    allowed = steps.allowed[1]
    assert not allowed[:, 2:].any(), "nobody may attend to padding"
    assert not allowed[0, 1], "the causal mask blocks the next token"
    assert np.isnan(steps.masked_scores[1][~allowed]).all()
    assert (steps.pattern[1][~allowed] == 0).all()
    np.testing.assert_allclose(steps.scores, steps.raw_scores / np.sqrt(steps.d_head), rtol=1e-5, atol=1e-6)
    alone = analysis.attention_run(tiny_decoder, "a dog").pattern[1, 0]
    assert analysis.padding_difference(steps, alone) < 1e-6


def test_mask_steps_refuses_a_head_the_model_does_not_have(tiny_encoder):
    with pytest.raises(InputError, match="layers 0 to 1 and heads 0 to 3"):
        analysis.mask_steps(tiny_encoder, ("a b", "c"), 2, 0)


def test_prefix_experiment_causal_rows_never_change(tiny_decoder, tiny_encoder):
    causal = analysis.prefix_experiment(tiny_decoder, "the cat sat", "today")
    assert causal.shared == 3 and causal.max_change <= 1e-6
    both_ways = analysis.prefix_experiment(tiny_encoder, "the cat sat", "today")
    assert both_ways.shared == 4 and (both_ways.row_change > 1e-3).all()
    with pytest.raises(InputError, match="append"):
        analysis.prefix_experiment(tiny_encoder, "the cat", " ")


def test_embedding_parts_add_up(tiny_encoder):
    parts = analysis.embedding_parts(tiny_encoder, "the cat", "a dog")
    np.testing.assert_allclose(parts.token + parts.segment + parts.position, parts.sum, atol=1e-6)
    assert parts.segments == (0, 0, 0, 0, 1, 1, 1)
    np.testing.assert_allclose(parts.layer_norm.mean(axis=-1), 0.0, atol=1e-5)


def test_layer_vectors_and_the_swap(tiny_encoder, tiny_decoder):
    vectors = analysis.layer_vectors(tiny_decoder, "the cat", "ignored by a decoder")
    assert vectors.vectors.shape == (4, 2, 32) and vectors.layers[-1] == "after block 1"
    swap = analysis.swap_comparison(analysis.layer_vectors(tiny_encoder, "the cat", "a dog barks"),
                                    analysis.layer_vectors(tiny_encoder, "a dog barks", "the cat"))
    assert swap.cosine.shape == (4, 9)
    np.testing.assert_allclose(swap.cosine[0], 1.0, atol=1e-6)   # the token embedding ignores the order
    assert swap.tokens_swapped[:3] == ("[CLS]", "a", "dog") and swap.tokens[:3] == ("[CLS]", "the", "cat")


def test_shared_words_start_with_a_content_word():
    common, default = analysis.shared_words(["[CLS]", "the", "bank", "of", "[SEP]"], ["the", "bank", "."])
    assert common == ["the", "bank"] and default == "bank"
    assert analysis.shared_words(["a"], ["b"]) == ([], None)


def test_fill_in_ablation_and_masking(tiny_encoder):
    fill = analysis.mask_predictions(tiny_encoder, "the cat [MASK] on the [MASK]", top_k=3)
    assert fill.positions == (3, 6) and fill.original == ("[MASK]", "[MASK]")
    assert all(len(top) == 3 and top[0][1] >= top[1][1] >= top[2][1] for top in fill.top)
    off = analysis.ablation(tiny_encoder, "the cat [MASK] on the mat", (), ((0, 0), (0, 1), (1, 2)))
    assert off.position == 3 and off.before.shape == off.after.shape == (len(off.tokens),)
    assert not np.allclose(off.before, off.after)
    run = analysis.mlm_masking(tiny_encoder, "the cat sat on the mat", seed=0)
    assert len(run.chosen) == 1 and run.actions[0] == "special" and len(run.top) == len(run.p_original) == 1
    with pytest.raises(InputError, match="no blank"):
        analysis.mask_predictions(tiny_encoder, "no blank here")


def test_bert_mask_plan_rates():
    plan = analysis.bert_mask_plan(list(range(100)), [False] * 100, mask_id=-1, replacement_ids=[7], seed=3)
    assert len(plan.chosen) == 15
    assert {plan.actions[i] for i in plan.chosen} <= {"[MASK]", "random", "unchanged"}
    assert all(plan.input_ids[i] == -1 for i in plan.chosen if plan.actions[i] == "[MASK]")


def test_decoder_predictions(tiny_decoder):
    guesses = analysis.next_tokens(tiny_decoder, "the cat", top_k=4, temperature=0.5)
    assert len(guesses) == 4 and abs(sum(p for _, p in guesses)) <= 1.0


@pytest.fixture(scope="module")
def bundled_decoder():
    return model_core.load_bundled("decoder")


def test_writing_rows_are_the_rows_each_step_used(bundled_decoder):
    """One pass over the finished text gives each step's attention row: the same as running the prefix alone."""
    prompt = "the old man sat by the"      # a prompt the shipped decoder continues for all 6 steps (no end token)
    made = analysis.write(bundled_decoder, prompt, 6, model_core.Decoding(no_repeat_ngram=2))
    assert made.tokens[0] == analysis.START_MARK and made.prompt_len == 7      # start token + 6 words
    assert len(made.steps) == 6 and made.rows.shape == (6, 12, 6, 7 + 6)      # [layer, head, step, key]
    full = model_core.generate_steps(bundled_decoder, prompt, 6,
                                     model_core.Decoding(no_repeat_ngram=2)).ids
    for step in (0, 3, 5):
        n_read = made.prompt_len + step
        out = bundled_decoder(torch.tensor([full[:n_read]]), record=("blocks.2.attn.pattern",))
        alone = out.trace["blocks.2.attn.pattern"][0, :, -1].numpy()             # [head, key]
        np.testing.assert_allclose(made.rows[2, :, step, :n_read], alone, atol=1e-5)
        assert np.all(made.rows[:, :, step, n_read:] == 0)                      # nothing after what it had read
    assert made.repeated_trigrams == 0.0                                           # no 2-gram repeats, so no 3-gram


def test_repeated_share_counts_only_new_ngrams():
    # grams ending at positions 3, 4, 5: (2,3,1) and (3,1,2) are new, (1,2,3) is a repeat
    assert analysis.repeated_share([1, 2, 3, 1, 2, 3], first=3) == pytest.approx(1 / 3)
    assert analysis.repeated_share([7, 7, 7, 7, 7], first=3) == 1.0
    assert analysis.repeated_share([1, 2, 3, 4], first=3) == 0.0
    assert np.isnan(analysis.repeated_share([1, 2], first=1))


def test_words_to_hide():
    assert analysis.words_to_hide("Paris is nice.") == [(0, 5, "Paris"), (6, 8, "is"), (9, 13, "nice")]


def test_head_steps_recompute_the_trace(tiny_encoder):
    steps = analysis.head_steps(tiny_encoder, "the cat sat", 1, 2)
    assert steps.X.shape == (5, 32) and steps.W_Q.shape == (32, 8) and steps.z_all.shape == (4, 5, 8)
    assert max(steps.checks.values()) < 1e-5
    np.testing.assert_allclose(steps.pattern @ steps.v, steps.z, atol=1e-6)


def test_input_notes_name_what_the_tokenizer_did():
    notes = analysis.input_notes("a [MASK] b", ["[CLS]", "a", "[MASK]", "b", "[UNK]", "[SEP]"], True, 6)
    assert any("limit of 6 tokens" in n for n in notes)
    assert any("You typed [MASK]" in n for n in notes)
    assert any("1 piece(s)" in n for n in notes)


def test_relation_weights_find_textbook_heads():
    n = 5
    previous = np.eye(n, k=-1)
    previous[0, 0] = 1.0
    following = np.eye(n, k=1)
    following[-1, -1] = 1.0
    first = np.zeros((n, n))
    first[:, 0] = 1.0
    uniform = np.full((n, n), 1 / n)
    pattern = np.stack([previous, following, first, uniform])[None]          # [layer 1, head 4, q, k]
    scores = analysis.relation_weights(pattern)
    assert set(scores) == set(analysis.RELATIONS)
    np.testing.assert_allclose(scores["previous token"][0], [1, 0, 0.25, 0.2])  # query 1 of "first" looks at 0
    np.testing.assert_allclose(scores["next token"][0], [0, 1, 0, 0.2])
    np.testing.assert_allclose(scores["first token"][0], [0.25, 0, 1, 0.2])     # likewise query 1 of "previous"
    np.testing.assert_allclose(scores["last token"][0], [0, 0.25, 0, 0.2])
    with pytest.raises(ValueError, match="two tokens"):
        analysis.relation_weights(np.ones((1, 1, 1, 1)))


def test_a_decoders_start_token_is_shown_as_a_start_marker(bundled_decoder, tiny_decoder):
    run = analysis.attention_run(bundled_decoder, "the cat sat")
    assert run.tokens[0] == analysis.START_MARK and "[SEP]" not in run.tokens
    assert analysis.START_MARK in analysis.MARKERS                    # hidden with [CLS]/[SEP] when asked
    assert analysis.attention_run(tiny_decoder, "the cat sat").tokens[0] == "the"   # no start token: nothing to mark


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_the_bundled_models_agree_with_transformers_live(kind):
    model = model_core.load_bundled(kind)
    check = analysis.check_against_transformers(model, "The animal didn't cross the street because it was too tired.")
    assert check.agrees and check.largest <= analysis.TOLERANCE
    assert [w for w, _ in check.rows] == [f"layer {i} attention" for i in range(6)] + ["logits (relative)"]
    assert check.reference == {"encoder": "BertForMaskedLM", "decoder": "GPT2LMHeadModel"}[kind]


def test_checks_started_at_once_by_several_students_all_agree():
    """A class ticks the check together: builds of the twin in parallel threads must each get every weight."""
    model = model_core.load_bundled("encoder")
    results: list = []

    def tick():
        results.append(analysis.check_against_transformers(model, "The cat sat on the mat."))

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and all(check.agrees for check in results)


def test_a_pair_and_a_saved_checkpoint_agree_too(tmp_path, tiny_encoder):
    import transformers

    from tests.test_core_parity import random_weights, tiny_bert_config

    hf = random_weights(transformers.BertForMaskedLM(tiny_bert_config(vocab_size=30522)), seed=5)
    hf.save_pretrained(tmp_path, safe_serialization=True)
    tiny_encoder.tokenizer.save_pretrained(tmp_path)
    loaded = model_core.load_pretrained(str(tmp_path))
    check = analysis.check_against_transformers(loaded, "where did the cat sleep?", "on the mat.")
    assert check.agrees, check.rows


def test_a_tiny_random_model_has_no_twin_and_says_so(tiny_encoder):
    with pytest.raises(InputError, match="built in memory"):
        analysis.check_against_transformers(tiny_encoder, "the cat")
